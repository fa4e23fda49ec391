//! Embedding PayScope without a server: generate two banks' worth of report files, ingest
//! them into the embedded engine, and print a few metrics.
//!
//! ```text
//! cargo run --release --example quickstart
//! ```

use std::time::Instant;

use payscope::bank::{BankContext, Role};
use payscope::calendar::TimeRange;
use payscope::facts::{ReportOptions, ReportType, Stage};
use payscope::ingest::pan::PanKey;
use payscope::store::metric::{Dimension, Filter, Metric, MetricQuery, MetricValue};
use payscope::synth::{self, files, SynthConfig};
use payscope::{Engine, EngineOptions};

fn show(v: &MetricValue) -> String {
    match v {
        MetricValue::Count { count } => count.to_string(),
        MetricValue::Ratio { numerator, denominator } if *denominator > 0 => {
            format!("{:.2}% ({numerator}/{denominator})", 100.0 * *numerator as f64 / *denominator as f64)
        }
        MetricValue::MeanHours { .. } => format!("{:.1} h", v.as_f64().unwrap_or(0.0)),
        MetricValue::Money { .. } | MetricValue::AverageMoney { .. } => {
            v.money().iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")
        }
        _ => "n/a".into(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cfg = SynthConfig::small(2026);
    let banks = synth::generate(&cfg);
    let dir = tempfile::tempdir()?;
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await?;
    // Files are rendered with their own card numbers; the engine tokenizes them with its key.
    let render_key = PanKey::generate();
    for bank in &banks {
        let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
        for stage in Stage::ALL {
            let mut bytes = Vec::new();
            files::write_report(bank, stage, files::Layout::NetworkCsv, &render_key, &mut bytes)?;
            let started = Instant::now();
            let options = ReportOptions {
                report_type: ReportType::Auto,
                filename: Some(files::file_name(stage, files::Layout::NetworkCsv)),
                ..Default::default()
            };
            let report = engine.ingest(&ctx, bytes, options).await?;
            println!(
                "bank {} {:<14} {:>9} {:>6} facts loaded in {:>6.1} ms (confidence {:.2})",
                &bank.bank_id.to_string()[..8],
                report.filename.as_deref().unwrap_or(""),
                report.status.as_str(),
                report.facts_loaded,
                started.elapsed().as_secs_f64() * 1000.0,
                report.confidence
            );
        }
    }
    let bank = &banks[0];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let as_of = cfg.as_of();
    let last_30 = TimeRange::new(as_of.date().add_days(-30).start(), as_of);
    println!("\nBank {} — last 30 days ({})", bank.bank_id, last_30.display_days());
    let overview = MetricQuery::new(
        [
            Metric::TransactionCount,
            Metric::ApprovalRate,
            Metric::TransactionAmount,
            Metric::SettledAmount,
            Metric::InterchangeFees,
            Metric::ChargebackRate,
            Metric::FraudCount,
            Metric::SettlementDelayHours,
        ],
        last_30,
    );
    let r = engine.stores().metrics.query(&ctx, &overview).await?;
    for (m, v) in r.query.metrics.iter().zip(&r.rows[0].values) {
        println!("  {:<24} {}", m.as_str(), show(v));
    }
    let by_network = MetricQuery::new([Metric::ApprovalRate], last_30).group_by(Dimension::Network);
    println!("\nApproval rate by network");
    for row in engine.stores().metrics.query(&ctx, &by_network).await?.rows {
        println!("  {:<24} {}", row.group[0].as_deref().unwrap_or("unknown"), show(&row.values[0]));
    }
    let top = MetricQuery::new([Metric::TransactionAmount], last_30)
        .filter(Filter::eq(Dimension::Currency, "USD"))
        .group_by(Dimension::MerchantName)
        .top(Metric::TransactionAmount, 5, true);
    println!("\nTop 5 merchants by sales (USD)");
    for row in engine.stores().metrics.query(&ctx, &top).await?.rows {
        println!("  {:<24} {}", row.group[0].as_deref().unwrap_or("unknown"), show(&row.values[0]));
    }
    let declines = MetricQuery::new([Metric::DeclinedCount], last_30).group_by(Dimension::ResponseCode).top(
        Metric::DeclinedCount,
        5,
        true,
    );
    println!("\nTop decline reasons");
    for row in engine.stores().metrics.query(&ctx, &declines).await?.rows {
        println!("  code {:<19} {}", row.group[0].as_deref().unwrap_or("?"), show(&row.values[0]));
    }
    Ok(())
}
