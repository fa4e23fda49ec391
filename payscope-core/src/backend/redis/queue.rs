//! The ingestion job queue on Redis Streams, shared by any number of workers.
//!
//! Jobs are entries of the stream `{prefix}jobs` (field `job`: the job as JSON), read by the
//! consumer group `payscope-workers` with `XREADGROUP`; a finished job is acknowledged and
//! deleted (`XACK` + `XDEL`, atomically). A worker renews its claim while it works
//! (`XCLAIM … JUSTID` to itself); an entry idle past the lease — its worker crashed or was
//! killed — is taken over by the next claim with `XAUTOCLAIM`. A job's attempt is the attempts
//! stored with it (failed and retried) plus the times this entry was delivered, so a crash
//! counts as an attempt. A failed attempt waits out its backoff in the sorted set
//! `{prefix}jobs:delayed` (score: when it is due) and is moved back to the stream by a script
//! (atomic, so no worker can lose it half-way); after the last attempt it goes to the
//! dead-letter stream `{prefix}jobs:dead` with the reason.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::streams::{
    StreamAutoClaimReply, StreamId, StreamInfoGroupsReply, StreamPendingCountReply, StreamRangeReply,
    StreamReadReply,
};

use super::{unavailable, Redis};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::store::jobs::{backoff, ClaimedJob, FailOutcome, Job, JobQueue, Liveness, MAX_ATTEMPTS, STALE};

/// The consumer group every worker reads with.
pub const GROUP: &str = "payscope-workers";

/// How long one blocking read waits before due retries and expired leases are looked at again.
const POLL: Duration = Duration::from_millis(250);

/// Moves due retries (`KEYS[1]`, scored by due time) to the stream (`KEYS[2]`).
const PROMOTE_DUE: &str = "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 100)
for _, job in ipairs(due) do
  redis.call('ZREM', KEYS[1], job)
  redis.call('XADD', KEYS[2], '*', 'job', job)
end
return #due";

/// The Redis Streams job queue.
#[derive(Debug, Clone)]
pub struct RedisQueue {
    redis: Redis,
    stream: String,
    delayed: String,
    dead: String,
    /// The sorted set of workers, scored by when each was last heard from.
    workers: String,
    lease: Duration,
}

impl RedisQueue {
    /// The queue under `prefix` (`payscope:` in deployments), creating the consumer group if
    /// needed. A claimed job is taken over by another worker after `lease` without progress.
    pub async fn new(redis: Redis, prefix: &str, lease: Duration) -> Result<RedisQueue> {
        let q = RedisQueue {
            redis,
            stream: format!("{prefix}jobs"),
            delayed: format!("{prefix}jobs:delayed"),
            dead: format!("{prefix}jobs:dead"),
            workers: format!("{prefix}workers"),
            lease,
        };
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&q.stream)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut q.redis.conn())
            .await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => Err(unavailable(e)),
            _ => Ok(q),
        }
    }

    async fn promote_due(&self) -> Result<()> {
        redis::cmd("EVAL")
            .arg(PROMOTE_DUE)
            .arg(2)
            .arg(&self.delayed)
            .arg(&self.stream)
            .arg(Timestamp::now().0)
            .query_async::<i64>(&mut self.redis.conn())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// An entry of another worker idle past the lease, now this worker's.
    async fn take_over(&self, worker: &str) -> Result<Option<StreamId>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(worker)
            .arg(self.lease.as_millis() as u64)
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        Ok(reply.claimed.into_iter().next())
    }

    async fn read_new(&self, worker: &str, block: Duration) -> Result<Option<StreamId>> {
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(worker)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(block.as_millis().max(1) as u64)
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        Ok(reply.and_then(|r| r.keys.into_iter().next()).and_then(|k| k.ids.into_iter().next()))
    }

    /// The job of an entry, with this delivery counted as an attempt.
    async fn claimed(&self, entry: StreamId, worker: &str) -> Result<ClaimedJob> {
        let text: String =
            entry.get("job").ok_or_else(|| Error::internal(format!("job entry {} has no job", entry.id)))?;
        let mut job: Job = serde_json::from_str(&text)
            .map_err(|e| Error::internal(format!("job entry {} is not a job: {e}", entry.id)))?;
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1)
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        let delivered = pending.ids.first().map_or(1, |p| p.times_delivered.max(1)) as u32;
        job.attempt += delivered;
        Ok(ClaimedJob { job, receipt: format!("{}@{worker}", entry.id) })
    }

    /// The stream entry and the consumer holding it, from a receipt (`{entry}@{worker}`).
    fn entry(claimed: &ClaimedJob) -> (&str, &str) {
        claimed.receipt.split_once('@').unwrap_or((&claimed.receipt, ""))
    }

    /// Acknowledges and deletes the claimed entry, and queues `then` (a job for the stream,
    /// the delayed set or the dead letter) in the same transaction.
    async fn settle(&self, claimed: &ClaimedJob, then: Option<redis::Pipeline>) -> Result<()> {
        let (entry, _) = Self::entry(claimed);
        let mut pipe = then.unwrap_or_else(redis::pipe);
        pipe.atomic()
            .cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(entry)
            .ignore()
            .cmd("XDEL")
            .arg(&self.stream)
            .arg(entry)
            .ignore();
        pipe.query_async::<()>(&mut self.redis.conn()).await.map_err(unavailable)
    }

    /// The dead-lettered jobs, oldest first, with the reason of their last failure.
    pub async fn dead_letters(&self) -> Result<Vec<(Job, String)>> {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.dead)
            .arg("-")
            .arg("+")
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        reply
            .ids
            .iter()
            .map(|entry| {
                let job = entry.get::<String>("job").and_then(|j| serde_json::from_str(&j).ok());
                match (job, entry.get::<String>("reason")) {
                    (Some(job), Some(reason)) => Ok((job, reason)),
                    _ => Err(Error::internal(format!("dead letter {} is not a job", entry.id))),
                }
            })
            .collect()
    }

    fn job_json(job: &Job) -> Result<String> {
        serde_json::to_string(job).map_err(|e| Error::internal(format!("cannot encode a job: {e}")))
    }
}

#[async_trait]
impl JobQueue for RedisQueue {
    async fn enqueue(&self, job: Job) -> Result<()> {
        redis::cmd("XADD")
            .arg(&self.stream)
            .arg("*")
            .arg("job")
            .arg(Self::job_json(&job)?)
            .query_async::<String>(&mut self.redis.conn())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn claim(&self, worker: &str, wait: Duration) -> Result<Option<ClaimedJob>> {
        let deadline = Instant::now() + wait;
        loop {
            self.promote_due().await?;
            if let Some(entry) = self.take_over(worker).await? {
                return self.claimed(entry, worker).await.map(Some);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(entry) = self.read_new(worker, left.min(POLL)).await? {
                return self.claimed(entry, worker).await.map(Some);
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<()> {
        self.settle(job, None).await
    }

    async fn fail(&self, job: &ClaimedJob, reason: &str) -> Result<FailOutcome> {
        let mut then = redis::pipe();
        if job.job.attempt >= MAX_ATTEMPTS {
            then.cmd("XADD")
                .arg(&self.dead)
                .arg("*")
                .arg("job")
                .arg(Self::job_json(&job.job)?)
                .arg("reason")
                .arg(reason)
                .ignore();
            self.settle(job, Some(then)).await?;
            return Ok(FailOutcome::DeadLettered);
        }
        let after = backoff(job.job.attempt);
        let due = Timestamp::now().0 + after.as_millis() as i64;
        then.cmd("ZADD").arg(&self.delayed).arg(due).arg(Self::job_json(&job.job)?).ignore();
        self.settle(job, Some(then)).await?;
        Ok(FailOutcome::Retry { after })
    }

    async fn release(&self, job: &ClaimedJob) -> Result<()> {
        // Back at the end of the stream, this attempt not counted.
        let mut again = job.job.clone();
        again.attempt = again.attempt.saturating_sub(1);
        let mut then = redis::pipe();
        then.cmd("XADD").arg(&self.stream).arg("*").arg("job").arg(Self::job_json(&again)?).ignore();
        self.settle(job, Some(then)).await
    }

    async fn extend(&self, job: &ClaimedJob) -> Result<()> {
        // Re-claiming for the same consumer resets the entry's idle time (JUSTID: without
        // counting a delivery), so XAUTOCLAIM leaves it alone for another lease.
        let (entry, worker) = Self::entry(job);
        redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(worker)
            .arg(0)
            .arg(entry)
            .arg("JUSTID")
            .query_async::<Vec<String>>(&mut self.redis.conn())
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn depth(&self) -> Result<u64> {
        let (waiting, delayed): (u64, u64) = redis::pipe()
            .cmd("XLEN")
            .arg(&self.stream)
            .cmd("ZCARD")
            .arg(&self.delayed)
            .query_async(&mut self.redis.conn())
            .await
            .map_err(unavailable)?;
        Ok(waiting + delayed)
    }

    async fn heartbeat(&self, worker: &str) -> Result<()> {
        let now = Timestamp::now().0;
        redis::pipe()
            .cmd("ZADD")
            .arg(&self.workers)
            .arg(now)
            .arg(worker)
            .ignore()
            // Workers gone for a day are forgotten.
            .cmd("ZREMRANGEBYSCORE")
            .arg(&self.workers)
            .arg("-inf")
            .arg(now - 86_400_000)
            .ignore()
            .query_async::<()>(&mut self.redis.conn())
            .await
            .map_err(unavailable)
    }

    async fn liveness(&self) -> Result<Liveness> {
        let now = Timestamp::now().0;
        let mut conn = self.redis.conn();
        let live: u64 = redis::cmd("ZCOUNT")
            .arg(&self.workers)
            .arg(now - STALE.as_millis() as i64)
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        // The oldest waiting job is the first entry after the group's last delivered one; an
        // entry id starts with the milliseconds it was added at.
        let groups: StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(&self.stream)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let delivered = groups
            .groups
            .iter()
            .find(|g| g.name == GROUP)
            .map_or("0-0".to_owned(), |g| g.last_delivered_id.clone());
        let next: StreamRangeReply = redis::cmd("XRANGE")
            .arg(&self.stream)
            .arg(format!("({delivered}"))
            .arg("+")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await
            .map_err(unavailable)?;
        let added =
            next.ids.first().and_then(|e| e.id.split('-').next()).and_then(|ms| ms.parse::<i64>().ok());
        Ok(Liveness {
            live_workers: live,
            oldest_waiting: added.map(|t| Duration::from_millis(now.saturating_sub(t).max(0) as u64)),
        })
    }
}
