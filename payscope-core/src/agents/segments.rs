//! Additive decomposition of a metric's change into segments, shared by root cause and anomaly
//! detection. A sum (a count, money) splits into each segment's own change; a rate (or a mean)
//! splits into a mix effect — the segment's share of the denominator moved — and a rate effect —
//! the segment's own rate moved — so that the effects of all segments add up exactly to the
//! change. Each segment's change is measured against its own day-to-day variation (a z-score).

use std::collections::BTreeMap;

use super::{query, Input};
use crate::calendar::TimeRange;
use crate::error::Result;
use crate::money::Currency;
use crate::store::metric::{Dimension, Filter, Granularity, Metric, MetricQuery, MetricValue, Unit};

/// A change at least this many standard errors from zero is more than day-to-day variation.
pub const SIGNIFICANT_Z: f64 = 2.0;

/// True for the metrics that are a ratio of two sums (rates, means): they split into mix and rate.
pub(crate) fn is_ratio(metric: Metric) -> bool {
    matches!(metric.unit(), Unit::Ratio | Unit::Hours) || metric == Metric::AverageTicket
}

/// A value as `(numerator, denominator)` in display units; sums have denominator 0. Money is
/// in major units of `currency` (the caller filters to it, so nothing else is present).
pub(crate) fn parts(v: &MetricValue, currency: Option<Currency>) -> (f64, f64) {
    let in_currency = |m: &crate::money::Money| currency.is_none_or(|c| c == m.currency);
    match v {
        MetricValue::Count { count } => (*count as f64, 0.0),
        MetricValue::Ratio { numerator, denominator } => (*numerator as f64, *denominator as f64),
        MetricValue::MeanHours { total_millis, count } => (*total_millis as f64 / 3_600_000.0, *count as f64),
        MetricValue::Money { amounts } => {
            (amounts.iter().filter(|m| in_currency(m)).map(|m| m.major_units_for_display()).sum(), 0.0)
        }
        MetricValue::AverageMoney { parts } => parts
            .iter()
            .filter(|(m, _)| in_currency(m))
            .fold((0.0, 0.0), |(a, n), (m, k)| (a + m.major_units_for_display(), n + *k as f64)),
    }
}

/// One period of a comparison: each segment's daily `(numerator, denominator)`, and the divisor
/// that turns the period's total into the compared level (1 to compare totals, the number of
/// days to compare a day with a baseline's average day).
#[derive(Debug, Clone, Default)]
pub(crate) struct Period {
    pub groups: BTreeMap<Option<String>, Vec<(f64, f64)>>,
    pub days: usize,
    pub scale: f64,
    pub facts_scanned: u64,
}

impl Period {
    /// The period's daily values summed over its segments.
    pub fn total(&self) -> Vec<(f64, f64)> {
        let mut out = vec![(0.0, 0.0); self.days];
        for daily in self.groups.values() {
            for (o, d) in out.iter_mut().zip(daily) {
                o.0 += d.0;
                o.1 += d.1;
            }
        }
        out
    }

    fn sums(&self, value: &Option<String>) -> (f64, f64) {
        self.groups.get(value).map_or((0.0, 0.0), |d| sum(d))
    }
}

fn sum(daily: &[(f64, f64)]) -> (f64, f64) {
    daily.iter().fold((0.0, 0.0), |a, d| (a.0 + d.0, a.1 + d.1))
}

/// Reads a period: `metric` by `dim` (or in total) and by day, under `filters`.
pub(crate) async fn read(
    input: &Input<'_>,
    metric: Metric,
    filters: &[Filter],
    dim: Option<Dimension>,
    range: TimeRange,
    currency: Option<Currency>,
    scale: f64,
) -> Result<Period> {
    let mut mq = MetricQuery { filters: filters.to_vec(), ..input.q.metric_query([metric], range) }
        .granularity(Granularity::Day);
    if let Some(d) = dim {
        mq = mq.group_by(d);
    }
    let r = query(input, &mq).await?;
    let first = range.from.date();
    let days = super::trend::buckets(Granularity::Day, range).len();
    let mut groups: BTreeMap<Option<String>, Vec<(f64, f64)>> = BTreeMap::new();
    for row in &r.rows {
        let Some(t) = row.bucket else { continue };
        let i = (t.date().0 - first.0) as usize;
        let key = if dim.is_some() { row.group[0].clone() } else { None };
        let daily = groups.entry(key).or_insert_with(|| vec![(0.0, 0.0); days]);
        if let Some(slot) = daily.get_mut(i) {
            *slot = parts(&row.values[0], currency);
        }
    }
    Ok(Period { groups, days, scale, facts_scanned: r.facts_scanned })
}

/// A comparable level of a period's `(numerator, denominator)` sums: the sum per scale, or
/// the rate.
fn level(ratio: bool, (n, d): (f64, f64), scale: f64) -> Option<f64> {
    if ratio {
        (d > 0.0).then(|| n / d)
    } else {
        Some(n / scale)
    }
}

/// The daily values a level is read from: the sum, or the rate of days with a denominator.
fn daily_levels(ratio: bool, v: &[(f64, f64)]) -> Vec<f64> {
    v.iter().filter_map(|d| if ratio { (d.1 > 0.0).then(|| d.0 / d.1) } else { Some(d.0) }).collect()
}

/// The day-to-day variance of each segment over a history of consecutive days, with each
/// weekday's own mean removed when there are two weeks or more (weekends are not surprises), or
/// over baseline days that share a weekday (`weekly` false: one mean).
pub(crate) fn variation(metric: Metric, history: &Period, weekly: bool) -> Variation {
    let ratio = is_ratio(metric);
    let by_weekday = weekly && history.days >= 14;
    let of = |daily: &[(f64, f64)]| -> Option<f64> {
        let groups = if by_weekday { 7 } else { 1 };
        let mut ss = 0.0;
        let mut n = 0usize;
        for g in 0..groups {
            let x: Vec<(f64, f64)> = daily.iter().skip(g).step_by(groups).copied().collect();
            let x = daily_levels(ratio, &x);
            if x.len() < 2 {
                continue;
            }
            let m = x.iter().sum::<f64>() / x.len() as f64;
            ss += x.iter().map(|v| (v - m).powi(2)).sum::<f64>();
            n += x.len() - 1;
        }
        (n >= 2).then(|| ss / n as f64)
    };
    Variation {
        total: of(&history.total()),
        segments: history.groups.iter().filter_map(|(k, d)| of(d).map(|v| (k.clone(), v))).collect(),
    }
}

/// Day-to-day variances of a history: of its total and of each segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Variation {
    pub total: Option<f64>,
    pub segments: BTreeMap<Option<String>, f64>,
}

/// A rate's denominators as the sums a volume split divides.
pub(crate) fn volume(mut p: Period) -> Period {
    for daily in p.groups.values_mut() {
        for d in daily.iter_mut() {
            *d = (d.1, 0.0);
        }
    }
    p
}

/// The standard error of a level's change between two periods: the day-to-day variance `var`
/// scaled to each period's days and, for a proportion, never below the binomial error.
fn standard_error(
    ratio: bool,
    proportion: bool,
    var: f64,
    sides: [(&[(f64, f64)], &Period); 2],
) -> Option<f64> {
    let side = |(daily, p): (&[(f64, f64)], &Period)| {
        let days = daily_levels(ratio, daily).len();
        if days == 0 {
            return None;
        }
        Some(if ratio {
            let (n, d) = sum(daily);
            let binomial = if proportion && d > 0.0 { (n / d) * (1.0 - n / d) / d } else { 0.0 };
            (var / days as f64).max(binomial)
        } else {
            var * days as f64 / (p.scale * p.scale)
        })
    };
    let se = (side(sides[0])? + side(sides[1])?).sqrt();
    (se > 0.0).then_some(se)
}

/// The change of a level between two periods with its z-score against day-to-day variation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub before: Option<f64>,
    pub after: Option<f64>,
    pub z: Option<f64>,
}

impl Change {
    /// `after − before`, 0 when either is undefined.
    pub fn delta(&self) -> f64 {
        match (self.after, self.before) {
            (Some(a), Some(b)) => a - b,
            _ => 0.0,
        }
    }

    /// True when the change is more than day-to-day variation.
    pub fn significant(&self) -> bool {
        self.z.is_some_and(|z| z.abs() >= SIGNIFICANT_Z)
    }
}

/// How `metric`'s level moved between two sets of daily values, with its z-score against the
/// day-to-day variance `var` when known.
pub(crate) fn change(
    metric: Metric,
    (cur, c): (&[(f64, f64)], &Period),
    (prev, p): (&[(f64, f64)], &Period),
    var: Option<f64>,
) -> Change {
    let ratio = is_ratio(metric);
    let (after, before) = (level(ratio, sum(cur), c.scale), level(ratio, sum(prev), p.scale));
    let mut out = Change { before, after, z: None };
    let proportion = metric.unit() == Unit::Ratio;
    out.z = var
        .and_then(|v| standard_error(ratio, proportion, v, [(cur, c), (prev, p)]))
        .map(|se| out.delta() / se);
    out
}

/// One segment's part in a change.
#[derive(Debug, Clone)]
pub(crate) struct Effect {
    pub value: Option<String>,
    /// The share of the denominator moved (rates; 0 for sums).
    pub mix: f64,
    /// The segment's own level moved (a sum's whole change).
    pub rate: f64,
    /// The segment's own change: its level for sums and rates, its denominator for a
    /// mix-driven rate change (the volume that moved).
    pub own: Change,
    /// The segment's denominator (volume) change, for rates.
    pub volume: Change,
    /// The segment's share of the previous period (of the denominator for rates).
    pub share_before: f64,
}

impl Effect {
    /// The segment's contribution: mix + rate.
    pub fn total(&self) -> f64 {
        self.mix + self.rate
    }

    /// True when the share moved more than the rate did.
    pub fn mix_driven(&self) -> bool {
        self.mix.abs() > self.rate.abs()
    }

    /// The z-score of what drives the contribution.
    pub fn z(&self) -> Option<f64> {
        if self.mix_driven() {
            self.volume.z
        } else {
            self.own.z
        }
    }
}

/// Splits the change of `metric` from `prev` to `cur` into segments whose effects add up to
/// the change of the total. The mix effect is measured against the average overall rate, so a
/// segment whose rate is below it (a decline code for approvals) gets the effect of its growth.
pub(crate) fn decompose(
    metric: Metric,
    cur: &Period,
    prev: &Period,
    history: &Period,
    weekly: bool,
) -> Decomposition {
    let ratio = is_ratio(metric);
    let own_var = variation(metric, history, weekly);
    let vol_var = variation(Metric::TransactionCount, &volume(history.clone()), weekly);
    let (t1, t0) = (sum(&cur.total()), sum(&prev.total()));
    let keys: std::collections::BTreeSet<&Option<String>> =
        cur.groups.keys().chain(prev.groups.keys()).collect();
    let empty = vec![(0.0, 0.0); cur.days.max(prev.days)];
    let daily =
        |p: &Period, k: &Option<String>| p.groups.get(k).cloned().unwrap_or_else(|| empty[..p.days].to_vec());
    let overall = match (level(true, t1, 1.0), level(true, t0, 1.0)) {
        (Some(a), Some(b)) => (a + b) / 2.0,
        (a, b) => a.or(b).unwrap_or(0.0),
    };
    let effects: Vec<Effect> = keys
        .into_iter()
        .map(|k| {
            let (d1, d0) = (daily(cur, k), daily(prev, k));
            let own = change(metric, (&d1, cur), (&d0, prev), own_var.segments.get(k).copied());
            let vol = change(
                Metric::TransactionCount,
                (&volume_of(&d1), cur),
                (&volume_of(&d0), prev),
                vol_var.segments.get(k).copied(),
            );
            let (s1, s0) = (cur.sums(k), prev.sums(k));
            let (mix, rate) = if ratio {
                let (w1, w0) = (share(s1.1, t1.1), share(s0.1, t0.1));
                let (r1, r0) = match (own.after, own.before) {
                    (Some(a), Some(b)) => (a, b),
                    (Some(a), None) => (a, a),
                    (None, Some(b)) => (b, b),
                    (None, None) => (0.0, 0.0),
                };
                ((w1 - w0) * ((r0 + r1) / 2.0 - overall), (r1 - r0) * (w0 + w1) / 2.0)
            } else {
                (0.0, s1.0 / cur.scale - s0.0 / prev.scale)
            };
            let share_before = if ratio { share(s0.1, t0.1) } else { share(s0.0, t0.0) };
            Effect { value: k.clone(), mix, rate, own, volume: vol, share_before }
        })
        .collect();
    let whole = change(metric, (&cur.total(), cur), (&prev.total(), prev), own_var.total);
    // A dimension a rate's numerator lacks (chargebacks without the authorization's entry
    // mode) leaves part of the change unattributed: such a split does not add up.
    let attributed: f64 = effects.iter().map(Effect::total).sum();
    let additive = (attributed - whole.delta()).abs() <= 1e-9 * (1.0 + whole.delta().abs());
    Decomposition { effects, whole, additive }
}

/// A change split into its segments.
#[derive(Debug, Clone)]
pub(crate) struct Decomposition {
    pub effects: Vec<Effect>,
    /// The change of the whole, with its z-score.
    pub whole: Change,
    /// True when the effects add up to the whole's change.
    pub additive: bool,
}

/// Daily denominators as sums.
fn volume_of(d: &[(f64, f64)]) -> Vec<(f64, f64)> {
    d.iter().map(|x| (x.1, 0.0)).collect()
}

fn share(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole
    } else {
        0.0
    }
}

/// The effects in the direction of `change`, largest first.
pub(crate) fn toward(effects: &[Effect], change: f64) -> Vec<&Effect> {
    let mut out: Vec<&Effect> =
        effects.iter().filter(|e| e.total() != 0.0 && e.total().signum() == change.signum()).collect();
    out.sort_by(|a, b| b.total().abs().total_cmp(&a.total().abs()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(groups: &[(&str, &[(f64, f64)])]) -> Period {
        let days = groups[0].1.len();
        Period {
            groups: groups.iter().map(|(k, d)| (Some(k.to_string()), d.to_vec())).collect(),
            days,
            scale: 1.0,
            facts_scanned: 0,
        }
    }

    #[test]
    fn rate_effects_add_up_to_the_change_and_a_growing_decline_segment_carries_it() {
        // Approvals (numerator) over attempts: code 91 (never approved) grows in the second period.
        let prev = period(&[("00", &[(90.0, 90.0), (92.0, 92.0)]), ("91", &[(0.0, 2.0), (0.0, 3.0)])]);
        let cur = period(&[("00", &[(88.0, 88.0), (90.0, 90.0)]), ("91", &[(0.0, 30.0), (0.0, 25.0)])]);
        let history = period(&[
            ("00", &[(90.0, 90.0), (92.0, 92.0), (95.0, 95.0), (89.0, 89.0)]),
            ("91", &[(0.0, 2.0), (0.0, 3.0), (0.0, 1.0), (0.0, 3.0)]),
        ]);
        let split = decompose(Metric::ApprovalRate, &cur, &prev, &history, false);
        let total: f64 = split.effects.iter().map(Effect::total).sum();
        let (r1, r0) = (178.0 / 233.0, 182.0 / 187.0);
        assert!((total - (r1 - r0)).abs() < 1e-12 && split.additive);
        assert!(split.whole.significant(), "{:?}", split.whole);
        let first = toward(&split.effects, r1 - r0)[0];
        assert_eq!(first.value.as_deref(), Some("91"));
        assert!(first.mix_driven() && first.volume.significant());
    }

    #[test]
    fn sum_effects_add_up_and_noise_is_not_significant() {
        let prev = period(&[
            ("a", &[(10.0, 0.0), (12.0, 0.0), (11.0, 0.0)]),
            ("b", &[(5.0, 0.0), (6.0, 0.0), (4.0, 0.0)]),
        ]);
        let cur = period(&[
            ("a", &[(11.0, 0.0), (10.0, 0.0), (12.0, 0.0)]),
            ("b", &[(30.0, 0.0), (28.0, 0.0), (33.0, 0.0)]),
        ]);
        let effects = decompose(Metric::TransactionCount, &cur, &prev, &prev, false).effects;
        assert_eq!(effects.iter().map(Effect::total).sum::<f64>(), (33.0 + 91.0) - (33.0 + 15.0));
        assert!(!effects[0].own.significant(), "{:?}", effects[0].own);
        assert!(effects[1].own.significant(), "{:?}", effects[1].own);
    }
}
