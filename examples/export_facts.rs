//! Writes the metric benchmark's data set (the same seed and size as `benches/metrics.rs`)
//! as one CSV of facts, so `benches/duckdb_metrics.py` can run the same queries in DuckDB.
//!
//! ```text
//! cargo run --release --example export_facts -- target/bench-data/facts.csv
//! ```

use std::io::{BufWriter, Write};

use payscope::facts::{ReportId, Stage};
use payscope::ingest::pan::PanKey;
use payscope::synth::{self, SynthConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: export_facts <path.csv>")?;
    let total = std::env::var("PAYSCOPE_BENCH_FACTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let banks = synth::generate(&SynthConfig::bench(total));
    let key = PanKey::new([1; 32]);
    let mut out = BufWriter::new(std::fs::File::create(&path)?);
    writeln!(out, "bank,stage,occurred_at,amount_minor,currency,merchant_id,approved,network")?;
    let mut n = 0u64;
    for (b, bank) in banks.iter().enumerate() {
        for stage in Stage::ALL {
            for f in bank.facts(stage, ReportId(uuid::Uuid::nil()), &key) {
                let approved = f.approved.map_or("", |a| if a { "true" } else { "false" });
                let network = f.network.as_ref().map_or("", |n| n.as_str());
                writeln!(
                    out,
                    "{b},{},{},{},{},{},{approved},{network}",
                    stage.as_str(),
                    f.occurred_at.millis(),
                    f.amount.minor,
                    f.amount.currency.code(),
                    f.merchant_id.as_deref().unwrap_or("")
                )?;
                n += 1;
            }
        }
    }
    out.flush()?;
    println!("wrote {n} facts to {path}");
    Ok(())
}
