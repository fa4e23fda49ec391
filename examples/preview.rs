//! How PayScope reads a report file, without storing anything: the structure it finds, each
//! column's mapping with its rule and confidence, the first facts, the rows skipped or
//! rejected, and why a file would fail — the same preview as `POST /reports/preview`.
//!
//! ```text
//! cargo run --release --example preview -- FILE [report_type=auto] [currency=EUR] [timezone=Europe/Paris] [mapping='{"columns":{"transaction_id":"Ref"}}']
//! ```

use futures::stream;
use payscope::bank::{BankContext, BankId, Role};
use payscope::facts::{ReportOptions, ReportType};
use payscope::{Engine, EngineOptions};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: preview FILE [name=value ...]")?;
    let mut options = ReportOptions { report_type: ReportType::Auto, ..Default::default() };
    for arg in args {
        let (k, v) = arg.split_once('=').ok_or(format!("`{arg}` is not name=value"))?;
        match k {
            "report_type" => options.report_type = v.parse()?,
            "currency" => options.currency = Some(v.into()),
            "timezone" => options.timezone = Some(v.into()),
            "network" => options.network = Some(v.into()),
            "mapping" => options.mapping = Some(serde_json::from_str(v)?),
            _ => return Err(format!("unknown option `{k}`").into()),
        }
    }
    let bytes = std::fs::read(&path)?;
    let dir = tempfile::tempdir()?;
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await?;
    let ctx = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let body = stream::iter([Ok::<_, payscope::Error>(bytes::Bytes::from(bytes))]);
    let preview = engine.preview(&ctx, body, options).await?;
    println!("{}", serde_json::to_string_pretty(&preview)?);
    Ok(())
}
