//! The ingestion job queue: at-least-once delivery with attempts, backoff and a dead letter.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bank::{BankContext, BankId};
use crate::calendar::Timestamp;
use crate::error::Result;
use crate::facts::ReportId;

/// A job's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(pub Uuid);

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.0)
    }
}

/// Process one uploaded report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The job.
    pub id: JobId,
    /// The bank whose report it is.
    pub bank_id: BankId,
    /// The report to process.
    pub report_id: ReportId,
    /// Attempts started so far, including the current one.
    pub attempt: u32,
    /// When it was first queued.
    pub enqueued_at: Timestamp,
}

impl Job {
    /// A new job for a report of the caller's bank.
    pub fn new(ctx: &BankContext, report_id: ReportId) -> Job {
        Job {
            id: JobId(Uuid::new_v4()),
            bank_id: ctx.bank_id(),
            report_id,
            attempt: 0,
            enqueued_at: Timestamp::now(),
        }
    }

    /// The context a worker processes the job under.
    pub fn context(&self) -> BankContext {
        BankContext::for_queued_job(self.bank_id)
    }
}

/// A job handed to one worker; the queue will not hand it to another until it is completed,
/// failed, released, or its lease (visibility timeout) expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedJob {
    /// The job.
    pub job: Job,
    /// Backend-specific handle (stream entry id, row lock token).
    pub receipt: String,
}

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// It will be retried after the delay.
    Retry {
        /// Backoff before the next attempt.
        after: Duration,
    },
    /// It used its last attempt and moved to the dead letter.
    DeadLettered,
}

/// Backoff policy shared by queue backends: attempt `n` (1-based) waits `base × 2^(n−1)`, capped.
pub fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500);
    base.saturating_mul(1 << attempt.saturating_sub(1).min(10)).min(Duration::from_secs(300))
}

/// Attempts before a job is dead-lettered.
pub const MAX_ATTEMPTS: u32 = 5;

/// How long a claim lasts without renewal unless configured (`PAYSCOPE_JOB_LEASE_SECS`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

/// How often a worker says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A worker not heard from for this long is taken for gone.
pub const STALE: Duration = Duration::from_secs(20);

/// Who consumes the queue and how long its oldest job has waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liveness {
    /// Workers heard from within [`STALE`].
    pub live_workers: u64,
    /// How long the oldest job waiting to be claimed has waited.
    pub oldest_waiting: Option<Duration>,
}

/// The ingestion job queue.
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Queues a job.
    async fn enqueue(&self, job: Job) -> Result<()>;

    /// Claims the next due job for `worker`, waiting up to `wait` for one to arrive.
    async fn claim(&self, worker: &str, wait: Duration) -> Result<Option<ClaimedJob>>;

    /// Marks a claimed job done.
    async fn complete(&self, job: &ClaimedJob) -> Result<()>;

    /// Records a failed attempt: retry with backoff, or dead-letter after [`MAX_ATTEMPTS`].
    async fn fail(&self, job: &ClaimedJob, reason: &str) -> Result<FailOutcome>;

    /// Gives a claimed job back without counting the attempt (graceful shutdown).
    async fn release(&self, job: &ClaimedJob) -> Result<()>;

    /// Renews a claimed job's lease: its worker is still on it. Workers call this every third
    /// of [`JobQueue::lease`], so only a worker that died loses its job to another.
    async fn extend(&self, job: &ClaimedJob) -> Result<()>;

    /// How long a claim lasts without renewal.
    fn lease(&self) -> Duration;

    /// Jobs waiting or in flight.
    async fn depth(&self) -> Result<u64>;

    /// Records that `worker` is alive and consuming (every [`HEARTBEAT`]).
    async fn heartbeat(&self, worker: &str) -> Result<()>;

    /// The workers heard from within [`STALE`], and the age of the oldest waiting job.
    async fn liveness(&self) -> Result<Liveness>;
}
