//! Top-N groups by a metric (ranked within each currency when the metric is money).

use super::trend::capitalize;
use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::error::Result;
use crate::query::answer::{int, AnswerMetric};
use crate::store::metric::{Dimension, Metric, MetricQuery, MetricValue, Order, Unit};

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let group_by: Vec<Dimension> =
        if q.group_by.is_empty() { vec![Dimension::MerchantId] } else { q.group_by.clone() };
    let order = q.order.unwrap_or(Order {
        metric: q.metrics.first().copied().unwrap_or(Metric::TransactionAmount),
        descending: true,
    });
    let n = q.top_n.unwrap_or(10);
    let mq = MetricQuery {
        group_by: group_by.clone(),
        order: Some(order),
        top_n: Some(n),
        having: q.having.clone(),
        ..q.metric_query(q.metrics.clone(), range)
    };
    let r = query(input, &mq).await?;
    let (ev, coverage) = evidence(input, Agent::Breakdown, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let oi = r.index_of(order.metric).unwrap_or(0);
    let currency_col = r.query.group_by.iter().position(|d| *d == Dimension::Currency);
    // With money ranked per currency, the summary reads the largest currency's ranking.
    let main_currency = currency_col.and(super::main_currency(
        input,
        &r.rows.iter().flat_map(|row| row.values[oi].money()).collect::<Vec<_>>(),
    ));
    let mut parts = Vec::new();
    let mut total = 0u64;
    for row in &r.rows {
        let d = dims(input.merchants, &r.query.group_by, &row.group);
        for (m, v) in r.query.metrics.iter().zip(&row.values) {
            out.metrics.extend(AnswerMetric::from_value(m.as_str(), v, m.unit(), &d, None));
        }
        if let MetricValue::Count { count } = row.values[oi] {
            total += count;
        }
        let in_main = match (currency_col, main_currency) {
            (Some(c), Some(cur)) => row.group[c].as_deref() == Some(cur.code()),
            _ => true,
        };
        if in_main {
            let who: Vec<String> = r
                .query
                .group_by
                .iter()
                .zip(&row.group)
                .filter(|(dim, _)| Some(**dim) != currency_col.map(|_| Dimension::Currency))
                .map(|(dim, v)| label(*dim, v.as_deref(), input.merchants))
                .collect();
            parts.push(format!(
                "{} {}",
                who.join(" / "),
                super::show_with_noun(order.metric, &row.values[oi])
            ));
        }
    }
    out.sample = Some((total, total));
    let mut scope = scope_text(&q.filters, &q.amount, input.merchants);
    for h in &q.having {
        scope.push_str(&condition_text(h, &q.text));
    }
    let what = group_by
        .iter()
        .filter(|d| **d != Dimension::Currency)
        .map(|d| plural(*d))
        .collect::<Vec<_>>()
        .join(" and ");
    let direction = if order.descending { "Top" } else { "Bottom" };
    if parts.is_empty() {
        out.sentences.push(format!(
            "No {what} have {} data{scope} over {}.",
            order.metric.label(),
            range.display_days()
        ));
    } else {
        let currency_note = main_currency.map(|c| format!(" in {c}")).unwrap_or_default();
        out.sentences.push(format!(
            "{direction} {} {what} by {}{currency_note}{scope} over {}: {}.",
            parts.len(),
            order.metric.label(),
            range.display_days(),
            parts.join("; ")
        ));
        if order.metric.unit() == Unit::Count && total > 0 {
            out.sentences.push(format!(
                "Together they account for {} {}.",
                int(total),
                super::noun(order.metric)
            ));
            out.metrics.push(AnswerMetric::number(
                &format!("{}_top_total", order.metric.as_str()),
                total as f64,
                Unit::Count,
                &Default::default(),
                None,
            ));
        }
    }
    if currency_col.is_some()
        && r.rows
            .iter()
            .filter_map(|row| currency_col.and_then(|c| row.group[c].clone()))
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            > 1
    {
        out.warnings.push(
            "Money is ranked within each currency; other currencies' rankings are in `metrics`.".into(),
        );
    }
    out.followups.push(format!("How has {} trended for the top {}?", order.metric.label(), what));
    out.followups.push(capitalize(&format!("{} by network", order.metric.label())));
    Ok(out)
}

/// A dimension's plural noun.
pub(crate) fn plural(d: Dimension) -> &'static str {
    match d {
        Dimension::Network => "networks",
        Dimension::MerchantId | Dimension::MerchantName => "merchants",
        Dimension::Mcc => "merchant categories",
        Dimension::MerchantCountry => "merchant countries",
        Dimension::IssuerCountry => "issuer countries",
        Dimension::IssuerBin => "BINs",
        Dimension::EntryMode => "entry modes",
        Dimension::ResponseCode => "response codes",
        Dimension::ReasonCode => "reason codes",
        Dimension::Currency => "currencies",
        Dimension::HourOfDay => "hours of the day",
        Dimension::DayOfWeek => "days of the week",
        Dimension::CrossBorder => "cross-border groups",
    }
}

/// ` with at least 100 authorization attempts`: a group condition in words, with the number
/// the question used (`more than 5` is kept as said, not as `at least 6`).
fn condition_text(h: &crate::store::metric::Having, question: &str) -> String {
    let noun = match super::noun(h.metric) {
        "" => h.metric.label().to_owned(),
        n => n.to_owned(),
    };
    let said = |n: u64| question.split(|c: char| !c.is_ascii_digit()).any(|d| d == n.to_string());
    let whole = |l: Option<crate::store::metric::Limit>| l.map(crate::store::metric::Having::whole);
    if h.metric.unit() != Unit::Count || h.exclusive {
        return format!(" with {}", h.text());
    }
    match (whole(h.min).flatten(), whole(h.max).flatten()) {
        (Some(n), None) if !said(n) && n > 0 && said(n - 1) => format!(" with more than {} {noun}", n - 1),
        (Some(n), None) => format!(" with at least {n} {noun}"),
        (None, Some(0)) => format!(" with no {noun}"),
        (None, Some(n)) if !said(n) && said(n + 1) => format!(" with fewer than {} {noun}", n + 1),
        (None, Some(n)) => format!(" with at most {n} {noun}"),
        (Some(a), Some(b)) => format!(" with {a} to {b} {noun}"),
        (None, None) => String::new(),
    }
}
