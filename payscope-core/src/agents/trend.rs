//! Series over time at a sensible granularity, with missing buckets filled.

use std::collections::BTreeMap;

use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::calendar::{TimeRange, Timestamp, MS_PER_HOUR};
use crate::error::Result;
use crate::query::answer::{num, pct, Series, SeriesPoint};
use crate::store::metric::{Granularity, Metric, Unit};

/// Values by bucket: display value and exact minor units.
type Points = BTreeMap<Timestamp, (Option<f64>, Option<i64>)>;

/// Every bucket start of `g` that overlaps `range`.
pub(crate) fn buckets(g: Granularity, range: TimeRange) -> Vec<Timestamp> {
    let mut out = Vec::new();
    let mut t = g.bucket_start(range.from);
    while t < range.to && out.len() < 10_000 {
        out.push(t);
        t = match g {
            Granularity::Hour => Timestamp(t.0 + MS_PER_HOUR),
            Granularity::Day => t.date().add_days(1).start(),
            Granularity::Week => t.date().add_days(7).start(),
            Granularity::Month => t.date().add_months(1).start(),
        };
    }
    out
}

/// The series of `metric` (one per currency for money, one per group), buckets filled:
/// counts and money with zero, ratios and means with `null`.
pub(crate) fn series_of(
    metric: Metric,
    g: Granularity,
    range: TimeRange,
    r: &crate::store::metric::MetricResult,
    merchants: &super::MerchantNames,
) -> Vec<Series> {
    let Some(i) = r.index_of(metric) else { return vec![] };
    let mut by_key: BTreeMap<(Vec<Option<String>>, Option<String>), Points> = BTreeMap::new();
    for row in &r.rows {
        let Some(t) = row.bucket else { continue };
        let v = &row.values[i];
        match metric.unit() {
            Unit::Currency => {
                for m in v.money() {
                    by_key
                        .entry((row.group.clone(), Some(m.currency.code().to_owned())))
                        .or_default()
                        .insert(t, (Some(m.major_units_for_display()), Some(m.minor)));
                }
            }
            _ => {
                by_key.entry((row.group.clone(), None)).or_default().insert(t, (v.as_f64(), None));
            }
        }
    }
    let all = buckets(g, range);
    by_key
        .into_iter()
        .map(|((group, currency), points)| Series {
            metric: metric.as_str().to_owned(),
            unit: metric.unit(),
            currency: currency.clone(),
            dimensions: dims(merchants, &r.query.group_by, &group),
            granularity: g.as_str().to_owned(),
            points: all
                .iter()
                .map(|t| {
                    let (value, minor_units) = points.get(t).copied().unwrap_or(match metric.unit() {
                        Unit::Count => (Some(0.0), None),
                        Unit::Currency => (Some(0.0), Some(0)),
                        _ => (None, None),
                    });
                    SeriesPoint { t: *t, value, minor_units }
                })
                .collect(),
        })
        .collect()
}

/// A point's value as a summary shows it.
pub(crate) fn show_point(s: &Series, v: f64) -> String {
    match s.unit {
        Unit::Ratio => pct(v),
        Unit::Count => num(v, 0),
        Unit::Hours => format!("{} hours", num(v, 1)),
        Unit::Currency => format!("{} {}", num(v, 2), s.currency.as_deref().unwrap_or("")),
    }
}

/// A bucket's start as a summary shows it.
pub(crate) fn show_bucket(t: Timestamp, g: &str) -> String {
    match g {
        "hour" => format!("{} {:02}:00", t.date(), t.hour()),
        "week" => format!("the week of {}", t.date()),
        "month" => t.date().to_string()[..7].to_owned(),
        _ => t.date().to_string(),
    }
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let g = q.granularity.unwrap_or(Granularity::Day);
    let metrics: Vec<Metric> = q.metrics.iter().copied().take(2).collect();
    let mut mq = q.metric_query(metrics.clone(), range).granularity(g);
    if let Some(d) = q.group_by.first() {
        mq = mq.group_by(*d);
    }
    let r = query(input, &mq).await?;
    let (ev, coverage) = evidence(input, Agent::Trend, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    for m in &metrics {
        out.series.extend(series_of(*m, g, range, &r, input.merchants));
    }
    let total: u64 = r
        .rows
        .iter()
        .filter_map(|row| r.index_of(Metric::TransactionCount).and_then(|i| row.values[i].count()))
        .sum();
    if total > 0 {
        out.sample = Some((total, total));
    }
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    // Describe the first metric's main series (the dominant currency for money).
    let main: Vec<&Series> = out.series.iter().filter(|s| s.metric == metrics[0].as_str()).collect();
    let currency = super::main_currency(
        input,
        &main
            .iter()
            .filter_map(|s| {
                s.currency
                    .as_deref()
                    .and_then(crate::money::Currency::from_code)
                    .map(|c| crate::money::Money::new(0, c))
            })
            .collect::<Vec<_>>(),
    );
    for s in main
        .iter()
        .filter(|s| s.currency.is_none() || s.currency.as_deref() == currency.map(|c| c.code()))
        .take(4)
    {
        let defined: Vec<(Timestamp, f64)> =
            s.points.iter().filter_map(|p| p.value.map(|v| (p.t, v))).collect();
        let (Some(first), Some(last)) = (defined.first(), defined.last()) else { continue };
        let high = defined.iter().max_by(|a, b| a.1.total_cmp(&b.1)).copied().unwrap_or(*first);
        let low = defined.iter().min_by(|a, b| a.1.total_cmp(&b.1)).copied().unwrap_or(*first);
        let who = if s.dimensions.is_empty() {
            String::new()
        } else {
            let (d, v) = s
                .dimensions
                .iter()
                .next()
                .map(|(d, v)| (d.parse().ok(), v.clone()))
                .unwrap_or((None, String::new()));
            d.map(|d| format!(" for {}", label(d, Some(&v), input.merchants))).unwrap_or_default()
        };
        out.sentences.push(format!(
            "{}{who}{scope} ({} over {}) went from {} ({}) to {} ({}); highest {} ({}), lowest {} ({}).",
            capitalize(&metrics[0].label()),
            match s.granularity.as_str() {
                "hour" => "hourly",
                "week" => "weekly",
                "month" => "monthly",
                _ => "daily",
            },
            range.display_days(),
            show_point(s, first.1),
            show_bucket(first.0, &s.granularity),
            show_point(s, last.1),
            show_bucket(last.0, &s.granularity),
            show_point(s, high.1),
            show_bucket(high.0, &s.granularity),
            show_point(s, low.1),
            show_bucket(low.0, &s.granularity),
        ));
    }
    if out.series.iter().any(|s| s.currency.is_some())
        && out
            .series
            .iter()
            .filter_map(|s| s.currency.as_ref())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    {
        out.warnings
            .push("Money series are per currency; the summary describes the largest currency.".into());
    }
    if matches!(g, Granularity::Day) && range.to.0 % crate::calendar::MS_PER_DAY != 0 {
        out.warnings.push("The last bucket is a partial day.".into());
    }
    out.followups.push(format!("Why did {} change?", metrics[0].label()));
    out.followups.push("Were there any unusual days?".into());
    Ok(out)
}

/// `approval rate` → `Approval rate`.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
