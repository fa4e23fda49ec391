//! Which agents answer a question. Independent agents run concurrently; the narrative
//! composes their output afterwards.

use super::Agent;
use crate::query::question::{Intent, Question};
use crate::store::metric::Metric;

fn any(q: &Question, metrics: &[Metric]) -> bool {
    q.metrics.iter().any(|m| metrics.contains(m))
}

const FRAUD: [Metric; 3] = [Metric::FraudCount, Metric::FraudAmount, Metric::FraudRate];
const DISPUTES: [Metric; 3] = [Metric::ChargebackCount, Metric::ChargebackAmount, Metric::ChargebackRate];

/// The agents a question needs, in the order their sentences read.
pub fn plan(q: &Question) -> Vec<Agent> {
    let mut agents = match q.intent {
        Intent::Describe => vec![Agent::Metrics],
        Intent::Trend => vec![Agent::Trend],
        Intent::Compare => vec![Agent::Compare],
        Intent::Breakdown => vec![Agent::Breakdown],
        Intent::Why => vec![Agent::RootCause],
        Intent::Anomaly => vec![Agent::Anomaly],
        Intent::Forecast => vec![Agent::Forecast],
        Intent::WhatIf => vec![Agent::WhatIf],
        Intent::Reconcile => vec![Agent::Reconcile],
        Intent::Lookup => vec![Agent::Retrieval],
        Intent::Relationship => vec![Agent::Graph],
        Intent::Clarify | Intent::Unsupported => vec![],
    };
    if q.intent == Intent::Describe && any(q, &FRAUD) && q.group_by.is_empty() {
        agents.push(Agent::Fraud);
    }
    if matches!(q.intent, Intent::Describe | Intent::Breakdown) && any(q, &DISPUTES) {
        agents.push(Agent::Disputes);
    }
    agents
}
