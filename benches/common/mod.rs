//! The benchmark data set (10 M synthetic facts across two banks by default) loaded into a
//! store through the `FactStore` trait, shared by the benches.
#![allow(dead_code)]

use std::time::Instant;

use payscope::bank::{BankContext, Role};
use payscope::facts::{Report, ReportOptions, ReportStatus, ReportType, Sha256, Stage};
use payscope::ingest::pan::PanKey;
use payscope::store::{FactStore, Registered, ReportStore};
use payscope::synth::{self, SynthBank, SynthConfig};

/// Facts to generate (`PAYSCOPE_BENCH_FACTS`, default 10 M).
pub fn bench_facts() -> u64 {
    std::env::var("PAYSCOPE_BENCH_FACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000)
}

/// A current-thread runtime for `block_on` in benches.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// Generates the data set and loads every stage of every bank; returns the banks and the count.
pub fn load(reports: &dyn ReportStore, facts: &dyn FactStore) -> (SynthConfig, Vec<SynthBank>, u64) {
    let rt = runtime();
    let cfg = SynthConfig::bench(bench_facts());
    let started = Instant::now();
    let banks = synth::generate(&cfg);
    eprintln!(
        "generated {} transactions in {:.1?}",
        banks.iter().map(|b| b.txs.len()).sum::<usize>(),
        started.elapsed()
    );
    let key = PanKey::new([1; 32]);
    let mut total = 0u64;
    let started = Instant::now();
    rt.block_on(async {
        for bank in &banks {
            let ctx = BankContext::embedded(bank.bank_id, [Role::Admin]);
            for stage in Stage::ALL {
                let options =
                    ReportOptions { report_type: ReportType::for_stage(stage), ..Default::default() };
                let sha = Sha256::digest(format!("{}{stage}", bank.bank_id).as_bytes());
                let Registered::New(report) = reports
                    .register(&ctx, Report::queued(ctx.bank_id(), sha, 0, &options))
                    .await
                    .expect("register")
                else {
                    unreachable!("fresh store")
                };
                let mut load = facts.begin_load(&ctx, &report).await.expect("load");
                let mut batch = Vec::with_capacity(100_000);
                for f in bank.facts(stage, report.report_id, &key) {
                    batch.push(f);
                    if batch.len() == 100_000 {
                        load.append(std::mem::take(&mut batch)).await.expect("append");
                    }
                }
                load.append(batch).await.expect("append");
                let mut done = report.clone();
                done.status = ReportStatus::Completed;
                total += load.commit(done).await.expect("commit").1.loaded;
            }
        }
    });
    eprintln!("loaded {total} facts in {:.1?}", started.elapsed());
    (cfg, banks, total)
}
