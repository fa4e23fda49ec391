//! Unusual days, judged against the same weekday of the eight weeks before each day.
//!
//! - **Counts**: robust z-score `0.6745 (x − median) / MAD` with the MAD never below what Poisson
//!   noise around the median gives, flagged at 3.5 or more.
//! - **Rates**: the day's rate against the baseline's pooled rate with a Wilson score interval
//!   at the same z, its sample size deflated by the baseline's overdispersion (day-to-day
//!   variation beyond binomial noise), so a small day is not flagged for sampling noise.
//!
//! A day without three earlier weeks on its weekday, or with too small a usual level (counts)
//! or too few trials (rates), is counted as not judged and the answer says so. For each flagged
//! day the segment that carries the deviation beyond its usual share (`segments`) is named.

use std::collections::BTreeMap;

use super::segments::{self, Period};
use super::trend::capitalize;
use super::{evidence, label, scope_text, Agent, Input, Output};
use crate::calendar::{Date, TimeRange, Timestamp, MS_PER_DAY};
use crate::error::Result;
use crate::facts::Stage;
use crate::query::answer::{num, pct, AnswerMetric, Series, SeriesPoint};
use crate::store::metric::{Dimension, Filter, Metric, Unit, WEEKDAYS};

/// Robust z-score (counts) or Wilson z (rates) at which a day is flagged.
pub const THRESHOLD: f64 = 3.5;
/// Smallest usual level (facts a day) of a count worth testing.
pub const MIN_BASELINE: f64 = 5.0;
/// Fewest trials (the rate's denominator) a day and its baseline's average day need.
pub const MIN_TRIALS: f64 = 30.0;
/// Weeks of the same weekday a day is compared with.
const WEEKS: i32 = 8;
/// Fewest of those weeks with data for a day to be judged.
const MIN_WEEKS: usize = 3;
/// Flagged days whose contributing segment is looked for.
const EXPLAINED: usize = 3;

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

/// A day's verdict.
#[derive(Debug, Clone, Copy)]
struct Judged {
    day: Date,
    value: f64,
    expected: f64,
    z: f64,
}

/// Judges a count day against its weekday baseline; `None` when it cannot be judged.
fn judge_count(x: f64, base: &[f64]) -> Option<(f64, f64)> {
    let mut base = base.to_vec();
    if base.len() < MIN_WEEKS {
        return None;
    }
    let med = median(&mut base);
    if med < MIN_BASELINE {
        return Some(poisson(x, &base));
    }
    let mut dev: Vec<f64> = base.iter().map(|v| (v - med).abs()).collect();
    // Poisson noise alone gives a MAD of about 0.6745·√median.
    let mad = median(&mut dev).max(0.6745 * med.sqrt()).max(1.0);
    Some((med, 0.6745 * (x - med) / mad))
}

/// A small count (fraud cases, chargebacks) against a Poisson level estimated from its
/// baseline (with half a case added, so a baseline of zeros does not make one case a
/// certainty): the tail probability of the day's count as a signed normal z.
fn poisson(x: f64, base: &[f64]) -> (f64, f64) {
    let lambda = (base.iter().sum::<f64>() + 0.5) / base.len() as f64;
    (lambda, poisson_z(x, lambda))
}

/// The tail probability of `x` events when `lambda` are expected, as a signed normal z.
fn poisson_z(x: f64, lambda: f64) -> f64 {
    let k = x.round().max(0.0) as u64;
    // P(X ≤ k) by summing the probabilities.
    let mut term = (-lambda).exp();
    let mut below = 0.0;
    for i in 0..k {
        below += term;
        term *= lambda / (i + 1) as f64;
    }
    let (at_most, at_least) = (below + term, 1.0 - below);
    if x >= lambda {
        z_of_tail(at_least)
    } else {
        -z_of_tail(at_most)
    }
}

/// The z whose upper normal tail is `p` (0 for `p` ≥ ½), by bisection on `erfc`.
fn z_of_tail(p: f64) -> f64 {
    if p >= 0.5 {
        return 0.0;
    }
    let tail = |z: f64| 0.5 * erfc(z / std::f64::consts::SQRT_2);
    let (mut a, mut b) = (0.0, 40.0);
    for _ in 0..60 {
        let m = (a + b) / 2.0;
        if tail(m) > p {
            a = m;
        } else {
            b = m;
        }
    }
    a
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806
                        + t * (0.27886807
                            + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Judges a rate day `(k, n)` against its weekday baseline days; `None` when it cannot be
/// judged. The baseline rate (with half a success added, so a baseline without any does not make
/// one a certainty) is tested with the score test — the test a Wilson interval inverts: the day
/// is flagged exactly when the baseline rate lies outside the day's Wilson interval at
/// [`THRESHOLD`] — on the sample size deflated by the baseline's overdispersion. When fewer than
/// ten successes (or failures) are expected, the normal approximation fails and the Poisson
/// tail of the rarer outcome is used instead.
fn judge_rate((k, n): (f64, f64), base: &[(f64, f64)]) -> Option<(f64, f64)> {
    let base: Vec<(f64, f64)> = base.iter().copied().filter(|b| b.1 > 0.0).collect();
    let trials: f64 = base.iter().map(|b| b.1).sum();
    if base.len() < MIN_WEEKS || n < MIN_TRIALS || trials / (base.len() as f64) < MIN_TRIALS {
        return None;
    }
    let p0 = (base.iter().map(|b| b.0).sum::<f64>() + 0.5) / (trials + 1.0);
    // Overdispersion: the baseline days' variance over what binomial noise alone would give.
    let binomial: f64 = base.iter().map(|b| p0 * (1.0 - p0) / b.1).sum::<f64>() / base.len() as f64;
    let observed: f64 = base.iter().map(|b| (b.0 / b.1 - p0).powi(2)).sum::<f64>() / (base.len() - 1) as f64;
    let phi = (observed / binomial).max(1.0);
    let n_eff = n / phi;
    let p = k / n;
    let z = if n_eff * p0.min(1.0 - p0) >= 10.0 {
        (p - p0) / (p0 * (1.0 - p0) / n_eff).sqrt()
    } else if p0 <= 0.5 {
        poisson_z(k / phi, n_eff * p0)
    } else {
        -poisson_z((n - k) / phi, n_eff * (1.0 - p0))
    };
    Some((p0, z))
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    // A typed query's anomaly metrics are counts or proportions (checked when it is resolved).
    let metric = q.metrics.first().copied().unwrap_or(Metric::TransactionCount);
    let rate = metric.unit() == Unit::Ratio;
    let first = range.from.date();
    let history = TimeRange::new(Timestamp(first.start().0 - WEEKS as i64 * 7 * MS_PER_DAY), range.to);
    let daily = segments::read(input, metric, &q.filters, None, history, None, 1.0).await?;
    let values = daily.total();
    let data_start = data_start(input, history).await?;
    let r = super::query(input, &q.metric_query([metric], range)).await?;
    let (mut ev, coverage) = evidence(input, Agent::Anomaly, &r, range).await?;
    ev.facts_scanned += daily.facts_scanned;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let start = (WEEKS * 7) as usize;
    let days: Vec<Date> = (0..values.len().saturating_sub(start)).map(|i| first.add_days(i as i32)).collect();
    let shown = |(k, n): (f64, f64)| if rate { (n > 0.0).then(|| k / n) } else { Some(k) };
    out.series.push(Series {
        metric: metric.as_str().to_owned(),
        unit: metric.unit(),
        currency: None,
        dimensions: BTreeMap::new(),
        granularity: "day".into(),
        points: days
            .iter()
            .enumerate()
            .map(|(i, d)| SeriesPoint { t: d.start(), value: shown(values[start + i]), minor_units: None })
            .collect(),
    });
    let totals = values[start..].iter().fold((0.0, 0.0), |a, v| (a.0 + v.0, a.1 + v.1));
    out.sample =
        Some(if rate { (totals.0 as u64, totals.1 as u64) } else { (totals.0 as u64, totals.0 as u64) });
    let mut found = Vec::new();
    let mut unjudged = 0usize;
    for (i, day) in days.iter().enumerate() {
        let at = start + i;
        // Weeks before the bank's data begins are not a baseline (a zero there is no zero).
        let base: Vec<(f64, f64)> = (1..=WEEKS)
            .filter(|w| data_start.is_some_and(|s| day.add_days(-7 * w) >= s))
            .map(|w| values[at - 7 * w as usize])
            .collect();
        let verdict = if rate {
            judge_rate(values[at], &base)
        } else {
            judge_count(values[at].0, &base.iter().map(|b| b.0).collect::<Vec<_>>())
        };
        let Some((expected, z)) = verdict else {
            unjudged += 1;
            continue;
        };
        if z.abs() >= THRESHOLD {
            let value = shown(values[at]).unwrap_or(0.0);
            found.push(Judged { day: *day, value, expected, z });
        }
    }
    let judged = days.len() - unjudged;
    let none = BTreeMap::new();
    out.metrics.push(AnswerMetric::number("days_judged", judged as f64, Unit::Count, &none, None));
    out.metrics.push(AnswerMetric::number("days_not_judged", unjudged as f64, Unit::Count, &none, None));
    out.metrics.push(AnswerMetric::number("days_in_period", days.len() as f64, Unit::Count, &none, None));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let what = metric.label();
    let limits = if rate {
        format!(
            "a day needs at least {MIN_WEEKS} earlier weeks on its weekday and {} trials on the day and on an average baseline day to be judged",
            num(MIN_TRIALS, 0)
        )
    } else {
        format!(
            "a day needs at least {MIN_WEEKS} earlier weeks on its weekday to be judged, and below a usual {} {} a day it is judged by its Poisson tail",
            num(MIN_BASELINE, 0),
            super::noun(metric)
        )
    };
    let method = if rate {
        format!("the day's rate against the pooled rate of the same weekday over the {WEEKS} weeks before, flagged when it lies outside the day's Wilson interval at z {} (the score test; a Poisson tail when fewer than ten events are expected; sample size deflated by the baseline's overdispersion)", num(THRESHOLD, 1))
    } else {
        format!("the day's count against the median of the same weekday over the {WEEKS} weeks before, flagged at a robust z-score of {} (MAD, never below Poisson noise)", num(THRESHOLD, 1))
    };
    if judged == 0 {
        out.sentences.push(format!(
            "Not enough history to judge {what}{scope} over {}: none of its {} days could be judged ({limits}), so nothing is claimed about them.",
            range.display_days(),
            days.len()
        ));
        out.warnings.push(format!("No day of the period could be judged for unusual {what}."));
    } else if found.is_empty() {
        let partly = if unjudged > 0 {
            format!("; {unjudged} of the {} days could not be judged ({limits})", days.len())
        } else {
            String::new()
        };
        out.sentences.push(format!(
            "No unusual days in {what}{scope} over {}: each of the {judged} days judged is within z {} of the usual level for its weekday{partly}.",
            range.display_days(),
            num(THRESHOLD, 1)
        ));
    } else {
        found.sort_by(|a, b| b.z.abs().total_cmp(&a.z.abs()));
        let mut parts = Vec::new();
        for (n, j) in found.iter().take(5).enumerate() {
            let mut text = flagged(&mut out, metric, j);
            if n < EXPLAINED {
                let (cause, scanned) = contributor(input, metric, j.day).await?;
                ev.facts_scanned += scanned;
                if let Some(c) = cause {
                    text.push_str(&c.describe(&mut out, metric, j.day, input.merchants));
                }
            }
            parts.push(text);
        }
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
            &none,
            None,
        ));
        out.followups.push(format!("Why did {what} change on {}?", found[0].day));
        if unjudged > 0 {
            out.warnings
                .push(format!("{unjudged} of the {} days could not be judged ({limits}).", days.len()));
        }
    }
    out.sentences.push(format!("Method: {method}; {limits}."));
    ev.detail = Some(format!("{method}; {limits}"));
    out.evidence.push(ev);
    Ok(out)
}

/// The first day with any authorization of the bank in `range`.
async fn data_start(input: &Input<'_>, range: TimeRange) -> Result<Option<Date>> {
    let mq = crate::store::metric::MetricQuery::new([Metric::TransactionCount], range)
        .granularity(crate::store::metric::Granularity::Day);
    let r = super::query(input, &mq).await?;
    Ok(r.rows
        .iter()
        .filter(|row| row.values[0].count().unwrap_or(0) > 0)
        .filter_map(|row| row.bucket)
        .min()
        .map(|t| t.date()))
}

/// `2026-10-20 (Tuesday) had 12.10% against a usual 6.01% (z 9.2)`, its numbers recorded.
fn flagged(out: &mut Output, metric: Metric, j: &Judged) -> String {
    let d = BTreeMap::from([("day".to_owned(), j.day.to_string())]);
    let unit = metric.unit();
    out.metrics.push(AnswerMetric::number(metric.as_str(), j.value, unit, &d, None));
    out.metrics.push(AnswerMetric::number(
        &format!("{}_expected", metric.as_str()),
        j.expected,
        unit,
        &d,
        None,
    ));
    out.metrics.push(AnswerMetric::number(
        &format!("{}_zscore", metric.as_str()),
        j.z,
        Unit::Count,
        &d,
        None,
    ));
    let show =
        |v: f64| if unit == Unit::Ratio { pct(v) } else { format!("{} {}", num(v, 0), super::noun(metric)) };
    format!(
        "{} ({}) had {} against a usual {} (z {})",
        j.day,
        capitalize(WEEKDAYS[j.day.weekday() as usize]),
        show(j.value),
        if unit == Unit::Ratio {
            pct(j.expected)
        } else {
            num(j.expected, if j.expected < MIN_BASELINE { 1 } else { 0 })
        },
        num(j.z, 1)
    )
}

/// The segment that carries a flagged day's deviation beyond its usual share.
struct Contributor {
    dim: Dimension,
    effect: segments::Effect,
    /// The day's deviation from its baseline, which the segments' effects add up to.
    whole: f64,
}

impl Contributor {
    fn describe(
        &self,
        out: &mut Output,
        metric: Metric,
        day: Date,
        merchants: &super::MerchantNames,
    ) -> String {
        let mut d = BTreeMap::from([("day".to_owned(), day.to_string())]);
        d.insert(self.dim.as_str().to_owned(), self.effect.value.clone().unwrap_or_else(|| "unknown".into()));
        let share = self.effect.total() / self.whole;
        out.metrics.push(AnswerMetric::number(
            &format!("{}_deviation_share", metric.as_str()),
            share,
            Unit::Ratio,
            &d,
            None,
        ));
        out.metrics.push(AnswerMetric::number(
            "usual_share",
            self.effect.share_before,
            Unit::Ratio,
            &d,
            None,
        ));
        format!(
            ", mostly from {} ({} of the deviation, usually {} of the volume)",
            label(self.dim, self.effect.value.as_deref(), merchants),
            pct(share),
            pct(self.effect.share_before)
        )
    }
}

/// Splits the day's deviation from its weekday baseline by network, response code (for
/// authorization metrics), merchant, MCC, issuer country and entry mode, and returns the segment
/// carrying the most beyond its usual share — if any carries at least 20 points more.
async fn contributor(input: &Input<'_>, metric: Metric, day: Date) -> Result<(Option<Contributor>, u64)> {
    let mut dims = vec![Dimension::Network];
    if metric.stages() == [Stage::Auth] {
        dims.push(Dimension::ResponseCode);
    }
    dims.extend([Dimension::MerchantId, Dimension::Mcc, Dimension::IssuerCountry, Dimension::EntryMode]);
    let weekday = Filter::eq(Dimension::DayOfWeek, WEEKDAYS[day.weekday() as usize]);
    let mut filters = input.q.filters.clone();
    filters.push(weekday);
    let before = TimeRange::days(day.add_days(-7 * WEEKS), day);
    let mut best: Option<(f64, Contributor)> = None;
    let mut scanned = 0;
    for dim in dims {
        let on_day = segments::read(
            input,
            metric,
            &input.q.filters,
            Some(dim),
            TimeRange::days(day, day.add_days(1)),
            None,
            1.0,
        )
        .await?;
        let base = segments::read(input, metric, &filters, Some(dim), before, None, 1.0).await?;
        scanned += on_day.facts_scanned + base.facts_scanned;
        let base = weekly(base);
        if base.days < MIN_WEEKS {
            continue;
        }
        let split = segments::decompose(metric, &on_day, &base, &base, false);
        let whole = split.whole.delta();
        if !split.additive || whole == 0.0 {
            continue;
        }
        let Some(top) = segments::toward(&split.effects, whole).into_iter().next().cloned() else { continue };
        let lift = top.total() / whole - top.share_before;
        if lift >= 0.2 && best.as_ref().is_none_or(|b| lift > b.0) {
            best = Some((lift, Contributor { dim, effect: top, whole }));
        }
    }
    Ok((best.map(|b| b.1), scanned))
}

/// A baseline read over whole weeks ending the day before the judged day, kept to the days of
/// that day's weekday (every 7th from the first) from the first week with data, and scaled to
/// an average day.
fn weekly(mut p: Period) -> Period {
    let total = p.total();
    let same: Vec<usize> = (0..total.len()).step_by(7).collect();
    let from = same.iter().position(|i| total[*i] != (0.0, 0.0)).unwrap_or(same.len());
    let kept = &same[from..];
    for daily in p.groups.values_mut() {
        *daily = kept.iter().map(|i| daily[*i]).collect();
    }
    p.days = kept.len();
    p.scale = p.days.max(1) as f64;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_flagged_only_beyond_sampling_noise() {
        let base = [(60.0, 1000.0), (55.0, 1000.0), (65.0, 1000.0), (58.0, 1000.0)];
        // 7.5% on 1,000 trials is within noise of ~6%; 12% is not; 12% on 40 trials is.
        assert!(judge_rate((75.0, 1000.0), &base).unwrap().1.abs() < THRESHOLD);
        assert!(judge_rate((120.0, 1000.0), &base).unwrap().1 >= THRESHOLD);
        assert!(judge_rate((5.0, 40.0), &base).unwrap().1.abs() < THRESHOLD);
        assert!(judge_rate((5.0, 20.0), &base).is_none(), "too few trials to judge");
        // A rare event: one on a day when none was seen in 800 trials before is not unusual;
        // eight are.
        let rare = [(0.0, 100.0); 8];
        assert!(judge_rate((1.0, 100.0), &rare).unwrap().1 < THRESHOLD);
        assert!(judge_rate((8.0, 100.0), &rare).unwrap().1 >= THRESHOLD);
    }

    #[test]
    fn a_count_needs_a_baseline_and_poisson_noise_is_not_flagged() {
        assert!(judge_count(10.0, &[8.0, 9.0]).is_none());
        // Small counts are judged by their Poisson tail: 3 on a usual 2 is ordinary, 12 is not.
        assert!(judge_count(3.0, &[2.0, 3.0, 2.0, 1.0]).unwrap().1 < THRESHOLD);
        assert!(judge_count(12.0, &[2.0, 3.0, 2.0, 1.0]).unwrap().1 >= THRESHOLD);
        assert!(judge_count(1.0, &[0.0; 8]).unwrap().1 < THRESHOLD);
        assert!((z_of_tail(0.025) - 1.96).abs() < 0.001);
        // Identical baselines have MAD 0; Poisson noise around 100 is about ±10.
        assert!(judge_count(115.0, &[100.0; 8]).unwrap().1 < THRESHOLD);
        assert!(judge_count(160.0, &[100.0; 8]).unwrap().1 >= THRESHOLD);
    }
}
