//! The mapping workflow through the engine: a layout inference cannot read fails with an
//! error that says how to fix it; a preview with overrides shows the fix without storing
//! anything; the same bytes uploaded again with the overrides load; a bank admin saves the
//! mapping as a profile (audited) and later files of the layout load on their own; a rebuild
//! reads each report as it was read, whatever became of the profile.

use futures::stream;
use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::facts::{MappingOverrides, ProfileDraft, ReportOptions, ReportStatus, Stage};
use payscope_core::{Engine, EngineOptions, Error};

/// A Dutch acquirer export: no word of its header is in the vocabulary's languages, and its
/// row types (`Verkoop` sale, `Terugbetaling` refund, `Uitbetaling` payout) neither.
const HEADER: &str = "Kenmerk;Boekingsdatum;Bedrag;Munt;Soort\n";
const ROWS_MARCH: &str = "NL-001;01-03-2026 10:00;12,50;EUR;Verkoop\n\
NL-002;02-03-2026 11:00;7,00;EUR;Terugbetaling\n\
NL-003;03-03-2026 12:00;1.009,00;EUR;Verkoop\n\
NL-004;04-03-2026 09:30;250,00;EUR;Uitbetaling\n\
NL-005;05-03-2026 18:45;3,99;EUR;Verkoop\n";
const ROWS_APRIL: &str = "NL-101;01-04-2026 08:00;20,00;EUR;Verkoop\n\
NL-102;12-04-2026 14:00;5,00;EUR;Terugbetaling\n\
NL-103;13-04-2026 15:00;300,00;EUR;Uitbetaling\n";

fn file(rows: &str) -> Vec<u8> {
    format!("{HEADER}{rows}").into_bytes()
}

fn mapping() -> MappingOverrides {
    serde_json::from_value(serde_json::json!({
        "columns": {"stage": "Soort", "transaction_id": "Kenmerk"},
        "kinds": {"Verkoop": "CLEARING", "Terugbetaling": "REFUND", "Uitbetaling": "skip"},
        "date_order": "dmy"
    }))
    .unwrap()
}

fn body(bytes: Vec<u8>) -> impl futures::Stream<Item = Result<bytes::Bytes, Error>> + Unpin + Send {
    stream::iter([Ok(bytes::Bytes::from(bytes))])
}

fn named(filename: &str, mapping: Option<MappingOverrides>) -> ReportOptions {
    ReportOptions { filename: Some(filename.into()), mapping, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layout_is_decided_once_then_loads_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let bank = BankId::from_uuid(uuid::Uuid::new_v4());
    let admin = BankContext::embedded(bank, [Role::BankAdmin]);
    let analyst = BankContext::embedded(bank, [Role::Analyst]);
    let (april_id, fingerprint) = {
        let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();

        // Inference cannot read it: the report fails, saying how to fix it, and stores nothing.
        let failed = engine.ingest(&analyst, file(ROWS_MARCH), named("march.csv", None)).await.unwrap();
        assert_eq!(failed.status, ReportStatus::Failed);
        let why = &failed.errors[0].message;
        for part in [
            "Kenmerk, Boekingsdatum, Bedrag, Munt, Soort",
            "report_type",
            "mapping=",
            "POST /reports/preview",
            "POST /mapping-profiles",
        ] {
            assert!(why.contains(part), "`{part}` missing from: {why}");
        }
        assert_eq!(failed.facts_loaded, 0);

        // A preview shows the same failure with the file's structure, and stores nothing.
        let p = engine.preview(&analyst, body(file(ROWS_MARCH)), named("march.csv", None)).await.unwrap();
        assert!(!p.would_load);
        assert_eq!(p.error.as_deref(), Some(why.as_str()));
        let section = &p.structure.as_ref().unwrap().sections[0];
        assert_eq!((section.line, section.role.as_str(), section.rows), (1, "unread", 5));
        let fingerprint = section.fingerprint.clone();

        // With the overrides, the preview reads it: the stage rule names the mapping's kinds.
        let p = engine
            .preview(&analyst, body(file(ROWS_MARCH)), named("march.csv", Some(mapping())))
            .await
            .unwrap();
        assert!(p.would_load, "{:?}", p.error);
        assert_eq!((p.rows_read, p.rows_skipped, p.rows_rejected), (5, 1, 0));
        let facts: Vec<(&str, Stage, i64)> =
            p.facts.iter().map(|f| (f.transaction_id.as_str(), f.stage, f.amount.minor)).collect();
        assert_eq!(
            facts,
            [
                ("NL-001", Stage::Clearing, 1250),
                ("NL-002", Stage::Refund, 700),
                ("NL-003", Stage::Clearing, 100_900),
                ("NL-005", Stage::Clearing, 399)
            ]
        );
        let rule = p.mapping.iter().find(|d| d.field == "stage.rule").unwrap();
        assert!(rule.rule.contains("`Verkoop` is CLEARING"), "{}", rule.rule);
        assert!(p.mapping.iter().any(|d| d.column == "Soort" && d.rule == "override"));
        assert_eq!(
            engine.reports(&analyst, 10, None).await.unwrap().reports.len(),
            1,
            "a preview stored a report"
        );

        // Overrides that name no field are refused before anything is stored.
        let mut bad = mapping();
        bad.columns.insert("amout".into(), Some("Bedrag".into()));
        let e = engine.ingest(&analyst, file(ROWS_APRIL), named("x.csv", Some(bad))).await.unwrap_err();
        assert!(e.to_string().contains("`amout` is not a field"), "{e}");

        // The same bytes again with the mapping: the failed report is read again and loads.
        let loaded =
            engine.ingest(&analyst, file(ROWS_MARCH), named("march.csv", Some(mapping()))).await.unwrap();
        assert_eq!((loaded.report_id, loaded.status), (failed.report_id, ReportStatus::Completed));
        assert_eq!((loaded.facts_loaded, loaded.rows_skipped), (4, 1));
        // A completed report stays as it is.
        let again = engine.ingest(&analyst, file(ROWS_MARCH), named("march.csv", None)).await.unwrap();
        assert_eq!((again.status, again.facts_loaded), (ReportStatus::Completed, 4));

        // Profiles: an analyst reads them but may not save one; a bank admin saves it.
        let draft = ProfileDraft {
            name: "Dutch acquirer daily".into(),
            fingerprint: fingerprint.clone(),
            mapping: mapping(),
        };
        let e = engine.create_mapping_profile(&analyst, draft.clone()).await.unwrap_err();
        assert_eq!(e.code(), "forbidden");
        let profile = engine.create_mapping_profile(&admin, draft.clone()).await.unwrap();
        assert_eq!(engine.mapping_profiles(&analyst).await.unwrap(), vec![profile.clone()]);
        assert_eq!(engine.create_mapping_profile(&admin, draft).await.unwrap_err().code(), "conflict");
        let mut bad = ProfileDraft { name: "x".into(), fingerprint: "ABC".into(), mapping: mapping() };
        assert!(engine
            .create_mapping_profile(&admin, bad.clone())
            .await
            .unwrap_err()
            .to_string()
            .contains("16 lowercase hex"));
        bad.fingerprint = "0011223344556677".into();
        bad.mapping.date_order = Some("ydm".into());
        assert!(engine
            .create_mapping_profile(&admin, bad)
            .await
            .unwrap_err()
            .to_string()
            .contains("date_order"));

        // Another bank's files of the layout are not read with this bank's profile.
        let other = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
        let theirs = engine.ingest(&other, file(ROWS_APRIL), named("april.csv", None)).await.unwrap();
        assert_eq!(theirs.status, ReportStatus::Failed);

        // A later file of the layout loads on its own, read with the profile.
        let april = engine.ingest(&analyst, file(ROWS_APRIL), named("april.csv", None)).await.unwrap();
        assert_eq!(april.status, ReportStatus::Completed, "{:?}", april.errors);
        assert_eq!((april.facts_loaded, april.rows_skipped), (2, 1));
        assert_eq!(april.profiles_applied, vec![profile.clone()]);
        assert!(april.mapping.iter().any(|d| d.column == "Soort" && d.rule == "profile"));
        assert!(april.warnings.iter().any(|w| w.contains("Dutch acquirer daily")), "{:?}", april.warnings);

        // Every change of a profile is in the audit chain, which still verifies.
        let mut renamed = ProfileDraft {
            name: "Dutch acquirer".into(),
            fingerprint: fingerprint.clone(),
            mapping: mapping(),
        };
        renamed.mapping.kinds.insert("Terugbetaling".into(), "skip".into());
        let updated = engine.update_mapping_profile(&admin, profile.profile_id, renamed).await.unwrap();
        assert_eq!((updated.created_at, updated.name.as_str()), (profile.created_at, "Dutch acquirer"));
        engine.delete_mapping_profile(&admin, profile.profile_id).await.unwrap();
        assert_eq!(
            engine.delete_mapping_profile(&admin, profile.profile_id).await.unwrap_err().code(),
            "not_found"
        );
        let auditor = BankContext::embedded(bank, [Role::Auditor]);
        let chain = engine.verify_audit(&auditor).await.unwrap();
        assert!(chain.ok);
        assert_eq!(chain.records, 3);
        (april.report_id, fingerprint)
    };

    // After a restart the April report is rebuilt as it was read — with the profile as it
    // was then, although it has since been changed and deleted.
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
    let april = engine.report(&analyst, april_id).await.unwrap();
    assert_eq!((april.status, april.facts_loaded), (ReportStatus::Completed, 2));
    assert!(engine.mapping_profiles(&analyst).await.unwrap().is_empty());
    let facts = engine
        .stores()
        .facts
        .scan(
            &analyst,
            &payscope_core::store::FactFilter { report_id: Some(april_id), ..Default::default() },
            None,
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        facts.iter().map(|f| (f.transaction_id.as_str(), f.stage)).collect::<Vec<_>>(),
        [("NL-101", Stage::Clearing), ("NL-102", Stage::Refund)]
    );
    // A profile saved again applies again.
    let draft = ProfileDraft { name: "again".into(), fingerprint, mapping: mapping() };
    let again = engine.create_mapping_profile(&admin, draft).await.unwrap();
    let p = engine.preview(&analyst, body(file(ROWS_APRIL)), named("april.csv", None)).await.unwrap();
    assert!(p.would_load && p.profiles_applied == vec![again.clone()]);
    drop(engine);
    // Profiles persist in the data directory.
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
    assert_eq!(engine.mapping_profiles(&analyst).await.unwrap(), vec![again]);
}
