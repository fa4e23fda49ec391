//! Disputes: chargeback counts and ratios per merchant and network, measured against the
//! networks' monitoring programs in effect at the end of the period (`programs`: Visa's VAMP,
//! Mastercard's ECM), with their thresholds scaled to the length of the period.

use std::collections::BTreeMap;

use super::programs::{in_effect, Measure};
use super::{dims, evidence, label, query, scope_text, Agent, Input, Output};
use crate::calendar::{Timestamp, MS_PER_DAY};
use crate::error::Result;
use crate::query::answer::{int, num, pct, AnswerMetric};
use crate::store::metric::{Dimension, Metric, MetricValue, Unit};

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
    // The programs in effect on the period's last day.
    let programs = in_effect(Timestamp(range.to.0 - 1).date());
    let grouped = [
        Metric::ChargebackCount,
        Metric::ApprovedCount,
        Metric::ChargebackRate,
        Metric::FraudCount,
        Metric::SettledCount,
    ];
    let by = query(
        input,
        &q.metric_query(grouped, range).group_by(Dimension::MerchantId).group_by(Dimension::Network).top(
            Metric::ChargebackCount,
            100,
            true,
        ),
    )
    .await?;
    let mut flagged = Vec::new();
    let mut closest: Option<(f64, String, f64, String)> = None;
    for row in &by.rows {
        let value = |k: usize| row.values[k].count().unwrap_or(0);
        let (chargebacks, approved, fraud, settled) = (value(0), value(1), value(3), value(4));
        let Some(p) = programs.iter().find(|p| row.group[1].as_deref() == Some(p.network)) else { continue };
        // The program's own ratio: VAMP counts fraud reports with disputes, over settled sales.
        let (count, base) = match p.measure {
            Measure::FraudAndDisputesPerSettled => (fraud + chargebacks, settled),
            Measure::ChargebacksPerTransactions => (chargebacks, approved),
        };
        if count == 0 || base == 0 {
            continue;
        }
        let ratio = count as f64 / base as f64;
        let d = dims(input.merchants, &by.query.group_by, &row.group);
        let who = label(Dimension::MerchantId, row.group[0].as_deref(), input.merchants);
        let network = label(Dimension::Network, row.group[1].as_deref(), input.merchants);
        let threshold = p.count_per_month * months;
        let over_count =
            if p.count_strictly_above { count as f64 > threshold } else { count as f64 >= threshold };
        // How close to the program: the smaller of the two fractions of its thresholds.
        let closeness = (ratio / p.ratio).min(count as f64 / threshold);
        if let MetricValue::Ratio { .. } = row.values[2] {
            out.metrics.extend(AnswerMetric::from_value(
                "chargeback_rate",
                &row.values[2],
                Unit::Ratio,
                &d,
                None,
            ));
        }
        out.metrics.push(AnswerMetric::number("chargeback_count", chargebacks as f64, Unit::Count, &d, None));
        out.metrics.push(AnswerMetric::number("program_ratio", ratio, Unit::Ratio, &d, None));
        out.metrics.push(AnswerMetric::number("program_count", count as f64, Unit::Count, &d, None));
        if ratio >= p.ratio && over_count {
            flagged.push(format!(
                "{who} on {network} ({}, {}) is over the {} thresholds",
                p.measure.count_text(count, int),
                pct(ratio),
                p.name
            ));
        } else if closest.as_ref().is_none_or(|c| closeness > c.0) {
            closest =
                Some((closeness, format!("{who} on {network}"), ratio, p.measure.count_text(count, int)));
        }
    }
    let thresholds = programs.iter().map(|p| p.thresholds_text(pct, int)).collect::<Vec<_>>().join("; ");
    if !flagged.is_empty() {
        out.sentences.push(format!("{}.", flagged.join("; ")));
        out.warnings.push(
            "Merchants over a monitoring program's thresholds face fines and remediation plans.".into(),
        );
    } else if let Some((_, who, ratio, counted)) = closest {
        out.sentences.push(format!(
            "No merchant is over the networks' monitoring thresholds ({thresholds}); the closest is {who} at {} with {counted}.",
            pct(ratio)
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
