//! Control totals: a file that states its own counts and amounts (a summary section, a
//! trailer's record count) is checked against its detail rows, and every difference is
//! reported in the report's status. Summary rows are grouped by the columns they share with
//! the detail (currency, category, ...) and compared group by group, counts and amounts.

use csv::StringRecord;
use rustc_hash::FxHashMap;

use super::mapping::{map_columns, Field, MapContext};
use super::normalize::{parse_amount, DecimalStyle};
use super::pan::redact;
use super::vocabulary::{HeaderWords, W};
use crate::facts::Control;
use crate::money::{format_minor, Currency};

/// A summary section kept for checking.
pub(crate) struct Summary {
    pub name: String,
    pub header: StringRecord,
    pub rows: Vec<StringRecord>,
}

/// Most summary rows kept for checking.
pub(crate) const MAX_SUMMARY_ROWS: usize = 10_000;

#[derive(Debug, Clone, Copy, Default)]
struct Agg {
    rows: u64,
    amount: i128,
    unreadable: u64,
}

/// Counts and signed amounts of a detail table's rows, by group.
pub(crate) struct Tally {
    /// (detail column, its header) for each grouping column.
    cols: Vec<(usize, String)>,
    groups: FxHashMap<Vec<String>, Agg>,
    /// Every data row of the table.
    pub rows: u64,
}

impl Tally {
    /// A tally grouped by the detail columns whose headers the summaries share (and that are
    /// categories there, not amounts or record types).
    pub fn new(detail_header: &StringRecord, detail_sample: &[StringRecord], summaries: &[Summary]) -> Tally {
        let mut cols = Vec::new();
        for (i, h) in detail_header.iter().enumerate() {
            let key = h.trim().to_ascii_lowercase();
            if key.is_empty() {
                continue;
            }
            let shared = summaries.iter().any(|s| {
                s.header.iter().position(|x| x.trim().to_ascii_lowercase() == key).is_some_and(|j| {
                    let sv: Vec<&str> = s.rows.iter().filter_map(|r| r.get(j)).map(str::trim).collect();
                    let categorical = sv.iter().all(|v| parse_amount(v, DecimalStyle::Dot, |_| 9).is_err());
                    let overlaps =
                        detail_sample.iter().filter_map(|r| r.get(i)).any(|v| sv.contains(&v.trim()));
                    categorical && overlaps
                })
            });
            if shared {
                cols.push((i, h.trim().to_owned()));
            }
        }
        Tally { cols, groups: FxHashMap::default(), rows: 0 }
    }

    /// Counts a data row with its amount in minor units (`None`: unreadable).
    pub fn add(&mut self, rec: &StringRecord, amount: Option<i64>) {
        self.rows += 1;
        let key: Vec<String> =
            self.cols.iter().map(|(c, _)| rec.get(*c).unwrap_or("").trim().to_owned()).collect();
        let agg = self.groups.entry(key).or_default();
        agg.rows += 1;
        match amount {
            Some(a) => agg.amount += i128::from(a),
            None => agg.unreadable += 1,
        }
    }
}

/// Compares a summary section with the detail's tally, or, when the summary came after the
/// detail (no tally was kept), its total count with the detail's `rows`.
pub(crate) fn check(summary: &Summary, tally: Option<&Tally>, rows: u64) -> Option<Control> {
    let map = map_columns(&summary.header, &summary.rows, MapContext::default());
    let words: Vec<HeaderWords> = summary.header.iter().map(HeaderWords::of).collect();
    let count = words
        .iter()
        .position(|w| w.has(W::Count) && !w.has(W::Error) && !w.has(W::Rate) && w.has(W::Total))
        .or_else(|| words.iter().position(|w| w.has(W::Count) && !w.has(W::Error) && !w.has(W::Rate)))?;
    let Some(tally) = tally else {
        let stated: i64 = summary
            .rows
            .iter()
            .filter_map(|r| r.get(count))
            .filter_map(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as i64)
            .sum();
        let source = format!("summary section `{}` ({} rows), total count", summary.name, summary.rows.len());
        return Some(check_count(&source, stated.unsigned_abs(), rows));
    };
    let amount = map.column(Field::Amount);
    let currency = map.column(Field::Currency);
    // The grouping columns the summary has, by header.
    let by: Vec<(usize, usize)> = tally
        .cols
        .iter()
        .enumerate()
        .filter_map(|(k, (_, h))| {
            summary.header.iter().position(|x| x.trim().eq_ignore_ascii_case(h)).map(|j| (k, j))
        })
        .collect();
    let mut stated: FxHashMap<Vec<String>, (i64, i128)> = FxHashMap::default();
    for r in &summary.rows {
        let key: Vec<String> = by.iter().map(|(_, j)| r.get(*j).unwrap_or("").trim().to_owned()).collect();
        let n: i64 = r.get(count).and_then(|v| v.trim().parse::<f64>().ok()).map_or(0, |v| v as i64);
        let exp = currency.and_then(|c| r.get(c)).and_then(Currency::parse_any).map_or(2, Currency::exponent);
        let a = amount
            .and_then(|c| r.get(c))
            .and_then(|v| parse_amount(v, DecimalStyle::Dot, |_| exp).ok())
            .map_or(0, |a| i128::from(a.minor));
        let e = stated.entry(key).or_default();
        e.0 += n;
        e.1 += a;
    }
    let mut found: FxHashMap<Vec<String>, Agg> = FxHashMap::default();
    for (key, agg) in &tally.groups {
        let k: Vec<String> = by.iter().map(|(t, _)| key[*t].clone()).collect();
        let e = found.entry(k).or_default();
        e.rows += agg.rows;
        e.amount += agg.amount;
        e.unreadable += agg.unreadable;
    }
    let names: Vec<String> = by.iter().map(|(t, _)| tally.cols[*t].1.clone()).collect();
    let label = |key: &[String]| {
        if key.is_empty() {
            "all rows".to_owned()
        } else {
            let pairs = names.iter().zip(key).map(|(n, v)| format!("{n}={}", super::values::example(v)));
            redact(&pairs.collect::<Vec<_>>().join(", "))
        }
    };
    let mut control = Control {
        source: format!("summary section `{}` ({} rows)", summary.name, summary.rows.len()),
        by: names.clone(),
        groups: 0,
        matched: 0,
        ok: true,
        differences: Vec::new(),
        not_in_detail: Vec::new(),
    };
    let mut keys: Vec<&Vec<String>> = stated.keys().collect();
    keys.sort();
    for key in keys {
        let (n, a) = stated[key];
        let listed = key.iter().enumerate().all(|(i, v)| found.keys().any(|k| &k[i] == v));
        if !listed {
            control.not_in_detail.push(label(key));
            continue;
        }
        control.groups += 1;
        let got = found.get(key).copied().unwrap_or_default();
        let amount_ok = amount.is_none() || got.amount == a;
        if got.rows == n.unsigned_abs() && amount_ok {
            control.matched += 1;
        } else {
            control.ok = false;
            let money = |m: i128| format_minor(i64::try_from(m).unwrap_or(i64::MAX), 2, true);
            control.differences.push(format!(
                "{}: the summary states {} rows{}, the detail has {} rows{}",
                label(key),
                n.unsigned_abs(),
                if amount.is_some() { format!(" / {}", money(a)) } else { String::new() },
                got.rows,
                if amount.is_some() { format!(" / {}", money(got.amount)) } else { String::new() },
            ));
        }
    }
    Some(control)
}

/// Compares a count the file states about itself with the detail rows.
pub(crate) fn check_count(source: &str, stated: u64, rows: u64) -> Control {
    let ok = stated == rows;
    Control {
        source: source.to_owned(),
        by: Vec::new(),
        groups: 1,
        matched: u64::from(ok),
        ok,
        differences: if ok {
            Vec::new()
        } else {
            vec![format!("the file states {stated} rows, the detail has {rows}")]
        },
        not_in_detail: Vec::new(),
    }
}
