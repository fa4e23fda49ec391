//! The ingestion worker loop: claims report jobs from the engine's queue and processes them,
//! a bounded number at a time. `payscope-worker` runs it against a shared queue; in embedded
//! mode `payscope-http` runs the same loop in-process.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::engine::{Engine, JobOutcome};
use crate::error::Result;
use crate::store::jobs::HEARTBEAT;

/// How long one claim waits for a job before the loop checks for shutdown again.
const CLAIM_WAIT: Duration = Duration::from_millis(500);
/// Pause after an error from the queue itself, so a dependency outage is not a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// Runs ingestion jobs.
#[derive(Debug, Clone)]
pub struct Worker {
    engine: Engine,
    name: String,
    concurrency: usize,
    grace: Duration,
}

impl Worker {
    /// A worker named `name` (it appears in queue leases) running up to `concurrency` jobs
    /// at once.
    pub fn new(engine: Engine, name: impl Into<String>, concurrency: usize) -> Worker {
        Worker { engine, name: name.into(), concurrency: concurrency.max(1), grace: Duration::from_secs(60) }
    }

    /// How long shutdown waits for jobs in progress before abandoning them (their leases then
    /// expire and another worker picks them up). Default 60 s.
    pub fn with_grace(mut self, grace: Duration) -> Worker {
        self.grace = grace;
        self
    }

    /// Announces the worker to the queue once, so a process that may not consume it (a
    /// Postgres login outside `payscope_worker`) stops at start-up with the reason instead of
    /// failing every claim.
    pub async fn check_queue(&self) -> Result<()> {
        self.engine.heartbeat(&self.name).await
    }

    /// Claims and processes at most one job, waiting briefly for one to arrive.
    pub async fn try_execute_job(&self) -> Result<JobOutcome> {
        self.engine.run_next_job(&self.name, CLAIM_WAIT).await
    }

    /// Runs jobs until `stop` resolves; then starts no new job and waits (up to the grace
    /// period) for the ones in progress to finish.
    pub async fn run_until_stopped(&self, stop: impl Future<Output = ()>) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let heartbeat = tokio::spawn(self.clone().heartbeat(stop_rx.clone()));
        let mut loops = JoinSet::new();
        for _ in 0..self.concurrency {
            let (worker, stop_rx) = (self.clone(), stop_rx.clone());
            loops.spawn(async move { worker.run_loop(stop_rx).await });
        }
        tracing::info!(worker = %self.name, concurrency = self.concurrency, "worker started");
        stop.await;
        let _ = stop_tx.send(true);
        let _ = heartbeat.await;
        tracing::info!(worker = %self.name, "worker stopping: finishing jobs in progress");
        let drained =
            tokio::time::timeout(self.grace, async { while loops.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(worker = %self.name, "jobs still running after the grace period were abandoned; their leases will expire and they will run again");
            loops.abort_all();
        }
        tracing::info!(worker = %self.name, "worker stopped");
    }

    /// Tells the queue this worker is alive every [`HEARTBEAT`] until `stop`, so readiness,
    /// `/metrics` and uploads waiting for their report know whether anything consumes it.
    async fn heartbeat(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            if let Err(e) = self.engine.heartbeat(&self.name).await {
                tracing::warn!(worker = %self.name, error = %e, "cannot record the worker's heartbeat");
            }
            tokio::select! {
                () = tokio::time::sleep(HEARTBEAT) => {}
                _ = stop.changed() => {}
            }
        }
    }

    async fn run_loop(&self, stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.try_execute_job().await {
                Ok(JobOutcome::Processed(report)) => tracing::info!(
                    report_id = %report.report_id,
                    bank_id = %report.bank_id,
                    status = report.status.as_str(),
                    facts_loaded = report.facts_loaded,
                    "report processed"
                ),
                Ok(JobOutcome::Retrying(reason)) => {
                    tracing::warn!(%reason, "report job failed; it will be retried")
                }
                Ok(JobOutcome::DeadLettered(reason)) => {
                    tracing::error!(%reason, "report job failed for the last time; the report is marked failed")
                }
                Ok(JobOutcome::Idle) => {}
                Err(e) => {
                    tracing::error!(error = %e, "the job queue failed");
                    tokio::time::sleep(ERROR_BACKOFF).await;
                }
            }
        }
    }
}
