//! Agents: each answers one kind of question from the stores and returns computed numbers,
//! series, evidence and sentences that quote only those numbers. The engine runs the agents a
//! plan names concurrently, times and counts each, and the narrative composes their output.

mod anomaly;
mod breakdown;
mod compare;
mod disputes;
mod forecast;
mod fraud;
mod graph;
pub mod knowledge;
mod metrics;
pub mod narrative;
pub mod plan;
pub mod programs;
mod reconcile;
mod retrieval;
mod root_cause;
mod segments;
mod trend;
mod what_if;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::bank::BankContext;
use crate::calendar::TimeRange;
use crate::error::Result;
use crate::llm::Embedder;
use crate::money::Currency;
use crate::query::answer::{AnswerMetric, Evidence, Forecast, Series};
use crate::query::question::Question;
use crate::store::metric::{Dimension, Filter, MetricQuery, MetricResult};
use crate::store::vector::VectorHit;
use crate::store::Stores;

/// Display labels of a bank's merchants (id → name).
pub type MerchantNames = HashMap<String, String>;

/// What every agent gets.
pub struct Input<'a> {
    /// The stores.
    pub stores: &'a Stores,
    /// The caller's bank.
    pub ctx: &'a BankContext,
    /// The question.
    pub q: &'a Question,
    /// Merchant names for labels.
    pub merchants: &'a MerchantNames,
    /// Embedder for retrieval.
    pub embedder: &'a Embedder,
    /// The built-in knowledge base, embedded once.
    pub knowledge: &'a Arc<KnowledgeIndex>,
    /// The bank's main currency (most approved transactions in the range), which summaries
    /// describe when amounts come in several currencies.
    pub home: Option<Currency>,
}

/// The currency a summary describes among `amounts`: the bank's main currency when present,
/// else the first.
pub(crate) fn main_currency(input: &Input<'_>, amounts: &[crate::money::Money]) -> Option<Currency> {
    amounts
        .iter()
        .map(|m| m.currency)
        .find(|c| Some(*c) == input.home)
        .or_else(|| amounts.first().map(|m| m.currency))
}

/// What an agent found.
#[derive(Debug, Default, Clone)]
pub struct Output {
    /// Computed numbers.
    pub metrics: Vec<AnswerMetric>,
    /// Series.
    pub series: Vec<Series>,
    /// A forecast.
    pub forecast: Option<Forecast>,
    /// Provenance.
    pub evidence: Vec<Evidence>,
    /// Summary sentences; every number in them is one of `metrics`/`series`/`forecast`.
    pub sentences: Vec<String>,
    /// Caveats.
    pub warnings: Vec<String>,
    /// Questions worth asking next.
    pub followups: Vec<String>,
    /// `(successes, trials)` behind the headline rate, or `(n, n)` for counts: the sample size.
    pub sample: Option<(u64, u64)>,
    /// Share of the range's days with data.
    pub coverage: Option<f64>,
    /// How far the agent's own check trusts its result (0–1: a forecast's backtest), used
    /// for the confidence instead of the sample size.
    pub reliability: Option<f64>,
}

impl Output {
    /// Appends another output.
    pub fn merge(&mut self, o: Output) {
        // Two agents may report the same number (describe and disputes both give the rate).
        for m in o.metrics {
            let duplicate = self.metrics.iter().any(|x| {
                x.name == m.name
                    && x.dimensions == m.dimensions
                    && x.period == m.period
                    && x.currency == m.currency
            });
            if !duplicate {
                self.metrics.push(m);
            }
        }
        self.series.extend(o.series);
        self.forecast = self.forecast.take().or(o.forecast);
        self.evidence.extend(o.evidence);
        self.sentences.extend(o.sentences);
        for w in o.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for f in o.followups {
            if !self.followups.contains(&f) {
                self.followups.push(f);
            }
        }
        self.sample = self.sample.or(o.sample);
        self.reliability = match (self.reliability, o.reliability) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.coverage = match (self.coverage, o.coverage) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// The agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Agent {
    /// Totals over a period.
    Metrics,
    /// Series over time.
    Trend,
    /// Entities or periods side by side.
    Compare,
    /// Top-N by a dimension.
    Breakdown,
    /// Period-over-period change decomposed.
    RootCause,
    /// Unusual days.
    Anomaly,
    /// Holt-Winters forecasts.
    Forecast,
    /// Hypothetical scenarios.
    WhatIf,
    /// AUTH ↔ CLEARING ↔ SETTLEMENT matching.
    Reconcile,
    /// Fraud overview.
    Fraud,
    /// Chargeback ratios against network programs.
    Disputes,
    /// Relationships and common point of purchase.
    Graph,
    /// The knowledge base and the bank's documents.
    Retrieval,
}

impl Agent {
    /// The agent's name (metric label and `agents_invoked` entry).
    pub fn name(self) -> &'static str {
        match self {
            Agent::Metrics => "metrics",
            Agent::Trend => "trend",
            Agent::Compare => "compare",
            Agent::Breakdown => "breakdown",
            Agent::RootCause => "root_cause",
            Agent::Anomaly => "anomaly",
            Agent::Forecast => "forecast",
            Agent::WhatIf => "what_if",
            Agent::Reconcile => "reconcile",
            Agent::Fraud => "fraud",
            Agent::Disputes => "disputes",
            Agent::Graph => "graph",
            Agent::Retrieval => "retrieval",
        }
    }

    /// Runs the agent.
    pub async fn run(self, input: &Input<'_>) -> Result<Output> {
        match self {
            Agent::Metrics => metrics::run(input).await,
            Agent::Trend => trend::run(input).await,
            Agent::Compare => compare::run(input).await,
            Agent::Breakdown => breakdown::run(input).await,
            Agent::RootCause => root_cause::run(input).await,
            Agent::Anomaly => anomaly::run(input).await,
            Agent::Forecast => forecast::run(input).await,
            Agent::WhatIf => what_if::run(input).await,
            Agent::Reconcile => reconcile::run(input).await,
            Agent::Fraud => fraud::run(input).await,
            Agent::Disputes => disputes::run(input).await,
            Agent::Graph => graph::run(input).await,
            Agent::Retrieval => retrieval::run(input).await,
        }
    }
}

/// The knowledge base with its embeddings, built once per engine.
#[derive(Debug, Default)]
pub struct KnowledgeIndex {
    docs: Vec<(String, String, Vec<f32>)>,
}

impl KnowledgeIndex {
    /// Embeds every knowledge-base document.
    pub async fn build(embedder: &Embedder) -> Result<KnowledgeIndex> {
        let docs = knowledge::documents();
        let texts: Vec<String> = docs.iter().map(|(_, t)| t.clone()).collect();
        let vectors = embedder.embed(&texts).await?;
        Ok(KnowledgeIndex { docs: docs.into_iter().zip(vectors).map(|((id, t), v)| (id, t, v)).collect() })
    }

    /// The `k` documents closest to `vector`.
    pub fn search(&self, vector: &[f32], k: usize) -> Vec<VectorHit> {
        let mut hits: Vec<VectorHit> = self
            .docs
            .iter()
            .map(|(id, text, v)| VectorHit {
                id: id.clone(),
                score: crate::store::vector::cosine(vector, v),
                text: text.clone(),
                metadata: BTreeMap::from([("source".to_owned(), "knowledge_base".to_owned())]),
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        hits
    }
}

/// Runs a metric query for an agent.
pub(crate) async fn query(input: &Input<'_>, q: &MetricQuery) -> Result<MetricResult> {
    input.stores.metrics.query(input.ctx, q).await
}

/// The question's metric query over `range` (metrics, filters; no grouping).
pub(crate) fn base_query(input: &Input<'_>, range: TimeRange) -> MetricQuery {
    input.q.metric_query(input.q.metrics.clone(), range)
}

/// Evidence and coverage for a result over `range`.
pub(crate) async fn evidence(
    input: &Input<'_>,
    agent: Agent,
    r: &MetricResult,
    range: TimeRange,
) -> Result<(Evidence, f64)> {
    let cov = input.stores.metrics.coverage(input.ctx, range).await?;
    let coverage =
        if cov.days_in_range == 0 { 0.0 } else { cov.days_with_data as f64 / cov.days_in_range as f64 };
    Ok((
        Evidence {
            agent: agent.name().to_owned(),
            metric: Some(r.query.metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(",")),
            source: r.source.as_str().to_owned(),
            facts_scanned: r.facts_scanned,
            coverage: Some((coverage * 1000.0).round() / 1000.0),
            detail: None,
        },
        coverage,
    ))
}

/// How a dimension value reads in a summary (`Harbor Hotel 4 (M000004)`, `05 (Do not honor)`).
pub(crate) fn label(dim: Dimension, value: Option<&str>, merchants: &MerchantNames) -> String {
    let Some(v) = value else { return "unknown".to_owned() };
    match dim {
        Dimension::MerchantId => merchants.get(v).map_or(v.to_owned(), |n| format!("{n} ({v})")),
        Dimension::ResponseCode => {
            knowledge::response_code(v).map_or(format!("code {v}"), |m| format!("code {v} ({m})"))
        }
        Dimension::ReasonCode => {
            knowledge::reason_code(v).map_or(format!("reason {v}"), |(_, m)| format!("reason {v} ({m})"))
        }
        Dimension::Mcc => knowledge::mcc(v).map_or(format!("MCC {v}"), |d| format!("MCC {v} ({d})")),
        Dimension::Network => crate::facts::Network::parse(v).map_or(v.to_owned(), |n| n.display_name()),
        Dimension::HourOfDay => format!("{v}:00 UTC"),
        Dimension::CrossBorder => if v == "true" { "cross-border" } else { "domestic" }.to_owned(),
        Dimension::DayOfWeek => {
            let mut c = v.chars();
            c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
        _ => v.to_owned(),
    }
}

/// The dimensions of a group as a map; a merchant id brings its name along.
pub(crate) fn dims(
    merchants: &MerchantNames,
    group_by: &[Dimension],
    group: &[Option<String>],
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = group_by
        .iter()
        .zip(group)
        .map(|(d, v)| (d.as_str().to_owned(), v.clone().unwrap_or_else(|| "unknown".into())))
        .collect();
    if let Some(name) = out.get("merchant_id").and_then(|id| merchants.get(id)) {
        out.entry("merchant_name".into()).or_insert_with(|| name.clone());
    }
    out
}

/// What a count metric counts (`15 chargebacks`).
pub(crate) fn noun(m: crate::store::metric::Metric) -> &'static str {
    use crate::store::metric::Metric::*;
    match m {
        TransactionCount => "authorization attempts",
        ApprovedCount => "approvals",
        DeclinedCount => "declines",
        ClearedCount => "clearing records",
        SettledCount => "settlements",
        RefundCount => "refunds",
        ChargebackCount => "chargebacks",
        FraudCount => "fraud cases",
        UnmatchedAuthCount => "unsettled authorizations",
        _ => "",
    }
}

/// A value with its noun for counts (`15 chargebacks`, `1 chargeback`), as summaries list them.
pub(crate) fn show_with_noun(
    m: crate::store::metric::Metric,
    v: &crate::store::metric::MetricValue,
) -> String {
    let shown = crate::query::answer::show(m, v);
    match noun(m) {
        "" => shown,
        n if v.count() == Some(1) => format!("{shown} {}", n.strip_suffix('s').unwrap_or(n)),
        n => format!("{shown} {n}"),
    }
}

/// ` for Visa, in EUR, between 22:00 and 23:59 UTC, above 100.00 USD` — the question's filters
/// and amount conditions in words, or nothing.
pub(crate) fn scope_text(
    filters: &[Filter],
    amount: &[crate::store::metric::AmountCondition],
    merchants: &MerchantNames,
) -> String {
    let parts: Vec<String> = filters
        .iter()
        .map(|f| {
            let values: Vec<String> =
                f.values.iter().map(|v| label(f.dimension, Some(v), merchants)).collect();
            if f.exclude {
                return format!("excluding {}", values.join(" and "));
            }
            match f.dimension {
                Dimension::Currency => format!("in {}", values.join(" or ")),
                Dimension::HourOfDay => {
                    let hours: Vec<u32> = f.values.iter().filter_map(|v| v.parse().ok()).collect();
                    match (hours.iter().min(), hours.iter().max()) {
                        (Some(lo), Some(hi)) if hours.len() as u32 == hi - lo + 1 => {
                            format!("between {lo:02}:00 and {hi:02}:59 UTC")
                        }
                        _ => format!("in the hours {}", values.join(", ")),
                    }
                }
                Dimension::DayOfWeek => format!("on {}", values.join(" and ")),
                Dimension::MerchantCountry => format!("at merchants in {}", values.join(" or ")),
                Dimension::IssuerCountry => format!("for cards issued in {}", values.join(" or ")),
                _ => format!("for {}", values.join(" or ")),
            }
        })
        .chain(amount.iter().map(|a| format!("for amounts {}", a.text())))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" {}", parts.join(", "))
    }
}
