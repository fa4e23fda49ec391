//! Report layouts and languages acquirers use, written for this test by
//! `tests/data/layouts/make_layouts.py` — French, German, Spanish, Portuguese and Italian
//! headers and row types, decimal commas and day-first dates, masked card numbers, a wrapped
//! file with a summary section and a trailer count, values whose names say nothing, and a
//! workbook whose header starts in column C under title rows. Each loads through the engine,
//! with `report_type=auto` unless the file cannot say what it is (as an uploader would), to
//! the numbers the script computed from the rows it wrote.

use std::collections::BTreeMap;
use std::path::PathBuf;

use payscope_core::facts::{ReportOptions, ReportStatus};
use payscope_core::{Engine, EngineOptions};
use serde_json::{json, Value};

use crate::real::{analyst, facts_of};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/layouts")
}

fn options(file: &str, params: &Value) -> ReportOptions {
    let text = |k: &str| params[k].as_str().map(str::to_owned);
    ReportOptions {
        report_type: text("report_type").map(|t| t.parse().unwrap()).unwrap_or_default(),
        currency: text("currency"),
        timezone: text("timezone"),
        filename: Some(file.to_owned()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layouts_in_five_languages_load_to_their_numbers() {
    let expected: BTreeMap<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(dir().join("expected.json")).unwrap()).unwrap();
    assert!(expected.len() >= 8);
    let engine =
        Engine::embedded(tempfile::tempdir().unwrap().path(), None, EngineOptions::default()).await.unwrap();
    let mut failures = Vec::new();
    for (file, want) in &expected {
        let ctx = analyst();
        let bytes = std::fs::read(dir().join(file)).unwrap();
        let report = engine.ingest(&ctx, bytes, options(file, &want["params"])).await.unwrap();
        let facts = facts_of(&engine, &ctx, &report).await;
        let mut by_stage: BTreeMap<String, u64> = BTreeMap::new();
        let mut amounts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
        let mut networks: BTreeMap<String, u64> = BTreeMap::new();
        let mut bins: BTreeMap<String, u64> = BTreeMap::new();
        for f in &facts {
            *by_stage.entry(f.stage.as_str().to_owned()).or_default() += 1;
            *amounts
                .entry(f.stage.as_str().to_owned())
                .or_default()
                .entry(f.amount.currency.code().to_owned())
                .or_default() += f.amount.minor;
            if let Some(n) = &f.network {
                *networks.entry(n.as_str().to_owned()).or_default() += 1;
            }
            if let Some(b) = &f.issuer_bin {
                *bins.entry(b.clone()).or_default() += 1;
            }
        }
        let mut ids: Vec<&str> = facts.iter().map(|f| f.transaction_id.as_str()).collect();
        ids.sort_unstable();
        let approved =
            facts.iter().filter(|f| f.stage.as_str() == "AUTH" && f.approved == Some(true)).count();
        let got = json!({
            "status": report.status.as_str(),
            "facts": facts.len(),
            "skipped": report.rows_skipped,
            "rejected": report.rows_rejected,
            "by_stage": by_stage,
            "amount_minor": amounts,
            "networks": networks,
            "approved_auth": approved,
            "bins": bins,
            "ids": ids,
        });
        for key in got.as_object().unwrap().keys() {
            if got[key] != want[key] {
                failures.push(format!("{file}: {key} is {} but should be {}", got[key], want[key]));
            }
        }
        if report.status == ReportStatus::Completed {
            assert!(report.controls.iter().all(|c| c.ok), "{file}: {:?}", report.controls);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The wrapped file states its own totals: a summary by brand and a trailer count, both
/// checked against the loaded detail and recorded on the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_own_totals_are_checked() {
    let engine =
        Engine::embedded(tempfile::tempdir().unwrap().path(), None, EngineOptions::default()).await.unwrap();
    let ctx = analyst();
    let bytes = std::fs::read(dir().join("wrapped_sections.csv")).unwrap();
    let report =
        engine.ingest(&ctx, bytes.clone(), options("wrapped_sections.csv", &json!({}))).await.unwrap();
    let sources: Vec<(&str, bool)> = report.controls.iter().map(|c| (c.source.as_str(), c.ok)).collect();
    assert_eq!(sources.len(), 2, "{:?}", report.controls);
    assert!(sources.iter().all(|(_, ok)| *ok));
    let structure = report.structure.as_ref().unwrap();
    let roles: Vec<&str> = structure.sections.iter().map(|s| s.role.as_str()).collect();
    assert_eq!(roles, ["summary", "detail"]);
    // A detail row dropped from the file: both controls now disagree, and say where.
    let text =
        String::from_utf8(bytes).unwrap().replace("Detail,TX-5,2026-06-01T11:00:00Z,MC,50.25,USD,00\n", "");
    let report = engine.ingest(&ctx, text.into_bytes(), options("short.csv", &json!({}))).await.unwrap();
    assert_eq!(report.status, ReportStatus::Completed);
    let bad: Vec<&Vec<String>> = report.controls.iter().filter(|c| !c.ok).map(|c| &c.differences).collect();
    assert_eq!(bad.len(), 2, "{:?}", report.controls);
    assert!(bad.iter().any(|d| d.iter().any(|t| t.contains("MC"))), "{bad:?}");
    // The status says so in words, too.
    assert!(report.warnings.iter().any(|w| w.contains("own totals disagree")), "{:?}", report.warnings);
}
