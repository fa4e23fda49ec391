//! Redis on a real server (`PAYSCOPE_TEST_REDIS_URL`): the cache and queue suites, a crashed
//! worker's job taken over, and engines configured with `REDIS_URL`.

use std::sync::Arc;
use std::time::Duration;

use payscope_core::backend::redis::{Redis, RedisCache, RedisQueue};
use payscope_core::bank::{BankContext, Role};
use payscope_core::config::Settings;
use payscope_core::engine::Check;
use payscope_core::facts::{ReportOptions, Stage};
use payscope_core::query::answer::Answer;
use payscope_core::query::Query;
use payscope_core::store::jobs::{Job, JobQueue};
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::Engine;

use crate::fixtures::{dataset, unavailable};

fn redis_url() -> Option<String> {
    match std::env::var("PAYSCOPE_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) => unavailable("PAYSCOPE_TEST_REDIS_URL"),
    }
}

async fn connect() -> Option<Redis> {
    let url = redis_url()?;
    Some(Redis::connect(&url, Duration::from_secs(2)).await.unwrap())
}

async fn cache() -> Option<Arc<RedisCache>> {
    Some(Arc::new(RedisCache::new(connect().await?)))
}

/// A queue under a prefix of its own, so tests never see each other's jobs.
async fn queue(lease: Duration) -> Option<Arc<RedisQueue>> {
    let prefix = format!("payscope-test:{}:", uuid::Uuid::new_v4().simple());
    Some(Arc::new(RedisQueue::new(connect().await?, &prefix, lease).await.unwrap()))
}

crate::cache_conformance!(cache, cache());
crate::queue_conformance!(queue, queue(Duration::from_secs(60)));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_workers_job_is_taken_over_after_the_lease() {
    let Some(q) = queue(Duration::from_millis(500)).await else { return };
    let bank = BankContext::embedded(payscope_core::BankId::from_uuid(uuid::Uuid::new_v4()), [Role::System]);
    let report = payscope_core::facts::ReportId::new();
    q.enqueue(Job::new(&bank, report)).await.unwrap();
    let first = q.claim("crashing", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(first.job.attempt, 1);
    // Within the lease nobody else gets it; after it stops being renewed, the next claim
    // does, the crash counted.
    assert!(q.claim("survivor", Duration::from_millis(100)).await.unwrap().is_none());
    // A live worker renewing its claim keeps it past the lease.
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        q.extend(&first).await.unwrap();
        assert!(q.claim("survivor", Duration::from_millis(10)).await.unwrap().is_none());
    }
    let taken = q.claim("survivor", Duration::from_secs(3)).await.unwrap().expect("taken over");
    assert_eq!((taken.job.report_id, taken.job.attempt), (report, 2));
    q.complete(&taken).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 0);
    // The last attempt's failure is kept in the dead-letter stream with its reason.
    let mut last = Job::new(&bank, report);
    last.attempt = payscope_core::store::jobs::MAX_ATTEMPTS - 1;
    q.enqueue(last).await.unwrap();
    let c = q.claim("survivor", Duration::from_secs(1)).await.unwrap().unwrap();
    q.fail(&c, "the artifact is unreadable").await.unwrap();
    let dead = q.dead_letters().await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!((dead[0].0.report_id, dead[0].1.as_str()), (report, "the artifact is unreadable"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_with_redis_url_caches_answers_in_redis() {
    let Some(url) = redis_url() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let settings = Settings::from_lookup(|name| match name {
        "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
        "REDIS_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let engine = Engine::from_settings(&settings).await.unwrap();
    assert_eq!(engine.readiness().await.checks["redis"], Check::Ok);

    let data = dataset();
    let bank = &data.banks[0];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let mut bytes = Vec::new();
    write_report(bank, Stage::Auth, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
    let options = ReportOptions { report_type: report_type(Stage::Auth), ..ReportOptions::default() };
    engine.ingest(&ctx, bytes, options).await.unwrap();
    let question = Query::new("Approval rate last week").as_of(bank.as_of);
    let first = engine.ask(&ctx, question.clone()).await.unwrap();
    let second = engine.ask(&ctx, question.clone()).await.unwrap();
    assert_eq!((&first.summary, &first.metrics), (&second.summary, &second.metrics));
    assert_ne!(first.answer_id, second.answer_id, "a cached answer is still a new, audited answer");
    // Served again as JSON (the HTTP path): the cached text under a new id, audited as cached.
    let json = engine.ask_json(&ctx, question).await.unwrap();
    let third: Answer = serde_json::from_slice(&json).unwrap();
    assert!(third.answer_id != first.answer_id && third.answer_id != second.answer_id);
    assert_eq!(serde_json::to_vec(&Answer { answer_id: second.answer_id, ..third.clone() }).unwrap(), {
        serde_json::to_vec(&second).unwrap()
    });
    let auditor = BankContext::embedded(bank.bank_id, [Role::Auditor]);
    let audited = engine.audit_entry(&auditor, third.answer_id).await.unwrap();
    assert_eq!(audited.record.body.value()["cached"], true);
    let metrics = engine.telemetry().encode();
    assert!(metrics.contains(r#"status="cached""#), "{metrics}");

    // The answer is in Redis under the bank's prefix.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("payscope:cache:{}:*", bank.bank_id))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());

    // An unreachable Redis stops start-up with a clear error.
    let refused = Settings::from_lookup(|name| match name {
        "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
        "REDIS_URL" => Some("redis://127.0.0.1:1".into()),
        _ => None,
    })
    .unwrap();
    let Err(e) = Engine::from_settings(&refused).await else { panic!("an unreachable Redis was accepted") };
    assert!(e.to_string().starts_with("redis unavailable"), "{e}");
}

/// With Postgres as the shared store, `REDIS_URL` moves the job queue to Redis Streams: an
/// upload becomes an entry of `payscope:jobs`, and a worker on another engine runs it.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_postgres_uploads_are_queued_in_redis_streams() {
    let Some(url) = redis_url() else { return };
    let Some(db) = crate::services::TestDb::create().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let settings = Settings::from_lookup(|name| match name {
        "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
        "DATABASE_DSN" => Some(db.dsn.clone()),
        "PAYSCOPE_PAN_KEY" => Some("ab".repeat(32)),
        "REDIS_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap();
    let api = Engine::from_settings(&settings).await.unwrap();
    let checks = api.readiness().await.checks;
    assert_eq!((&checks["postgres"], &checks["redis"]), (&Check::Ok, &Check::Ok));

    let data = dataset();
    let bank = &data.banks[1];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let mut bytes = Vec::new();
    write_report(bank, Stage::Refund, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
    let body = futures::stream::iter([Ok::<bytes::Bytes, payscope_core::Error>(bytes.into())]);
    let options = ReportOptions { report_type: report_type(Stage::Refund), ..ReportOptions::default() };
    let report = api.submit(&ctx, body, options).await.unwrap().report;

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let entries: redis::streams::StreamRangeReply =
        redis::cmd("XRANGE").arg("payscope:jobs").arg("-").arg("+").query_async(&mut conn).await.unwrap();
    let id = report.report_id.to_string();
    assert!(entries.ids.iter().any(|e| e.get::<String>("job").is_some_and(|j| j.contains(&id))));

    let worker_engine = Engine::from_settings(&settings).await.unwrap();
    let worker = payscope_core::worker::Worker::new(worker_engine, "redis-test", 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        // Entries other runs left behind may come first; they fail on their own.
        let _ = worker.try_execute_job().await;
        let now = api.stores().reports.get(&ctx, report.report_id).await.unwrap().unwrap();
        if now.status.is_final() {
            assert_eq!(now.status, payscope_core::facts::ReportStatus::Completed, "{:?}", now.errors);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job never ran");
    }
}
