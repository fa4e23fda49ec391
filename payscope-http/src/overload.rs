//! Overload protection, so that one client cannot take the service from everyone:
//!
//! - **Rates**: token buckets per subject and per bank on questions (`POST /chat/query`,
//!   `POST /query`) and on uploads (`POST /reports`, `POST /reports/preview`); over the rate is
//!   `429 rate_limited` with `Retry-After` (the seconds until a token is back).
//! - **In-flight computations**: at most `max_inflight` questions are computed at once; one that
//!   finds no room within [`QUEUE_WAIT`] is `503 overloaded` with `Retry-After`.
//! - **Deadline**: a question computed for longer than `deadline` is `503 timeout`; its future is
//!   dropped, which cancels the work still waiting on stores.
//! - **Connections**: past `max_connections` open connections, a new connection is served only
//!   health and metrics (everything else `503 overloaded`, `Connection: close`); past twice that,
//!   it is closed at once.
//!
//! Health and metrics are never shed. Every limit of 0 is "no limit" (the library's default is
//! [`Limits::unlimited`]; the binary takes the environment's, docs/configuration.md).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::StatusCode;
use payscope_core::bank::BankContext;

use crate::error::ApiError;
pub use payscope_core::config::Limits;

/// How long a question waits for room among the in-flight computations before it is shed.
pub const QUEUE_WAIT: Duration = Duration::from_millis(250);

/// Buckets kept before idle ones are dropped.
const MAX_BUCKETS: usize = 100_000;

/// What a rate applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Work {
    /// `POST /chat/query`, `POST /query`.
    Question,
    /// `POST /reports`, `POST /reports/preview`.
    Upload,
}

/// A token bucket: `per_minute` tokens a minute, up to a quarter of a minute's worth saved.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn burst(per_minute: u32) -> f64 {
        (f64::from(per_minute) / 4.0).max(1.0)
    }

    /// Takes a token, or says how many seconds until one is back.
    fn take(&mut self, per_minute: u32, now: Instant) -> Result<(), u64> {
        let rate = f64::from(per_minute) / 60.0;
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * rate).min(Self::burst(per_minute));
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - self.tokens) / rate).ceil().max(1.0) as u64)
        }
    }

    fn full(&self, per_minute: u32, now: Instant) -> bool {
        self.tokens + now.duration_since(self.at).as_secs_f64() * f64::from(per_minute) / 60.0
            >= Self::burst(per_minute)
    }
}

/// Whose bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    /// A token subject of a bank (two banks' identity providers may use the same names).
    Subject(payscope_core::bank::BankId, String),
    Bank(payscope_core::bank::BankId),
}

/// The service's overload state, shared by every connection.
#[derive(Debug)]
pub struct Overload {
    limits: Limits,
    buckets: Mutex<HashMap<(Work, Owner), Bucket>>,
    inflight: Arc<tokio::sync::Semaphore>,
    connections: Arc<AtomicUsize>,
}

/// An open connection, counted until it is dropped.
#[derive(Debug)]
pub struct Connection {
    connections: Arc<AtomicUsize>,
    /// Served health and metrics only.
    pub shed: bool,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Overload {
    /// State for `limits`.
    pub fn new(limits: Limits) -> Overload {
        let permits =
            if limits.max_inflight == 0 { tokio::sync::Semaphore::MAX_PERMITS } else { limits.max_inflight };
        Overload {
            limits,
            buckets: Mutex::default(),
            inflight: Arc::new(tokio::sync::Semaphore::new(permits)),
            connections: Arc::default(),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts a new connection; `None` when it must be closed at once.
    pub fn connection(&self) -> Option<Connection> {
        let open = self.connections.fetch_add(1, Ordering::SeqCst) + 1;
        let max = self.limits.max_connections;
        // Counted from here: dropped (closing it at once) or kept, it is uncounted on drop.
        let connection = Connection { connections: self.connections.clone(), shed: max > 0 && open > max };
        (max == 0 || open <= 2 * max).then_some(connection)
    }

    /// Takes a token from the caller's and the bank's buckets for `work`, or `429`.
    pub fn admit(&self, work: Work, ctx: &BankContext) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_BUCKETS {
            buckets.retain(|(w, o), b| !b.full(self.per_minute(*w, o), now));
        }
        let subject = ctx.caller().map(|c| Owner::Subject(ctx.bank_id(), c.subject.clone()));
        let checks = [(subject, "you"), (Some(Owner::Bank(ctx.bank_id())), "your bank")];
        // Both buckets are checked before either is taken from, so a refused request costs nothing.
        let mut taken = Vec::new();
        for (owner, who) in checks {
            let Some(owner) = owner else { continue };
            let per_minute = self.per_minute(work, &owner);
            if per_minute == 0 {
                continue;
            }
            let mut bucket = buckets
                .get(&(work, owner.clone()))
                .copied()
                .unwrap_or(Bucket { tokens: Bucket::burst(per_minute), at: now });
            if let Err(wait) = bucket.take(per_minute, now) {
                let what = match work {
                    Work::Question => "questions",
                    Work::Upload => "uploads",
                };
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    format!("{who} may send {per_minute} {what} a minute; try again in {wait} s"),
                )
                .retry_after(wait));
            }
            taken.push(((work, owner), bucket));
        }
        buckets.extend(taken);
        Ok(())
    }

    /// The rate of `work` for `owner`'s bucket.
    fn per_minute(&self, work: Work, owner: &Owner) -> u32 {
        let l = &self.limits;
        match (work, owner) {
            (Work::Question, Owner::Subject(..)) => l.questions_per_subject,
            (Work::Question, Owner::Bank(_)) => l.questions_per_bank,
            (Work::Upload, Owner::Subject(..)) => l.uploads_per_subject,
            (Work::Upload, Owner::Bank(_)) => l.uploads_per_bank,
        }
    }

    /// Room to compute one question (held until dropped), or `503 overloaded`.
    pub async fn room(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
        match tokio::time::timeout(QUEUE_WAIT, self.inflight.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the service is computing as many questions as it can; try again in a second",
            )
            .retry_after(1)),
        }
    }

    /// Runs a question's computation within the deadline, or `503 timeout`.
    pub async fn within_deadline<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let deadline = self.limits.deadline;
        if deadline.is_zero() {
            return work.await;
        }
        tokio::time::timeout(deadline, work).await.unwrap_or_else(|_| {
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the question took longer than {} s to compute and was stopped; narrow its period or filters, or try again later",
                    deadline.as_secs()
                ),
            )
            .retry_after(1))
        })
    }

    /// `503 overloaded` for a request on a connection over the cap.
    pub fn shed() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the service has as many connections as it serves; try again in a second",
        )
        .retry_after(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let start = Instant::now();
        let mut b = Bucket { tokens: Bucket::burst(60), at: start };
        for _ in 0..15 {
            assert!(b.take(60, start).is_ok());
        }
        assert_eq!(b.take(60, start), Err(1), "a token a second, the next in one second");
        assert!(b.take(60, start + Duration::from_millis(1_100)).is_ok());
        assert!(b.full(60, start + Duration::from_secs(60)));
        let mut slow = Bucket { tokens: 0.0, at: start };
        assert_eq!(slow.take(2, start), Err(30), "two a minute: one every 30 s");
    }
}
