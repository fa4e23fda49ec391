//! Fraud overview: cases, losses and rate, where fraud happened (merchants, channels).

use std::collections::BTreeMap;

use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::error::Result;
use crate::query::answer::{int, moneys, pct, show, AnswerMetric};
use crate::store::metric::{Dimension, Metric, MetricValue};

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let metrics = [Metric::FraudCount, Metric::FraudAmount, Metric::FraudRate];
    let total = query(input, &q.metric_query(metrics, range)).await?;
    let (ev, coverage) = evidence(input, Agent::Fraud, &total, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let none = BTreeMap::new();
    let v = &total.rows[0].values;
    for (m, val) in metrics.iter().zip(v) {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), val, m.unit(), &none, None));
    }
    let count = v[0].count().unwrap_or(0);
    if let MetricValue::Ratio { numerator, denominator } = v[2] {
        out.sample = Some((numerator, denominator));
    }
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    out.sentences.push(format!(
        "Fraud{scope} over {}: {} transactions reported, worth {}, a fraud rate of {} of approvals.",
        range.display_days(),
        int(count),
        moneys(&v[1].money()),
        v[2].as_f64().map(pct).unwrap_or_else(|| "not defined".into())
    ));
    if count == 0 {
        return Ok(out);
    }
    for (dim, n) in [(Dimension::MerchantId, 3), (Dimension::EntryMode, 2)] {
        let r = query(
            input,
            &q.metric_query([Metric::FraudCount], range).group_by(dim).top(Metric::FraudCount, n, true),
        )
        .await?;
        let parts: Vec<String> = r
            .rows
            .iter()
            .filter(|row| row.values[0].count().unwrap_or(0) > 0)
            .map(|row| {
                out.metrics.extend(AnswerMetric::from_value(
                    "fraud_count",
                    &row.values[0],
                    Metric::FraudCount.unit(),
                    &dims(input.merchants, &r.query.group_by, &row.group),
                    None,
                ));
                format!(
                    "{} {}",
                    label(dim, row.group[0].as_deref(), input.merchants),
                    show(Metric::FraudCount, &row.values[0])
                )
            })
            .collect();
        if !parts.is_empty() {
            let what = if dim == Dimension::MerchantId { "Most cases at" } else { "By channel" };
            out.sentences.push(format!("{what}: {}.", parts.join("; ")));
        }
    }
    out.followups.push("Which merchants did our fraud cards have in common before the fraud?".into());
    Ok(out)
}
