//! Why a metric changed: the period-over-period change decomposed by network, response code,
//! merchant, MCC, entry mode and issuer country. Sums (counts, money) split into each group's
//! own change; rates split into a mix effect (the group's share of attempts moved) and a rate
//! effect (the group's own rate moved). The biggest contributors come first. For settlement
//! and clearing the upstream approvals are examined too, since fewer approvals mean fewer
//! settlements a few days later.

use std::collections::BTreeMap;

use super::trend::capitalize;
use super::{evidence, label, main_currency, query, scope_text, Agent, Input, Output};
use crate::calendar::TimeRange;
use crate::error::Result;
use crate::money::{Currency, Money};
use crate::query::answer::{change_pct, money, num, pct, AnswerMetric};
use crate::store::metric::{Dimension, Filter, Metric, MetricQuery, MetricValue, Unit};

/// A group's part in the change.
struct Contribution {
    dim: Dimension,
    value: Option<String>,
    /// Change in the metric's display unit (major units for money, ratio points for rates).
    effect: f64,
    /// `change`, `mix` or `rate`.
    kind: &'static str,
}

/// The dimensions examined, with how many contributors each may add to the summary.
const DIMENSIONS: [(Dimension, usize); 6] = [
    (Dimension::Network, 1),
    (Dimension::ResponseCode, 1),
    (Dimension::EntryMode, 1),
    (Dimension::IssuerCountry, 1),
    (Dimension::Mcc, 1),
    (Dimension::MerchantId, 2),
];

fn scalar(v: &MetricValue, currency: Option<Currency>) -> f64 {
    match v {
        MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => v
            .money()
            .into_iter()
            .find(|m| Some(m.currency) == currency)
            .map_or(0.0, |m| m.major_units_for_display()),
        other => other.as_f64().unwrap_or(0.0),
    }
}

fn show(metric: Metric, v: f64, currency: Option<Currency>) -> String {
    match metric.unit() {
        Unit::Ratio => pct(v),
        Unit::Currency => money(&Money::new(
            (v * 10f64.powi(currency.map_or(2, |c| c.exponent()) as i32)).round() as i64,
            currency.unwrap_or(Currency::USD),
        )),
        Unit::Hours => format!("{} hours", num(v, 1)),
        Unit::Count => num(v, 0),
    }
}

fn show_change(metric: Metric, d: f64, currency: Option<Currency>) -> String {
    let sign = if d >= 0.0 { "+" } else { "-" };
    match metric.unit() {
        Unit::Ratio => format!("{sign}{} points", num(d.abs() * 100.0, 2)),
        _ => format!("{sign}{}", show(metric, d.abs(), currency)),
    }
}

/// Decomposes the change of `metric` between two periods along `dim`.
async fn decompose(
    input: &Input<'_>,
    metric: Metric,
    filters: &[Filter],
    dim: Dimension,
    current: TimeRange,
    previous: TimeRange,
    currency: Option<Currency>,
) -> Result<(Vec<Contribution>, u64)> {
    let mk = |range| {
        MetricQuery { filters: filters.to_vec(), ..input.q.metric_query([metric], range) }.group_by(dim)
    };
    let (cur, prev) = (query(input, &mk(current)).await?, query(input, &mk(previous)).await?);
    let scanned = cur.facts_scanned + prev.facts_scanned;
    let mut groups: BTreeMap<Option<String>, (Option<MetricValue>, Option<MetricValue>)> = BTreeMap::new();
    for row in &cur.rows {
        groups.entry(row.group[0].clone()).or_default().0 = Some(row.values[0].clone());
    }
    for row in &prev.rows {
        groups.entry(row.group[0].clone()).or_default().1 = Some(row.values[0].clone());
    }
    let mut out = Vec::new();
    if metric.unit() == Unit::Ratio {
        let parts = |v: &Option<MetricValue>| match v {
            Some(MetricValue::Ratio { numerator, denominator }) => (*numerator as f64, *denominator as f64),
            _ => (0.0, 0.0),
        };
        let total_den =
            |k: usize| groups.values().map(|g| parts(if k == 0 { &g.0 } else { &g.1 }).1).sum::<f64>();
        let (d1, d0) = (total_den(0), total_den(1));
        if d1 == 0.0 || d0 == 0.0 {
            return Ok((out, scanned));
        }
        for (value, (c, p)) in &groups {
            let ((n1, den1), (n0, den0)) = (parts(c), parts(p));
            let (w1, w0) = (den1 / d1, den0 / d0);
            let (r1, r0) =
                (if den1 > 0.0 { n1 / den1 } else { 0.0 }, if den0 > 0.0 { n0 / den0 } else { 0.0 });
            // Shapley-style split: the sum of all mix and rate effects is the total change.
            let mix = (w1 - w0) * (r0 + r1) / 2.0;
            let rate = (r1 - r0) * (w0 + w1) / 2.0;
            out.push(Contribution { dim, value: value.clone(), effect: mix, kind: "mix" });
            out.push(Contribution { dim, value: value.clone(), effect: rate, kind: "rate" });
        }
    } else {
        for (value, (c, p)) in &groups {
            let effect = c.as_ref().map_or(0.0, |v| scalar(v, currency))
                - p.as_ref().map_or(0.0, |v| scalar(v, currency));
            out.push(Contribution { dim, value: value.clone(), effect, kind: "change" });
        }
    }
    Ok((out, scanned))
}

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let current = q.time.range;
    let previous = q.time.versus.unwrap_or_else(|| current.previous());
    let metric = q.metrics.first().copied().unwrap_or(Metric::TransactionAmount);
    let base = |range| q.metric_query([metric], range);
    let (cur, prev) = (query(input, &base(current)).await?, query(input, &base(previous)).await?);
    let (mut ev, coverage) = evidence(input, Agent::RootCause, &cur, current).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let (cv, pv) = (&cur.rows[0].values[0], &prev.rows[0].values[0]);
    let currency = main_currency(input, &pv.money()).or_else(|| main_currency(input, &cv.money()));
    let none = BTreeMap::new();
    out.metrics.extend(AnswerMetric::from_value(metric.as_str(), cv, metric.unit(), &none, Some("current")));
    out.metrics.extend(AnswerMetric::from_value(metric.as_str(), pv, metric.unit(), &none, Some("previous")));
    if let MetricValue::Ratio { numerator, denominator } = cv {
        out.sample = Some((*numerator, *denominator));
    }
    let (a, b) = (scalar(cv, currency), scalar(pv, currency));
    let total = a - b;
    out.metrics.push(AnswerMetric::number(
        &format!("{}_change", metric.as_str()),
        total,
        metric.unit(),
        &none,
        None,
    ));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let verb = if total < 0.0 {
        "fell"
    } else if total > 0.0 {
        "rose"
    } else {
        "did not change"
    };
    let mut headline = format!(
        "{}{scope} {verb} from {} over {} to {} over {} ({}",
        capitalize(&metric.label()),
        show(metric, b, currency),
        previous.display_days(),
        show(metric, a, currency),
        current.display_days(),
        show_change(metric, total, currency)
    );
    if let Some(rel) = change_pct(b, a).filter(|_| metric.unit() != Unit::Ratio) {
        out.metrics.push(AnswerMetric::number(
            &format!("{}_change_pct", metric.as_str()),
            rel,
            Unit::Ratio,
            &none,
            None,
        ));
        headline.push_str(&format!(", {}{}", if rel >= 0.0 { "+" } else { "" }, pct(rel)));
    }
    headline.push_str(").");
    out.sentences.push(headline);
    if total == 0.0 {
        out.evidence.push(ev);
        return Ok(out);
    }
    // Decompose within the main currency: amounts in different currencies never mix.
    let mut filters = q.filters.clone();
    if let (Unit::Currency, Some(c)) = (metric.unit(), currency) {
        filters.retain(|f| f.dimension != Dimension::Currency);
        filters.push(Filter::eq(Dimension::Currency, c.code()));
    }
    let auth_metric = metric.stages().contains(&crate::facts::Stage::Auth);
    let mut contributions = Vec::new();
    let mut scanned = 0;
    for (dim, _) in DIMENSIONS {
        if (dim == Dimension::ResponseCode && !auth_metric)
            || q.filters.iter().any(|f| f.dimension == dim && f.values.len() == 1)
        {
            continue;
        }
        let (c, s) = decompose(input, metric, &filters, dim, current, previous, currency).await?;
        scanned += s;
        contributions.push((dim, c));
    }
    let mut top: Vec<&Contribution> = Vec::new();
    // Facts without the attribute ("unknown") explain nothing about where the change came from.
    let mut ranked: Vec<&Contribution> = contributions
        .iter()
        .flat_map(|(_, c)| c.iter())
        .filter(|c| c.effect != 0.0 && c.value.is_some())
        .collect();
    ranked.sort_by(|x, y| {
        // Contributions in the direction of the change first, largest first.
        let toward = |c: &Contribution| c.effect.signum() == total.signum();
        toward(y).cmp(&toward(x)).then(y.effect.abs().total_cmp(&x.effect.abs()))
    });
    for c in ranked {
        let limit = DIMENSIONS.iter().find(|(d, _)| *d == c.dim).map_or(1, |(_, n)| *n);
        if top.iter().filter(|t| t.dim == c.dim).count() < limit
            && top.len() < 4
            && c.effect.signum() == total.signum()
        {
            top.push(c);
        }
    }
    if top.is_empty() {
        out.sentences.push("No single network, merchant, category, channel or issuer country stands out; the change is spread evenly.".into());
    } else {
        let parts: Vec<String> = top
            .iter()
            .map(|c| {
                let mut d = super::dims(input.merchants, &[c.dim], std::slice::from_ref(&c.value));
                let name = match c.kind {
                    "mix" => format!("{}_mix_effect", metric.as_str()),
                    "rate" => format!("{}_rate_effect", metric.as_str()),
                    _ => format!("{}_change", metric.as_str()),
                };
                if let (Unit::Currency, Some(cur)) = (metric.unit(), currency) {
                    d.insert("currency".into(), cur.code().to_owned());
                }
                out.metrics.push(AnswerMetric::number(&name, c.effect, metric.unit(), &d, None));
                let share = c.effect / total;
                out.metrics.push(AnswerMetric::number(
                    &format!("{name}_share"),
                    share,
                    Unit::Ratio,
                    &d,
                    None,
                ));
                let how = match c.kind {
                    "mix" => " (its share of attempts moved)",
                    "rate" => " (its own rate moved)",
                    _ => "",
                };
                format!(
                    "{} {}{how}, {} of the change",
                    label(c.dim, c.value.as_deref(), input.merchants),
                    show_change(metric, c.effect, currency),
                    pct(share)
                )
            })
            .collect();
        out.sentences.push(format!("The biggest contributors: {}.", parts.join("; ")));
    }
    // Upstream: settlements follow approvals, so look at approvals and declines too.
    if !auth_metric {
        let approvals = |range| q.metric_query([Metric::ApprovalRate], range);
        let (ca, pa) = (query(input, &approvals(current)).await?, query(input, &approvals(previous)).await?);
        let (ra, rb) = (ca.rows[0].values[0].as_f64(), pa.rows[0].values[0].as_f64());
        if let (Some(ra), Some(rb)) = (ra, rb) {
            out.metrics.extend(AnswerMetric::from_value(
                "approval_rate",
                &ca.rows[0].values[0],
                Unit::Ratio,
                &none,
                Some("current"),
            ));
            out.metrics.extend(AnswerMetric::from_value(
                "approval_rate",
                &pa.rows[0].values[0],
                Unit::Ratio,
                &none,
                Some("previous"),
            ));
            let mut sentence = format!("Upstream, the approval rate went from {} to {}", pct(rb), pct(ra));
            let (declines, _) = decompose(
                input,
                Metric::DeclinedCount,
                &q.filters,
                Dimension::ResponseCode,
                current,
                previous,
                None,
            )
            .await?;
            if let Some(d) =
                declines.iter().filter(|d| d.effect > 0.0).max_by(|x, y| x.effect.total_cmp(&y.effect))
            {
                let dm = BTreeMap::from([("response_code".to_owned(), d.value.clone().unwrap_or_default())]);
                out.metrics.push(AnswerMetric::number(
                    "declined_count_change",
                    d.effect,
                    Unit::Count,
                    &dm,
                    None,
                ));
                sentence.push_str(&format!(
                    ", and declines with {} rose by {}",
                    label(Dimension::ResponseCode, d.value.as_deref(), input.merchants),
                    num(d.effect, 0)
                ));
            }
            sentence.push('.');
            out.sentences.push(sentence);
        }
    }
    ev.facts_scanned += scanned;
    ev.detail = Some(format!("compared {} with {}", current.display_days(), previous.display_days()));
    out.evidence.push(ev);
    out.followups.push(format!("Show the daily trend of {} over the last 30 days", metric.label()));
    Ok(out)
}
