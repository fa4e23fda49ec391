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

const MONTHS: [&str; 12] =
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// Parses the date part: `2026-08-18`, `2026/08/18`, `20260818`, `08/18/2026` (US; `18/08/2026`
/// when the first number cannot be a month), `18.08.2026`, `18-Aug-2026`, `08/18/26`.
fn parse_date(s: &str) -> Option<Date> {
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
    match sep {
        b'.' => Date::from_ymd(yr, y, x),
        _ if x > 12 => Date::from_ymd(yr, y, x),
        _ => Date::from_ymd(yr, x, y),
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

/// Parses every timestamp form of CONTRACT §4: ISO 8601 with or without offset,
/// `MM/DD/YYYY HH:MM[:SS]`, `DD.MM.YYYY HH:MM:SS`, compact `YYYYMMDDHHMMSS`, dates alone,
/// epoch seconds (10 digits) or milliseconds (13 digits).
pub fn parse_when(text: &str) -> Option<When> {
    let s = text.trim();
    let b = s.as_bytes();
    if b.iter().all(u8::is_ascii_digit) {
        match b.len() {
            10 => return Some(When::Instant(Timestamp(s.parse::<i64>().ok()? * 1000))),
            13 => return Some(When::Instant(Timestamp(s.parse().ok()?))),
            14 => {
                let d = parse_date(&s[..8])?;
                let t = parse_time(&s[8..])?;
                return Some(When::Local(d.start().0 + t));
            }
            8 => return parse_date(s).map(When::Date),
            _ => return None,
        }
    }
    let (body, offset) = split_offset(s);
    let split = body.find(['T', 't', ' ']);
    let (date_part, time_part) = match split {
        Some(i) => (&body[..i], Some(body[i + 1..].trim())),
        None => (body, None),
    };
    let date = parse_date(date_part)?;
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
    (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{t:0>4}"))
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
        assert!(amt("1e5", Dot, 2).is_err());
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
