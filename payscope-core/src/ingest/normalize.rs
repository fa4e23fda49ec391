//! Value normalization: the many ways reports write amounts, timestamps, currencies, flags
//! and codes, turned into canonical values — exactly, with a row error naming what was wrong.

use crate::calendar::{Date, Timestamp};
use crate::money::{decimal_to_minor, Currency};

/// Which character separates decimals in a column's amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalStyle {
    /// `1,234.56`.
    Dot,
    /// `1.234,56`.
    Comma,
}

impl DecimalStyle {
    /// Decides a column's style from sample values: a separator followed by one or two final
    /// digits is a decimal separator; when both separators appear, the last one is.
    pub fn detect<'a>(values: impl IntoIterator<Item = &'a str>) -> DecimalStyle {
        let (mut dot, mut comma) = (0, 0);
        for v in values {
            let v = v.trim();
            let (d, c) = (v.rfind('.'), v.rfind(','));
            match (d, c) {
                (Some(d), Some(c)) if d > c => dot += 1,
                (Some(_), Some(_)) => comma += 1,
                (Some(d), None) if (1..=2).contains(&digits_after(v, d)) => dot += 1,
                (None, Some(c)) if (1..=2).contains(&digits_after(v, c)) => comma += 1,
                _ => {}
            }
        }
        if comma > dot {
            DecimalStyle::Comma
        } else {
            DecimalStyle::Dot
        }
    }

    /// True when a value looks like an amount (digits with an optional decimal part).
    pub fn looks_like_amount(v: &str) -> bool {
        let v = v.trim().trim_start_matches(['-', '(', '$', '€', '£']).trim_end_matches(')');
        !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b','))
            && v.bytes().next().is_some_and(|b| b.is_ascii_digit())
            && (v.contains('.') || v.contains(','))
    }
}

fn digits_after(v: &str, i: usize) -> usize {
    v[i + 1..].bytes().take_while(u8::is_ascii_digit).count()
        * usize::from(v[i + 1..].bytes().all(|b| b.is_ascii_digit()))
}

/// An amount read from text: minor units and the currency written next to it, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedAmount {
    /// Minor units.
    pub minor: i64,
    /// Currency named in the text (`12.34 USD`, `€5`).
    pub currency: Option<Currency>,
}

/// Parses `1,234.56`, `1.234,56`, `(12.34)`, `-12.34`, `12.34-`, `$12.34`, `12.34 USD`,
/// `1 234,56` into minor units of a currency with `exponent` decimals.
pub fn parse_amount(
    text: &str,
    style: DecimalStyle,
    exponent: impl Fn(Option<Currency>) -> u8,
) -> Result<ParsedAmount, String> {
    let mut s = text.trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].trim();
    }
    let mut currency = None;
    // A currency code before or after the number.
    if s.len() > 3 {
        // `get` because the text is arbitrary input: byte 3 need not be a character boundary.
        let (head, tail) = (s.get(..3).unwrap_or(""), s.get(s.len() - 3..).unwrap_or(""));
        if head.bytes().all(|b| b.is_ascii_alphabetic()) {
            currency = Currency::from_code(head);
            if currency.is_some() {
                s = s[3..].trim();
            }
        } else if tail.bytes().all(|b| b.is_ascii_alphabetic()) {
            currency = Currency::from_code(tail);
            if currency.is_some() {
                s = s[..s.len() - 3].trim();
            }
        }
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.trim_start();
    } else if let Some(rest) = s.strip_suffix('-') {
        negative = !negative;
        s = rest.trim_end();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.trim_start();
    }
    for (symbol, code) in
        [('$', None), ('€', Some(Currency::EUR)), ('£', Some(Currency::GBP)), ('¥', Some(Currency::JPY))]
    {
        if let Some(rest) = s.strip_prefix(symbol) {
            s = rest.trim_start();
            currency = currency.or(code);
        }
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest;
    }
    if let Some((int_digits, frac_digits)) = scientific(s) {
        let exp = exponent(currency);
        let minor = decimal_to_minor(&int_digits, &frac_digits, exp)
            .ok_or_else(|| format!("has more than {exp} decimals or is too large"))?;
        return Ok(ParsedAmount { minor: if negative { -minor } else { minor }, currency });
    }
    let (decimal, group) = match style {
        DecimalStyle::Dot => (b'.', [b',', b' ', b'\'']),
        DecimalStyle::Comma => (b',', [b'.', b' ', b'\'']),
    };
    let bytes = s.as_bytes();
    let mut int_digits: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut frac_digits: Vec<u8> = Vec::new();
    let mut in_frac = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' if in_frac => frac_digits.push(b),
            b'0'..=b'9' => int_digits.push(b),
            _ if b == decimal && !in_frac => in_frac = true,
            _ if group.contains(&b)
                && !in_frac
                && i > 0
                && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {}
            // Non-breaking space used as a group separator.
            0xC2 | 0xA0 if !in_frac => {}
            _ => return Err("is not a number".into()),
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err("has no digits".into());
    }
    let exp = exponent(currency);
    let minor = decimal_to_minor(&int_digits, &frac_digits, exp).ok_or_else(|| {
        if frac_digits.len() > exp as usize {
            format!("has more than {exp} decimals")
        } else {
            "is too large".to_owned()
        }
    })?;
    Ok(ParsedAmount { minor: if negative { -minor } else { minor }, currency })
}

/// The digits of a number in scientific notation (`1.5E+02` → `150`, `0.00E+00` → `0`), as
/// spreadsheets write them, shifted exactly: integer digits and fraction digits.
fn scientific(s: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    // Every amount comes through here: a byte scan rules most out before any splitting.
    if !s.bytes().any(|b| b | 0x20 == b'e') {
        return None;
    }
    let (mantissa, exp) = s.split_once(['E', 'e'])?;
    let exp: i32 = exp.strip_prefix('+').unwrap_or(exp).parse().ok()?;
    if !(-30..=30).contains(&exp) || mantissa.is_empty() {
        return None;
    }
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let point = int.len() as i32 + exp;
    let (int_digits, frac_digits) = if point <= 0 {
        (vec![b'0'], std::iter::repeat_n(b'0', (-point) as usize).chain(digits).collect())
    } else if point as usize >= digits.len() {
        (
            digits.iter().copied().chain(std::iter::repeat_n(b'0', point as usize - digits.len())).collect(),
            Vec::new(),
        )
    } else {
        (digits[..point as usize].to_vec(), digits[point as usize..].to_vec())
    };
    Some((int_digits, frac_digits))
}

/// True when a cell is a long number a spreadsheet rewrote in scientific notation
/// (`1.55274E+12`, `5.81722E+18`): its digits are lost, so it cannot be an id or a name.
pub fn is_scientific(v: &str) -> bool {
    let v = v.trim().trim_start_matches('-');
    let Some((mantissa, exp)) = v.split_once(['E', 'e']) else { return false };
    let exp = exp.strip_prefix('+').unwrap_or(exp);
    !mantissa.is_empty()
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
        && exp.parse::<u32>().is_ok_and(|e| e >= 5)
}

/// Rounds a decimal amount with more decimals than the currency has to minor units, half away
/// from zero (sub-cent interchange fees such as `-0.13339`).
pub fn parse_amount_rounded(text: &str, style: DecimalStyle, exponent: u8) -> Result<i64, String> {
    match parse_amount(text, style, |_| exponent) {
        Ok(a) => Ok(a.minor),
        Err(_) => {
            // Read with six more decimals, then round.
            let fine = parse_amount(text, style, |_| exponent + 6).map_err(|e| e.to_string())?;
            let scale = 1_000_000i64;
            let q = fine.minor / scale;
            let r = fine.minor % scale;
            Ok(if r.abs() * 2 >= scale { q + r.signum() } else { q })
        }
    }
}

/// Parses a whole-number minor-unit amount (`1904`, `-50`).
pub fn parse_minor(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    t.parse::<i64>().map_err(|_| "is not a whole number of minor units".to_owned())
}

/// A parsed point in time: absolute, or a local civil time that needs the report's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// An instant (had `Z`, an offset, or was an epoch number).
    Instant(Timestamp),
    /// A civil time without offset, as milliseconds since the epoch read as if it were UTC.
    Local(i64),
    /// A date alone (midnight local).
    Date(Date),
}

fn num(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |a, d| a * 10 + (d - b'0') as u32))
}

/// How a column writes numeric dates whose year comes last (`03/04/2025`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateOrder {
    /// Each value on its own: day first after a `.` or when the first number exceeds 12,
    /// otherwise month first.
    #[default]
    PerValue,
    /// Month first (`03/04/2025` is March 4).
    MonthFirst,
    /// Day first (`03/04/2025` is 3 April).
    DayFirst,
}

impl DateOrder {
    /// Decides a column's order from sample values: a first number above 12 means day first,
    /// a second above 12 month first. When no value tells, the report's own period (its
    /// metadata's `FromDate`..`ToDate`) decides if only one reading falls in it; then `hint`
    /// (how the file's language or time zone writes dates); otherwise a `.` separator means
    /// day first and anything else month first, said as a guess.
    /// Returns the order and why it was chosen.
    pub fn detect<'a>(
        values: impl IntoIterator<Item = &'a str>,
        period: Option<(Date, Date)>,
        hint: Option<(DateOrder, String)>,
    ) -> (DateOrder, String) {
        let (mut day_first, mut month_first, mut dotted, mut seen) = (None, None, false, Vec::new());
        for v in values {
            let date_part = v.trim().split([' ', 'T']).next().unwrap_or("");
            let Some(sep) = date_part.bytes().find(|c| matches!(c, b'-' | b'/' | b'.')) else { continue };
            let parts: Vec<&str> = date_part.split(sep as char).collect();
            if parts.len() != 3 || parts[0].len() > 2 || parts[2].len() < 2 {
                continue;
            }
            let (Some(a), Some(b)) = (num(parts[0].as_bytes()), num(parts[1].as_bytes())) else { continue };
            dotted |= sep == b'.';
            if a > 12 {
                day_first.get_or_insert(date_part.to_owned());
            }
            if b > 12 {
                month_first.get_or_insert(date_part.to_owned());
            }
            if seen.len() < 500 {
                seen.push(date_part.to_owned());
            }
        }
        match (day_first, month_first) {
            (Some(v), None) => (DateOrder::DayFirst, format!("day first (`{v}` has a day above 12 first)")),
            (None, Some(v)) => {
                (DateOrder::MonthFirst, format!("month first (`{v}` has a day above 12 second)"))
            }
            (Some(_), Some(_)) => (DateOrder::PerValue, "mixed: each date read on its own".into()),
            (None, None) if seen.is_empty() => (DateOrder::PerValue, String::new()),
            (None, None) => {
                let fits = |order: DateOrder| {
                    period.is_some_and(|(from, to)| {
                        seen.iter().all(|v| {
                            parse_date(v, order).is_some_and(|d| d.0 >= from.0 - 1 && d.0 <= to.0 + 1)
                        })
                    })
                };
                match (fits(DateOrder::MonthFirst), fits(DateOrder::DayFirst), hint) {
                    (true, false, _) => {
                        (DateOrder::MonthFirst, "month first (only that reading falls in the report's period)".into())
                    }
                    (false, true, _) => {
                        (DateOrder::DayFirst, "day first (only that reading falls in the report's period)".into())
                    }
                    (_, _, Some((order, why))) => (order, why),
                    _ if dotted => (
                        DateOrder::DayFirst,
                        "day first (dates written with dots); no date in the sample tells, pass date_order to be sure".into(),
                    ),
                    _ => (
                        DateOrder::MonthFirst,
                        "month first (US); no date in the sample tells, pass date_order=dmy if the file is day first".into(),
                    ),
                }
            }
        }
    }
}

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Parses the date part: `2026-08-18`, `2026/08/18`, `20260818`, `08/18/2026` or
/// `18/08/2026` (as `order` says), `18.08.2026`, `18-Aug-2026`, `08/18/26`.
fn parse_date(s: &str, order: DateOrder) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() == 8 && b.iter().all(u8::is_ascii_digit) {
        return Date::from_ymd(num(&b[..4])? as i32, num(&b[4..6])?, num(&b[6..])?);
    }
    let sep = *b.iter().find(|c| matches!(c, b'-' | b'/' | b'.'))?;
    let parts: Vec<&str> = s.split(sep as char).collect();
    if parts.len() != 3 {
        return None;
    }
    let (a, m, c) = (parts[0], parts[1], parts[2]);
    let year = |y: &str| -> Option<i32> {
        let v = num(y.as_bytes())? as i32;
        match y.len() {
            4 => Some(v),
            2 => Some(2000 + v),
            _ => None,
        }
    };
    if a.len() == 4 {
        return Date::from_ymd(year(a)?, num(m.as_bytes())?, num(c.as_bytes())?);
    }
    if let Some(mi) = MONTHS.iter().position(|mn| m.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(mn))) {
        return Date::from_ymd(year(c)?, mi as u32 + 1, num(a.as_bytes())?);
    }
    let (x, y) = (num(a.as_bytes())?, num(m.as_bytes())?);
    let yr = year(c)?;
    match order {
        DateOrder::DayFirst => Date::from_ymd(yr, y, x),
        DateOrder::MonthFirst => Date::from_ymd(yr, x, y),
        DateOrder::PerValue if sep == b'.' || x > 12 => Date::from_ymd(yr, y, x),
        DateOrder::PerValue => Date::from_ymd(yr, x, y),
    }
}

/// Parses a time of day (`15:35`, `15:35:58`, `15:35:58.123`, `3:35 PM`, `153558`) to ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = s.trim();
    let (t, pm) = match t.len().checked_sub(2).and_then(|i| t.split_at_checked(i)) {
        Some((rest, ampm)) if ampm.eq_ignore_ascii_case("am") => (rest.trim_end(), Some(false)),
        Some((rest, ampm)) if ampm.eq_ignore_ascii_case("pm") => (rest.trim_end(), Some(true)),
        _ => (t, None),
    };
    let b = t.as_bytes();
    let (h, m, sec, ms) = if b.len() == 6 && b.iter().all(u8::is_ascii_digit) {
        (num(&b[..2])?, num(&b[2..4])?, num(&b[4..])?, 0)
    } else {
        let mut it = t.split(':');
        let h = num(it.next()?.as_bytes())?;
        let m = num(it.next()?.as_bytes())?;
        let (sec, ms) = match it.next() {
            None => (0, 0),
            Some(s) => match s.split_once('.') {
                Some((s, frac)) => {
                    let digits = &frac.as_bytes()[..frac.len().min(3)];
                    (num(s.as_bytes())?, num(digits)? * 10u32.pow(3 - digits.len() as u32))
                }
                None => (num(s.as_bytes())?, 0),
            },
        };
        if it.next().is_some() {
            return None;
        }
        (h, m, sec, ms)
    };
    let h = match pm {
        Some(true) if h < 12 => h + 12,
        Some(false) if h == 12 => 0,
        Some(_) if h > 12 => return None,
        _ => h,
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(((h * 3600 + m * 60 + sec) as i64) * 1000 + ms as i64)
}

/// Parses an offset suffix (`Z`, `+02:00`, `-0500`, ` UTC`) into milliseconds east of UTC and
/// the text before it.
fn split_offset(s: &str) -> (&str, Option<i64>) {
    let t = s.trim_end();
    if let Some(rest) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        return (rest, Some(0));
    }
    for suffix in [" UTC", " GMT", "UTC"] {
        if let Some(rest) = t.strip_suffix(suffix) {
            return (rest.trim_end(), Some(0));
        }
    }
    // ±HH:MM or ±HHMM after a time (so a date's dashes are not mistaken for a sign).
    let b = t.as_bytes();
    for len in [6, 5, 3] {
        if b.len() > len + 6 {
            let i = b.len() - len;
            if matches!(b[i], b'+' | b'-') && b[i - 1].is_ascii_digit() && t[..i].contains(':') {
                let off = &t[i + 1..];
                let (h, m) = match len {
                    6 if off.as_bytes()[2] == b':' => (num(&off.as_bytes()[..2]), num(&off.as_bytes()[3..])),
                    5 => (num(&off.as_bytes()[..2]), num(&off.as_bytes()[2..])),
                    3 => (num(off.as_bytes()), Some(0)),
                    _ => (None, None),
                };
                if let (Some(h), Some(m)) = (h, m) {
                    if h <= 23 && m <= 59 {
                        let ms = (h as i64 * 60 + m as i64) * 60_000;
                        return (&t[..i], Some(if b[i] == b'+' { ms } else { -ms }));
                    }
                }
            }
        }
    }
    (t, None)
}

/// Parses every timestamp form of docs/ingestion.md: ISO 8601 with or without offset,
/// `MM/DD/YYYY HH:MM[:SS]`, `DD.MM.YYYY HH:MM:SS`, compact `YYYYMMDDHHMMSS`, dates alone,
/// epoch seconds (10 digits) or milliseconds (13 digits). Numeric dates are read per value
/// (see [`DateOrder::PerValue`]).
pub fn parse_when(text: &str) -> Option<When> {
    parse_when_in(text, DateOrder::PerValue)
}

/// [`parse_when`] with a column's date order.
pub fn parse_when_in(text: &str, order: DateOrder) -> Option<When> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        match b.len() {
            10 => return Some(When::Instant(Timestamp(s.parse::<i64>().ok()? * 1000))),
            13 => return Some(When::Instant(Timestamp(s.parse().ok()?))),
            14 => {
                let d = parse_date(&s[..8], DateOrder::PerValue)?;
                let t = parse_time(&s[8..])?;
                return Some(When::Local(d.start().0 + t));
            }
            8 => return parse_date(s, order).map(When::Date),
            _ => return None,
        }
    }
    let (body, offset) = split_offset(s);
    let split = body.find(['T', 't', ' ']);
    let (date_part, time_part) = match split {
        Some(i) => (&body[..i], Some(body[i + 1..].trim())),
        None => (body, None),
    };
    let date = parse_date(date_part, order)?;
    let local = match time_part {
        Some(t) if !t.is_empty() => date.start().0 + parse_time(t)?,
        _ => {
            return match offset {
                Some(off) => Some(When::Instant(Timestamp(date.start().0 - off))),
                None => Some(When::Date(date)),
            }
        }
    };
    Some(match offset {
        Some(off) => When::Instant(Timestamp(local - off)),
        None => When::Local(local),
    })
}

/// True when a value is a time of day with no date (`16:43.0`, `6:24`, `15:35:58`,
/// `3:35 PM`): what a spreadsheet leaves of a timestamp it re-formatted.
pub fn is_time_only(v: &str) -> bool {
    let t = v.trim();
    let t = t
        .strip_suffix("AM")
        .or_else(|| t.strip_suffix("PM"))
        .or_else(|| t.strip_suffix("am"))
        .or_else(|| t.strip_suffix("pm"))
        .unwrap_or(t)
        .trim_end();
    let (clock, frac) = t.split_once(['.', ',']).unwrap_or((t, ""));
    let parts: Vec<&str> = clock.split(':').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// An Excel serial date (`45352`, `45352.5`: days since 1899-12-30) as local milliseconds.
pub fn excel_serial(v: &str) -> Option<i64> {
    let t = v.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if int.len() != 5 || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let serial: f64 = t.parse().ok()?;
    if !(20_000.0..80_000.0).contains(&serial) {
        return None;
    }
    Some(((serial - 25_569.0) * 86_400_000.0).round() as i64)
}

/// A row's time zone: a fixed offset (`CET` is +01:00, `PDT` −07:00, `+05:30`) or an IANA zone.
#[derive(Debug, Clone)]
pub enum RowZone {
    /// Milliseconds east of UTC.
    Offset(i64),
    /// A zone with its rules.
    Tz(jiff::tz::TimeZone),
}

impl RowZone {
    /// How a zone's country writes numeric dates, when it tells: the United States month
    /// first, Europe, Africa, Asia, Oceania and Latin America day first.
    pub fn date_order(text: &str) -> Option<DateOrder> {
        const US: &[&str] = &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Los_Angeles",
            "America/Phoenix",
            "America/Anchorage",
            "America/Detroit",
            "America/Boise",
            "Pacific/Honolulu",
            "US/",
        ];
        let t = text.trim();
        let upper = t.to_ascii_uppercase();
        if ["PST", "PDT", "EST", "EDT", "CST", "CDT", "MST", "MDT", "AKST", "AKDT", "HST"]
            .contains(&upper.as_str())
            || US.iter().any(|z| t.starts_with(z))
            || t.starts_with("America/Indiana")
            || t.starts_with("America/Kentucky")
        {
            return Some(DateOrder::MonthFirst);
        }
        let day_first_regions =
            ["Europe/", "Africa/", "Asia/", "Australia/", "America/", "Atlantic/", "Indian/"];
        let day_first_abbrevs =
            ["CET", "CEST", "WET", "WEST", "EET", "EEST", "BST", "MSK", "JST", "AEST", "AEDT", "SGT"];
        (day_first_regions.iter().any(|r| t.starts_with(r)) || day_first_abbrevs.contains(&upper.as_str()))
            .then_some(DateOrder::DayFirst)
    }

    /// Reads a zone abbreviation, offset or IANA name.
    pub fn parse(text: &str) -> Option<RowZone> {
        let t = text.trim();
        let hours = |h: i64, m: i64| RowZone::Offset((h * 60 + m) * 60_000);
        Some(match t.to_ascii_uppercase().as_str() {
            "" => return None,
            "UTC" | "GMT" | "Z" | "UT" | "WET" => hours(0, 0),
            "CET" | "WAT" | "BST" | "WEST" => hours(1, 0),
            "CEST" | "EET" | "CAT" | "SAST" => hours(2, 0),
            "EEST" | "MSK" | "EAT" => hours(3, 0),
            "GST" => hours(4, 0),
            "PKT" => hours(5, 0),
            "ICT" | "WIB" => hours(7, 0),
            "SGT" | "HKT" | "AWST" | "PHT" => hours(8, 0),
            "JST" | "KST" => hours(9, 0),
            "AEST" => hours(10, 0),
            "AEDT" => hours(11, 0),
            "NZST" => hours(12, 0),
            "NZDT" => hours(13, 0),
            "ADT" => hours(-3, 0),
            "AST" | "EDT" => hours(-4, 0),
            "EST" | "CDT" => hours(-5, 0),
            "CST" | "MDT" => hours(-6, 0),
            "MST" | "PDT" => hours(-7, 0),
            "PST" | "AKDT" => hours(-8, 0),
            "AKST" => hours(-9, 0),
            "HST" => hours(-10, 0),
            _ => {
                let offset = t.strip_prefix("UTC").or_else(|| t.strip_prefix("GMT")).unwrap_or(t);
                if let Some(ms) = parse_offset(offset) {
                    return Some(RowZone::Offset(ms));
                }
                return jiff::tz::TimeZone::get(t).ok().map(RowZone::Tz);
            }
        })
    }

    /// The instant of local civil milliseconds in this zone.
    pub fn resolve(&self, local_ms: i64) -> Option<Timestamp> {
        match self {
            RowZone::Offset(off) => Some(Timestamp(local_ms - off)),
            RowZone::Tz(z) => local_to_instant(local_ms, z),
        }
    }
}

/// `+05:30`, `-0800`, `+02` as milliseconds east of UTC.
fn parse_offset(t: &str) -> Option<i64> {
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
        _ => return None,
    };
    (h <= 14 && m < 60).then_some(sign * (h * 60 + m) * 60_000)
}

/// True when a value parses as a timestamp with a date part (for value-shape inference).
pub fn looks_like_timestamp(v: &str) -> bool {
    let v = v.trim();
    v.len() >= 8 && !v.bytes().all(|b| b.is_ascii_digit()) && parse_when(v).is_some()
}

/// Converts local civil milliseconds in `zone` to an instant (earlier offset in a DST fold,
/// later in a gap, as `jiff`'s compatible disambiguation does).
pub fn local_to_instant(local_ms: i64, zone: &jiff::tz::TimeZone) -> Option<Timestamp> {
    let secs = local_ms.div_euclid(1000);
    let ms = local_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = crate::calendar::civil_from_days(days as i32);
    let sod = secs.rem_euclid(86_400);
    let dt = jiff::civil::DateTime::new(
        i16::try_from(y).ok()?,
        m as i8,
        d as i8,
        (sod / 3600) as i8,
        (sod / 60 % 60) as i8,
        (sod % 60) as i8,
        (ms * 1_000_000) as i32,
    )
    .ok()?;
    let ts = zone.to_ambiguous_zoned(dt).compatible().ok()?.timestamp();
    Some(Timestamp(ts.as_millisecond()))
}

/// Resolves a parsed time to UTC: instants as they are, local times through `zone`
/// (`None` = UTC).
pub fn resolve(when: When, zone: Option<&jiff::tz::TimeZone>) -> Option<Timestamp> {
    let local = match when {
        When::Instant(t) => return Some(t),
        When::Local(ms) => ms,
        When::Date(d) => d.start().0,
    };
    match zone {
        None => Some(Timestamp(local)),
        Some(z) => local_to_instant(local, z),
    }
}

/// Parses a yes/no flag. Known false words and empty are false, known true words are true,
/// and any other text (a fraud type such as `Card Not Present`) counts as true.
pub fn parse_flag(text: &str) -> bool {
    let t = text.trim();
    !(t.is_empty()
        || ["0", "n", "no", "false", "f", "none", "clean", "not fraud"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w)))
}

/// Reads an approval status word (`approved`, `declined`, `A`, `D`, `Y`, `N`, ...).
pub fn parse_status(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "approved" | "approve" | "a" | "y" | "yes" | "success" | "successful" | "accepted" | "authorized"
        | "authorised" | "ok" | "true" | "1" => Some(true),
        "declined" | "decline" | "d" | "n" | "no" | "denied" | "rejected" | "failed" | "failure"
        | "refused" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// An MCC as four digits (`742` → `0742`).
pub fn normalize_mcc(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_suffix(".0").unwrap_or(t);
    (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit())).then(|| {
        let mut mcc = "000"[..4 - t.len()].to_owned();
        mcc.push_str(t);
        mcc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amt(s: &str, style: DecimalStyle, exp: u8) -> Result<i64, String> {
        parse_amount(s, style, |_| exp).map(|a| a.minor)
    }

    #[test]
    fn amounts_in_every_form() {
        use DecimalStyle::*;
        assert_eq!(amt("1,234.56", Dot, 2), Ok(123_456));
        assert_eq!(amt("1.234,56", Comma, 2), Ok(123_456));
        assert_eq!(amt("(12.34)", Dot, 2), Ok(-1234));
        assert_eq!(amt("$12.34", Dot, 2), Ok(1234));
        assert_eq!(amt("12.34-", Dot, 2), Ok(-1234));
        assert_eq!(amt("-12.34", Dot, 2), Ok(-1234));
        assert_eq!(amt("1 234,56", Comma, 2), Ok(123_456));
        assert_eq!(amt("5,196", Dot, 0), Ok(5196));
        assert_eq!(amt("5.196", Comma, 0), Ok(5196));
        assert_eq!(amt("19,04", Comma, 2), Ok(1904));
        assert_eq!(amt("0,46", Comma, 2), Ok(46));
        assert_eq!(amt("12", Dot, 2), Ok(1200));
        assert!(amt("12.345", Dot, 2).is_err());
        assert!(amt("abc", Dot, 2).is_err());
        assert!(amt("", Dot, 2).is_err());
        // Spreadsheets' scientific notation, shifted exactly.
        assert_eq!(amt("1e5", Dot, 2), Ok(10_000_000));
        assert_eq!(amt("1.5E+02", Dot, 2), Ok(15_000));
        assert_eq!(amt("0.00E+00", Dot, 2), Ok(0));
        assert_eq!(amt("-1.25E-01", Dot, 2), Err("has more than 2 decimals or is too large".into()));
        assert_eq!(parse_amount_rounded("-0.13339", Dot, 2), Ok(-13));
        assert_eq!(parse_amount_rounded("0.125", Dot, 2), Ok(13));
        let p = parse_amount("12.34 EUR", Dot, |c| c.map_or(2, Currency::exponent)).unwrap();
        assert_eq!((p.minor, p.currency), (1234, Some(Currency::EUR)));
        let p = parse_amount("JPY 1,200", Dot, |c| c.map_or(2, Currency::exponent)).unwrap();
        assert_eq!((p.minor, p.currency), (1200, Some(Currency::JPY)));
    }

    #[test]
    fn decimal_style_detection() {
        assert_eq!(DecimalStyle::detect(["19,04", "72,01", "5.196"]), DecimalStyle::Comma);
        assert_eq!(DecimalStyle::detect(["19.04", "5,196", "72.01"]), DecimalStyle::Dot);
        assert_eq!(DecimalStyle::detect(["1.234,56"]), DecimalStyle::Comma);
    }

    fn utc(s: &str) -> String {
        resolve(parse_when(s).unwrap(), None).unwrap().to_string()
    }

    #[test]
    fn timestamps_in_every_form() {
        assert_eq!(utc("2026-08-21T18:15:58+00:00"), "2026-08-21T18:15:58Z");
        assert_eq!(utc("2026-08-21T20:15:58+02:00"), "2026-08-21T18:15:58Z");
        assert_eq!(utc("2026-08-21 13:15:58-0500"), "2026-08-21T18:15:58Z");
        assert_eq!(utc("2026-09-29T14:56:51Z"), "2026-09-29T14:56:51Z");
        assert_eq!(utc("2026-09-02 17:50:42"), "2026-09-02T17:50:42Z");
        assert_eq!(utc("20.08.2026 03:15:58"), "2026-08-20T03:15:58Z");
        assert_eq!(utc("08/20/2026 03:15"), "2026-08-20T03:15:00Z");
        assert_eq!(utc("20/08/2026 03:15"), "2026-08-20T03:15:00Z");
        assert_eq!(utc("18-Aug-2026"), "2026-08-18T00:00:00Z");
        assert_eq!(utc("20260820031558"), "2026-08-20T03:15:58Z");
        assert_eq!(utc("1787195758"), "2026-08-20T03:15:58Z");
        assert_eq!(utc("1787195758123"), "2026-08-20T03:15:58.123Z");
        assert_eq!(utc("2026-08-20 3:15 PM"), "2026-08-20T15:15:00Z");
        assert!(parse_when("2026-02-30").is_none());
        assert!(parse_when("yesterday").is_none());
        assert!(parse_when("2026-08-20T25:00:00").is_none());
    }

    #[test]
    fn time_zones() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let t = resolve(parse_when("2026-08-20 10:00:00").unwrap(), Some(&ny)).unwrap();
        assert_eq!(t.to_string(), "2026-08-20T14:00:00Z");
        // An explicit offset wins over the report's zone.
        let t = resolve(parse_when("2026-08-20T10:00:00Z").unwrap(), Some(&ny)).unwrap();
        assert_eq!(t.to_string(), "2026-08-20T10:00:00Z");
    }

    #[test]
    fn flags_status_mcc() {
        assert!(parse_flag("1") && parse_flag("Y") && parse_flag("Card Not Present"));
        assert!(!parse_flag("0") && !parse_flag("") && !parse_flag("No"));
        assert_eq!(parse_status("APPROVED"), Some(true));
        assert_eq!(parse_status("declined"), Some(false));
        assert_eq!(parse_status("maybe"), None);
        assert_eq!(normalize_mcc("742").as_deref(), Some("0742"));
        assert_eq!(normalize_mcc("5812").as_deref(), Some("5812"));
        assert_eq!(normalize_mcc("58123"), None);
    }
}
