//! Reconciliation: approved authorizations matched to their clearing and settlement records,
//! with what is unmatched, what settled for a different amount, and how long settlement took.

use std::collections::BTreeMap;

use super::{evidence, query, scope_text, Agent, Input, Output};
use crate::calendar::MS_PER_DAY;
use crate::error::Result;
use crate::query::answer::{int, moneys, num, pct, AnswerMetric, Evidence};
use crate::store::metric::{Metric, Unit};
use crate::store::reconcile::ReconcileQuery;

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    let q = input.q;
    let range = q.time.range;
    let rq = ReconcileQuery { range, filters: q.filters.clone(), examples: 5 };
    let rec = input.stores.metrics.reconcile(input.ctx, &rq).await?;
    let r = query(
        input,
        &q.metric_query(
            [Metric::UnmatchedAuthCount, Metric::ReconciliationRate, Metric::SettlementDelayHours],
            range,
        ),
    )
    .await?;
    let (ev, coverage) = evidence(input, Agent::Reconcile, &r, range).await?;
    let mut out = Output { coverage: Some(coverage), evidence: vec![ev], ..Output::default() };
    let none = BTreeMap::new();
    for (m, v) in r.query.metrics.iter().zip(&r.rows[0].values) {
        out.metrics.extend(AnswerMetric::from_value(m.as_str(), v, m.unit(), &none, None));
    }
    out.metrics.push(AnswerMetric::number(
        "approved_count",
        rec.approved_auths as f64,
        Unit::Count,
        &none,
        None,
    ));
    out.metrics.push(AnswerMetric::number(
        "cleared_auth_count",
        rec.cleared as f64,
        Unit::Count,
        &none,
        None,
    ));
    out.metrics.push(AnswerMetric::number(
        "settled_auth_count",
        rec.settled as f64,
        Unit::Count,
        &none,
        None,
    ));
    out.metrics.push(AnswerMetric::number(
        "amount_mismatch_count",
        rec.amount_mismatches as f64,
        Unit::Count,
        &none,
        None,
    ));
    for m in &rec.unmatched_amount {
        out.metrics.push(AnswerMetric::money("unmatched_amount", *m, &none, None));
    }
    for m in &rec.mismatch_difference {
        out.metrics.push(AnswerMetric::money("mismatch_difference", *m, &none, None));
    }
    let max_hours = rec.delay_max_millis as f64 / 3_600_000.0;
    out.metrics.push(AnswerMetric::number("settlement_delay_max_hours", max_hours, Unit::Hours, &none, None));
    out.sample = Some((rec.settled, rec.approved_auths));
    let scope = scope_text(&q.filters, &q.amount, input.merchants);
    if rec.approved_auths == 0 {
        out.sentences.push(format!(
            "There are no approved authorizations{scope} over {} to reconcile.",
            range.display_days()
        ));
        return Ok(out);
    }
    let rate = rec.settled as f64 / rec.approved_auths as f64;
    out.sentences.push(format!(
        "Of {} approved authorizations{scope} over {}, {} ({}) have settled and {} have not settled yet, worth {}; {} were cleared.",
        int(rec.approved_auths),
        range.display_days(),
        int(rec.settled),
        pct(rate),
        int(rec.unmatched),
        moneys(&rec.unmatched_amount),
        int(rec.cleared)
    ));
    if rec.settled > 0 {
        let mean = rec.delay_total_millis as f64 / rec.settled as f64 / 3_600_000.0;
        let mut s = format!(
            "Settlement took {} hours on average (longest {} hours)",
            num(mean, 1),
            num(max_hours, 1)
        );
        if rec.amount_mismatches > 0 {
            s.push_str(&format!(
                "; {} settled for a different amount than authorized (net difference {})",
                int(rec.amount_mismatches),
                moneys(&rec.mismatch_difference)
            ));
        }
        s.push('.');
        out.sentences.push(s);
    }
    let recent = crate::calendar::Timestamp(range.to.0 - 3 * MS_PER_DAY);
    if range.to > recent && rec.unmatched > 0 {
        out.warnings.push("Authorizations from the last three days of the range normally settle within one to three days; some unmatched ones will still settle.".into());
    }
    if !rec.unmatched_examples.is_empty() {
        out.evidence.push(Evidence {
            agent: Agent::Reconcile.name().into(),
            metric: Some("unmatched_auth_count".into()),
            source: "facts".into(),
            facts_scanned: 0,
            coverage: None,
            detail: Some(format!("oldest unmatched transactions: {}", rec.unmatched_examples.join(", "))),
        });
    }
    out.followups.push("Which merchants have the most unsettled authorizations?".into());
    Ok(out)
}
