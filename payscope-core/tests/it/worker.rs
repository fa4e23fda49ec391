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
