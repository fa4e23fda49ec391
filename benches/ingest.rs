//! Report → validated canonical facts: a synthetic authorization CSV in the network layout
//! (card numbers, separate date and time columns, grouped amounts), and a Mastercard IPM
//! clearing file of about as many messages (EBCDIC, 1014-byte blocks; its reader runs on one
//! core), parsed by the streaming pipeline, facts discarded after validation.
//!
//! ```text
//! cargo bench --bench ingest            # PAYSCOPE_BENCH_ROWS=1000000 by default
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use payscope::bank::BankId;
use payscope::facts::{Report, ReportOptions, ReportType, Sha256, Stage};
use payscope::ingest::pan::PanKey;
use payscope::ingest::{parse_report, BATCH_SIZE};
use payscope::synth::{self, files, SynthConfig};

fn rows() -> u64 {
    std::env::var("PAYSCOPE_BENCH_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

/// A synthetic authorization file with about `rows` rows.
pub fn auth_csv(rows: u64) -> Vec<u8> {
    let mut cfg = SynthConfig::bench(rows * 2 * 278 / 100 * 1028 / 1000);
    cfg.banks = 1;
    let bank = synth::generate(&cfg).remove(0);
    let mut out = Vec::new();
    files::write_report(&bank, Stage::Auth, files::Layout::NetworkCsv, &PanKey::new([2; 32]), &mut out)
        .unwrap();
    out
}

fn parse(c: &mut Criterion) {
    let bytes = auth_csv(rows());
    let key = PanKey::new([9; 32]);
    let options = ReportOptions { report_type: ReportType::Authorization, ..Default::default() };
    let report = Report::queued(
        BankId::from_uuid(uuid::Uuid::nil()),
        Sha256::digest(b"bench"),
        bytes.len() as u64,
        &options,
    );
    let count = |bytes: Vec<u8>| {
        let mut n = 0u64;
        let summary =
            parse_report(std::io::Cursor::new(bytes), &report, &key, BATCH_SIZE, &mut |b: Vec<_>| {
                n += b.len() as u64;
                Ok(())
            })
            .unwrap();
        assert_eq!(summary.rows_rejected, 0);
        n
    };
    let n = count(bytes.clone());
    eprintln!("file: {} rows, {:.1} MB", n, bytes.len() as f64 / 1e6);
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("csv_auth_to_facts", |b| b.iter_batched(|| bytes.clone(), count, BatchSize::LargeInput));
    g.finish();

    let ipm = ipm_file(rows());
    let n = count(ipm.clone());
    eprintln!("file: {} IPM messages, {:.1} MB", n, ipm.len() as f64 / 1e6);
    let mut g = c.benchmark_group("ingest");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("ipm_clearing_to_facts", |b| {
        b.iter_batched(|| ipm.clone(), count, BatchSize::LargeInput)
    });
    g.finish();
}

/// A synthetic IPM clearing file with about `messages` messages.
fn ipm_file(messages: u64) -> Vec<u8> {
    let mut cfg = SynthConfig::bench(messages * 3 * 2 * 278 / 100 * 1028 / 1000);
    cfg.banks = 1;
    let bank = synth::generate(&cfg).remove(0);
    let mut out = Vec::new();
    synth::network::write_ipm(&bank, &mut out).unwrap();
    out
}

criterion_group!(benches, parse);
criterion_main!(benches);
