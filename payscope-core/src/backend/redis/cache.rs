//! The answer cache in Redis. Keys are `payscope:cache:{bank_id}:{digest}`: the bank comes
//! from the caller's context, so one bank's answers cannot be read with another's, and the
//! digest covers the question, its resolved scope and the bank's data version, so new data
//! never hits an old answer. Answers expire with the key (`SET … PX`).

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;

use super::{unavailable, Redis};
use crate::bank::BankContext;
use crate::error::Result;
use crate::store::cache::{AnswerCache, CacheKey};

/// The Redis answer cache.
#[derive(Debug, Clone)]
pub struct RedisCache {
    redis: Redis,
}

impl RedisCache {
    /// The cache on a connection.
    pub fn new(redis: Redis) -> RedisCache {
        RedisCache { redis }
    }

    fn key(ctx: &BankContext, key: &CacheKey) -> String {
        format!("payscope:cache:{}:{}", ctx.bank_id(), key.digest())
    }
}

#[async_trait]
impl AnswerCache for RedisCache {
    async fn get(&self, ctx: &BankContext, key: &CacheKey) -> Result<Option<String>> {
        self.redis.conn().get(Self::key(ctx, key)).await.map_err(unavailable)
    }

    async fn put(&self, ctx: &BankContext, key: &CacheKey, answer: String, ttl: Duration) -> Result<()> {
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.redis.conn().pset_ex::<_, _, ()>(Self::key(ctx, key), answer, millis).await.map_err(unavailable)
    }
}
