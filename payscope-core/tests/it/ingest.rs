//! Ingestion end to end through the engine: the shared samples against their truth files,
//! every synthetic layout against the generator's own truth, the bad-file corpus with its
//! exact outcomes, PAN safety, idempotency and restart survival.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::calendar::{TimeRange, Timestamp};
use payscope_core::facts::{
    Fact, Lineage, Report, ReportId, ReportOptions, ReportStatus, ReportType, Sha256, Stage,
};
use payscope_core::ingest::pan::PanKey;
use payscope_core::money::Currency;
use payscope_core::store::metric::{Metric, MetricQuery};
use payscope_core::store::FactFilter;
use payscope_core::synth::files::{write_report, Layout};
use payscope_core::{Engine, EngineOptions};

use crate::fixtures::dataset;

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn analyst(bank: BankId) -> BankContext {
    BankContext::embedded(bank, [Role::Analyst, Role::Auditor])
}

fn options(report_type: ReportType, filename: &str) -> ReportOptions {
    ReportOptions { report_type, filename: Some(filename.into()), ..Default::default() }
}

async fn all_facts(engine: &Engine, ctx: &BankContext) -> Vec<Fact> {
    engine.stores().facts.scan(ctx, &FactFilter::default(), None, usize::MAX).await.unwrap()
}

/// A row of a samples `truth.csv`.
struct Truth {
    fields: HashMap<String, String>,
}

impl Truth {
    fn get(&self, k: &str) -> Option<&str> {
        self.fields.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }
}

fn read_truth(path: &Path) -> Vec<Truth> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            Truth {
                fields: headers.iter().zip(rec.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect(),
            }
        })
        .collect()
}

/// The fields each sample file carries (the truth also holds enriched fields other stages lack).
fn fields_in_file(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Auth => &[
            "network",
            "response_code",
            "approved",
            "merchant_id",
            "merchant_name",
            "mcc",
            "merchant_country",
            "issuer_country",
            "issuer_bin",
            "entry_mode",
            "fraud_reported",
        ],
        Stage::Clearing => &["network", "merchant_id", "merchant_name", "interchange_fee_minor"],
        Stage::Settlement => &["network", "merchant_id", "interchange_fee_minor"],
        Stage::Chargeback => &["network", "merchant_id", "reason_code"],
        Stage::Refund => &["network", "merchant_id"],
        Stage::Fraud => &[],
    }
}

fn fact_field(f: &Fact, k: &str) -> Option<String> {
    match k {
        "network" => f.network.as_ref().map(|n| n.to_string()),
        "response_code" => f.response_code.clone(),
        "approved" => f.approved.map(|a| if a { "True".into() } else { "False".into() }),
        "merchant_id" => f.merchant_id.clone(),
        "merchant_name" => f.merchant_name.clone(),
        "mcc" => f.mcc.clone(),
        "merchant_country" => f.merchant_country.map(|c| c.to_string()),
        "issuer_country" => f.issuer_country.map(|c| c.to_string()),
        "issuer_bin" => f.issuer_bin.clone(),
        "entry_mode" => f.entry_mode.map(|e| e.to_string()),
        "interchange_fee_minor" => f.interchange_fee.map(|v| v.to_string()),
        "reason_code" => f.reason_code.clone(),
        "fraud_reported" => Some(if f.fraud_reported { "True".into() } else { "False".into() }),
        _ => unreachable!("{k}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn samples_ingest_to_exactly_their_truth() {
    let banks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir().join("samples/banks.json")).unwrap())
            .unwrap();
    let key = PanKey::new([5; 32]);
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::embedded(dir.path(), Some(key.clone()), EngineOptions::default()).await.unwrap();
    for (i, bank) in banks["banks"].as_array().unwrap().iter().enumerate() {
        let bank_id: BankId = bank["bank_id"].as_str().unwrap().parse().unwrap();
        let ctx = analyst(bank_id);
        let folder = data_dir().join("samples").join(bank["dir"].as_str().unwrap());
        for file in bank["files"].as_array().unwrap() {
            let name = file["file"].as_str().unwrap();
            // Bank 0 declares the report type; bank 1 leaves it to inference.
            let declared: ReportType = if i == 0 {
                file["report_type"].as_str().unwrap().parse().unwrap()
            } else {
                ReportType::Auto
            };
            let report = engine
                .ingest(&ctx, std::fs::read(folder.join(name)).unwrap(), options(declared, name))
                .await
                .unwrap();
            assert_eq!(report.status, ReportStatus::Completed, "{name}: {:?}", report.errors);
            assert_eq!(
                (report.rows_rejected, report.duplicates_skipped),
                (0, 0),
                "{name}: {:?}",
                report.errors
            );
            assert_eq!(report.report_type.as_str(), file["report_type"].as_str().unwrap(), "{name}");
            assert_eq!(report.facts_loaded, report.rows_total);
            assert!(report.confidence >= 0.7, "{name}: confidence {}", report.confidence);
            assert!(
                report.mapping.iter().filter(|m| m.field != "ignored").count() >= 5,
                "{name}: {:?}",
                report.mapping
            );
        }
        let facts = all_facts(&engine, &ctx).await;
        let truth = read_truth(&folder.join("truth.csv"));
        assert_eq!(facts.len() as u64, bank["facts"].as_u64().unwrap());
        assert_eq!(facts.len(), truth.len());
        let by_key: HashMap<(String, Stage), &Fact> =
            facts.iter().map(|f| ((f.transaction_id.clone(), f.stage), f)).collect();
        let mut sums: BTreeMap<(Stage, String), (i64, i64)> = BTreeMap::new();
        for t in &truth {
            let stage = Stage::parse(t.get("stage").unwrap()).unwrap();
            let f = by_key
                .get(&(t.get("transaction_id").unwrap().to_owned(), stage))
                .unwrap_or_else(|| panic!("missing {:?}", t.fields));
            assert_eq!(f.occurred_at, Timestamp::parse_rfc3339(t.get("occurred_at").unwrap()).unwrap());
            assert_eq!(f.amount.minor.to_string(), t.get("amount_minor").unwrap());
            assert_eq!(f.amount.currency.code(), t.get("currency").unwrap());
            for k in fields_in_file(stage) {
                assert_eq!(fact_field(f, k).as_deref(), t.get(k), "{k} of {} {stage}", f.transaction_id);
            }
            if stage == Stage::Auth {
                assert_eq!(f.card_token, Some(key.tokenize(t.get("pan").unwrap())));
            }
            let e = sums.entry((stage, f.amount.currency.code().to_owned())).or_default();
            e.0 += f.amount.minor;
            e.1 += t.get("amount_minor").unwrap().parse::<i64>().unwrap();
        }
        for ((stage, cur), (got, want)) in sums {
            assert_eq!(got, want, "{stage} {cur}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_synthetic_layout_ingests_to_the_generators_truth() {
    let data = dataset();
    let bank = &data.banks[0];
    for layout in [Layout::NetworkCsv, Layout::Jsonl] {
        let engine = Engine::in_memory();
        let ctx = analyst(bank.bank_id);
        for stage in Stage::ALL {
            let mut bytes = Vec::new();
            let rows = write_report(bank, stage, layout, &data.key, &mut bytes).unwrap();
            // JSON Lines carry their stage per line; CSVs are typed by inference.
            let report = engine.ingest(&ctx, bytes, options(ReportType::Auto, "synth")).await.unwrap();
            assert_eq!(report.status, ReportStatus::Completed, "{layout:?} {stage}: {:?}", report.errors);
            assert_eq!((report.facts_loaded, report.rows_rejected), (rows, 0), "{layout:?} {stage}");
        }
        let mut got = all_facts(&engine, &ctx).await;
        let mut want: Vec<Fact> = Stage::ALL
            .iter()
            .flat_map(|s| bank.txs.iter().filter_map(move |tx| bank.fact(tx, *s, &data.key)))
            .collect();
        // Card tokens in files are keyed by the engine's key (CSV) or carried (JSONL).
        for f in got.iter_mut().chain(want.iter_mut()) {
            f.lineage = Lineage { report_id: ReportId(uuid::Uuid::nil()), sha256: Sha256([0; 32]), row: 0 };
            if layout == Layout::NetworkCsv {
                f.card_token = None;
            }
        }
        let key = |f: &Fact| (f.transaction_id.clone(), f.stage);
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got.len(), want.len(), "{layout:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{layout:?}");
        }
    }
}

#[tokio::test]
async fn xlsx_with_title_rows_typed_cells_and_totals() {
    let engine = Engine::in_memory();
    let ctx = analyst(BankId::from_uuid(uuid::Uuid::new_v4()));
    let bytes = std::fs::read(data_dir().join("xlsx/auth_with_title.xlsx")).unwrap();
    let report = engine.ingest(&ctx, bytes, options(ReportType::Auto, "auth.xlsx")).await.unwrap();
    assert_eq!(report.status, ReportStatus::Completed, "{:?}", report.errors);
    assert_eq!((report.rows_total, report.facts_loaded, report.rows_rejected), (20, 20, 0));
    assert_eq!(report.report_type, ReportType::Authorization);
    let facts = all_facts(&engine, &ctx).await;
    let x3 = facts.iter().find(|f| f.transaction_id == "X0003").unwrap();
    assert_eq!(x3.occurred_at.to_string(), "2026-10-01T11:30:00Z");
    assert_eq!((x3.amount.minor, x3.amount.currency), (1375, Currency::USD));
    let x4 = facts.iter().find(|f| f.transaction_id == "X0004").unwrap();
    assert_eq!((x4.amount.minor, x4.amount.currency), (15, Currency::JPY));
    let x5 = facts.iter().find(|f| f.transaction_id == "X0005").unwrap();
    assert_eq!((x5.approved, x5.mcc.as_deref()), (Some(false), Some("5812")));
}

/// Expected outcome of a bad file: final status, rows, loaded, rejected, and a fragment of the
/// first error (the report-level error for failed reports).
struct Expect(&'static str, ReportStatus, u64, u64, u64, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_get_their_documented_outcome() {
    use ReportStatus::{Completed, Failed};
    let cases = [
        Expect("empty.csv", Failed, 0, 0, 0, "the file is empty"),
        Expect("header_only.csv", Completed, 0, 0, 0, ""),
        Expect("garbage.bin", Failed, 0, 0, 0, "binary"),
        Expect("truncated.xlsx", Failed, 0, 0, 0, "cannot be opened"),
        Expect("latin1.csv", Completed, 2, 2, 0, ""),
        Expect("missing_amount.csv", Failed, 0, 0, 0, "missing required column: amount; columns seen: Transaction ID, Transaction Date, Currency Code, Response Code"),
        Expect("sixty_percent_bad.csv", Failed, 10, 0, 6, "6 of 10 rows were rejected"),
        Expect("big_field.csv", Completed, 3, 2, 1, "merchant_name is longer than 256 characters"),
        Expect("formula.csv", Completed, 6, 3, 3, "looks like a spreadsheet formula"),
        Expect("duplicate_headers.csv", Completed, 2, 2, 0, ""),
        Expect("unknown_currency.csv", Completed, 3, 2, 1, "currency `XYZ` is not an ISO 4217 code"),
        Expect("dates_out_of_range.csv", Completed, 7, 4, 3, "outside 1970–2099"),
        Expect("bad_lines.jsonl", Completed, 5, 3, 2, "not valid JSON"),
        Expect("pan_in_text.csv", Completed, 3, 2, 1, "amount `411111******1111x` is not a number"),
        Expect("title_and_totals.csv", Completed, 2, 2, 0, ""),
        Expect("semicolon_quoted.csv", Completed, 2, 2, 0, ""),
        Expect("no_stage_hint.csv", Failed, 0, 0, 0, "missing required column: occurred_at (a date or timestamp); columns seen: id, when, value, ccy"),
        Expect("no_stage_words.csv", Failed, 0, 0, 0, "cannot tell what kind of report this is"),
        Expect("utf16.csv", Completed, 1, 1, 0, ""),
        Expect("ipm_truncated_block.ipm", Failed, 0, 0, 0, "the file ends inside 1014-byte block 2 (500 of its 1014 bytes)"),
        Expect("ipm_wrong_rdw.ipm", Failed, 0, 0, 0, "IPM record 2: its length prefix (RDW) says 16777216 bytes"),
        Expect("ipm_bad_bitmap.ipm", Completed, 2, 1, 1, "message 2 cannot be read: its bitmap names DE 7, which IPM does not use"),
        Expect("ipm_trailer_mismatch.ipm", Completed, 2, 2, 0, ""),
        Expect("base2_short_record.ctf", Failed, 0, 0, 0, "Base II record 2 is 150 bytes long, not 168"),
        Expect("base2_trailer_mismatch.ctf", Completed, 1, 1, 0, ""),
        Expect("base2_orphan_tcr.ctf", Completed, 2, 1, 1, "record 3: TCR 1 of TC 06 follows no TCR 0 of its transaction"),
    ];
    let engine = Engine::in_memory();
    // One bank per file: the files reuse transaction ids.
    let mut banks = HashMap::new();
    for Expect(name, status, rows, loaded, rejected, message) in cases {
        let ctx = analyst(BankId::from_uuid(uuid::Uuid::new_v4()));
        banks.insert(name, ctx.clone());
        let bytes = std::fs::read(data_dir().join("bad").join(name)).unwrap();
        let r = engine.ingest(&ctx, bytes, options(ReportType::Auto, name)).await.unwrap();
        assert_eq!(
            (r.status, r.rows_total, r.facts_loaded, r.rows_rejected),
            (status, rows, loaded, rejected),
            "{name}: {:?}",
            r.errors
        );
        if !message.is_empty() {
            assert!(r.errors[0].message.contains(message), "{name}: {:?}", r.errors);
        }
        for e in &r.errors {
            assert!(
                !e.message.contains("4111111111111111") && !e.message.contains("5340858851956325"),
                "{name}: {e:?}"
            );
        }
    }
    // Spot checks of what was loaded, file by file.
    let facts_of = |name: &'static str| {
        let (engine, ctx) = (engine.clone(), banks[name].clone());
        async move { all_facts(&engine, &ctx).await }
    };
    let latin = facts_of("latin1.csv").await;
    assert_eq!(latin[0].merchant_name.as_deref(), Some("Café Müller"));
    assert_eq!(latin[1].merchant_name.as_deref(), Some("Señor Pan"));
    assert_eq!(facts_of("utf16.csv").await[0].merchant_name.as_deref(), Some("Zoë"));
    let pan_text = facts_of("pan_in_text.csv").await;
    assert!(pan_text.iter().any(|f| f.merchant_name.as_deref() == Some("Refund 534085******6325")));
    let quoted = facts_of("semicolon_quoted.csv").await;
    let c1 = quoted.iter().find(|f| f.transaction_id == "C1").unwrap();
    assert_eq!(
        (c1.amount.minor, c1.interchange_fee, c1.merchant_name.as_deref()),
        (123_456, Some(1234), Some("Shop; The Best"))
    );
    assert_eq!(c1.stage, Stage::Clearing);
    let c2 = quoted.iter().find(|f| f.transaction_id == "C2").unwrap();
    assert_eq!(
        (c2.amount.minor, c2.amount.currency, c2.merchant_name.as_deref()),
        (5196, Currency::JPY, Some("Quote \"Inc\""))
    );
    let dup = facts_of("duplicate_headers.csv").await;
    assert_eq!(
        dup.iter().map(|f| f.amount.minor).collect::<Vec<_>>(),
        vec![100, 250],
        "the first Amount column wins"
    );
    let jsonl = facts_of("bad_lines.jsonl").await;
    let j4 = jsonl.iter().find(|f| f.transaction_id == "J4").unwrap();
    assert_eq!(j4.issuer_bin.as_deref(), Some("411111"));
    assert!(j4.card_token.is_some());
    let j2 = jsonl.iter().find(|f| f.transaction_id == "J2").unwrap();
    assert_eq!((j2.amount.minor, j2.approved), (750, Some(false)));
    // Control totals that disagree are reported, with what each side says.
    for (name, differences) in [
        (
            "ipm_trailer_mismatch.ipm",
            vec![
                "message count (PDS 0306): the file states 5, its records give 4",
                "amount checksum, the sum of DE 4 (PDS 0301): the file states 9999, its records give 10000",
            ],
        ),
        ("base2_trailer_mismatch.ctf", vec!["monetary transactions: the file states 2, its records give 1"]),
        (
            "ipm_bad_bitmap.ipm",
            vec!["amount checksum, the sum of DE 4 (PDS 0301): the file states 10000, its records give 7500"],
        ),
    ] {
        let report = engine.reports(&banks[name], 10, None).await.unwrap().reports.remove(0);
        assert_eq!(report.controls.len(), 1, "{name}");
        assert_eq!(report.controls[0].differences, differences, "{name}");
        assert!(report.warnings.iter().any(|w| w.contains(differences[0])), "{name}: {:?}", report.warnings);
    }
    let totals = facts_of("title_and_totals.csv").await;
    assert_eq!(totals.len(), 2);
    let dupe_report = engine
        .ingest(
            &banks["latin1.csv"],
            std::fs::read(data_dir().join("bad/duplicate_headers.csv")).unwrap(),
            options(ReportType::Auto, "d"),
        )
        .await
        .unwrap();
    assert!(dupe_report.mapping.iter().any(|m| m.rule.starts_with("duplicate")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_idempotent() {
    let engine = Engine::in_memory();
    let ctx = analyst(BankId::from_uuid(uuid::Uuid::new_v4()));
    let auth = std::fs::read(data_dir().join("samples/bank0/auth.csv")).unwrap();
    let first =
        engine.ingest(&ctx, auth.clone(), options(ReportType::Authorization, "auth.csv")).await.unwrap();
    let again =
        engine.ingest(&ctx, auth.clone(), options(ReportType::Authorization, "auth.csv")).await.unwrap();
    assert_eq!(again.report_id, first.report_id, "same bytes, same report");
    // Different bytes, same facts (a header comment line added): all skipped as duplicates.
    let mut shifted = b"Authorization report\n".to_vec();
    shifted.extend_from_slice(&auth);
    let other =
        engine.ingest(&ctx, shifted, options(ReportType::Authorization, "auth-again.csv")).await.unwrap();
    assert_ne!(other.report_id, first.report_id);
    assert_eq!((other.facts_loaded, other.duplicates_skipped), (0, first.facts_loaded));
    let stats = engine.stores().facts.stats(&ctx).await.unwrap();
    assert_eq!(stats.total, first.facts_loaded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let banks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data_dir().join("samples/banks.json")).unwrap())
            .unwrap();
    let bank_id: BankId = banks["banks"][0]["bank_id"].as_str().unwrap().parse().unwrap();
    let ctx = analyst(bank_id);
    let range = TimeRange::new(Timestamp(0), Timestamp::parse_rfc3339("2027-01-01").unwrap());
    let q = MetricQuery::new(Metric::ALL.to_vec(), range);
    let (before, reports_before) = {
        let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
        for name in ["auth.csv", "clearing.csv", "settlement.csv", "chargeback.csv", "refund.csv"] {
            let bytes = std::fs::read(data_dir().join("samples/bank0").join(name)).unwrap();
            engine.ingest(&ctx, bytes, options(ReportType::Auto, name)).await.unwrap();
        }
        // A bad report, which must stay failed.
        engine.ingest(&ctx, b"nonsense".to_vec(), options(ReportType::Auto, "x.csv")).await.unwrap();
        let r = engine.stores().metrics.query(&ctx, &q).await.unwrap();
        (r.rows, engine.reports(&ctx, 100, None).await.unwrap().reports)
    };
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
    let after = engine.stores().metrics.query(&ctx, &q).await.unwrap().rows;
    assert_eq!(after, before);
    let reports_after: Vec<Report> = engine.reports(&ctx, 100, None).await.unwrap().reports;
    assert_eq!(reports_after.len(), reports_before.len());
    for (a, b) in reports_after.iter().zip(&reports_before) {
        assert_eq!(
            (a.report_id, a.status, a.facts_loaded, a.completed_at),
            (b.report_id, b.status, b.facts_loaded, b.completed_at)
        );
    }
    // The card-token key persisted too: the same card gives the same token.
    let facts = all_facts(&engine, &ctx).await;
    assert!(facts.iter().any(|f| f.card_token.is_some()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_pan_is_stored_logged_or_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let logs = crate::logs::capture();
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
    let bank_id = BankId::from_uuid(uuid::Uuid::new_v4());
    let ctx = analyst(bank_id);
    let auth = std::fs::read(data_dir().join("samples/bank0/auth.csv")).unwrap();
    let pans: Vec<String> = read_truth(&data_dir().join("samples/bank0/truth.csv"))
        .iter()
        .filter_map(|t| t.get("pan").map(str::to_owned))
        .collect();
    let mut reports =
        vec![engine.ingest(&ctx, auth, options(ReportType::Authorization, "auth.csv")).await.unwrap()];
    for name in ["pan_in_text.csv", "bad_lines.jsonl", "ipm_trailer_mismatch.ipm", "base2_orphan_tcr.ctf"] {
        let bytes = std::fs::read(data_dir().join("bad").join(name)).unwrap();
        reports.push(engine.ingest(&ctx, bytes, options(ReportType::Auto, name)).await.unwrap());
    }
    let mut all_pans = pans;
    all_pans.extend(["4111111111111111".into(), "5340858851956325".into()]);
    // Everything the engine returns or keeps.
    let mut haystack = serde_json::to_string(&all_facts(&engine, &ctx).await).unwrap();
    haystack.push_str(&serde_json::to_string(&reports).unwrap());
    for path in walk(dir.path()) {
        haystack.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
    }
    haystack.push_str(&logs.text());
    let pans: std::collections::HashSet<&str> = all_pans.iter().map(String::as_str).collect();
    let leaked = digit_runs(&haystack).into_iter().find(|run| {
        (13..=19)
            .any(|len| run.len() >= len && (0..=run.len() - len).any(|i| pans.contains(&run[i..i + len])))
    });
    assert!(leaked.is_none(), "a PAN leaked");
    assert!(haystack.len() > 1_000_000, "the scan looked at real data");
}

/// The fuzzers' corpus (seeds plus every input that once crashed) as a regression test: each
/// file parses to a clean outcome or a clean error, with no card number in any message.
#[test]
fn fuzz_corpus_parses_cleanly() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let files = walk(&corpus);
    assert!(files.len() >= 30, "fuzz corpus missing at {}", corpus.display());
    let key = PanKey::new([7; 32]);
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let report = Report::queued(
            BankId::from_uuid(uuid::Uuid::from_u128(1)),
            Sha256::digest(&bytes),
            0,
            &Default::default(),
        );
        let mut facts = 0u64;
        let outcome = payscope_core::ingest::parse_report(
            std::io::Cursor::new(bytes),
            &report,
            &key,
            64,
            &mut |b: Vec<_>| {
                facts += b.len() as u64;
                Ok(())
            },
        );
        let messages = match outcome {
            Ok(s) => {
                assert!(s.rows_rejected <= s.rows_total && facts <= s.rows_total, "{}", path.display());
                s.errors.into_iter().map(|e| e.message).collect()
            }
            Err(e) => vec![e.to_string()],
        };
        for m in messages {
            assert_eq!(
                payscope_core::ingest::pan::redact(&m),
                m,
                "{}: card number in a message",
                path.display()
            );
        }
    }
}

/// Runs of digits in text, with single spaces or dashes between digits removed (so
/// `4111 1111 1111 1111` is found too).
fn digit_runs(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut runs = Vec::new();
    let mut cur = String::new();
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            cur.push(c as char);
        } else if (c == b' ' || c == b'-') && !cur.is_empty() && b.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
        } else if !cur.is_empty() {
            if cur.len() >= 13 {
                runs.push(std::mem::take(&mut cur));
            }
            cur.clear();
        }
    }
    if cur.len() >= 13 {
        runs.push(cur);
    }
    runs
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
