//! JSON POSTs to the external HTTP APIs (the LLM, Pinecone) with bounded retries on 429, 5xx
//! and transport errors — safe because every call made through here is idempotent.

use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// How a client retries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retries {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// The wait before the second attempt.
    pub first_wait: Duration,
    /// Each later wait is this many times the previous one.
    pub growth: u32,
}

/// Sends `request()` until it succeeds, fails for good (another 4xx) or runs out of attempts.
/// Errors are `dependency` unavailable, saying `what` failed and how (never the response body,
/// which may echo credentials).
pub(crate) async fn post_json(
    dependency: &'static str,
    what: &str,
    retries: Retries,
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Value> {
    let mut wait = retries.first_wait;
    let mut last = String::new();
    for attempt in 0..retries.attempts {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait *= retries.growth;
        }
        match request().send().await {
            Ok(resp) if resp.status().is_success() => {
                return resp
                    .json::<Value>()
                    .await
                    .map_err(|e| Error::unavailable(dependency, format!("{what}: malformed response: {e}")))
            }
            Ok(resp) if resp.status().as_u16() == 429 || resp.status().is_server_error() => {
                last = format!("HTTP {}", resp.status().as_u16());
            }
            Ok(resp) => {
                return Err(Error::unavailable(
                    dependency,
                    format!("{what}: HTTP {}", resp.status().as_u16()),
                ))
            }
            Err(e) => last = if e.is_timeout() { "timed out".into() } else { "connection failed".into() },
        }
    }
    Err(Error::unavailable(dependency, format!("{what}: {last} after {} attempts", retries.attempts)))
}
