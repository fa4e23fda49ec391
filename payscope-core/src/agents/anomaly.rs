//! Unusual days: each day of the range against the same weekday of the eight weeks before it
//! (median and median absolute deviation), flagged at a robust z-score of 3.5 or more when the
//! baseline has enough volume to mean something.

use std::collections::BTreeMap;

use super::trend::{capitalize, daily_values};
use super::{evidence, scope_text, Agent, Input, Output};
use crate::calendar::{TimeRange, MS_PER_DAY};
use crate::error::Result;
use crate::query::answer::{num, AnswerMetric, Series, SeriesPoint};
use crate::store::metric::{Metric, Unit};

/// Robust z-score at which a day is flagged.
pub const THRESHOLD: f64 = 3.5;
/// Smallest weekday baseline (facts a day) worth testing.
pub const MIN_BASELINE: f64 = 5.0;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    // A typed query's anomaly metrics are counts (checked when it is resolved).
    let metric = q.metrics.first().copied().unwrap_or(Metric::TransactionCount);
    let history =
        TimeRange::new(crate::calendar::Timestamp(range.from.date().start().0 - 56 * MS_PER_DAY), range.to);
    let (days, r) = daily_values(input, metric, history, None).await?;
    let (mut ev, coverage) = evidence(input, Agent::Anomaly, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let values: BTreeMap<i32, f64> = days.iter().map(|(d, v)| (d.0, *v)).collect();
    let in_range: Vec<(crate::calendar::Date, f64)> = days
        .iter()
        .filter(|(d, _)| d.start() >= range.from.date().start() && d.start() < range.to)
        .copied()
        .collect();
    out.series.push(Series {
        metric: metric.as_str().to_owned(),
        unit: Unit::Count,
        currency: None,
        dimensions: BTreeMap::new(),
        granularity: "day".into(),
        points: in_range
            .iter()
            .map(|(d, v)| SeriesPoint { t: d.start(), value: Some(*v), minor_units: None })
            .collect(),
    });
    let total: f64 = in_range.iter().map(|(_, v)| v).sum();
    out.sample = Some((total as u64, total as u64));
    let mut found = Vec::new();
    // Days without enough history to judge (fewer than three earlier weeks on that weekday,
    // or a usual level too small for a z-score to mean anything) are counted, not passed.
    let mut unjudged = 0usize;
    for (day, x) in &in_range {
        let mut base: Vec<f64> = (1..=8).filter_map(|w| values.get(&(day.0 - 7 * w))).copied().collect();
        if base.len() < 3 {
            unjudged += 1;
            continue;
        }
        let med = median(&mut base);
        if med < MIN_BASELINE {
            unjudged += 1;
            continue;
        }
        let mut dev: Vec<f64> = base.iter().map(|v| (v - med).abs()).collect();
        let mad = median(&mut dev).max(1.0);
        let z = 0.6745 * (x - med) / mad;
        if z.abs() >= THRESHOLD {
            found.push((*day, *x, med, z));
        }
    }
    let judged = in_range.len() - unjudged;
    let none = BTreeMap::new();
    out.metrics.push(AnswerMetric::number("days_judged", judged as f64, Unit::Count, &none, None));
    out.metrics.push(AnswerMetric::number("days_not_judged", unjudged as f64, Unit::Count, &none, None));
    out.metrics.push(AnswerMetric::number("days_in_period", in_range.len() as f64, Unit::Count, &none, None));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let what = metric.label();
    let counted = super::noun(metric);
    let limits = format!(
        "a day needs at least 3 earlier weeks on its weekday and a usual level of at least {} {counted} to be judged",
        num(MIN_BASELINE, 0)
    );
    if judged == 0 {
        out.sentences.push(format!(
            "Not enough history to judge {what}{scope} over {}: none of its {} days could be judged ({limits}), so nothing is claimed about them.",
            range.display_days(),
            in_range.len()
        ));
        out.warnings.push(format!("No day of the period could be judged for unusual {what}."));
    } else if found.is_empty() {
        let partly = if unjudged > 0 {
            format!("; {unjudged} of the {} days could not be judged ({limits})", in_range.len())
        } else {
            String::new()
        };
        out.sentences.push(format!(
            "No unusual days in {what}{scope} over {}: each of the {judged} days judged is within a robust z-score of {} of the usual level for its weekday{partly}.",
            range.display_days(),
            num(THRESHOLD, 1)
        ));
    } else {
        found.sort_by(|a, b| b.3.abs().total_cmp(&a.3.abs()));
        let weekday =
            |d: crate::calendar::Date| capitalize(crate::store::metric::WEEKDAYS[d.weekday() as usize]);
        let parts: Vec<String> = found
            .iter()
            .take(5)
            .map(|(day, x, med, z)| {
                let d = BTreeMap::from([("day".to_owned(), day.to_string())]);
                out.metrics.push(AnswerMetric::number(metric.as_str(), *x, Unit::Count, &d, None));
                out.metrics.push(AnswerMetric::number(
                    &format!("{}_expected", metric.as_str()),
                    *med,
                    Unit::Count,
                    &d,
                    None,
                ));
                out.metrics.push(AnswerMetric::number(
                    &format!("{}_zscore", metric.as_str()),
                    *z,
                    Unit::Count,
                    &d,
                    None,
                ));
                format!(
                    "{day} ({}) had {} {counted} against a usual {} (robust z {})",
                    weekday(*day),
                    num(*x, 0),
                    num(*med, 0),
                    num(*z, 1)
                )
            })
            .collect();
        out.sentences.push(format!(
            "{} unusual day{} in {what}{scope} over {}: {}.",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            range.display_days(),
            parts.join("; ")
        ));
        out.metrics.push(AnswerMetric::number(
            "anomalous_days",
            found.len() as f64,
            Unit::Count,
            &BTreeMap::new(),
            None,
        ));
        out.followups.push(format!("Why did {what} change on {}?", found[0].0));
        if unjudged > 0 {
            out.warnings
                .push(format!("{unjudged} of the {} days could not be judged ({limits}).", in_range.len()));
        }
    }
    ev.detail = Some(format!(
        "weekday baseline of the previous 8 weeks; threshold robust z {}; {limits}",
        num(THRESHOLD, 1)
    ));
    out.evidence.push(ev);
    Ok(out)
}
