//! The whole question path — parse → plan → agents → compose → ground → audit append — on
//! the embedded engine holding 10 M synthetic facts (`PAYSCOPE_BENCH_FACTS`). The answer
//! cache is off, so every iteration does the full work.
//!
//! ```text
//! cargo bench --bench ask
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use payscope::backend::memory::MemoryBackend;
use payscope::bank::{BankContext, Role};
use payscope::calendar::Timestamp;
use payscope::ingest::pan::PanKey;
use payscope::query::{Intent, Query};
use payscope::{Engine, EngineOptions, Stores};

mod common;

struct Loaded {
    engine: Engine,
    ctx: BankContext,
    as_of: Timestamp,
}

fn loaded() -> &'static Loaded {
    static DATA: OnceLock<Loaded> = OnceLock::new();
    DATA.get_or_init(|| {
        let backend = MemoryBackend::in_memory();
        let (cfg, banks, _) = common::load(&backend, &backend);
        let options = EngineOptions { cache_ttl: Duration::ZERO, ..EngineOptions::default() };
        let engine = Engine::new(
            Stores::memory(&backend),
            Arc::new(object_store::memory::InMemory::new()),
            PanKey::new([1; 32]),
            options,
        );
        Loaded { engine, ctx: BankContext::embedded(banks[0].bank_id, [Role::Analyst]), as_of: cfg.as_of() }
    })
}

fn ask(c: &mut Criterion) {
    let data = loaded();
    let rt = common::runtime();
    let questions = [
        ("ask/rollup_served", "What was the approval rate over the last 90 days?", Intent::Describe),
        ("ask/breakdown_top10_merchants", "Top 10 merchants by sales in the last 30 days", Intent::Breakdown),
        ("ask/root_cause", "Why did settlement amounts drop last week?", Intent::Why),
        ("ask/forecast", "What's the forecast for next month?", Intent::Forecast),
    ];
    for (name, text, intent) in questions {
        let query = Query::new(text).as_of(data.as_of);
        let first = rt.block_on(data.engine.ask(&data.ctx, query.clone())).unwrap();
        assert_eq!(first.intent, intent, "{text}");
        eprintln!("{name}: {}", first.summary);
        let mut g = c.benchmark_group("ask");
        if intent != Intent::Describe {
            g.sample_size(10);
        }
        g.bench_function(name.trim_start_matches("ask/"), |b| {
            b.iter(|| rt.block_on(data.engine.ask(&data.ctx, query.clone())).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, ask);
criterion_main!(benches);
