//! Totals of the asked metrics over the period.

use std::collections::BTreeMap;

use super::trend::capitalize;
use super::{base_query, evidence, query, scope_text, Agent, Input, Output};
use crate::error::Result;
use crate::query::answer::{int, moneys, show, AnswerMetric};
use crate::store::metric::{Metric, MetricValue, Unit};

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let r = query(input, &base_query(input, range)).await?;
    let (ev, coverage) = evidence(input, Agent::Metrics, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let values: Vec<(Metric, &MetricValue)> =
        r.query.metrics.iter().copied().zip(&r.rows[0].values).collect();
    for (m, v) in &values {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), v, m.unit(), &BTreeMap::new(), None));
        if out.sample.is_none() {
            out.sample = match v {
                MetricValue::Ratio { numerator, denominator } => Some((*numerator, *denominator)),
                MetricValue::Count { count } => Some((*count, *count)),
                _ => None,
            };
        }
        if m.unit() == Unit::Currency && v.money().len() > 1 {
            out.warnings
                .push("Amounts are shown per currency; they are never added across currencies.".into());
        }
    }
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    let period = range.display_days();
    let get = |m: Metric| values.iter().find(|(x, _)| *x == m).map(|(_, v)| *v);
    let mut rest: Vec<(Metric, &MetricValue)> = values.clone();
    let mut parts = Vec::new();
    // "Volume" reads as one clause: attempts and approved sales together.
    if let (Some(count), Some(amount)) = (get(Metric::TransactionCount), get(Metric::TransactionAmount)) {
        parts.push(format!(
            "there were {} authorization attempts, with approved sales of {}",
            int(count.count().unwrap_or(0)),
            moneys(&amount.money())
        ));
        rest.retain(|(m, _)| !matches!(m, Metric::TransactionCount | Metric::TransactionAmount));
    }
    if parts.is_empty() && rest.len() == 1 {
        let (m, v) = rest[0];
        out.sentences.push(format!("{}{scope} was {} over {period}.", capitalize(&m.label()), show(m, v)));
    } else {
        parts.extend(rest.iter().map(|(m, v)| format!("{} {}", m.label(), show(*m, v))));
        out.sentences.push(format!("Over {period}{scope}: {}.", parts.join("; ")));
    }
    if let Some((m, MetricValue::Ratio { numerator, denominator })) =
        values.iter().find(|(m, _)| m.unit() == Unit::Ratio)
    {
        if *denominator > 0 {
            let (num_name, den_name) = ratio_parts(*m);
            out.metrics.push(AnswerMetric::number(
                num_name,
                *numerator as f64,
                Unit::Count,
                &BTreeMap::new(),
                None,
            ));
            out.metrics.push(AnswerMetric::number(
                den_name,
                *denominator as f64,
                Unit::Count,
                &BTreeMap::new(),
                None,
            ));
            out.sentences.push(format!("That is {} out of {}.", int(*numerator), int(*denominator)));
        }
    }
    out.followups.push(format!(
        "Break {} down by network",
        values.first().map_or("this".to_owned(), |(m, _)| m.label())
    ));
    out.followups.push("How has it trended over the last 90 days?".into());
    Ok(out)
}

/// The counts a rate is made of.
pub(crate) fn ratio_parts(m: Metric) -> (&'static str, &'static str) {
    match m {
        Metric::ApprovalRate => ("approved_count", "transaction_count"),
        Metric::DeclineRate => ("declined_count", "transaction_count"),
        Metric::ChargebackRate => ("chargeback_count", "approved_count"),
        Metric::FraudRate => ("fraud_count", "approved_count"),
        Metric::CrossBorderShare => ("cross_border_count", "countries_known_count"),
        _ => ("settled_auth_count", "approved_count"),
    }
}
