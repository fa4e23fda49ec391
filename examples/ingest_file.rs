//! Ingestion at scale from a file on disk, for `benches/ingest.sh`:
//!
//! ```text
//! cargo run --release --example ingest_file -- write 5000000 /tmp/auth-5m.csv
//! cargo run --release --example ingest_file -- parse /tmp/auth-5m.csv
//! cargo run --release --example ingest_file -- write-ipm 1000000 /tmp/clearing-1m.ipm
//! cargo run --release --example ingest_file -- parse /tmp/clearing-1m.ipm
//! ```
//!
//! `parse` streams the file through the pipeline (facts validated, then dropped) and prints
//! rows, rows/s and the process's peak resident memory.

use std::io::BufWriter;
use std::time::Instant;

use payscope::bank::BankId;
use payscope::facts::{Report, ReportOptions, ReportType, Sha256, Stage};
use payscope::ingest::pan::PanKey;
use payscope::ingest::{parse_report, BATCH_SIZE};
use payscope::synth::{self, files, SynthConfig};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("write") => {
            let rows: u64 = args.get(2).ok_or("rows missing")?.parse()?;
            let path = args.get(3).ok_or("path missing")?;
            // One bank, with about `rows` authorizations (see SynthConfig::bench).
            let mut cfg = SynthConfig::bench(rows * 2 * 278 / 100 * 1028 / 1000);
            cfg.banks = 1;
            let bank = synth::generate(&cfg).remove(0);
            let mut out = BufWriter::new(std::fs::File::create(path)?);
            let n = files::write_report(
                &bank,
                Stage::Auth,
                files::Layout::NetworkCsv,
                &PanKey::new([2; 32]),
                &mut out,
            )?;
            println!("wrote {n} rows to {path}");
        }
        Some("write-ipm") => {
            let messages: u64 = args.get(2).ok_or("messages missing")?.parse()?;
            let path = args.get(3).ok_or("path missing")?;
            // A bank whose Mastercard presentments, refunds and chargebacks number about
            // `messages` (about one in three of its authorizations).
            let mut cfg = SynthConfig::bench(messages * 3 * 2 * 278 / 100 * 1028 / 1000);
            cfg.banks = 1;
            let bank = synth::generate(&cfg).remove(0);
            let mut out = BufWriter::new(std::fs::File::create(path)?);
            let n = synth::network::write_ipm(&bank, &mut out)?;
            println!("wrote {n} messages to {path}");
        }
        Some("parse") => {
            let path = args.get(2).ok_or("path missing")?;
            let file = std::fs::File::open(path)?;
            let size = file.metadata()?.len();
            // The CSV is an authorization report; a network file says what each message is.
            let report_type =
                if path.ends_with(".csv") { ReportType::Authorization } else { ReportType::Auto };
            let options = ReportOptions { report_type, ..Default::default() };
            let report = Report::queued(
                BankId::from_uuid(uuid::Uuid::nil()),
                Sha256::digest(path.as_bytes()),
                size,
                &options,
            );
            let key = PanKey::new([9; 32]);
            let started = Instant::now();
            let mut facts = 0u64;
            let summary = parse_report(file, &report, &key, BATCH_SIZE, &mut |batch: Vec<_>| {
                facts += batch.len() as u64;
                Ok(())
            })?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "parsed {} rows ({} facts, {} rejected) from {:.0} MB in {:.2} s: {:.0} rows/s, peak RSS {} MiB",
                summary.rows_total,
                facts,
                summary.rows_rejected,
                size as f64 / 1e6,
                secs,
                summary.rows_total as f64 / secs,
                peak_rss_kib() / 1024
            );
        }
        _ => return Err("usage: ingest_file write <rows> <path> | parse <path>".into()),
    }
    Ok(())
}
