//! The entity graph: banks, merchants, networks, issuer BINs and card tokens, with the
//! aggregated edges the graph agent queries (relationships, common point of purchase).
//!
//! Edge properties are minima and maxima (first/last seen), so applying the same batch twice
//! changes nothing: updates are idempotent by edge id.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bank::BankContext;
use crate::calendar::Timestamp;
use crate::error::Result;
use crate::facts::{CardToken, Fact, Stage};

/// A merchant node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MerchantNode {
    /// Merchant id.
    pub merchant_id: String,
    /// Name, when known.
    pub name: Option<String>,
    /// MCC, when known.
    pub mcc: Option<String>,
    /// Country, when known.
    pub country: Option<String>,
}

/// A card visited a merchant (any stage), first and last time seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitEdge {
    /// The card.
    pub card: CardToken,
    /// The merchant.
    pub merchant_id: String,
    /// First time seen.
    pub first_at: Timestamp,
    /// Last time seen.
    pub last_at: Timestamp,
}

/// A card's attributes: its BIN and network, and its first reported fraud.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardNode {
    /// The card.
    pub card: CardToken,
    /// Issuer BIN.
    pub issuer_bin: Option<String>,
    /// Network.
    pub network: Option<String>,
    /// Earliest transaction reported as fraud.
    pub first_fraud_at: Option<Timestamp>,
}

/// A merchant accepts a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptsEdge {
    /// The merchant.
    pub merchant_id: String,
    /// The network.
    pub network: String,
}

/// A batch of graph updates derived from facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphBatch {
    /// Merchants.
    pub merchants: Vec<MerchantNode>,
    /// Cards.
    pub cards: Vec<CardNode>,
    /// Card → merchant visits.
    pub visits: Vec<VisitEdge>,
    /// Merchant → network.
    pub accepts: Vec<AcceptsEdge>,
}

impl GraphBatch {
    /// Aggregates facts into nodes and edges (one edge per card–merchant pair).
    pub fn from_facts(facts: &[Fact]) -> GraphBatch {
        use std::collections::BTreeMap;
        let mut merchants: BTreeMap<&str, MerchantNode> = BTreeMap::new();
        let mut cards: BTreeMap<CardToken, CardNode> = BTreeMap::new();
        let mut visits: BTreeMap<(CardToken, &str), (Timestamp, Timestamp)> = BTreeMap::new();
        let mut accepts: BTreeMap<(&str, &str), ()> = BTreeMap::new();
        for f in facts {
            if let Some(m) = f.merchant_id.as_deref() {
                let node = merchants.entry(m).or_insert_with(|| MerchantNode {
                    merchant_id: m.to_owned(),
                    name: None,
                    mcc: None,
                    country: None,
                });
                node.name = node.name.take().or_else(|| f.merchant_name.clone());
                node.mcc = node.mcc.take().or_else(|| f.mcc.clone());
                node.country = node.country.take().or_else(|| f.merchant_country.map(|c| c.to_string()));
                if let Some(n) = &f.network {
                    accepts.insert((m, n.as_str()), ());
                }
            }
            let Some(card) = f.card_token else { continue };
            let node = cards.entry(card).or_insert_with(|| CardNode {
                card,
                issuer_bin: None,
                network: None,
                first_fraud_at: None,
            });
            node.issuer_bin = node.issuer_bin.take().or_else(|| f.issuer_bin.clone());
            node.network = node.network.take().or_else(|| f.network.as_ref().map(|n| n.to_string()));
            if f.fraud_reported || f.stage == Stage::Fraud {
                node.first_fraud_at =
                    Some(node.first_fraud_at.map_or(f.occurred_at, |t| t.min(f.occurred_at)));
            }
            if let (Some(m), true) = (f.merchant_id.as_deref(), f.stage != Stage::Fraud) {
                let e = visits.entry((card, m)).or_insert((f.occurred_at, f.occurred_at));
                e.0 = e.0.min(f.occurred_at);
                e.1 = e.1.max(f.occurred_at);
            }
        }
        GraphBatch {
            merchants: merchants.into_values().collect(),
            cards: cards.into_values().collect(),
            visits: visits
                .into_iter()
                .map(|((card, m), (first_at, last_at))| VisitEdge {
                    card,
                    merchant_id: m.to_owned(),
                    first_at,
                    last_at,
                })
                .collect(),
            accepts: accepts
                .into_keys()
                .map(|(m, n)| AcceptsEdge { merchant_id: m.to_owned(), network: n.to_owned() })
                .collect(),
        }
    }

    /// True when the batch holds nothing.
    pub fn is_empty(&self) -> bool {
        self.merchants.is_empty()
            && self.cards.is_empty()
            && self.visits.is_empty()
            && self.accepts.is_empty()
    }
}

/// Parameters of a common-point-of-purchase search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CppQuery {
    /// Only fraud first reported inside this window counts (all time when `None`).
    pub fraud_since: Option<Timestamp>,
    /// Merchants visited by fewer fraud cards than this are ignored.
    pub min_fraud_cards: u64,
    /// Rows to return.
    pub limit: usize,
}

/// A merchant that fraud-flagged cards visited before their first fraud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CppRow {
    /// Merchant id.
    pub merchant_id: String,
    /// Merchant name, when known.
    pub merchant_name: Option<String>,
    /// Fraud cards that visited the merchant before their first fraud.
    pub fraud_cards_visited: u64,
    /// Fraud cards in total.
    pub fraud_cards: u64,
    /// Other cards that visited the merchant.
    pub other_cards_visited: u64,
    /// Other cards in total.
    pub other_cards: u64,
    /// `(fraud_cards_visited / fraud_cards) / ((other_cards_visited + 1) / (other_cards + 1))`.
    pub lift: f64,
}

impl CppRow {
    /// Computes the lift with add-one smoothing on the other cards, so a merchant no clean card
    /// visited does not divide by zero.
    pub fn lift(fraud_visited: u64, fraud_cards: u64, other_visited: u64, other_cards: u64) -> f64 {
        if fraud_cards == 0 {
            return 0.0;
        }
        let fraud_share = fraud_visited as f64 / fraud_cards as f64;
        let other_share = (other_visited as f64 + 1.0) / (other_cards as f64 + 1.0);
        fraud_share / other_share
    }
}

/// A neighbour of an entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relationship {
    /// Edge type (`VISITED`, `ACCEPTS`, `ISSUED_BY`).
    pub kind: String,
    /// The other node's label (`Card`, `Merchant`, `Network`, `IssuerBin`).
    pub other_label: String,
    /// The other node's id.
    pub other_id: String,
    /// First time seen, for visits.
    pub first_at: Option<Timestamp>,
    /// Last time seen, for visits.
    pub last_at: Option<Timestamp>,
}

/// Sorts CPP rows best first: lift, then fraud cards visited, then merchant id.
pub fn rank_cpp(rows: &mut [CppRow]) {
    rows.sort_by(|a, b| {
        b.lift
            .total_cmp(&a.lift)
            .then(b.fraud_cards_visited.cmp(&a.fraud_cards_visited))
            .then(a.merchant_id.cmp(&b.merchant_id))
    });
}

/// The entity graph.
#[async_trait]
pub trait GraphStore: Send + Sync {
    /// Merges nodes and edges into the caller's graph (idempotent).
    async fn upsert(&self, ctx: &BankContext, batch: &GraphBatch) -> Result<()>;

    /// Relationships of a merchant (its networks and the cards that visited it), at most `limit`.
    async fn merchant_relationships(
        &self,
        ctx: &BankContext,
        merchant_id: &str,
        limit: usize,
    ) -> Result<Vec<Relationship>>;

    /// Merchants that fraud cards visited before their first fraud, ranked by lift.
    async fn common_point_of_purchase(&self, ctx: &BankContext, query: &CppQuery) -> Result<Vec<CppRow>>;
}
