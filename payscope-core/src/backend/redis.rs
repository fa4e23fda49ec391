//! The answer cache in Redis (feature `redis`), shared by every API instance.
//!
//! Keys are `payscope:cache:{bank_id}:{digest}`: the bank comes from the caller's context, so
//! one bank's answers cannot be read with another's, and the digest covers the question, its
//! resolved scope and the bank's data version, so new data never hits an old answer. Answers
//! expire with the key (`SET … PX`). The connection manager reconnects on its own after
//! Redis restarts; until then cache calls fail fast and the engine answers uncached.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::AsyncCommands;

use crate::bank::BankContext;
use crate::engine::Probe;
use crate::error::{Error, Result};
use crate::store::cache::{AnswerCache, CacheKey};

/// The Redis answer cache (also the `redis` readiness probe).
#[derive(Clone)]
pub struct RedisCache {
    conn: ConnectionManager,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis", e)
}

impl RedisCache {
    /// Connects to `url` (`redis://` or `rediss://`), failing with a clear error when it
    /// cannot be reached within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<RedisCache> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::invalid("invalid_config", format!("REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        Ok(RedisCache { conn })
    }

    fn key(ctx: &BankContext, key: &CacheKey) -> String {
        format!("payscope:cache:{}:{}", ctx.bank_id(), key.digest())
    }
}

#[async_trait]
impl AnswerCache for RedisCache {
    async fn get(&self, ctx: &BankContext, key: &CacheKey) -> Result<Option<String>> {
        let mut conn = self.conn.clone();
        conn.get(Self::key(ctx, key)).await.map_err(unavailable)
    }

    async fn put(&self, ctx: &BankContext, key: &CacheKey, answer: String, ttl: Duration) -> Result<()> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut conn = self.conn.clone();
        conn.pset_ex::<_, _, ()>(Self::key(ctx, key), answer, millis).await.map_err(unavailable)
    }
}

#[async_trait]
impl Probe for RedisCache {
    fn dependency(&self) -> &'static str {
        "redis"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(unavailable)
    }
}
