//! MetricStore on the embedded backend at scale: 10 M synthetic facts across 2 banks
//! (`PAYSCOPE_BENCH_FACTS` to change), a rollup-served metric over 90 days, the same over an
//! unaligned range (rollups plus edge scans), and top-10 merchants by approved amount over
//! 30 days (a fact scan). Prints memory per fact.
//!
//! ```text
//! cargo bench --bench metrics
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::OnceLock;

use criterion::{criterion_group, criterion_main, Criterion};
use payscope::backend::memory::MemoryBackend;
use payscope::bank::{BankContext, Role};
use payscope::calendar::{TimeRange, Timestamp};
use payscope::store::metric::{Dimension, Metric, MetricQuery};
use payscope::store::MetricStore;

mod common;

struct Loaded {
    store: MemoryBackend,
    ctx: BankContext,
    as_of: Timestamp,
}

fn loaded() -> &'static Loaded {
    static DATA: OnceLock<Loaded> = OnceLock::new();
    DATA.get_or_init(|| {
        let store = MemoryBackend::in_memory();
        let (cfg, banks, total) = common::load(&store, &store);
        let mut parts = payscope::backend::memory::HeapBytes::default();
        for bank in &banks {
            let h = store.heap_bytes(&BankContext::embedded(bank.bank_id, [Role::Admin]));
            parts.segments += h.segments;
            parts.dictionaries += h.dictionaries;
            parts.key_sets += h.key_sets;
            parts.rollups += h.rollups;
        }
        let per = |b: usize| b as f64 / total as f64;
        let line = format!(
            "memory: {total} facts, {} heap bytes, {:.1} bytes/fact (columns {:.1}, dictionaries {:.1}, key sets {:.1}, rollups {:.1})",
            parts.total(),
            per(parts.total()),
            per(parts.segments),
            per(parts.dictionaries),
            per(parts.key_sets),
            per(parts.rollups)
        );
        eprintln!("{line}");
        std::fs::create_dir_all("target/criterion").ok();
        std::fs::write("target/criterion/memory.txt", format!("{line}\n")).ok();
        Loaded { store, ctx: BankContext::embedded(banks[0].bank_id, [Role::Analyst]), as_of: cfg.as_of() }
    })
}

fn metric_queries(c: &mut Criterion) {
    let data = loaded();
    let rt = common::runtime();
    let days = |n: i32| data.as_of.date().add_days(-n).start();
    let rollup = MetricQuery::new(
        [Metric::ApprovalRate, Metric::TransactionAmount],
        TimeRange::new(days(90), data.as_of),
    );
    let r = rt.block_on(data.store.query(&data.ctx, &rollup)).unwrap();
    eprintln!("rollup_90d: source {:?}, facts scanned {}", r.source, r.facts_scanned);
    c.bench_function("metric/rollup_90d", |b| {
        b.iter(|| rt.block_on(data.store.query(&data.ctx, &rollup)).unwrap())
    });

    let unaligned_end = Timestamp(data.as_of.0 - 10 * 3_600_000 - 23 * 60_000);
    let unaligned = MetricQuery::new(
        [Metric::ApprovalRate, Metric::TransactionAmount],
        TimeRange::new(Timestamp(unaligned_end.0 - 90 * 86_400_000), unaligned_end),
    );
    c.bench_function("metric/rollup_90d_unaligned", |b| {
        b.iter(|| rt.block_on(data.store.query(&data.ctx, &unaligned)).unwrap())
    });

    let by_network =
        MetricQuery::new([Metric::ApprovalRate, Metric::SettledAmount], TimeRange::new(days(90), data.as_of))
            .group_by(Dimension::Network);
    c.bench_function("metric/by_network_90d", |b| {
        b.iter(|| rt.block_on(data.store.query(&data.ctx, &by_network)).unwrap())
    });

    let top = MetricQuery::new([Metric::TransactionAmount], TimeRange::new(days(30), data.as_of))
        .group_by(Dimension::MerchantId)
        .top(Metric::TransactionAmount, 10, true);
    let r = rt.block_on(data.store.query(&data.ctx, &top)).unwrap();
    eprintln!(
        "top10_merchants_30d: source {:?}, facts scanned {}, rows {}",
        r.source,
        r.facts_scanned,
        r.rows.len()
    );
    let mut g = c.benchmark_group("metric");
    g.sample_size(20);
    g.bench_function("top10_merchants_30d", |b| {
        b.iter(|| rt.block_on(data.store.query(&data.ctx, &top)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, metric_queries);
criterion_main!(benches);
