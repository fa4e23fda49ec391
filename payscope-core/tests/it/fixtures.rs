//! Shared test data: synthetic banks loaded through the store traits.

use std::sync::OnceLock;

use payscope_core::bank::{BankContext, Role};
use payscope_core::facts::{Fact, Report, ReportOptions, ReportStatus, ReportType, Sha256, Stage};
use payscope_core::ingest::pan::PanKey;
use payscope_core::store::{FactStore, Registered, ReportStore};
use payscope_core::synth::{self, SynthBank, SynthConfig};

/// Two small synthetic banks and the key their card tokens were made with.
pub struct Dataset {
    pub banks: Vec<SynthBank>,
    pub key: PanKey,
}

/// The shared dataset (generated once per test binary).
pub fn dataset() -> &'static Dataset {
    static DATA: OnceLock<Dataset> = OnceLock::new();
    DATA.get_or_init(|| Dataset {
        banks: synth::generate(&SynthConfig::small(42)),
        key: PanKey::new([7; 32]),
    })
}

/// A context for a synthetic bank with every role.
pub fn ctx(bank: &SynthBank) -> BankContext {
    BankContext::embedded(bank.bank_id, [Role::Admin])
}

/// A queued report with a unique hash derived from `label`.
pub fn new_report(ctx: &BankContext, label: &str, report_type: ReportType) -> Report {
    let options = ReportOptions { report_type, filename: Some(format!("{label}.csv")), ..Default::default() };
    Report::queued(
        ctx.bank_id(),
        Sha256::digest(format!("{}:{label}", ctx.bank_id()).as_bytes()),
        100,
        &options,
    )
}

/// Registers a report and loads `facts` into it (re-pointing their lineage), committing it
/// as completed. Returns the stored report.
pub async fn load(
    reports: &dyn ReportStore,
    store: &dyn FactStore,
    ctx: &BankContext,
    label: &str,
    stage: Stage,
    facts: Vec<Fact>,
) -> Report {
    let report =
        match reports.register(ctx, new_report(ctx, label, ReportType::for_stage(stage))).await.unwrap() {
            Registered::New(r) => r,
            Registered::Duplicate(r) => r,
        };
    let mut load = store.begin_load(ctx, &report).await.unwrap();
    let mut batch = Vec::new();
    for (i, mut f) in facts.into_iter().enumerate() {
        f.lineage.report_id = report.report_id;
        f.lineage.sha256 = report.sha256;
        f.lineage.row = i as u32 + 1;
        batch.push(f);
        if batch.len() == 5000 {
            load.append(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    load.append(batch).await.unwrap();
    let mut done = report.clone();
    done.status = ReportStatus::Completed;
    let (stored, _) = load.commit(done).await.unwrap();
    stored
}

/// The stage order banks are loaded in: bank 0 in lifecycle order, bank 1 with fraud reports
/// first (so both ways of deduplicating fraud are exercised).
pub fn stage_order(bank_index: usize) -> [Stage; 6] {
    if bank_index == 0 {
        Stage::ALL
    } else {
        [Stage::Fraud, Stage::Chargeback, Stage::Refund, Stage::Settlement, Stage::Clearing, Stage::Auth]
    }
}

/// Loads every stage of every dataset bank; returns each bank's facts with their lineage.
pub async fn load_all(reports: &dyn ReportStore, store: &dyn FactStore) -> Vec<Vec<Fact>> {
    let data = dataset();
    let mut out = Vec::new();
    for (b, bank) in data.banks.iter().enumerate() {
        let ctx = ctx(bank);
        let mut facts = Vec::new();
        for stage in stage_order(b) {
            let nil = payscope_core::facts::ReportId(uuid::Uuid::nil());
            let stage_facts: Vec<Fact> = bank.facts(stage, nil, &data.key).collect();
            let report = load(reports, store, &ctx, stage.as_str(), stage, stage_facts.clone()).await;
            facts.extend(stage_facts.into_iter().enumerate().map(|(i, mut f)| {
                f.lineage.report_id = report.report_id;
                f.lineage.sha256 = report.sha256;
                f.lineage.row = i as u32 + 1;
                f
            }));
        }
        out.push(facts);
    }
    out
}

/// True when tests must not skip for want of a service (`PAYSCOPE_REQUIRE_SERVICES=1`).
pub fn required() -> bool {
    std::env::var("PAYSCOPE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Skips (or, when services are required, fails) a test that needs `var`.
pub fn unavailable<T>(var: &str) -> Option<T> {
    if required() {
        panic!("{var} is not set and PAYSCOPE_REQUIRE_SERVICES=1");
    }
    eprintln!("skipping: {var} is not set");
    None
}

/// A test tool's executable: `$var` when set, else `name` on the `PATH`; `None` (skip, or
/// fail under `PAYSCOPE_REQUIRE_SERVICES=1`) when neither exists.
pub fn tool(var: &str, name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os(var).map(std::path::PathBuf::from).or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?).map(|dir| dir.join(name)).find(|p| p.is_file())
    });
    match found {
        Some(path) => Some(path),
        None => unavailable(&format!("{var} (or {name} on PATH)")),
    }
}
