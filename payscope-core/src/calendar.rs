//! UTC time as the engine stores it: [`Timestamp`] (epoch milliseconds) and [`Date`] (epoch days),
//! with the proleptic Gregorian arithmetic the ingest and query paths need.
//!
//! The hot paths (parsing millions of timestamps, bucketing by day) use these integer conversions
//! directly; named time zones are handled by `jiff` only where a report asks for one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// Milliseconds in a day.
pub const MS_PER_DAY: i64 = 86_400_000;
/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 3_600_000;

/// Days from 1970-01-01 to the civil date `y-m-d` (Howard Hinnant's algorithm).
pub const fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = (y - era * 400) as u32;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

/// The civil date `(y, m, d)` of an epoch day.
pub const fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i32 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Number of days in month `m` of year `y`.
pub const fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// A calendar day in UTC, as days since 1970-01-01.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    /// The date `y-m-d`, or `None` when it does not exist.
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Date> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || !(1..=9999).contains(&y) {
            return None;
        }
        Some(Date(days_from_civil(y, m, d)))
    }

    /// `(year, month, day)`.
    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    /// ISO weekday, Monday = 0 … Sunday = 6.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        (self.0 + 3).rem_euclid(7) as u32
    }

    /// Midnight UTC at the start of the day.
    pub fn start(self) -> Timestamp {
        Timestamp(self.0 as i64 * MS_PER_DAY)
    }

    /// The day `n` days later (or earlier when negative).
    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// The first day of the month containing this date.
    pub fn month_start(self) -> Date {
        let (y, m, _) = self.ymd();
        Date(days_from_civil(y, m, 1))
    }

    /// The same day-of-month `n` months later (clamped to the month's end).
    pub fn add_months(self, n: i32) -> Date {
        let (y, m, d) = self.ymd();
        let total = y * 12 + (m as i32 - 1) + n;
        let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
        Date(days_from_civil(ny, nm, d.min(days_in_month(ny, nm))))
    }
}

/// Writes `n` into `out` as zero-padded decimal digits.
fn put_digits(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// `YYYY-MM-DD` into `out[..10]`, for years 0–9999 (false for others).
fn put_date(out: &mut [u8], date: Date) -> bool {
    let (y, m, d) = date.ymd();
    if !(0..=9999).contains(&y) {
        return false;
    }
    put_digits(&mut out[0..4], y as u32);
    put_digits(&mut out[5..7], m);
    put_digits(&mut out[8..10], d);
    (out[4], out[7]) = (b'-', b'-');
    true
}

/// Dates and timestamps are formatted into every answer and audit record: by hand, not
/// through `write!`'s machinery (which was a tenth of a cached answer's time).
fn ascii(bytes: &[u8]) -> Result<&str, fmt::Error> {
    std::str::from_utf8(bytes).map_err(|_| fmt::Error)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; 10];
        if put_date(&mut out, *self) {
            return f.write_str(ascii(&out)?);
        }
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An instant in UTC, as milliseconds since the Unix epoch.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The earliest timestamp a report may carry (1970-01-01).
    pub const MIN_VALID: Timestamp = Timestamp(0);
    /// The latest timestamp a report may carry (2100-01-01, exclusive).
    pub const MAX_VALID: Timestamp = Timestamp(4_102_444_800_000);

    /// The current time.
    pub fn now() -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(since)
    }

    /// Builds a timestamp from civil UTC fields; `None` when a field is out of range.
    pub fn from_civil(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<Timestamp> {
        let date = Date::from_ymd(y, mo, d)?;
        if h > 23 || mi > 59 || s > 60 || ms > 999 {
            return None;
        }
        let secs = h as i64 * 3600 + mi as i64 * 60 + s.min(59) as i64;
        Some(Timestamp(date.start().0 + secs * 1000 + ms as i64))
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The UTC day.
    pub fn date(self) -> Date {
        Date(self.0.div_euclid(MS_PER_DAY) as i32)
    }

    /// Hour of the UTC day, 0–23.
    pub fn hour(self) -> u32 {
        (self.0.rem_euclid(MS_PER_DAY) / MS_PER_HOUR) as u32
    }

    /// True when the timestamp is at a UTC midnight.
    pub fn is_midnight(self) -> bool {
        self.0.rem_euclid(MS_PER_DAY) == 0
    }

    /// This timestamp plus `ms` milliseconds.
    pub fn add_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// True inside the range the engine accepts for facts.
    pub fn is_plausible(self) -> bool {
        self >= Self::MIN_VALID && self < Self::MAX_VALID
    }

    /// Parses RFC 3339 / ISO 8601 with `Z` or a numeric offset (`2026-10-01T12:00:00.250+02:00`),
    /// or a bare date (`2026-10-01`, midnight UTC).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp> {
        let bad = || Error::invalid("invalid_timestamp", format!("`{s}` is not an RFC 3339 timestamp"));
        let b = s.trim().as_bytes();
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(r)?;
            if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(part.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32))
        };
        let (y, mo, d) =
            (num(0..4).ok_or_else(bad)?, num(5..7).ok_or_else(bad)?, num(8..10).ok_or_else(bad)?);
        if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(bad());
        }
        if b.len() == 10 {
            return Timestamp::from_civil(y as i32, mo, d, 0, 0, 0, 0).ok_or_else(bad);
        }
        if !matches!(b.get(10), Some(b'T' | b't' | b' ')) || b.get(13) != Some(&b':') {
            return Err(bad());
        }
        let (h, mi) = (num(11..13).ok_or_else(bad)?, num(14..16).ok_or_else(bad)?);
        let mut i = 16;
        let mut sec = 0;
        let mut ms = 0;
        if b.get(i) == Some(&b':') {
            sec = num(17..19).ok_or_else(bad)?;
            i = 19;
            if b.get(i) == Some(&b'.') {
                let start = i + 1;
                let mut end = start;
                while b.get(end).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                }
                if end == start {
                    return Err(bad());
                }
                let digits = &b[start..end.min(start + 3)];
                ms = digits.iter().fold(0u32, |a, c| a * 10 + (c - b'0') as u32)
                    * 10u32.pow(3 - digits.len() as u32);
                i = end;
            }
        }
        let base = Timestamp::from_civil(y as i32, mo, d, h, mi, sec, ms).ok_or_else(bad)?;
        let offset_ms = match b.get(i) {
            None => 0,
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(sign @ (b'+' | b'-')) => {
                let oh = num(i + 1..i + 3).ok_or_else(bad)?;
                let om = match b.get(i + 3) {
                    Some(b':') => num(i + 4..i + 6).ok_or_else(bad)?,
                    Some(_) => num(i + 3..i + 5).ok_or_else(bad)?,
                    None => 0,
                };
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                let off = (oh as i64 * 60 + om as i64) * 60_000;
                if *sign == b'+' {
                    off
                } else {
                    -off
                }
            }
            _ => return Err(bad()),
        };
        Ok(Timestamp(base.0 - offset_ms))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date();
        let ms_of_day = self.0.rem_euclid(MS_PER_DAY);
        let (h, mi, s, ms) =
            (ms_of_day / MS_PER_HOUR, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
        // YYYY-MM-DDTHH:MM:SS.mmmZ
        let mut out = *b"0000-00-00T00:00:00.000Z";
        if put_date(&mut out, date) {
            put_digits(&mut out[11..13], h as u32);
            put_digits(&mut out[14..16], mi as u32);
            put_digits(&mut out[17..19], s as u32);
            if ms == 0 {
                out[19] = b'Z';
                return f.write_str(ascii(&out[..20])?);
            }
            put_digits(&mut out[20..23], ms as u32);
            return f.write_str(ascii(&out)?);
        }
        write!(f, "{date}T{h:02}:{mi:02}:{s:02}")?;
        if ms != 0 {
            write!(f, ".{ms:03}")?;
        }
        f.write_str("Z")
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// A half-open UTC interval `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeRange {
    /// Inclusive start.
    pub from: Timestamp,
    /// Exclusive end.
    pub to: Timestamp,
}

impl TimeRange {
    /// Builds `[from, to)`.
    pub fn new(from: Timestamp, to: Timestamp) -> Self {
        Self { from, to }
    }

    /// The whole days `[from, to)`.
    pub fn days(from: Date, to: Date) -> Self {
        Self { from: from.start(), to: to.start() }
    }

    /// True when `t` falls inside.
    pub fn contains(&self, t: Timestamp) -> bool {
        t >= self.from && t < self.to
    }

    /// The range's length in milliseconds (0 when empty).
    pub fn len_millis(&self) -> i64 {
        (self.to.0 - self.from.0).max(0)
    }

    /// The range of equal length ending where this one starts.
    pub fn previous(&self) -> TimeRange {
        TimeRange { from: Timestamp(self.from.0 - self.len_millis()), to: self.from }
    }

    /// A readable `2026-10-02 – 2026-10-31` form with the end shown inclusively.
    pub fn display_days(&self) -> String {
        let last = Timestamp(self.to.0 - 1).date();
        let first = self.from.date();
        if first == last {
            first.to_string()
        } else {
            format!("{first} – {last}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_and_weekdays() {
        for z in [-800_000, -1, 0, 1, 20_000, 20_392, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        // 2026-11-01 is a Sunday.
        assert_eq!(Date::from_ymd(2026, 11, 1).unwrap().weekday(), 6);
        assert_eq!(Date::from_ymd(2026, 2, 29), None);
        assert_eq!(Date::from_ymd(2026, 1, 31).unwrap().add_months(1).to_string(), "2026-02-28");
    }

    #[test]
    fn formatting_by_hand_matches_format_strings() {
        let reference = |t: Timestamp| {
            let (y, m, d) = t.date().ymd();
            let ms = t.0.rem_euclid(MS_PER_DAY);
            let (h, mi, s, f) = (ms / MS_PER_HOUR, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
            let frac = if f == 0 { String::new() } else { format!(".{f:03}") };
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
        };
        let mut t = -62_167_219_200_000 - 7; // just before 0000-01-01
        while t < 253_402_300_800_000 + MS_PER_DAY {
            let expected = reference(Timestamp(t));
            assert_eq!(Timestamp(t).to_string(), expected, "{t}");
            assert_eq!(Timestamp(t).date().to_string(), expected[..expected.find('T').unwrap()]);
            t += 7_777_777_777 + 123;
        }
    }

    #[test]
    fn rfc3339_parsing_and_formatting() {
        let t = Timestamp::parse_rfc3339("2026-08-21T18:15:58+00:00").unwrap();
        assert_eq!(t.to_string(), "2026-08-21T18:15:58Z");
        let t = Timestamp::parse_rfc3339("2026-08-21T20:15:58.25+02:00").unwrap();
        assert_eq!(t.to_string(), "2026-08-21T18:15:58.250Z");
        assert_eq!(Timestamp::parse_rfc3339("2026-10-01").unwrap().to_string(), "2026-10-01T00:00:00Z");
        for bad in
            ["", "2026-13-01", "2026-10-01T25:00:00Z", "2026-10-01Tx", "20261001", "2026-10-01T10:00:00Zjunk"]
        {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
