//! The embedded vector index: exact cosine top-k over each bank's documents.

use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use async_trait::async_trait;

use crate::bank::{BankContext, BankId};
use crate::error::Result;
use crate::store::vector::{cosine, VectorDoc, VectorHit, VectorIndex};

/// Documents per bank, by id.
#[derive(Debug, Default)]
pub struct MemoryVectors {
    banks: RwLock<HashMap<BankId, BTreeMap<String, VectorDoc>>>,
}

#[async_trait]
impl VectorIndex for MemoryVectors {
    async fn upsert(&self, ctx: &BankContext, docs: Vec<VectorDoc>) -> Result<()> {
        let mut banks = self.banks.write().unwrap_or_else(|e| e.into_inner());
        let bank = banks.entry(ctx.bank_id()).or_default();
        for d in docs {
            bank.insert(d.id.clone(), d);
        }
        Ok(())
    }

    async fn query(&self, ctx: &BankContext, vector: &[f32], k: usize) -> Result<Vec<VectorHit>> {
        let banks = self.banks.read().unwrap_or_else(|e| e.into_inner());
        let Some(bank) = banks.get(&ctx.bank_id()) else {
            return Ok(vec![]);
        };
        let mut hits: Vec<VectorHit> = bank
            .values()
            .map(|d| VectorHit {
                id: d.id.clone(),
                score: cosine(vector, &d.vector),
                text: d.text.clone(),
                metadata: d.metadata.clone(),
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    async fn delete(&self, ctx: &BankContext, ids: &[String]) -> Result<()> {
        let mut banks = self.banks.write().unwrap_or_else(|e| e.into_inner());
        if let Some(bank) = banks.get_mut(&ctx.bank_id()) {
            for id in ids {
                bank.remove(id);
            }
        }
        Ok(())
    }
}
