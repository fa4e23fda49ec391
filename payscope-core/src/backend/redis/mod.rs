//! Redis (feature `redis`): the answer cache shared by every API instance ([`RedisCache`])
//! and the Redis Streams job queue shared by every worker ([`RedisQueue`]). Both use one
//! reconnecting connection manager; after Redis restarts, calls fail fast until it is back.

mod cache;
mod queue;

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use cache::RedisCache;
pub use queue::RedisQueue;

use crate::error::{Error, Result};
use crate::store::Probe;

fn unavailable(e: redis::RedisError) -> Error {
    Error::unavailable("redis", e)
}

/// A connection to Redis, shared by the cache and the queue (also the `redis` readiness probe).
#[derive(Clone)]
pub struct Redis {
    conn: ConnectionManager,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// Connects to `url` (`redis://`), failing with a clear error when it cannot be reached
    /// within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Redis> {
        let client = redis::Client::open(url)
            .map_err(|e| Error::invalid("invalid_config", format!("REDIS_URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2);
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(unavailable)?;
        Ok(Redis { conn })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

#[async_trait]
impl Probe for Redis {
    fn dependency(&self) -> &'static str {
        "redis"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<()> {
        redis::cmd("PING").query_async::<String>(&mut self.conn()).await.map(|_| ()).map_err(unavailable)
    }
}
