//! Scale-out on Redis Streams: several `payscope-worker` processes share one queue and one
//! Postgres store. Every report is processed exactly once, a Redis restart loses and doubles
//! nothing, and the job of a worker killed with `kill -9` is finished by another.

use std::time::Duration;

use bytes::Bytes;
use payscope_core::bank::{BankContext, Role};
use payscope_core::config::Settings;
use payscope_core::facts::{Report, ReportOptions, ReportStatus, Stage};
use payscope_core::ingest::pan::PanKey;
use payscope_core::store::metric::{Metric, MetricQuery};
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::synth::{self, SynthBank, SynthConfig};
use payscope_core::{Engine, Error};

use crate::services::{Database, RedisServer, WorkerProcess};

/// The environment the API engine and every worker share.
fn environment(
    db: &Database,
    redis: &RedisServer,
    data_dir: &std::path::Path,
    lease_secs: u64,
) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_DSN", db.dsn.clone()),
        ("REDIS_URL", redis.url()),
        ("PAYSCOPE_PAN_KEY", "cd".repeat(32)),
        ("PAYSCOPE_DATA_DIR", data_dir.to_str().unwrap().to_owned()),
        ("PAYSCOPE_JOB_LEASE_SECS", lease_secs.to_string()),
    ]
}

async fn api_engine(env: &[(&'static str, String)]) -> Engine {
    let settings =
        Settings::from_lookup(|name| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())).unwrap();
    Engine::from_settings(&settings).await.unwrap()
}

fn report_file(bank: &SynthBank, stage: Stage) -> Vec<u8> {
    let mut bytes = Vec::new();
    write_report(bank, stage, Layout::NetworkCsv, &PanKey::new([5; 32]), &mut bytes).unwrap();
    bytes
}

fn options(stage: Stage) -> ReportOptions {
    ReportOptions { report_type: report_type(stage), ..ReportOptions::default() }
}

/// A clean single-process run of the same file: the report it stores, and the engine.
async fn clean_run(bank: &SynthBank, stage: Stage, bytes: &[u8]) -> (Report, Engine) {
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let engine = Engine::in_memory();
    (engine.ingest(&ctx, bytes.to_vec(), options(stage)).await.unwrap(), engine)
}

async fn submit(api: &Engine, bank: &SynthBank, stage: Stage, bytes: Vec<u8>) -> Report {
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let body = futures::stream::iter([Ok::<Bytes, Error>(Bytes::from(bytes))]);
    api.submit(&ctx, body, options(stage)).await.unwrap().report
}

async fn status(api: &Engine, report: &Report) -> Report {
    let ctx = BankContext::embedded(report.bank_id, [Role::Analyst]);
    api.stores().reports.get(&ctx, report.report_id).await.unwrap().unwrap()
}

/// Sum of `ingest_reports_total` over a worker's statuses.
fn reports_processed(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("ingest_reports_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_share_thirty_reports_through_a_redis_restart() {
    let Some(db) = Database::create().await else { return };
    let redis_dir = tempfile::tempdir().unwrap();
    let Some(mut redis) = RedisServer::start(redis_dir.path()) else { return };
    let data_dir = tempfile::tempdir().unwrap();
    let env = environment(&db, &redis, data_dir.path(), 60);
    let api = api_engine(&env).await;

    let banks: Vec<SynthBank> = (1..=3).flat_map(|seed| synth::generate(&SynthConfig::small(seed))).collect();
    let mut submitted = Vec::new();
    for (bank, stage) in banks.iter().flat_map(|b| Stage::ALL.map(|s| (b, s))).take(30) {
        let bytes = report_file(bank, stage);
        let (clean, _) = clean_run(bank, stage, &bytes).await;
        submitted.push((submit(&api, bank, stage, bytes).await, clean));
    }
    let workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start(&env)).collect();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    let mut restarted = false;
    loop {
        let mut done = 0;
        for (report, _) in &submitted {
            done += usize::from(status(&api, report).await.status.is_final());
        }
        if done == submitted.len() {
            break;
        }
        if done >= 10 && !restarted {
            redis.restart();
            restarted = true;
        }
        assert!(tokio::time::Instant::now() < deadline, "{done} of 30 reports processed in time");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(restarted, "Redis was not restarted mid-run");
    for (report, clean) in &submitted {
        let stored = status(&api, report).await;
        assert_eq!(stored.status, ReportStatus::Completed, "{:?}", stored.errors);
        assert_eq!(
            (stored.facts_loaded, stored.duplicates_skipped, stored.rows_rejected),
            (clean.facts_loaded, clean.duplicates_skipped, clean.rows_rejected),
            "report {} differs from a clean run",
            report.report_id
        );
    }
    // Each report was processed by exactly one worker. A worker counts a report after its
    // graph update, which follows the commit: give the last one a moment.
    let mut processed = 0;
    for _ in 0..50 {
        processed = 0;
        for w in &workers {
            processed += reports_processed(&w.metrics().await);
        }
        if processed >= 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(processed, 30);
    for w in workers {
        assert!(w.stop().success(), "a worker did not stop cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_worker_is_finished_by_another() {
    let Some(db) = Database::create().await else { return };
    let redis_dir = tempfile::tempdir().unwrap();
    let Some(redis) = RedisServer::start(redis_dir.path()) else { return };
    let data_dir = tempfile::tempdir().unwrap();
    let env = environment(&db, &redis, data_dir.path(), 5);
    let api = api_engine(&env).await;

    // One bank's authorizations, large enough to take seconds to load.
    let mut cfg = SynthConfig::bench(250_000);
    cfg.banks = 1;
    let bank = synth::generate(&cfg).remove(0);
    let bytes = report_file(&bank, Stage::Auth);
    let (clean, clean_engine) = clean_run(&bank, Stage::Auth, &bytes).await;
    let report = submit(&api, &bank, Stage::Auth, bytes).await;

    let doomed = WorkerProcess::start(&env);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while status(&api, &report).await.status != ReportStatus::Processing {
        assert!(tokio::time::Instant::now() < deadline, "the first worker never started the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    doomed.kill();
    assert_eq!(status(&api, &report).await.status, ReportStatus::Processing, "killed after it finished");

    let survivor = WorkerProcess::start(&env);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while !status(&api, &report).await.status.is_final() {
        assert!(tokio::time::Instant::now() < deadline, "the job was never taken over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = status(&api, &report).await;
    assert_eq!(stored.status, ReportStatus::Completed, "{:?}", stored.errors);
    assert_eq!(
        (stored.facts_loaded, stored.duplicates_skipped),
        (clean.facts_loaded, clean.duplicates_skipped)
    );
    // The bank's totals equal the clean run's: the killed attempt left nothing behind.
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let range = payscope_core::calendar::TimeRange::new(
        payscope_core::calendar::Timestamp(0),
        payscope_core::calendar::Timestamp(4_000_000_000_000),
    );
    let q = MetricQuery::new([Metric::TransactionCount, Metric::TransactionAmount], range);
    let stored_totals = api.stores().metrics.query(&ctx, &q).await.unwrap().rows;
    assert_eq!(stored_totals, clean_engine.stores().metrics.query(&ctx, &q).await.unwrap().rows);
    assert!(survivor.stop().success());
}
