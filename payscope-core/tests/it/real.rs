//! Report files written by others (acquirers, PSPs, dataset authors), loaded through the
//! engine and compared with the facts a payments analyst expects of each: `expected.json`
//! beside the files, computed independently (a plain `csv` reader and DuckDB SQL).
//!
//! The files are read from the workspace's `../shared/real/` (found by walking up from this
//! crate); they are never copied into the repository. Without them the test skips, unless
//! `PAYSCOPE_REQUIRE_SERVICES=1` (CI), where their absence is a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::facts::{Fact, Report, ReportOptions, ReportStatus, ReportType};
use payscope_core::store::FactFilter;
use payscope_core::Engine;
use serde_json::Value;

/// The folder of real report files, if this checkout sits beside it.
pub fn real_dir() -> Option<PathBuf> {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let found = start.ancestors().map(|a| a.join("shared/real")).find(|p| p.join("expected.json").is_file());
    if found.is_none() {
        let required = std::env::var("PAYSCOPE_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
        assert!(!required, "the real report files (shared/real/expected.json) are not beside this checkout");
        eprintln!("skipped: no shared/real/expected.json above {}", start.display());
    }
    found
}

/// The expected outcomes of every file.
pub fn cases(dir: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("expected.json")).unwrap();
    serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone()
}

/// Upload options from a case's `params`, with `report_type` replaced when given.
pub fn options(case: &Value, report_type: Option<ReportType>) -> ReportOptions {
    let p = &case["params"];
    let text = |k: &str| p[k].as_str().map(str::to_owned);
    ReportOptions {
        report_type: report_type.unwrap_or_else(|| text("report_type").unwrap_or_default().parse().unwrap()),
        currency: text("currency"),
        timezone: text("timezone"),
        filename: case["file"].as_str().map(str::to_owned),
        ..Default::default()
    }
}

pub fn analyst() -> BankContext {
    BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst, Role::BankAdmin])
}

pub async fn facts_of(engine: &Engine, ctx: &BankContext, report: &Report) -> Vec<Fact> {
    let filter = FactFilter { report_id: Some(report.report_id), ..Default::default() };
    engine.stores().facts.scan(ctx, &filter, None, usize::MAX).await.unwrap()
}

/// The numbers of a load, in the shape of `expected.json`'s outcomes.
fn observed(report: &Report, facts: &[Fact], date_only: bool) -> BTreeMap<&'static str, Value> {
    let mut by_stage: BTreeMap<String, u64> = BTreeMap::new();
    let mut amounts: BTreeMap<String, i64> = BTreeMap::new();
    let mut fraud: BTreeMap<String, u64> = BTreeMap::new();
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let (mut approved, mut declined) = (0u64, 0u64);
    for f in facts {
        let stage = f.stage.as_str().to_owned();
        *by_stage.entry(stage.clone()).or_default() += 1;
        *amounts.entry(format!("{stage}/{}", f.amount.currency.code())).or_default() += f.amount.minor;
        if f.fraud_reported {
            *fraud.entry(stage.clone()).or_default() += 1;
        }
        match f.approved {
            Some(true) => approved += 1,
            Some(false) => declined += 1,
            None => {}
        }
        let t = f.occurred_at.to_string();
        let t = if date_only {
            t[..10].to_owned()
        } else {
            t.trim_end_matches(".000Z").trim_end_matches('Z').to_owned() + "Z"
        };
        let e = first.entry(stage.clone()).or_insert_with(|| t.clone());
        if t < *e {
            *e = t.clone();
        }
        let e = last.entry(stage).or_insert_with(|| t.clone());
        if t > *e {
            *e = t;
        }
    }
    let ids: BTreeSet<&str> = facts.iter().map(|f| f.transaction_id.as_str()).collect();
    BTreeMap::from([
        ("status", Value::from(report.status.as_str())),
        ("facts_by_stage", serde_json::to_value(by_stage).unwrap()),
        ("amount_minor_by_stage_currency", serde_json::to_value(amounts).unwrap()),
        ("distinct_transaction_ids", Value::from(ids.len())),
        ("first_ts", serde_json::to_value(first).unwrap()),
        ("last_ts", serde_json::to_value(last).unwrap()),
        ("fraud_reported_by_stage", serde_json::to_value(fraud).unwrap()),
        ("auth_approved", Value::from(approved)),
        ("auth_declined", Value::from(declined)),
    ])
}

/// Why a load does not match `outcome`, or `None` when it does.
pub fn mismatch(report: &Report, facts: &[Fact], outcome: &Value) -> Option<String> {
    let message = report.errors.iter().map(|e| e.message.to_lowercase()).collect::<Vec<_>>().join(" | ");
    if outcome["status"] == "refused" {
        if report.status != ReportStatus::Failed || !facts.is_empty() {
            return Some(format!(
                "expected a refusal, got {} with {} facts",
                report.status.as_str(),
                facts.len()
            ));
        }
        let all = outcome["error_mentions"].as_array().into_iter().flatten();
        let any: Vec<&Value> = outcome["error_mentions_any"].as_array().into_iter().flatten().collect();
        for m in all {
            if !message.contains(&m.as_str().unwrap().to_lowercase()) {
                return Some(format!("the error does not mention {m}: {message}"));
            }
        }
        if !any.is_empty() && !any.iter().any(|m| message.contains(&m.as_str().unwrap().to_lowercase())) {
            return Some(format!("the error mentions none of {any:?}: {message}"));
        }
        return None;
    }
    let date_only = outcome["ts_precision"] == "date";
    let got = observed(report, facts, date_only);
    let mut diffs = Vec::new();
    for (k, want) in outcome.as_object().unwrap() {
        if matches!(k.as_str(), "note" | "row_accounting" | "ts_precision" | "status") {
            continue;
        }
        let have = got.get(k.as_str()).cloned().unwrap_or(Value::Null);
        if &have != want {
            diffs.push(format!("{k}: expected {want}, got {have}"));
        }
    }
    if report.status != ReportStatus::Completed {
        diffs.insert(0, format!("status {} ({message})", report.status.as_str()));
    }
    // Stages the outcome does not list must have no facts.
    if let (Some(want), Some(have)) =
        (outcome["facts_by_stage"].as_object(), got["facts_by_stage"].as_object())
    {
        for s in have.keys().filter(|s| !want.contains_key(*s)) {
            diffs.push(format!("unexpected {s} facts"));
        }
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

/// Loads every real file with `report_type` (its own parameters when `None`) on `engine` and
/// returns the files that match none of their outcomes, with why.
pub async fn failures(engine: &Engine, report_type: Option<ReportType>) -> Vec<String> {
    let Some(dir) = real_dir() else { return Vec::new() };
    let mut failed = Vec::new();
    for case in cases(&dir) {
        let file = case["file"].as_str().unwrap();
        let ctx = analyst();
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let report = engine.ingest(&ctx, bytes, options(&case, report_type)).await.unwrap();
        let facts = facts_of(engine, &ctx, &report).await;
        eprintln!(
            "{file} ({}): {} {} rows = {} facts + {} duplicates + {} rejected + {} skipped; confidence {}",
            report_type.map_or("declared", ReportType::as_str),
            report.status.as_str(),
            report.rows_total,
            report.facts_loaded,
            report.duplicates_skipped,
            report.rows_rejected,
            report.rows_skipped,
            report.confidence
        );
        let outcomes = case["outcomes"].as_array().unwrap();
        let why: Vec<String> = outcomes.iter().filter_map(|o| mismatch(&report, &facts, o)).collect();
        if why.len() == outcomes.len() {
            failed.push(format!("{file}: {}", why.join(" / or / ")));
        }
        // No full card number of the file anywhere in the status or the facts.
        let kept =
            format!("{}{}", serde_json::to_string(&report).unwrap(), serde_json::to_string(&facts).unwrap());
        for pan in card_numbers(&dir.join(file), &report) {
            assert!(!kept.contains(&pan), "{file}: a card number was kept");
        }
    }
    failed
}

/// The full card numbers in the column a report mapped as `card_number`.
fn card_numbers(path: &std::path::Path, report: &Report) -> Vec<String> {
    let Some(structure) = &report.structure else { return Vec::new() };
    let Some(section) = structure.sections.iter().find(|s| s.role == "detail") else { return Vec::new() };
    let Some(col) = report
        .mapping
        .iter()
        .filter(|d| d.column != "(none)" && !d.column.starts_with('('))
        .position(|d| d.field == "card_number")
    else {
        return Vec::new();
    };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_path(path).unwrap();
    reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| r.position().is_some_and(|p| p.line() > section.line))
        .filter_map(|r| r.get(col).and_then(|v| payscope_core::ingest::pan::pan_digits_from(v, 11)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_reports_load_with_the_expected_numbers() {
    let failed = failures(&Engine::in_memory(), None).await;
    assert!(failed.is_empty(), "{} real files do not load as expected:\n{}", failed.len(), failed.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_reports_load_the_same_with_report_type_auto() {
    let failed = failures(&Engine::in_memory(), Some(ReportType::Auto)).await;
    assert!(
        failed.is_empty(),
        "{} real files load differently with report_type=auto:\n{}",
        failed.len(),
        failed.join("\n")
    );
}
