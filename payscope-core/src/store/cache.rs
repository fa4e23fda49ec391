//! Cache of serialized answers, keyed so that new data or another bank never hits.

use std::time::Duration;

use async_trait::async_trait;

use crate::bank::BankContext;
use crate::error::Result;

/// The parts of a cache key other than the bank (which every backend adds from the context).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The question, normalized (lowercased, whitespace collapsed).
    pub question: String,
    /// The resolved time range and request options, as text.
    pub scope: String,
    /// The bank's data version when the answer was computed.
    pub data_version: u64,
}

impl CacheKey {
    /// A stable digest of the key, for backends that need a short string.
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(self.question.as_bytes());
        h.update([0]);
        h.update(self.scope.as_bytes());
        h.update([0]);
        h.update(self.data_version.to_le_bytes());
        hex::encode(&h.finalize()[..16])
    }
}

/// Stores answers for a while.
#[async_trait]
pub trait AnswerCache: Send + Sync {
    /// A cached answer for the caller's bank.
    async fn get(&self, ctx: &BankContext, key: &CacheKey) -> Result<Option<String>>;

    /// Stores an answer for the caller's bank for `ttl`.
    async fn put(&self, ctx: &BankContext, key: &CacheKey, answer: String, ttl: Duration) -> Result<()>;
}
