//! The vector index behind retrieval: documents with embeddings, searched by cosine similarity.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bank::BankContext;
use crate::error::Result;

/// A document to index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorDoc {
    /// Stable id; upserting the same id replaces the document.
    pub id: String,
    /// The embedding.
    pub vector: Vec<f32>,
    /// The text shown when the document is retrieved.
    pub text: String,
    /// Extra fields (`kind`, `report_id`, ...).
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
}

/// A search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorHit {
    /// Document id.
    pub id: String,
    /// Cosine similarity, −1 to 1.
    pub score: f32,
    /// Document text.
    pub text: String,
    /// Document metadata.
    pub metadata: BTreeMap<String, String>,
}

/// Cosine similarity; 0 when either vector is zero or the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0f32, 0f32, 0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}

/// A per-bank vector index.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// Inserts or replaces documents in the caller's namespace.
    async fn upsert(&self, ctx: &BankContext, docs: Vec<VectorDoc>) -> Result<()>;

    /// The `k` documents most similar to `vector`, best first (ties by id).
    async fn query(&self, ctx: &BankContext, vector: &[f32], k: usize) -> Result<Vec<VectorHit>>;

    /// Removes documents by id.
    async fn delete(&self, ctx: &BankContext, ids: &[String]) -> Result<()>;
}
