//! The Postgres benchmark: load throughput of the facts path (binary COPY into staging →
//! merge → rollups → report, one transaction per report) against `psql \copy` of the same
//! rows into an equivalent table, then question latency (p50/p99) on the loaded data.
//!
//! ```text
//! PAYSCOPE_BENCH_DSN=postgres://postgres@127.0.0.1:5432/postgres \
//! PAYSCOPE_BENCH_FACTS=5000000 cargo run --release --features postgres --example pg_bench
//! ```
//! It creates (and at the end drops) the database `payscope_bench`; `PAYSCOPE_BENCH_KEEP=1`
//! keeps it, and `PAYSCOPE_BENCH_REUSE=1` then skips the load and times only the questions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use payscope::backend::postgres::PgBackend;
use payscope::bank::{BankContext, Role};
use payscope::config::PostgresSettings;
use payscope::facts::{Report, ReportOptions, ReportStatus, ReportType, Sha256, Stage};
use payscope::ingest::pan::PanKey;
use payscope::query::Query;
use payscope::store::{FactStore, Registered, ReportStore};
use payscope::synth::{self, SynthConfig};
use payscope::{Engine, EngineOptions, Stores};

fn psql(dsn: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(
    engine: &Engine,
    ctx: &BankContext,
    text: &str,
    as_of: payscope::calendar::Timestamp,
    n: usize,
) -> String {
    let mut times = Vec::with_capacity(n);
    let q = Query::new(text).as_of(as_of);
    engine.ask(ctx, q.clone()).await.unwrap();
    for _ in 0..n {
        let t = Instant::now();
        engine.ask(ctx, q.clone()).await.unwrap();
        times.push(t.elapsed());
    }
    times.sort();
    format!("p50 {:.2?}, p99 {:.2?} ({n} runs)", percentile(&times, 0.5), percentile(&times, 0.99))
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("PAYSCOPE_BENCH_DSN")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let total: u64 =
        std::env::var("PAYSCOPE_BENCH_FACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000);
    let reuse = std::env::var_os("PAYSCOPE_BENCH_REUSE").is_some();
    if !reuse {
        psql(&admin, "DROP DATABASE IF EXISTS payscope_bench WITH (FORCE)");
        psql(&admin, "CREATE DATABASE payscope_bench");
    }
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path("/payscope_bench");
    let dsn = url.to_string();
    PgBackend::migrate(&dsn).await.unwrap();
    let settings = PostgresSettings {
        dsn: dsn.clone().into(),
        pool_size: 4,
        statement_timeout: Duration::from_secs(3600),
        connect_timeout: Duration::from_secs(10),
    };
    let pg = PgBackend::connect(&settings).await.unwrap();

    let cfg = SynthConfig::bench(total);
    let banks = synth::generate(&cfg);
    let key = PanKey::new([1; 32]);
    if !reuse {
        load(&pg, &dsn, &banks, &key).await;
    }
    let engine = Engine::new(
        Stores::postgres(&pg, payscope::store::jobs::DEFAULT_LEASE),
        Arc::new(object_store::memory::InMemory::new()),
        key,
        EngineOptions { cache_ttl: Duration::ZERO, ..EngineOptions::default() },
    );
    let ctx = BankContext::embedded(banks[0].bank_id, [Role::Analyst]);
    let as_of = cfg.as_of();
    println!(
        "question, rollup-served (\"What was the approval rate over the last 90 days?\"): {}",
        latency(&engine, &ctx, "What was the approval rate over the last 90 days?", as_of, 200).await
    );
    println!(
        "question, top 10 merchants by sales over 30 days: {}",
        latency(&engine, &ctx, "Top 10 merchants by sales in the last 30 days", as_of, 20).await
    );
    if std::env::var_os("PAYSCOPE_BENCH_KEEP").is_none() {
        drop(engine);
        drop(pg);
        psql(&admin, "DROP DATABASE IF EXISTS payscope_bench WITH (FORCE)");
    }
}

/// Loads every bank's facts through `FactStore`, then the same rows with `psql \copy`.
async fn load(pg: &PgBackend, dsn: &str, banks: &[synth::SynthBank], key: &PanKey) {
    // Facts are generated before the clock starts: the bench times the store, not the generator.
    let mut reports = Vec::new();
    for bank in banks {
        let ctx = BankContext::embedded(bank.bank_id, [Role::Admin]);
        for stage in Stage::ALL {
            let options = ReportOptions { report_type: ReportType::for_stage(stage), ..Default::default() };
            let sha = Sha256::digest(format!("{}{stage}", bank.bank_id).as_bytes());
            let Registered::New(report) =
                pg.register(&ctx, Report::queued(ctx.bank_id(), sha, 0, &options)).await.unwrap()
            else {
                unreachable!()
            };
            // In the engine's batches, handed over as the parser hands them.
            let facts: Vec<_> = bank.facts(stage, report.report_id, key).collect();
            let batches: Vec<Vec<_>> =
                facts.chunks(payscope::ingest::BATCH_SIZE).map(<[_]>::to_vec).collect();
            reports.push((ctx.clone(), report, batches));
        }
    }
    let mut loaded = 0u64;
    let started = Instant::now();
    for (ctx, report, batches) in reports {
        {
            let mut load = pg.begin_load(&ctx, &report).await.unwrap();
            for batch in batches {
                load.append(batch).await.unwrap();
            }
            let mut done = report.clone();
            done.status = ReportStatus::Completed;
            loaded += load.commit(done).await.unwrap().1.loaded;
        }
    }
    let ours = started.elapsed();
    println!(
        "payscope load: {loaded} facts in {:.1?} = {:.0} facts/s (COPY → merge → rollups → report, per report)",
        ours,
        loaded as f64 / ours.as_secs_f64()
    );

    // The same rows through psql \copy into an equivalent table (same columns, keys and indexes).
    let file = std::env::temp_dir().join("payscope_bench_facts.csv");
    let _ = std::fs::remove_file(&file);
    psql(dsn, &format!("COPY payscope.facts TO '{}' CSV", file.display()));
    psql(
        dsn,
        "CREATE TABLE copy_facts (LIKE payscope.facts INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
         ALTER TABLE copy_facts ADD PRIMARY KEY (bank_id, stage, transaction_id);
         CREATE INDEX ON copy_facts (bank_id, stage, occurred_at);
         CREATE INDEX ON copy_facts (bank_id, report_id);",
    );
    let started = Instant::now();
    psql(dsn, &format!("\\copy copy_facts FROM '{}' CSV", file.display()));
    let theirs = started.elapsed();
    println!(
        "psql \\copy:    {loaded} rows in {:.1?} = {:.0} rows/s; payscope / psql = {:.2}",
        theirs,
        loaded as f64 / theirs.as_secs_f64(),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    let _ = std::fs::remove_file(&file);
    psql(dsn, "VACUUM ANALYZE");
}
