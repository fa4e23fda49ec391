//! The embedded entity graph.

use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;

use crate::bank::{BankContext, BankId};
use crate::calendar::Timestamp;
use crate::error::Result;
use crate::facts::CardToken;
use crate::store::graph::{
    rank_cpp, CardNode, CppQuery, CppRow, GraphBatch, GraphStore, MerchantNode, Relationship,
};

#[derive(Debug, Default)]
struct BankGraph {
    merchants: HashMap<String, MerchantNode>,
    cards: HashMap<CardToken, CardNode>,
    visits: HashMap<(CardToken, String), (Timestamp, Timestamp)>,
    accepts: BTreeSet<(String, String)>,
}

/// Nodes and edges per bank, merged idempotently.
#[derive(Debug, Default)]
pub struct MemoryGraph {
    banks: RwLock<HashMap<BankId, BankGraph>>,
}

fn keep_first<T>(slot: &mut Option<T>, new: &Option<T>)
where
    T: Clone,
{
    if slot.is_none() {
        slot.clone_from(new);
    }
}

#[async_trait]
impl GraphStore for MemoryGraph {
    async fn upsert(&self, ctx: &BankContext, batch: &GraphBatch) -> Result<()> {
        let mut banks = self.banks.write().unwrap_or_else(|e| e.into_inner());
        let g = banks.entry(ctx.bank_id()).or_default();
        for m in &batch.merchants {
            let node = g.merchants.entry(m.merchant_id.clone()).or_insert_with(|| m.clone());
            keep_first(&mut node.name, &m.name);
            keep_first(&mut node.mcc, &m.mcc);
            keep_first(&mut node.country, &m.country);
        }
        for c in &batch.cards {
            let node = g.cards.entry(c.card).or_insert_with(|| c.clone());
            keep_first(&mut node.issuer_bin, &c.issuer_bin);
            keep_first(&mut node.network, &c.network);
            node.first_fraud_at = match (node.first_fraud_at, c.first_fraud_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        for v in &batch.visits {
            let e = g.visits.entry((v.card, v.merchant_id.clone())).or_insert((v.first_at, v.last_at));
            e.0 = e.0.min(v.first_at);
            e.1 = e.1.max(v.last_at);
        }
        for a in &batch.accepts {
            g.accepts.insert((a.merchant_id.clone(), a.network.clone()));
        }
        Ok(())
    }

    async fn merchant_relationships(
        &self,
        ctx: &BankContext,
        merchant_id: &str,
        limit: usize,
    ) -> Result<Vec<Relationship>> {
        let banks = self.banks.read().unwrap_or_else(|e| e.into_inner());
        let Some(g) = banks.get(&ctx.bank_id()) else {
            return Ok(vec![]);
        };
        let mut out: Vec<Relationship> = g
            .accepts
            .iter()
            .filter(|(m, _)| m == merchant_id)
            .map(|(_, n)| Relationship {
                kind: "ACCEPTS".into(),
                other_label: "Network".into(),
                other_id: n.clone(),
                first_at: None,
                last_at: None,
            })
            .collect();
        let mut visits: Vec<Relationship> = g
            .visits
            .iter()
            .filter(|((_, m), _)| m == merchant_id)
            .map(|((card, _), (first, last))| Relationship {
                kind: "VISITED".into(),
                other_label: "Card".into(),
                other_id: card.to_string(),
                first_at: Some(*first),
                last_at: Some(*last),
            })
            .collect();
        visits.sort_by(|a, b| b.last_at.cmp(&a.last_at).then_with(|| a.other_id.cmp(&b.other_id)));
        out.extend(visits);
        out.truncate(limit);
        Ok(out)
    }

    async fn common_point_of_purchase(&self, ctx: &BankContext, q: &CppQuery) -> Result<Vec<CppRow>> {
        let banks = self.banks.read().unwrap_or_else(|e| e.into_inner());
        let Some(g) = banks.get(&ctx.bank_id()) else {
            return Ok(vec![]);
        };
        let fraud_at = |c: &CardToken| g.cards.get(c).and_then(|n| n.first_fraud_at);
        let in_window = |t: Timestamp| q.fraud_since.is_none_or(|s| t >= s);
        let fraud_cards = g.cards.values().filter(|c| c.first_fraud_at.is_some_and(in_window)).count() as u64;
        let other_cards = g.cards.values().filter(|c| c.first_fraud_at.is_none()).count() as u64;
        let mut per_merchant: HashMap<&str, (u64, u64)> = HashMap::new();
        for ((card, m), (first, _)) in &g.visits {
            match fraud_at(card) {
                Some(f) if in_window(f) && *first < f => per_merchant.entry(m).or_default().0 += 1,
                None => per_merchant.entry(m).or_default().1 += 1,
                _ => {}
            }
        }
        let mut rows: Vec<CppRow> = per_merchant
            .into_iter()
            .filter(|(_, (f, _))| *f >= q.min_fraud_cards.max(1))
            .map(|(m, (f, o))| CppRow {
                merchant_id: m.to_owned(),
                merchant_name: g.merchants.get(m).and_then(|n| n.name.clone()),
                fraud_cards_visited: f,
                fraud_cards,
                other_cards_visited: o,
                other_cards,
                lift: CppRow::lift(f, fraud_cards, o, other_cards),
            })
            .collect();
        rank_cpp(&mut rows);
        rows.truncate(q.limit);
        Ok(rows)
    }
}
