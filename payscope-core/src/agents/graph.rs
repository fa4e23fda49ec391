//! The entity graph: the common point of purchase of fraud cards, and a merchant's relationships.

use std::collections::BTreeMap;

use super::{label, Input, Output};
use crate::error::Result;
use crate::query::answer::{int, num, pct, AnswerMetric, Evidence};
use crate::query::question::RelationshipTarget;
use crate::store::graph::CppQuery;
use crate::store::metric::{Dimension, Unit};

pub(super) async fn run(input: &Input<'_>) -> Result<Output> {
    match &input.q.relationship {
        Some(RelationshipTarget::Merchant { merchant_id }) => merchant(input, merchant_id).await,
        _ => common_point_of_purchase(input).await,
    }
}

async fn common_point_of_purchase(input: &Input<'_>) -> Result<Output> {
    let rows = input
        .stores
        .graph
        .common_point_of_purchase(input.ctx, &CppQuery { fraud_since: None, min_fraud_cards: 2, limit: 5 })
        .await?;
    let mut out = Output::default();
    out.evidence.push(Evidence {
        agent: "graph".into(),
        metric: Some("common_point_of_purchase".into()),
        source: "graph".into(),
        facts_scanned: 0,
        coverage: None,
        detail: Some("cards with a fraud report; merchants they visited before their first fraud, against the bank's other cards".into()),
    });
    let Some(top) = rows.first() else {
        out.sentences.push("No merchant was visited by two or more fraud cards before their fraud, so there is no common point of purchase to report.".into());
        return Ok(out);
    };
    out.sample = Some((top.fraud_cards_visited, top.fraud_cards));
    let parts: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut d = BTreeMap::from([("merchant_id".to_owned(), r.merchant_id.clone())]);
            if let Some(name) = &r.merchant_name {
                d.insert("merchant_name".into(), name.clone());
            }
            out.metrics.push(AnswerMetric::number(
                "fraud_cards_visited",
                r.fraud_cards_visited as f64,
                Unit::Count,
                &d,
                None,
            ));
            out.metrics.push(AnswerMetric::number(
                "fraud_cards",
                r.fraud_cards as f64,
                Unit::Count,
                &d,
                None,
            ));
            out.metrics.push(AnswerMetric::number(
                "other_cards_visited",
                r.other_cards_visited as f64,
                Unit::Count,
                &d,
                None,
            ));
            out.metrics.push(AnswerMetric::number(
                "other_cards",
                r.other_cards as f64,
                Unit::Count,
                &d,
                None,
            ));
            let fraud_share = r.fraud_cards_visited as f64 / r.fraud_cards.max(1) as f64;
            let other_share = r.other_cards_visited as f64 / r.other_cards.max(1) as f64;
            out.metrics.push(AnswerMetric::number(
                "fraud_cards_visited_share",
                fraud_share,
                Unit::Ratio,
                &d,
                None,
            ));
            out.metrics.push(AnswerMetric::number(
                "other_cards_visited_share",
                other_share,
                Unit::Ratio,
                &d,
                None,
            ));
            out.metrics.push(AnswerMetric::number("common_point_lift", r.lift, Unit::Count, &d, None));
            let name = r
                .merchant_name
                .as_ref()
                .map_or(r.merchant_id.clone(), |n| format!("{n} ({})", r.merchant_id));
            format!(
                "{name}: {} of {} fraud cards ({}) against {} of {} other cards ({}), a lift of {}",
                int(r.fraud_cards_visited),
                int(r.fraud_cards),
                pct(fraud_share),
                int(r.other_cards_visited),
                int(r.other_cards),
                pct(other_share),
                num(r.lift, 1)
            )
        })
        .collect();
    out.sentences.push(format!(
        "Merchants our fraud cards had in common before their first fraud, ranked by how much more often fraud cards visited them than other cards: {}.",
        parts.join("; ")
    ));
    out.sentences.push(format!(
        "{} is the likeliest point of compromise.",
        label(Dimension::MerchantId, Some(&top.merchant_id), input.merchants)
    ));
    out.followups.push(format!("Show fraud at {} over the last 90 days", top.merchant_id));
    Ok(out)
}

async fn merchant(input: &Input<'_>, merchant_id: &str) -> Result<Output> {
    let rel = input.stores.graph.merchant_relationships(input.ctx, merchant_id, 10_000).await?;
    let mut out = Output::default();
    let networks: Vec<&str> =
        rel.iter().filter(|r| r.kind == "ACCEPTS").map(|r| r.other_id.as_str()).collect();
    let cards = rel.iter().filter(|r| r.kind == "VISITED").count();
    let d = super::dims(input.merchants, &[Dimension::MerchantId], &[Some(merchant_id.to_owned())]);
    out.metrics.push(AnswerMetric::number("cards_seen", cards as f64, Unit::Count, &d, None));
    out.sample = Some((cards as u64, cards as u64));
    let who = label(Dimension::MerchantId, Some(merchant_id), input.merchants);
    out.sentences.push(if rel.is_empty() {
        format!("{who} has no relationships in the graph yet.")
    } else {
        format!(
            "{who} accepts {} and has seen {} distinct cards.",
            if networks.is_empty() { "no recorded network".to_owned() } else { networks.join(", ") },
            int(cards as u64)
        )
    });
    out.evidence.push(Evidence {
        agent: "graph".into(),
        metric: None,
        source: "graph".into(),
        facts_scanned: 0,
        coverage: None,
        detail: None,
    });
    Ok(out)
}
