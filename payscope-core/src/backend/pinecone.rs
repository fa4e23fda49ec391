//! Pinecone (feature `pinecone`): the [`VectorIndex`] on Pinecone's data plane, one namespace
//! per bank. Documents are upserted in batches of at most 100 vectors; their text and metadata
//! travel as Pinecone metadata. Every call is idempotent (upserts by id, deletes by id), so
//! 429s, 5xx and transport errors are retried with backoff.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::bank::BankContext;
use crate::config::PineconeSettings;
use crate::error::{Error, Result};
use crate::http_client::{post_json, Retries};
use crate::store::vector::{VectorDoc, VectorHit, VectorIndex};
use crate::store::Probe;

/// Pinecone's limit on vectors per upsert request.
pub const UPSERT_BATCH: usize = 100;
/// The data-plane API version requests are written against.
const API_VERSION: &str = "2024-07";
/// The first try and three retries, 100 ms, 400 ms and 1.6 s apart.
const RETRIES: Retries = Retries { attempts: 4, first_wait: Duration::from_millis(100), growth: 4 };
/// The metadata field holding a document's text.
const TEXT_FIELD: &str = "payscope_text";

/// A Pinecone index.
#[derive(Clone)]
pub struct Pinecone {
    http: reqwest::Client,
    host: String,
    api_key: SecretString,
}

impl std::fmt::Debug for Pinecone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pinecone").field("host", &self.host).finish_non_exhaustive()
    }
}

fn unavailable(reason: impl std::fmt::Display) -> Error {
    Error::unavailable("pinecone", reason)
}

impl Pinecone {
    /// A client for the index at `settings.host`.
    pub fn new(settings: &PineconeSettings) -> Result<Pinecone> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| Error::internal(format!("cannot build the Pinecone client: {e}")))?;
        Ok(Pinecone {
            http,
            host: settings.host.trim_end_matches('/').to_owned(),
            api_key: settings.api_key.clone(),
        })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        let url = format!("{}{path}", self.host);
        post_json("pinecone", path, RETRIES, || {
            self.http
                .post(&url)
                .header("Api-Key", self.api_key.expose_secret())
                .header("X-Pinecone-API-Version", API_VERSION)
                .json(body)
        })
        .await
    }
}

/// A bank's namespace.
fn namespace(ctx: &BankContext) -> String {
    ctx.bank_id().to_string()
}

fn to_vector(doc: VectorDoc) -> Value {
    let mut metadata: Map<String, Value> =
        doc.metadata.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    metadata.insert(TEXT_FIELD.to_owned(), Value::String(doc.text));
    json!({ "id": doc.id, "values": doc.vector, "metadata": metadata })
}

#[derive(Deserialize)]
struct QueryResponse {
    #[serde(default)]
    matches: Vec<Match>,
}

#[derive(Deserialize)]
struct Match {
    id: String,
    score: f32,
    #[serde(default)]
    metadata: Map<String, Value>,
}

impl From<Match> for VectorHit {
    fn from(m: Match) -> VectorHit {
        let mut text = String::new();
        let mut metadata = BTreeMap::new();
        for (k, v) in m.metadata {
            let v = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if k == TEXT_FIELD {
                text = v;
            } else {
                metadata.insert(k, v);
            }
        }
        VectorHit { id: m.id, score: m.score, text, metadata }
    }
}

#[async_trait]
impl VectorIndex for Pinecone {
    async fn upsert(&self, ctx: &BankContext, docs: Vec<VectorDoc>) -> Result<()> {
        let ns = namespace(ctx);
        let mut docs = docs.into_iter().peekable();
        while docs.peek().is_some() {
            let batch: Vec<Value> = docs.by_ref().take(UPSERT_BATCH).map(to_vector).collect();
            self.post("/vectors/upsert", &json!({ "vectors": batch, "namespace": ns })).await?;
        }
        Ok(())
    }

    async fn query(&self, ctx: &BankContext, vector: &[f32], k: usize) -> Result<Vec<VectorHit>> {
        if k == 0 {
            return Ok(vec![]);
        }
        let body = json!({
            "vector": vector,
            "topK": k,
            "namespace": namespace(ctx),
            "includeMetadata": true,
            "includeValues": false,
        });
        let response: QueryResponse = serde_json::from_value(self.post("/query", &body).await?)
            .map_err(|e| unavailable(format!("/query: unexpected response: {e}")))?;
        let mut hits: Vec<VectorHit> = response.matches.into_iter().map(VectorHit::from).collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }

    async fn delete(&self, ctx: &BankContext, ids: &[String]) -> Result<()> {
        let ns = namespace(ctx);
        for chunk in ids.chunks(1000) {
            self.post("/vectors/delete", &json!({ "ids": chunk, "namespace": ns })).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Probe for Pinecone {
    fn dependency(&self) -> &'static str {
        "pinecone"
    }
    fn required(&self) -> bool {
        // Only retrieval over a bank's own documents needs it; metric questions do not.
        false
    }
    async fn check(&self) -> Result<()> {
        self.post("/describe_index_stats", &json!({})).await.map(|_| ())
    }
}
