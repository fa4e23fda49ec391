//! The Redis answer cache on a real Redis (`PAYSCOPE_TEST_REDIS_URL`): the cache suite, and an
//! engine configured with `REDIS_URL` serving a repeated question from Redis.

use std::sync::Arc;
use std::time::Duration;

use payscope_core::backend::redis::RedisCache;
use payscope_core::bank::{BankContext, Role};
use payscope_core::config::Settings;
use payscope_core::engine::Check;
use payscope_core::facts::{ReportOptions, Stage};
use payscope_core::query::Query;
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::Engine;

use crate::fixtures::{dataset, unavailable};

fn redis_url() -> Option<String> {
    match std::env::var("PAYSCOPE_TEST_REDIS_URL") {
        Ok(url) => Some(url),
        Err(_) => unavailable("PAYSCOPE_TEST_REDIS_URL"),
    }
}

async fn cache() -> Option<Arc<RedisCache>> {
    let url = redis_url()?;
    Some(Arc::new(RedisCache::connect(&url, Duration::from_secs(2)).await.unwrap()))
}

crate::cache_conformance!(cache, cache());

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
    let second = engine.ask(&ctx, question).await.unwrap();
    assert_eq!((&first.summary, &first.metrics), (&second.summary, &second.metrics));
    assert_ne!(first.answer_id, second.answer_id, "a cached answer is still a new, audited answer");
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
