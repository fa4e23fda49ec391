//! Time expressions (docs/questions.md) resolved against `as_of` into half-open UTC ranges, plus the
//! hour-of-day and day-of-week filters ("after 10 PM", "on weekends") and forecast horizons
//! ("next month"). A time in the question wins over the request's `time_range`.

use serde::{Deserialize, Serialize};

use super::words::{count, Token};
use crate::calendar::{Date, TimeRange, Timestamp, MS_PER_DAY};
use crate::error::{Error, Result};

/// The request's `time_range`: a name (`7d`, `30d`, `90d`, `1y`, `mtd`, `qtd`, `ytd`, `all`)
/// or inclusive dates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TimeRangeSpec {
    /// A named range.
    Named(String),
    /// Inclusive dates.
    Dates {
        /// First day.
        from: String,
        /// Last day (inclusive).
        to: String,
    },
}

impl Default for TimeRangeSpec {
    fn default() -> Self {
        TimeRangeSpec::Named("30d".into())
    }
}

/// A resolved time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSpec {
    /// The range.
    pub range: TimeRange,
    /// How the user said it (`last week`, `30d`).
    pub phrase: String,
    /// Hours of the day to keep (0–23), when restricted.
    pub hours: Vec<u8>,
    /// Weekdays to keep (0 = Monday), when restricted.
    pub weekdays: Vec<u8>,
    /// True when the question named the time (not the request default).
    pub explicit: bool,
    /// True for a range after `as_of` (a forecast horizon).
    pub future: bool,
    /// A second period the question compares with ("compared to last month").
    pub versus: Option<TimeRange>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A month from its name or a prefix of at least three letters (`oct`, `sept`, `october`).
fn month_of(w: &str) -> Option<u32> {
    let w = w.trim_end_matches('.');
    if w.len() < 3 {
        return None;
    }
    MONTHS.iter().position(|m| m.starts_with(w)).map(|i| i as u32 + 1)
}

fn year_of(w: &str) -> Option<i32> {
    let y: i32 = w.trim_end_matches(['\'', 's']).parse().ok()?;
    ((1990..=2100).contains(&y) && w.len() == 4).then_some(y)
}

fn day_of_month(w: &str) -> Option<u32> {
    let d: u32 = w
        .trim_end_matches("st")
        .trim_end_matches("nd")
        .trim_end_matches("rd")
        .trim_end_matches("th")
        .parse()
        .ok()?;
    (1..=31).contains(&d).then_some(d)
}

/// Parses a date token: `2026-10-01`, `2026/10/01`, `10/01/2026` (US), `10/01`.
fn date_token(w: &str, as_of: Date) -> Option<Date> {
    if let Ok(t) = Timestamp::parse_rfc3339(w) {
        return Some(t.date());
    }
    let parts: Vec<&str> = w.split('/').collect();
    let num = |s: &str| s.parse::<u32>().ok();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => Date::from_ymd(y.parse().ok()?, num(m)?, num(d)?),
        [m, d, y] if y.len() == 4 => Date::from_ymd(y.parse().ok()?, num(m)?, num(d)?),
        [m, d, y] if y.len() == 2 => Date::from_ymd(2000 + y.parse::<i32>().ok()?, num(m)?, num(d)?),
        [m, d] => latest_started(as_of, |y| Date::from_ymd(y, num(m)?, num(d)?)),
        _ => None,
    }
}

/// The latest date built by `make(year)` that is not after `as_of`.
fn latest_started(as_of: Date, make: impl Fn(i32) -> Option<Date>) -> Option<Date> {
    let (y, ..) = as_of.ymd();
    make(y).filter(|d| *d <= as_of).or_else(|| make(y - 1))
}

/// Reads a date starting at token `i` (`2026-10-01`, `Oct 1`, `October 1st, 2026`, `1 Oct`);
/// returns it and the number of tokens used.
fn date_at(t: &[Token], i: usize, as_of: Date) -> Option<(Date, usize)> {
    let w = |k: usize| t.get(i + k).map(|x| x.text.as_str());
    if let Some(d) = w(0).and_then(|x| date_token(x, as_of)) {
        return Some((d, 1));
    }
    if let (Some(m), Some(d)) = (w(0).and_then(month_of), w(1).and_then(day_of_month)) {
        if let Some(y) = w(2).and_then(year_of) {
            return Date::from_ymd(y, m, d).map(|x| (x, 3));
        }
        return latest_started(as_of, |y| Date::from_ymd(y, m, d)).map(|x| (x, 2));
    }
    if let (Some(d), Some(m)) = (w(0).and_then(day_of_month), w(1).and_then(month_of)) {
        if let Some(y) = w(2).and_then(year_of) {
            return Date::from_ymd(y, m, d).map(|x| (x, 3));
        }
        return latest_started(as_of, |y| Date::from_ymd(y, m, d)).map(|x| (x, 2));
    }
    None
}

fn quarter_start(d: Date) -> Date {
    let (y, m, _) = d.ymd();
    Date::from_ymd(y, (m - 1) / 3 * 3 + 1, 1).unwrap_or(d)
}

fn year_start(d: Date) -> Date {
    Date::from_ymd(d.ymd().0, 1, 1).unwrap_or(d)
}

fn week_start(d: Date) -> Date {
    d.add_days(-(d.weekday() as i32))
}

/// Parses an hour (`10pm`, `10`, `22:00`, `9am`) possibly followed by a separate `pm` token.
fn hour_at(t: &[Token], i: usize) -> Option<(u32, usize)> {
    let w = t.get(i)?.text.as_str();
    let next = t.get(i + 1).map(|x| x.text.as_str());
    let (num, suffix, used) = if let Some(n) = w.strip_suffix("pm").or_else(|| w.strip_suffix("p.m")) {
        (n, Some(true), 1)
    } else if let Some(n) = w.strip_suffix("am").or_else(|| w.strip_suffix("a.m")) {
        (n, Some(false), 1)
    } else if matches!(next, Some("pm" | "p.m")) {
        (w, Some(true), 2)
    } else if matches!(next, Some("am" | "a.m")) {
        (w, Some(false), 2)
    } else {
        (w, None, 1)
    };
    let h: u32 = num.split(':').next()?.parse().ok()?;
    let h = match suffix {
        Some(true) if h < 12 => h + 12,
        Some(false) if h == 12 => 0,
        Some(_) if h > 12 => return None,
        None if !num.contains(':') && h > 24 => return None,
        _ => h,
    };
    (h < 24).then_some((h, used))
}

/// The outcome of reading time expressions out of a question.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The window.
    pub spec: TimeSpec,
    /// Indices of the tokens that were time expressions.
    pub consumed: Vec<usize>,
}

/// Resolves the request's `time_range` (the fallback).
pub fn resolve_fallback(spec: &TimeRangeSpec, as_of: Timestamp) -> Result<TimeSpec> {
    let today = as_of.date();
    let bad = |why: String| Error::invalid("invalid_request", why);
    let (range, phrase) = match spec {
        TimeRangeSpec::Named(name) => {
            let n = name.trim().to_ascii_lowercase();
            let back = |ms: i64| TimeRange::new(Timestamp(as_of.0 - ms), as_of);
            let range = match n.as_str() {
                "7d" => back(7 * MS_PER_DAY),
                "30d" => back(30 * MS_PER_DAY),
                "90d" => back(90 * MS_PER_DAY),
                "1y" => TimeRange::new(Timestamp(as_of.0 - 365 * MS_PER_DAY), as_of),
                "mtd" => TimeRange::new(today.month_start().start(), as_of),
                "qtd" => TimeRange::new(quarter_start(today).start(), as_of),
                "ytd" => TimeRange::new(year_start(today).start(), as_of),
                "all" => TimeRange::new(Timestamp(0), as_of),
                other => {
                    return Err(bad(format!(
                        "time_range `{other}` is not one of 7d, 30d, 90d, 1y, mtd, qtd, ytd, all, or {{\"from\",\"to\"}}"
                    )))
                }
            };
            (range, n)
        }
        TimeRangeSpec::Dates { from, to } => {
            let parse = |s: &str| {
                Timestamp::parse_rfc3339(s)
                    .map(|t| t.date())
                    .map_err(|_| bad(format!("time_range date `{s}` is not YYYY-MM-DD")))
            };
            let (f, t) = (parse(from)?, parse(to)?);
            if t < f {
                return Err(bad("time_range ends before it starts".into()));
            }
            (TimeRange::days(f, t.add_days(1)), format!("{from} to {to}"))
        }
    };
    Ok(TimeSpec {
        range,
        phrase,
        hours: vec![],
        weekdays: vec![],
        explicit: false,
        future: false,
        versus: None,
    })
}

/// What one time rule read at a position.
enum Read {
    /// Ranges the question names, each with its phrase and whether it lies ahead (a forecast
    /// horizon), and where each starts relative to the rule's position.
    Ranges(Vec<(TimeRange, String, bool, usize)>),
    /// Hours of the UTC day to keep.
    Hours(Vec<u8>),
    /// Days of the week to keep (0 = Monday).
    Weekdays(Vec<u8>),
}

/// What the rules read against: the question's tokens, `as_of`, and the first range found
/// (`the week before` and `the same day last week` follow one).
struct Clock<'a> {
    tokens: &'a [Token],
    today: Date,
    as_of: Timestamp,
    first: Option<TimeRange>,
}

/// A time rule: what it reads at a position, and how many tokens.
type TimeRule<'a> = fn(&Clock<'a>, usize) -> Option<(Read, usize)>;

impl<'a> Clock<'a> {
    /// The time rules, in the order they are tried at each word.
    const RULES: [TimeRule<'a>; 11] = [
        Clock::day_or_period_to_date,
        Clock::following,
        Clock::relative_day,
        Clock::relative_period,
        Clock::date_span,
        Clock::quarter,
        Clock::month_or_date,
        Clock::year,
        Clock::hours,
        Clock::weekdays,
        Clock::over_previous,
    ];

    fn w(&self, i: usize) -> &'a str {
        self.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("")
    }

    fn one(range: TimeRange, phrase: String, n: usize) -> Option<(Read, usize)> {
        Some((Read::Ranges(vec![(range, phrase, false, 0)]), n))
    }

    /// `YTD`, `last Friday`, `since Monday`, `the day before yesterday`, `the first week of October`.
    fn day_or_period_to_date(&self, i: usize) -> Option<(Read, usize)> {
        let w = |k: usize| self.w(k);
        let (range, phrase, n) = to_date(&w, i, self.today, self.as_of)
            .or_else(|| named_day(&w, i, self.today, self.as_of))
            .or_else(|| day_before_yesterday(&w, i, self.today))
            .or_else(|| week_of_month(&w, i, self.today))?;
        Self::one(range, phrase, n)
    }

    /// After a named range: `the week before`, `prior 7 days`, `the same day last week`.
    fn following(&self, i: usize) -> Option<(Read, usize)> {
        let w = |k: usize| self.w(k);
        let first = self.first?;
        let (range, phrase, n) = period_before(&w, i, first).or_else(|| same_period(&w, i, first))?;
        Self::one(range, phrase, n)
    }

    /// `today`, `yesterday`.
    fn relative_day(&self, i: usize) -> Option<(Read, usize)> {
        let today = self.today;
        match self.w(i) {
            "today" => {
                Self::one(TimeRange::new(today.start(), self.as_of.max(today.start())), "today".into(), 1)
            }
            "yesterday" => Self::one(TimeRange::days(today.add_days(-1), today), "yesterday".into(), 1),
            _ => None,
        }
    }

    /// `last week`, `past 30 days`, `next month`, `this quarter`, `last 2 years`.
    fn relative_period(&self, i: usize) -> Option<(Read, usize)> {
        let word = self.w(i);
        if !matches!(
            word,
            "last" | "past" | "previous" | "prior" | "trailing" | "next" | "coming" | "this" | "current"
        ) {
            return None;
        }
        let (today, as_of) = (self.today, self.as_of);
        let future = matches!(word, "next" | "coming");
        let (n, unit_at) = match count(self.w(i + 1)) {
            Some(n) if self.w(i + 1) != "a" => (n as i32, i + 2),
            _ => (1, i + 1),
        };
        let explicit_n = unit_at == i + 2;
        let back = |days: i64| TimeRange::new(Timestamp(as_of.0 - days * MS_PER_DAY), as_of);
        let previous = matches!(word, "last" | "previous" | "prior") && !explicit_n;
        let range = match (word, self.w(unit_at).trim_end_matches('s')) {
            ("this" | "current", u) => period_start(u, today).map(|d| TimeRange::new(d.start(), as_of)),
            (_, "hour") if !future => Some(TimeRange::new(Timestamp(as_of.0 - n as i64 * 3_600_000), as_of)),
            (_, "day") if future => Some(TimeRange::new(as_of, Timestamp(as_of.0 + n as i64 * MS_PER_DAY))),
            (_, "day") => Some(back(n as i64)),
            (_, "week") if future => Some(TimeRange::days(today, today.add_days(7 * n))),
            (_, "month") if future && !explicit_n => {
                Some(TimeRange::days(today.month_start().add_months(1), today.month_start().add_months(2)))
            }
            (_, "month") if future => Some(TimeRange::days(today, today.add_months(n))),
            (_, "quarter") if future => {
                let q = quarter_start(today).add_months(3);
                Some(TimeRange::days(q, q.add_months(3 * n)))
            }
            // "last week" is the previous calendar week; "last 2 weeks" / "past week" count back days.
            (_, "week") if previous => {
                let monday = week_start(today).add_days(-7);
                Some(TimeRange::days(monday, monday.add_days(7)))
            }
            (_, "week") => Some(back(7 * n as i64)),
            (_, "month") if previous => {
                Some(TimeRange::days(today.month_start().add_months(-1), today.month_start()))
            }
            (_, "month") => Some(TimeRange::days(today.add_months(-n), today).with_end(as_of)),
            (_, "quarter") if previous => {
                let q = quarter_start(today);
                Some(TimeRange::days(q.add_months(-3), q))
            }
            (_, "quarter") => Some(TimeRange::days(today.add_months(-3 * n), today).with_end(as_of)),
            (_, "year") if previous => {
                let y = year_start(today);
                Some(TimeRange::days(y.add_months(-12), y))
            }
            (_, "year") => Some(TimeRange::days(today.add_months(-12 * n), today).with_end(as_of)),
            _ => None,
        }?;
        let phrase = self.tokens[i..=unit_at].iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" ");
        Some((Read::Ranges(vec![(range, phrase, future, 0)]), unit_at + 1 - i))
    }

    /// `since 2026-10-01`, `after Oct 5`, `from 2026-10-01 to 2026-10-15`, `between Oct 1 and Oct 15`.
    fn date_span(&self, i: usize) -> Option<(Read, usize)> {
        let (tokens, today) = (self.tokens, self.today);
        match self.w(i) {
            "since" | "after" => {
                let (d, n) = date_at(tokens, i + 1, today)?;
                Self::one(TimeRange::new(d.start(), self.as_of), format!("since {d}"), n + 1)
            }
            "from" | "between" => {
                let (d1, n1) = date_at(tokens, i + 1, today)?;
                let sep = i + 1 + n1;
                if !matches!(self.w(sep), "to" | "and" | "until" | "through" | "thru" | "-") {
                    return None;
                }
                let (d2, n2) = date_at(tokens, sep + 1, today)?;
                let (a, b) = if d2 < d1 { (d2, d1) } else { (d1, d2) };
                Self::one(TimeRange::days(a, b.add_days(1)), format!("{a} to {b}"), sep + 1 + n2 - i)
            }
            _ => None,
        }
    }

    /// `Q3 2026`, `Q3` (the latest third quarter that has started).
    fn quarter(&self, i: usize) -> Option<(Read, usize)> {
        let q = self
            .w(i)
            .strip_prefix('q')
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|q| (1..=4).contains(q))?;
        let start = |y| Date::from_ymd(y, (q - 1) * 3 + 1, 1);
        let (s, n) = match year_of(self.w(i + 1)) {
            Some(y) => (start(y)?, 2),
            None => (latest_started(self.today, start)?, 1),
        };
        let y = s.ymd().0;
        Self::one(TimeRange::days(s, s.add_months(3)), format!("Q{q} {y}"), n)
    }

    /// A month (`October`, `Oct 2026`; not `may` alone, a verb) or a date (`on 2026-10-05`,
    /// `Oct 5`): that month or day.
    fn month_or_date(&self, i: usize) -> Option<(Read, usize)> {
        let word = self.w(i);
        if word == "may" && year_of(self.w(i + 1)).is_none() {
            return None;
        }
        let month = month_of(word).filter(|_| word.len() >= 3 && day_of_month(self.w(i + 1)).is_none());
        let Some(m) = month else {
            let (d, n) = date_at(self.tokens, i, self.today)?;
            return Self::one(TimeRange::days(d, d.add_days(1)), d.to_string(), n);
        };
        let first = |y| Date::from_ymd(y, m, 1);
        let (s, n) = match year_of(self.w(i + 1)) {
            Some(y) => (first(y)?, 2),
            None => (latest_started(self.today, first)?, 1),
        };
        let phrase = format!("{} {}", capitalize(MONTHS[m as usize - 1]), s.ymd().0);
        Self::one(TimeRange::days(s, s.add_months(1)), phrase, n)
    }

    /// A bare year after a preposition: `in 2025`.
    fn year(&self, i: usize) -> Option<(Read, usize)> {
        if !matches!(self.w(i.wrapping_sub(1)), "in" | "for" | "during" | "of") {
            return None;
        }
        let y = year_of(self.w(i))?;
        let s = Date::from_ymd(y, 1, 1)?;
        Self::one(TimeRange::days(s, s.add_months(12)), y.to_string(), 1)
    }

    /// Hours of the day: `after 10 PM`, `before 9am`, `between 9am and 5pm`, `at night`.
    fn hours(&self, i: usize) -> Option<(Read, usize)> {
        let tokens = self.tokens;
        let (hours, n): (Vec<u8>, usize) = match self.w(i) {
            "after" | "past" => {
                let (h, n) = hour_at(tokens, i + 1)?;
                ((h as u8..24).collect(), n + 1)
            }
            "before" => {
                let (h, n) = hour_at(tokens, i + 1)?;
                ((0..h as u8).collect(), n + 1)
            }
            "between" | "from" => {
                let (h1, n1) = hour_at(tokens, i + 1)?;
                let sep = i + 1 + n1;
                if !matches!(self.w(sep), "and" | "to" | "until" | "-") {
                    return None;
                }
                let (h2, n2) = hour_at(tokens, sep + 1)?;
                let hours = if h1 <= h2 {
                    (h1 as u8..h2 as u8).collect()
                } else {
                    (h1 as u8..24).chain(0..h2 as u8).collect()
                };
                (hours, sep + 1 + n2 - i)
            }
            "night" | "overnight" | "nighttime" | "late-night" => ((22..24).chain(0..6).collect(), 1),
            _ => return None,
        };
        Some((Read::Hours(hours), n))
    }

    /// Days of the week: `on weekends`, `weekdays`, `on Mondays`, and `excluding weekends`
    /// (the weekdays) or `except weekdays` (the weekend).
    fn weekdays(&self, i: usize) -> Option<(Read, usize)> {
        let negated = matches!(self.w(i), "excluding" | "except" | "without" | "not" | "non");
        let word = self.w(i + usize::from(negated));
        let days = match word {
            "weekend" | "weekends" => vec![5, 6],
            "weekday" | "weekdays" | "workdays" => vec![0, 1, 2, 3, 4],
            d if !negated => {
                let day =
                    crate::store::metric::WEEKDAYS.iter().position(|x| d.trim_end_matches('s') == *x)?;
                vec![day as u8]
            }
            _ => return None,
        };
        let days = if negated { (0..7).filter(|d| !days.contains(d)).collect() } else { days };
        Some((Read::Weekdays(days), 1 + usize::from(negated)))
    }

    /// `week over week`, `month over month`, …: the period against the one before it.
    fn over_previous(&self, i: usize) -> Option<(Read, usize)> {
        let word = self.w(i);
        if self.w(i + 1) != "over" || self.w(i + 2) != word {
            return None;
        }
        let (today, as_of) = (self.today, self.as_of);
        let (cur, prev) = match word {
            "day" => (
                TimeRange::days(today.add_days(-1), today),
                TimeRange::days(today.add_days(-2), today.add_days(-1)),
            ),
            "week" => (
                TimeRange::new(Timestamp(as_of.0 - 7 * MS_PER_DAY), as_of),
                TimeRange::new(Timestamp(as_of.0 - 14 * MS_PER_DAY), Timestamp(as_of.0 - 7 * MS_PER_DAY)),
            ),
            "month" | "quarter" | "year" => over_previous(word, today, as_of),
            _ => return None,
        };
        let ranges = vec![
            (cur, format!("{word} over {word}"), false, 0),
            (prev, format!("previous {word}"), false, 2),
        ];
        Some((Read::Ranges(ranges), 3))
    }
}

/// Reads time expressions from the question's tokens, rule by rule at each word; falls back to
/// `fallback` for the range.
pub fn resolve(tokens: &[Token], as_of: Timestamp, fallback: &TimeRangeSpec) -> Result<Resolved> {
    let mut spec = resolve_fallback(fallback, as_of)?;
    let mut clock = Clock { tokens, today: as_of.date(), as_of, first: None };
    let mut consumed = Vec::new();
    // Every range the question names, with the index of its first token.
    let mut found: Vec<(TimeRange, String, bool, usize)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let Some((read, n)) = Clock::RULES.iter().find_map(|rule| rule(&clock, i)) else {
            i += 1;
            continue;
        };
        match read {
            Read::Ranges(ranges) => found.extend(
                ranges.into_iter().map(|(range, phrase, future, at)| (range, phrase, future, i + at)),
            ),
            Read::Hours(hours) => spec.hours = hours,
            Read::Weekdays(days) => spec.weekdays = days,
        }
        clock.first = found.first().map(|f| f.0);
        consumed.extend(i..i + n);
        i += n;
    }
    let w = |i: usize| tokens.get(i).map(|t| t.text.as_str()).unwrap_or("");
    // "vs last month", "compared to last month", "than last week": the named range is the one
    // compared against ("compare X last week" names the current one).
    let compared = |at: usize| {
        // `other than amex, last week` excludes a value; it compares nothing.
        (at.saturating_sub(2)..at).any(|k| {
            matches!(w(k), "vs" | "versus" | "against")
                || (w(k) == "than" && !matches!(w(k.wrapping_sub(1)), "other" | "rather"))
        }) || (at >= 2 && w(at - 2) == "compared" && matches!(w(at - 1), "to" | "with"))
    };
    match found.as_slice() {
        [] => {}
        [(versus, _, _, at)] if compared(*at) && versus.to <= as_of => {
            // "compared to last month": the current period runs from its end to now.
            spec.range = TimeRange::new(versus.to, as_of);
            spec.phrase = format!("since {}", versus.to.date());
            spec.versus = Some(*versus);
            spec.explicit = true;
        }
        [(range, phrase, future, _), rest @ ..] => {
            spec.range = *range;
            spec.phrase = phrase.clone();
            spec.explicit = true;
            spec.future = *future;
            spec.versus = rest.first().map(|r| r.0);
        }
    }
    Ok(Resolved { spec, consumed })
}

/// `the week before` (`the month prior`, …) after a named range: the period of that unit that
/// ends where the range starts (`last week vs the week before`).
fn period_before<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    first: TimeRange,
) -> Option<(TimeRange, String, usize)> {
    const UNITS: [&str; 10] =
        ["day", "days", "week", "weeks", "month", "months", "quarter", "quarters", "year", "years"];
    let end = first.from.date();
    let at = usize::from(w(i) == "the");
    let (unit, n, used) = match (w(i + at), w(i + at + 1), w(i + at + 2)) {
        // `the week before`, `the month prior`
        (u, "before" | "prior", _) if at == 1 && UNITS.contains(&u) => (u, 1, 3),
        // `prior 7 days`, `the preceding two months`
        ("previous" | "prior" | "preceding", n, u) if UNITS.contains(&u) && count(n).is_some() => {
            (u, count(n)? as i32, at + 3)
        }
        // `the previous week`
        ("previous" | "prior" | "preceding", u, _) if UNITS.contains(&u) => (u, 1, at + 2),
        _ => return None,
    };
    let from = match unit.trim_end_matches('s') {
        "day" => end.add_days(-n),
        "week" => end.add_days(-7 * n),
        "month" => end.add_months(-n),
        "quarter" => end.add_months(-3 * n),
        _ => end.add_months(-12 * n),
    };
    let phrase = (i..i + used).map(w).collect::<Vec<_>>().join(" ");
    Some((TimeRange::days(from, end), phrase, used))
}

/// `the same day last week` (`same day last month`, `same week last year`) after a named
/// range: that range moved back by a week, a month or a year.
fn same_period<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    first: TimeRange,
) -> Option<(TimeRange, String, usize)> {
    let at = if w(i) == "the" { i + 1 } else { i };
    let (unit, back) = match (w(at), w(at + 1), w(at + 2), w(at + 3)) {
        (
            "same",
            u @ ("day" | "week" | "month" | "period"),
            "last" | "previous",
            b @ ("week" | "month" | "year"),
        ) => (u, b),
        _ => return None,
    };
    let shift = |d: Date| back_one(back, d);
    let (from, to) = (first.from.date(), first.to.date());
    let range = if first.from == from.start() && first.to == to.start() {
        TimeRange::days(shift(from), shift(to))
    } else {
        // A range that starts or ends within a day ("today") keeps its times and length.
        let start = shift(from).start().0 + (first.from.0 - from.start().0);
        TimeRange::new(Timestamp(start), Timestamp(start + (first.to.0 - first.from.0)))
    };
    Some((range, format!("the same {unit} last {back}"), at + 4 - i))
}

/// The first day of the calendar `unit` (`week`, Monday first; `month`; `quarter`; `year`)
/// that holds `d`.
fn period_start(unit: &str, d: Date) -> Option<Date> {
    Some(match unit {
        "week" => week_start(d),
        "month" => d.month_start(),
        "quarter" => quarter_start(d),
        "year" => year_start(d),
        _ => return None,
    })
}

/// `d` moved back by one `unit` (`day`, `week`, `month`, `quarter`, `year`).
fn back_one(unit: &str, d: Date) -> Date {
    match unit {
        "day" => d.add_days(-1),
        "week" => d.add_days(-7),
        "month" => d.add_months(-1),
        "quarter" => d.add_months(-3),
        _ => d.add_months(-12),
    }
}

/// `month over month` (`quarter`, `year`): the period to date against the same span of the
/// one before (never a part against a whole); at the very start of a period, the last
/// complete period against the one before it.
fn over_previous(unit: &str, today: Date, as_of: Timestamp) -> (TimeRange, TimeRange) {
    let months = match unit {
        "month" => 1,
        "quarter" => 3,
        _ => 12,
    };
    let start = match unit {
        "month" => today.month_start(),
        "quarter" => quarter_start(today),
        _ => year_start(today),
    };
    let before = start.add_months(-months);
    if as_of == start.start() {
        return (TimeRange::days(before, start), TimeRange::days(before.add_months(-months), before));
    }
    let elapsed = as_of.0 - start.start().0;
    let previous_end = Timestamp((before.start().0 + elapsed).min(start.start().0));
    (TimeRange::new(start.start(), as_of), TimeRange::new(before.start(), previous_end))
}

/// `the day before yesterday`.
fn day_before_yesterday<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    today: Date,
) -> Option<(TimeRange, String, usize)> {
    let at = usize::from(w(i) == "the");
    matches!((w(i + at), w(i + at + 1), w(i + at + 2)), ("day", "before", "yesterday")).then(|| {
        let d = today.add_days(-2);
        (TimeRange::days(d, d.add_days(1)), "the day before yesterday".to_owned(), at + 3)
    })
}

/// `the first week of October` (days 1–7; `second` 8–14, `third` 15–21, `fourth` 22–28,
/// `last` the month's last seven days) of the latest such month that has started.
fn week_of_month<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    today: Date,
) -> Option<(TimeRange, String, usize)> {
    let at = usize::from(w(i) == "the");
    let nth = match w(i + at) {
        "first" | "1st" => 0,
        "second" | "2nd" => 1,
        "third" | "3rd" => 2,
        "fourth" | "4th" => 3,
        "last" | "final" => 4,
        _ => return None,
    };
    if w(i + at + 1) != "week" || w(i + at + 2) != "of" {
        return None;
    }
    let month = month_of(w(i + at + 3))?;
    let explicit = year_of(w(i + at + 4));
    let start = match explicit {
        Some(y) => Date::from_ymd(y, month, 1)?,
        None => latest_started(today, |y| Date::from_ymd(y, month, 1))?,
    };
    let end = start.add_months(1);
    let from = if nth == 4 { end.add_days(-7) } else { start.add_days(7 * nth) };
    let phrase = format!("{} week of {}", w(i + at), capitalize(w(i + at + 3)));
    Some((TimeRange::days(from, from.add_days(7)), phrase, at + 4 + usize::from(explicit.is_some())))
}

/// A weekday by name (`monday`, not `mondays`), Monday first.
fn weekday_named(w: &str) -> Option<u32> {
    crate::store::metric::WEEKDAYS.iter().position(|d| *d == w).map(|d| d as u32)
}

/// To-date periods: `YTD`, `MTD`, `QTD`, `WTD`, `year to date` (`year-to-date`), `so far this
/// year` — from the start of the period containing `as_of` to `as_of`.
fn to_date<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    today: Date,
    as_of: Timestamp,
) -> Option<(TimeRange, String, usize)> {
    let (unit, n) = match (w(i), w(i + 1), w(i + 2), w(i + 3)) {
        ("ytd", ..) => ("year", 1),
        ("qtd", ..) => ("quarter", 1),
        ("mtd", ..) => ("month", 1),
        ("wtd", ..) => ("week", 1),
        ("year-to-date", ..) => ("year", 1),
        ("quarter-to-date", ..) => ("quarter", 1),
        ("month-to-date", ..) => ("month", 1),
        ("week-to-date", ..) => ("week", 1),
        (u @ ("year" | "quarter" | "month" | "week"), "to", "date", _) => (u, 3),
        ("so", "far", "this", u @ ("year" | "quarter" | "month" | "week")) => (u, 4),
        _ => return None,
    };
    let start = period_start(unit, today)?;
    Some((TimeRange::new(start.start(), as_of), format!("{unit} to date"), n))
}

/// One named day: `last Friday` and `on Monday` (the most recent one before the day of
/// `as_of`), `since Monday` (from the most recent Monday, `as_of`'s own day if it is one, to
/// `as_of`). A plural (`on Mondays`) is a weekday filter instead.
fn named_day<'a>(
    w: &impl Fn(usize) -> &'a str,
    i: usize,
    today: Date,
    as_of: Timestamp,
) -> Option<(TimeRange, String, usize)> {
    let day = weekday_named(w(i + 1))?;
    let back = (today.weekday() + 7 - day) % 7;
    let name = capitalize(w(i + 1));
    match w(i) {
        "last" | "previous" | "past" | "on" => {
            let d = today.add_days(-(if back == 0 { 7 } else { back as i32 }));
            Some((TimeRange::days(d, d.add_days(1)), format!("{} {name}", w(i)), 2))
        }
        "since" => {
            let d = today.add_days(-(back as i32));
            Some((TimeRange::new(d.start(), as_of), format!("since {name}"), 2))
        }
        _ => None,
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

trait WithEnd {
    fn with_end(self, end: Timestamp) -> TimeRange;
}

impl WithEnd for TimeRange {
    /// Ends a days-based range at `as_of` exactly (relative ranges end at `as_of`).
    fn with_end(self, end: Timestamp) -> TimeRange {
        TimeRange::new(self.from, end)
    }
}

#[cfg(test)]
mod tests {
    use super::super::words::tokenize;
    use super::*;

    fn as_of() -> Timestamp {
        // Sunday 2026-11-01 09:30 UTC.
        Timestamp::parse_rfc3339("2026-11-01T09:30:00Z").unwrap()
    }

    fn r(text: &str) -> TimeSpec {
        resolve(&tokenize(text), as_of(), &TimeRangeSpec::default()).unwrap().spec
    }

    fn days(text: &str) -> (String, String) {
        let s = r(text);
        (s.range.from.to_string(), s.range.to.to_string())
    }

    #[test]
    fn relative_and_calendar_ranges() {
        assert_eq!(days("today"), ("2026-11-01T00:00:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("yesterday"), ("2026-10-31T00:00:00Z".into(), "2026-11-01T00:00:00Z".into()));
        assert_eq!(days("last 7 days"), ("2026-10-25T09:30:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("past week"), ("2026-10-25T09:30:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("last two weeks"), ("2026-10-18T09:30:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("last week"), ("2026-10-19T00:00:00Z".into(), "2026-10-26T00:00:00Z".into()));
        assert_eq!(days("this week"), ("2026-10-26T00:00:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("last month"), ("2026-10-01T00:00:00Z".into(), "2026-11-01T00:00:00Z".into()));
        assert_eq!(days("this month"), ("2026-11-01T00:00:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("last quarter"), ("2026-07-01T00:00:00Z".into(), "2026-10-01T00:00:00Z".into()));
        assert_eq!(days("this year"), ("2026-01-01T00:00:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(days("last year"), ("2025-01-01T00:00:00Z".into(), "2026-01-01T00:00:00Z".into()));
        assert_eq!(days("in October"), ("2026-10-01T00:00:00Z".into(), "2026-11-01T00:00:00Z".into()));
        assert_eq!(days("december"), ("2025-12-01T00:00:00Z".into(), "2026-01-01T00:00:00Z".into()));
        assert_eq!(days("Oct 2025"), ("2025-10-01T00:00:00Z".into(), "2025-11-01T00:00:00Z".into()));
        assert_eq!(days("Q3 2026"), ("2026-07-01T00:00:00Z".into(), "2026-10-01T00:00:00Z".into()));
        assert_eq!(days("in 2025"), ("2025-01-01T00:00:00Z".into(), "2026-01-01T00:00:00Z".into()));
        assert_eq!(days("since 2026-10-01"), ("2026-10-01T00:00:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert_eq!(
            days("from 2026-10-01 to 2026-10-15"),
            ("2026-10-01T00:00:00Z".into(), "2026-10-16T00:00:00Z".into())
        );
        assert_eq!(
            days("between Oct 1 and Oct 15"),
            ("2026-10-01T00:00:00Z".into(), "2026-10-16T00:00:00Z".into())
        );
        assert_eq!(days("on 10/05/2026"), ("2026-10-05T00:00:00Z".into(), "2026-10-06T00:00:00Z".into()));
        assert_eq!(days("what happened"), ("2026-10-02T09:30:00Z".into(), "2026-11-01T09:30:00Z".into()));
        assert!(!r("approval rate").explicit && r("last month").explicit);
    }

    #[test]
    fn named_days_and_to_date_periods() {
        // as_of is Sunday 2026-11-01.
        let now = "2026-11-01T09:30:00Z".to_owned();
        assert_eq!(days("sales last Friday"), ("2026-10-30T00:00:00Z".into(), "2026-10-31T00:00:00Z".into()));
        assert_eq!(days("on Monday"), ("2026-10-26T00:00:00Z".into(), "2026-10-27T00:00:00Z".into()));
        assert_eq!(days("last Sunday"), ("2026-10-25T00:00:00Z".into(), "2026-10-26T00:00:00Z".into()));
        assert_eq!(days("approval rate since Monday"), ("2026-10-26T00:00:00Z".into(), now.clone()));
        assert_eq!(days("since Sunday"), ("2026-11-01T00:00:00Z".into(), now.clone()));
        assert!(r("last Friday").weekdays.is_empty() && r("since Monday").weekdays.is_empty());
        assert_eq!(r("on Mondays").weekdays, vec![0]);
        for ytd in
            ["What's our YTD sales?", "sales year to date", "sales year-to-date", "sales so far this year"]
        {
            assert_eq!(days(ytd), ("2026-01-01T00:00:00Z".into(), now.clone()), "{ytd}");
        }
        assert_eq!(days("MTD"), ("2026-11-01T00:00:00Z".into(), now.clone()));
        assert_eq!(days("QTD"), ("2026-10-01T00:00:00Z".into(), now.clone()));
        assert_eq!(days("so far this week"), ("2026-10-26T00:00:00Z".into(), now));
    }

    #[test]
    fn the_same_day_last_week_and_the_week_before() {
        let s = r("sales yesterday vs the same day last week");
        assert_eq!(
            (s.range.from.to_string(), s.range.to.to_string()),
            ("2026-10-31T00:00:00Z".into(), "2026-11-01T00:00:00Z".into())
        );
        let v = s.versus.expect("a period to compare with");
        assert_eq!(
            (v.from.to_string(), v.to.to_string()),
            ("2026-10-24T00:00:00Z".into(), "2026-10-25T00:00:00Z".into())
        );
        let s = r("approval rate last week vs the week before");
        let v = s.versus.expect("a period to compare with");
        assert_eq!(
            (v.from.to_string(), v.to.to_string()),
            ("2026-10-12T00:00:00Z".into(), "2026-10-19T00:00:00Z".into())
        );
        let s = r("sales in October vs the same month last year");
        let v = s.versus.expect("a period to compare with");
        assert_eq!(
            (v.from.to_string(), v.to.to_string()),
            ("2025-10-01T00:00:00Z".into(), "2025-11-01T00:00:00Z".into())
        );
    }

    #[test]
    fn hours_weekdays_and_future() {
        assert_eq!(r("after 10 PM").hours, vec![22, 23]);
        assert_eq!(r("after 10pm last week").hours, vec![22, 23]);
        assert_eq!(r("between 9am and 5pm").hours, (9..17).collect::<Vec<u8>>());
        assert_eq!(r("on weekends").weekdays, vec![5, 6]);
        let next = r("forecast for next month");
        assert!(next.future);
        assert_eq!(next.range.from.to_string(), "2026-12-01T00:00:00Z");
        let n14 = r("next 14 days");
        assert_eq!((n14.range.from, n14.range.to.0 - n14.range.from.0), (as_of(), 14 * MS_PER_DAY));
    }

    #[test]
    fn fallback_ranges() {
        let spec = |s: &str| resolve_fallback(&TimeRangeSpec::Named(s.into()), as_of()).unwrap().range;
        assert_eq!(spec("7d").from.to_string(), "2026-10-25T09:30:00Z");
        assert_eq!(spec("mtd").from.to_string(), "2026-11-01T00:00:00Z");
        assert_eq!(spec("qtd").from.to_string(), "2026-10-01T00:00:00Z");
        assert_eq!(spec("ytd").from.to_string(), "2026-01-01T00:00:00Z");
        let dates = TimeRangeSpec::Dates { from: "2026-10-01".into(), to: "2026-10-31".into() };
        assert_eq!(resolve_fallback(&dates, as_of()).unwrap().range.to.to_string(), "2026-11-01T00:00:00Z");
        assert!(resolve_fallback(&TimeRangeSpec::Named("2w".into()), as_of()).is_err());
    }
}
