//! `JobQueue` on Postgres (used when no Redis is configured): `FOR UPDATE SKIP LOCKED`
//! claims, a lease (visibility timeout) after which another worker may take the job,
//! attempts with exponential backoff, and a `dead` state after the last attempt.
//!
//! The table is the workers' (`migrations/0009`): claims, leases and heartbeats run as
//! [`WORKER_ROLE`]; the API only adds jobs for the bank it serves and reads
//! `payscope.queue_health()`.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{db_error, dynamic, PgBackend, APP_ROLE, WORKER_ROLE};
use crate::bank::BankId;
use crate::calendar::Timestamp;
use crate::error::Result;
use crate::facts::ReportId;
use crate::store::jobs::{
    backoff, ClaimedJob, FailOutcome, Job, JobId, JobQueue, Liveness, MAX_ATTEMPTS, STALE,
};

/// How often an idle claim looks again.
const POLL: Duration = Duration::from_millis(200);

/// The Postgres job queue.
#[derive(Debug, Clone)]
pub struct PgQueue {
    backend: PgBackend,
    lease: Duration,
}

impl PgQueue {
    /// A queue whose claims hold a job for `lease` before it may be taken again.
    pub fn new(backend: PgBackend, lease: Duration) -> PgQueue {
        PgQueue { backend, lease }
    }
}

fn job_of(row: &PgRow) -> Job {
    Job {
        id: JobId(row.get("job_id")),
        bank_id: BankId::from_uuid(row.get("bank_id")),
        report_id: ReportId(row.get("report_id")),
        attempt: row.get::<i32, _>("attempt") as u32,
        enqueued_at: Timestamp(row.get("enqueued_ms")),
    }
}

/// The receipt names the attempt, so a worker whose lease expired cannot complete or fail
/// the job another worker has since claimed.
fn receipt(job: &Job) -> String {
    format!("{}:{}", job.id, job.attempt)
}

impl PgQueue {
    /// Depth, live workers and the oldest waiting job's age in seconds, read as the runtime
    /// role through the one function it may call on the queue.
    async fn health(&self) -> Result<(u64, u64, Option<f64>)> {
        let mut tx = self.backend.role_tx(APP_ROLE).await?;
        let (depth, live, oldest): (i64, i64, Option<f64>) =
            sqlx::query_as("SELECT depth, live_workers, oldest_waiting_secs FROM payscope.queue_health($1)")
                .bind(STALE.as_secs_f64())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok((depth as u64, live as u64, oldest))
    }

    async fn exec(&self, sql: String, job: &ClaimedJob, extra: Option<String>) -> Result<u64> {
        let mut tx = self.backend.role_tx(WORKER_ROLE).await?;
        let mut q = sqlx::query(dynamic(sql)).bind(job.job.id.0).bind(job.job.attempt as i32);
        if let Some(x) = extra {
            q = q.bind(x);
        }
        let n = q.execute(&mut *tx).await.map_err(db_error)?.rows_affected();
        tx.commit().await.map_err(db_error)?;
        Ok(n)
    }
}

#[async_trait]
impl JobQueue for PgQueue {
    async fn enqueue(&self, job: Job) -> Result<()> {
        let _t = self.backend.timer("job_enqueue");
        let mut tx = self.backend.bank_tx(job.bank_id).await?;
        sqlx::query(
            "INSERT INTO payscope.jobs (job_id, bank_id, report_id, attempt, enqueued_at)
             VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 millisecond')",
        )
        .bind(job.id.0)
        .bind(job.bank_id.as_uuid())
        .bind(job.report_id.0)
        .bind(job.attempt as i32)
        .bind(job.enqueued_at.0)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn claim(&self, worker: &str, wait: Duration) -> Result<Option<ClaimedJob>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let claimed = {
                let _t = self.backend.timer("job_claim");
                let mut tx = self.backend.role_tx(WORKER_ROLE).await?;
                let row = sqlx::query(
                    "UPDATE payscope.jobs j
                        SET state = 'claimed', claimed_by = $1, attempt = j.attempt + 1,
                            lease_until = now() + $2 * interval '1 millisecond'
                      WHERE j.job_id = (
                            SELECT job_id FROM payscope.jobs
                             WHERE (state = 'ready' AND available_at <= now())
                                OR (state = 'claimed' AND lease_until < now())
                             ORDER BY available_at, enqueued_at
                             LIMIT 1 FOR UPDATE SKIP LOCKED)
                  RETURNING j.job_id, j.bank_id, j.report_id, j.attempt,
                            (extract(epoch from j.enqueued_at) * 1000)::bigint AS enqueued_ms",
                )
                .bind(worker)
                .bind(self.lease.as_millis() as i64)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                row.as_ref().map(job_of)
            };
            if let Some(job) = claimed {
                return Ok(Some(ClaimedJob { receipt: receipt(&job), job }));
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(POLL.min(deadline - now)).await;
        }
    }

    async fn complete(&self, job: &ClaimedJob) -> Result<()> {
        let _t = self.backend.timer("job_complete");
        self.exec("DELETE FROM payscope.jobs WHERE job_id = $1 AND attempt = $2".into(), job, None).await?;
        Ok(())
    }

    async fn fail(&self, job: &ClaimedJob, reason: &str) -> Result<FailOutcome> {
        let _t = self.backend.timer("job_fail");
        let reason: String = reason.chars().take(500).collect();
        if job.job.attempt >= MAX_ATTEMPTS {
            self.exec(
                "UPDATE payscope.jobs SET state = 'dead', lease_until = NULL, last_error = $3
                  WHERE job_id = $1 AND attempt = $2"
                    .into(),
                job,
                Some(reason),
            )
            .await?;
            return Ok(FailOutcome::DeadLettered);
        }
        let after = backoff(job.job.attempt);
        let sql = format!(
            "UPDATE payscope.jobs SET state = 'ready', lease_until = NULL, last_error = $3,
                    available_at = now() + interval '{} milliseconds'
              WHERE job_id = $1 AND attempt = $2",
            after.as_millis()
        );
        self.exec(sql, job, Some(reason)).await?;
        Ok(FailOutcome::Retry { after })
    }

    async fn release(&self, job: &ClaimedJob) -> Result<()> {
        let _t = self.backend.timer("job_release");
        self.exec(
            "UPDATE payscope.jobs SET state = 'ready', lease_until = NULL, attempt = attempt - 1, available_at = now()
              WHERE job_id = $1 AND attempt = $2 AND state = 'claimed'"
                .into(),
            job,
            None,
        )
        .await?;
        Ok(())
    }

    async fn extend(&self, job: &ClaimedJob) -> Result<()> {
        let _t = self.backend.timer("job_extend");
        let sql = format!(
            "UPDATE payscope.jobs SET lease_until = now() + interval '{} milliseconds'
              WHERE job_id = $1 AND attempt = $2 AND state = 'claimed'",
            self.lease.as_millis()
        );
        self.exec(sql, job, None).await?;
        Ok(())
    }

    fn lease(&self) -> Duration {
        self.lease
    }

    async fn depth(&self) -> Result<u64> {
        Ok(self.health().await?.0)
    }

    async fn heartbeat(&self, worker: &str) -> Result<()> {
        let mut tx = self.backend.role_tx(WORKER_ROLE).await?;
        sqlx::query(
            "INSERT INTO payscope.workers (worker, seen_at) VALUES ($1, now())
             ON CONFLICT (worker) DO UPDATE SET seen_at = now()",
        )
        .bind(worker)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        // Workers gone for a day are forgotten.
        sqlx::query("DELETE FROM payscope.workers WHERE seen_at < now() - interval '1 day'")
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)
    }

    async fn liveness(&self) -> Result<Liveness> {
        let (_, live, oldest) = self.health().await?;
        Ok(Liveness {
            live_workers: live,
            oldest_waiting: oldest.map(|s| Duration::from_secs_f64(s.max(0.0))),
        })
    }
}
