//! Disputes: chargeback counts and ratios per merchant and network, measured against the
//! networks' monitoring programs (Visa's Dispute Monitoring Program, Mastercard's Excessive
//! Chargeback Program), scaled to the length of the period.

use std::collections::BTreeMap;

use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::calendar::MS_PER_DAY;
use crate::error::Result;
use crate::query::answer::{int, num, pct, AnswerMetric};
use crate::store::metric::{Dimension, Metric, MetricValue, Unit};

/// A monitoring program's thresholds (ratio and count per month).
struct Program {
    network: &'static str,
    name: &'static str,
    ratio: f64,
    count_per_month: f64,
}

const PROGRAMS: [Program; 2] = [
    Program {
        network: "visa",
        name: "Visa Dispute Monitoring Program",
        ratio: 0.009,
        count_per_month: 100.0,
    },
    Program {
        network: "mastercard",
        name: "Mastercard Excessive Chargeback Program",
        ratio: 0.015,
        count_per_month: 100.0,
    },
];

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let months = (range.len_millis() as f64 / (30.4 * MS_PER_DAY as f64)).max(0.1);
    let metrics = [Metric::ChargebackCount, Metric::ApprovedCount, Metric::ChargebackRate];
    let total = query(input, &q.metric_query(metrics, range)).await?;
    let (mut ev, coverage) = evidence(input, Agent::Disputes, &total, range).await?;
    let mut out = Output { coverage: Some(coverage), ..Output::default() };
    let none = BTreeMap::new();
    for (m, v) in metrics.iter().zip(&total.rows[0].values) {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), v, m.unit(), &none, None));
    }
    let (cbs, approved) =
        (total.rows[0].values[0].count().unwrap_or(0), total.rows[0].values[1].count().unwrap_or(0));
    out.sample = Some((cbs, approved.max(cbs)));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    out.sentences.push(format!(
        "Chargebacks{scope} over {}: {} against {} approved authorizations, a chargeback rate of {}.",
        range.display_days(),
        int(cbs),
        int(approved),
        total.rows[0].values[2].as_f64().map(pct).unwrap_or_else(|| "not defined".into())
    ));
    let by = query(
        input,
        &q.metric_query(metrics, range).group_by(Dimension::MerchantId).group_by(Dimension::Network).top(
            Metric::ChargebackCount,
            50,
            true,
        ),
    )
    .await?;
    let mut flagged = Vec::new();
    let mut closest: Option<(f64, String, f64, u64)> = None;
    for row in &by.rows {
        let (count, MetricValue::Ratio { numerator, denominator }) =
            (row.values[0].count().unwrap_or(0), &row.values[2])
        else {
            continue;
        };
        if count == 0 || *denominator == 0 {
            continue;
        }
        let ratio = *numerator as f64 / *denominator as f64;
        let Some(p) = PROGRAMS.iter().find(|p| row.group[1].as_deref() == Some(p.network)) else { continue };
        let d = dims(input.merchants, &by.query.group_by, &row.group);
        let who = label(Dimension::MerchantId, row.group[0].as_deref(), input.merchants);
        // How close to the program: the smaller of the two fractions of its thresholds.
        let closeness = (ratio / p.ratio).min(count as f64 / (p.count_per_month * months));
        out.metrics.push(AnswerMetric::number("chargeback_rate", ratio, Unit::Ratio, &d, None));
        out.metrics.push(AnswerMetric::number("chargeback_count", count as f64, Unit::Count, &d, None));
        if closeness >= 1.0 {
            flagged.push(format!(
                "{who} on {} ({}, {} chargebacks) is over the {} thresholds",
                label(Dimension::Network, row.group[1].as_deref(), input.merchants),
                pct(ratio),
                int(count),
                p.name
            ));
        } else if closest.as_ref().is_none_or(|c| closeness > c.0) {
            closest = Some((
                closeness,
                format!("{who} on {}", label(Dimension::Network, row.group[1].as_deref(), input.merchants)),
                ratio,
                count,
            ));
        }
    }
    let thresholds = PROGRAMS
        .iter()
        .map(|p| {
            format!("{}: {} and {} chargebacks a month", p.name, pct(p.ratio), num(p.count_per_month, 0))
        })
        .collect::<Vec<_>>()
        .join("; ");
    if !flagged.is_empty() {
        out.sentences.push(format!("{}.", flagged.join("; ")));
        out.warnings.push(
            "Merchants over a monitoring program's thresholds face fines and remediation plans.".into(),
        );
    } else if let Some((_, who, ratio, count)) = closest {
        out.sentences.push(format!(
            "No merchant is over the networks' monitoring thresholds ({thresholds}); the closest is {who} at {} with {} chargebacks.",
            pct(ratio),
            int(count)
        ));
    } else {
        out.sentences
            .push(format!("No merchant is near the networks' monitoring thresholds ({thresholds})."));
    }
    ev.detail = Some(format!("thresholds scaled to {} months: {thresholds}", num(months, 1)));
    out.evidence.push(ev);
    out.followups.push("Which reason codes drive our chargebacks?".into());
    Ok(out)
}
