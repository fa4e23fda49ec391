//! The worker loop: queued uploads are processed with bounded concurrency, an empty queue is
//! idle, and stopping waits for the jobs in progress.

use std::time::Duration;

use bytes::Bytes;
use payscope_core::bank::{BankContext, Role};
use payscope_core::engine::JobOutcome;
use payscope_core::facts::{ReportOptions, ReportStatus, Stage};
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::worker::Worker;
use payscope_core::{Engine, Error};

use crate::fixtures::dataset;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_runs_queued_reports_and_stops_cleanly() {
    let data = dataset();
    let bank = &data.banks[1];
    let engine = Engine::in_memory();
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let worker = Worker::new(engine.clone(), "test", 2).with_grace(Duration::from_secs(30));
    assert_eq!(worker.try_execute_job().await.unwrap(), JobOutcome::Idle);

    let mut ids = Vec::new();
    for stage in Stage::ALL {
        let mut bytes = Vec::new();
        write_report(bank, stage, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
        let body = futures::stream::iter([Ok::<Bytes, Error>(Bytes::from(bytes))]);
        let options = ReportOptions { report_type: report_type(stage), ..ReportOptions::default() };
        let submission = engine.submit(&ctx, body, options).await.unwrap();
        assert_eq!(submission.report.status, ReportStatus::Queued);
        ids.push(submission.report.report_id);
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn({
        let worker = worker.clone();
        async move {
            worker
                .run_until_stopped(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    for id in &ids {
        let report = engine.wait_for_report(&ctx, *id, Duration::from_secs(60)).await.unwrap();
        assert_eq!(report.status, ReportStatus::Completed, "{:?}", report.errors);
    }
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.unwrap().unwrap();
    assert_eq!(worker.try_execute_job().await.unwrap(), JobOutcome::Idle);
}

/// A fact store whose loads fail as if its database were down; everything else works.
struct DownFacts(std::sync::Arc<dyn payscope_core::store::FactStore>);

#[async_trait::async_trait]
impl payscope_core::store::FactStore for DownFacts {
    async fn begin_load(
        &self,
        _: &BankContext,
        _: &payscope_core::facts::Report,
    ) -> payscope_core::Result<Box<dyn payscope_core::store::FactLoad>> {
        Err(Error::unavailable("postgres", "connection refused"))
    }
    async fn scan(
        &self,
        ctx: &BankContext,
        filter: &payscope_core::store::FactFilter,
        after: Option<&payscope_core::store::FactKey>,
        limit: usize,
    ) -> payscope_core::Result<Vec<payscope_core::facts::Fact>> {
        self.0.scan(ctx, filter, after, limit).await
    }
    async fn stats(&self, ctx: &BankContext) -> payscope_core::Result<payscope_core::store::FactStats> {
        self.0.stats(ctx).await
    }
    async fn clear(&self, ctx: &BankContext) -> payscope_core::Result<u64> {
        self.0.clear(ctx).await
    }
}

struct DownProbe;

#[async_trait::async_trait]
impl payscope_core::engine::Probe for DownProbe {
    fn dependency(&self) -> &'static str {
        "postgres"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> payscope_core::Result<()> {
        Err(Error::unavailable("postgres", "connection refused"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_every_attempt_is_dead_lettered_and_counted_for_alerts() {
    let data = dataset();
    let bank = &data.banks[0];
    let memory = payscope_core::backend::memory::MemoryBackend::in_memory();
    let mut stores = payscope_core::Stores::memory(&memory);
    stores.facts = std::sync::Arc::new(DownFacts(stores.facts.clone()));
    let objects = std::sync::Arc::new(object_store::memory::InMemory::new());
    let engine = Engine::new(stores, objects, data.key.clone(), Default::default())
        .with_probe(std::sync::Arc::new(DownProbe));
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let mut bytes = Vec::new();
    write_report(bank, Stage::Refund, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
    let body = futures::stream::iter([Ok::<Bytes, Error>(Bytes::from(bytes))]);
    let submitted = engine.submit(&ctx, body, ReportOptions::default()).await.unwrap().report;

    // Five attempts with backoff (0.5 + 1 + 2 + 4 s between them).
    let worker = Worker::new(engine.clone(), "test", 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match worker.try_execute_job().await.unwrap() {
            JobOutcome::DeadLettered(reason) => {
                assert!(reason.contains("connection refused"), "{reason}");
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        assert!(tokio::time::Instant::now() < deadline, "the job was never dead-lettered");
    }
    let report = engine.stores().reports.get(&ctx, submitted.report_id).await.unwrap().unwrap();
    assert_eq!(report.status, ReportStatus::Failed);
    let metrics = engine.telemetry().encode();
    assert!(metrics.contains(r#"component="dead_letter""#), "{metrics}");

    // A failing readiness check is counted too (infra/prometheus/alerts.yml alerts on both).
    assert!(!engine.readiness().await.ready);
    assert!(engine.telemetry().encode().contains(r#"component="readiness""#));
}
