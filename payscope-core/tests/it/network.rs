//! The card networks' clearing files. IPM files are written by an independent writer, the
//! PyPI package `cardutil` (`tests/data/network/write_ipm.py`), from messages this test
//! chooses, in all four framings (ASCII and EBCDIC, unblocked and 1014-blocked); the facts
//! expected are computed here from the chosen messages. Base II files come from the
//! generator's writer, itself checked against a record made by hand, field by field.
//! `tests/data/bad/` holds damaged files of both formats with their exact outcomes
//! (`ingest::bad_files_get_their_documented_outcome`); here, damaged variants of whole files
//! must fail cleanly, and the generator's files load to its truth on Postgres too.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::facts::{
    Country, EntryMode, Fact, Network, Report, ReportOptions, ReportStatus, ReportType, Stage,
};
use payscope_core::money::Currency;
use payscope_core::store::FactFilter;
use payscope_core::synth::files::{write_report_where, Layout};
use payscope_core::synth::network::{in_network_file, write_base2, write_ipm};
use payscope_core::Engine;
use serde_json::{json, Value};

use crate::ingest::data_dir;

fn analyst() -> BankContext {
    BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst])
}

async fn facts_of(engine: &Engine, ctx: &BankContext) -> Vec<Fact> {
    engine.stores().facts.scan(ctx, &FactFilter::default(), None, usize::MAX).await.unwrap()
}

async fn load(engine: &Engine, ctx: &BankContext, bytes: Vec<u8>, name: &str) -> Report {
    let options = ReportOptions { filename: Some(name.into()), ..Default::default() };
    engine.ingest(ctx, bytes, options).await.unwrap()
}

/// True when `cardutil` can be imported (required in CI).
fn cardutil_available() -> bool {
    let ok = Command::new("python3").args(["-c", "import cardutil"]).status().is_ok_and(|s| s.success());
    if !ok {
        assert!(!crate::fixtures::required(), "python3 cannot import cardutil (pip install cardutil==0.7.3)");
        eprintln!("skipped: python3 cannot import cardutil");
    }
    ok
}

/// A small deterministic generator (the test's own, not the engine's).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// A card number of `prefix` with a valid Luhn check digit.
fn pan(prefix: &str, r: &mut Lcg) -> String {
    let mut digits: Vec<u32> = prefix.chars().map(|c| c.to_digit(10).unwrap()).collect();
    while digits.len() < 15 {
        digits.push(r.below(10) as u32);
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect()
}

/// What a message should become.
#[derive(Debug, Clone, PartialEq)]
struct Want {
    stage: Stage,
    occurred_at: String,
    minor: i64,
    currency: Currency,
    bin: String,
    mcc: Option<String>,
    merchant_id: Option<String>,
    merchant_name: Option<String>,
    merchant_country: Option<Country>,
    entry_mode: Option<EntryMode>,
    interchange_fee: Option<i64>,
    reason_code: Option<String>,
}

impl Want {
    fn of(f: &Fact) -> Want {
        Want {
            stage: f.stage,
            occurred_at: f.occurred_at.to_string(),
            minor: f.amount.minor,
            currency: f.amount.currency,
            bin: f.issuer_bin.clone().unwrap_or_default(),
            mcc: f.mcc.clone(),
            merchant_id: f.merchant_id.clone(),
            merchant_name: f.merchant_name.clone(),
            merchant_country: f.merchant_country,
            entry_mode: f.entry_mode,
            interchange_fee: f.interchange_fee,
            reason_code: f.reason_code.clone(),
        }
    }
}

/// An IPM file's messages for cardutil, the facts they must give (by ARN and stage) and the
/// number of messages that are skipped.
fn ipm_messages(n: usize) -> (Vec<Value>, BTreeMap<(String, Stage), Want>, u64) {
    let mut r = Lcg(23);
    let file_id = "00226113000000012345000001";
    let mut messages = vec![json!({"MTI": "1644", "DE24": "697", "DE71": 1, "PDS0105": file_id})];
    let mut want = BTreeMap::new();
    let mut skipped = 0;
    // (numeric, alpha, ISO exponent, the exponent PDS 0148 states in the file)
    let currencies = [
        ("840", Currency::USD, None),
        ("978", Currency::EUR, None),
        ("392", Currency::JPY, Some(2)),
        ("414", Currency::KWD, None),
    ];
    let countries = [("USA", "US"), ("GBR", "GB"), ("DEU", "DE"), ("FRA", "FR")];
    let modes = [
        ('C', EntryMode::Chip),
        ('M', EntryMode::Contactless),
        ('S', EntryMode::Ecommerce),
        ('2', EntryMode::Magstripe),
        ('1', EntryMode::Manual),
        ('F', EntryMode::Chip),
    ];
    for i in 0..n {
        let arn = format!("7{:022}", i);
        let card = pan(&format!("5{}", 1 + r.below(5)), &mut r);
        let (numeric, currency, file_exponent) = currencies[r.below(4) as usize];
        let minor = 1 + r.below(5_000_000) as i64;
        let written = match file_exponent {
            Some(e) => minor * 10i64.pow(u32::from(e - currency.exponent())),
            None => minor,
        };
        let (day, hour, minute, second) = (1 + r.below(30), r.below(24), r.below(60), r.below(60));
        let de12 = format!("2026-11-{day:02} {hour:02}:{minute:02}:{second:02}");
        let occurred_at = format!("2026-11-{day:02}T{hour:02}:{minute:02}:{second:02}Z");
        let (alpha3, alpha2) = countries[r.below(4) as usize];
        let (mode_code, mode) = modes[r.below(6) as usize];
        let mcc = ["5812", "5411", "4121", "6011"][r.below(4) as usize];
        let merchant_id = format!("MERCH{:05}", r.below(300));
        let name = format!("SHOP {}", r.below(1000));
        let fee = r.below(20_000) as i64;
        let mut m = json!({
            "MTI": "1240", "DE2": card, "DE3": "000000", "DE4": written, "DE12": de12,
            "DE22": format!("510101{mode_code}13400"), "DE24": "200", "DE26": mcc.parse::<u32>().unwrap(),
            "DE31": arn, "DE42": merchant_id,
            "DE43": format!("{name}\\1 HIGH STREET\\SOMETOWN\\{:<10}XX {alpha3}", "12345"),
            "DE49": numeric, "DE71": messages.len() + 1,
        });
        if let Some(e) = file_exponent {
            m["PDS0148"] = json!(format!("{numeric}{e}"));
        }
        let mut w = Want {
            stage: Stage::Clearing,
            occurred_at,
            minor,
            currency,
            bin: card[..6].to_owned(),
            mcc: Some(mcc.to_owned()),
            merchant_id: Some(merchant_id),
            merchant_name: Some(name),
            merchant_country: Country::parse(alpha2),
            entry_mode: Some(mode),
            interchange_fee: None,
            reason_code: None,
        };
        match i % 10 {
            0..=5 => {
                m["PDS0146"] = json!(format!("000000{numeric}{fee:012}{numeric}{fee:012}"));
                w.interchange_fee = Some(fee);
            }
            6 => {
                m["DE3"] = json!("200000");
                w.stage = Stage::Refund;
            }
            7 => m["DE3"] = json!("010000"),
            8 => {
                let reason = ["4837", "4853", "4863"][r.below(3) as usize];
                m["MTI"] = json!("1442");
                m["DE24"] = json!("450");
                m["DE25"] = json!(reason);
                w.stage = Stage::Chargeback;
                w.reason_code = Some(reason.to_owned());
            }
            _ => {
                match (i / 10) % 3 {
                    0 => m["DE24"] = json!("205"),
                    1 => m["PDS0025"] = json!("R261130"),
                    _ => {
                        m["MTI"] = json!("1740");
                        m["DE24"] = json!("700");
                    }
                }
                skipped += 1;
                messages.push(m);
                continue;
            }
        }
        want.insert((format!("7{:022}", i), w.stage), w);
        messages.push(m);
    }
    let amounts: i64 = messages.iter().filter_map(|m| m["DE4"].as_i64()).sum();
    let count = messages.len() + 1;
    messages.push(json!({
        "MTI": "1644", "DE24": "695", "DE71": count, "PDS0105": file_id,
        "PDS0301": format!("{amounts:016}"), "PDS0306": format!("{count:08}"),
    }));
    (messages, want, skipped)
}

/// Writes `messages` with cardutil in the four framings; their paths.
fn write_with_cardutil(messages: &[Value], dir: &Path) -> Vec<std::path::PathBuf> {
    let spec = dir.join("messages.json");
    std::fs::write(&spec, serde_json::to_vec(messages).unwrap()).unwrap();
    let script = data_dir().join("network/write_ipm.py");
    let status = Command::new("python3").arg(script).arg(&spec).arg(dir).status().unwrap();
    assert!(status.success(), "cardutil failed");
    ["ascii.ipm", "ascii-blocked.ipm", "ebcdic.ipm", "ebcdic-blocked.ipm"]
        .iter()
        .map(|n| dir.join(n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipm_files_written_by_cardutil_load_to_the_messages_given() {
    if !cardutil_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (messages, want, skipped) = ipm_messages(2_000);
    let engine = Engine::in_memory();
    for path in write_with_cardutil(&messages, dir.path()) {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let ctx = analyst();
        let report = load(&engine, &ctx, std::fs::read(&path).unwrap(), &name).await;
        assert_eq!(report.status, ReportStatus::Completed, "{name}: {:?}", report.errors);
        assert_eq!(
            (report.facts_loaded, report.rows_rejected, report.rows_skipped),
            (want.len() as u64, 0, skipped),
            "{name}: {:?} {:?}",
            report.errors,
            report.skipped
        );
        assert_eq!(report.controls.len(), 1, "{name}");
        assert!(report.controls[0].ok, "{name}: {:?}", report.controls);
        let facts = facts_of(&engine, &ctx).await;
        let got: BTreeMap<(String, Stage), Want> =
            facts.iter().map(|f| ((f.transaction_id.clone(), f.stage), Want::of(f))).collect();
        assert_eq!(got.len(), want.len(), "{name}");
        for (k, w) in &want {
            assert_eq!(got.get(k), Some(w), "{name}: {k:?}");
        }
        assert!(facts.iter().all(|f| f.network == Some(Network::Mastercard) && f.card_token.is_some()));
        // A chargeback's card is the presentment's card: the same token.
        let by_arn: BTreeMap<(&str, Stage), &Fact> =
            facts.iter().map(|f| ((f.transaction_id.as_str(), f.stage), f)).collect();
        assert!(facts.iter().filter(|f| f.stage == Stage::Chargeback).all(|cb| {
            by_arn
                .get(&(cb.transaction_id.as_str(), Stage::Clearing))
                .is_none_or(|p| p.card_token == cb.card_token)
        }));
        // The same bytes again are the same report; nothing changes.
        let again = load(&engine, &ctx, std::fs::read(&path).unwrap(), &name).await;
        assert_eq!(again.report_id, report.report_id);
        assert_eq!(facts_of(&engine, &ctx).await.len(), facts.len());
    }
}

/// A Base II record: `fields` at their 1-based positions in 168 spaces.
fn tcr(fields: &[(usize, &str)]) -> String {
    let mut rec = vec![b' '; 168];
    for (at, value) in fields {
        rec[at - 1..at - 1 + value.len()].copy_from_slice(value.as_bytes());
    }
    String::from_utf8(rec).unwrap()
}

/// A Base II file of `records`, CR LF after each.
fn base2_file(records: &[String]) -> Vec<u8> {
    records.iter().flat_map(|r| format!("{r}\r\n").into_bytes()).collect()
}

#[test]
fn the_base2_helper_lays_a_record_out_as_written_by_hand() {
    // A TC 05 TCR 0 typed field by field from the public layout.
    let by_hand = [
        "05",                        // 1-2 transaction code
        "0",                         // 3 qualifier
        "0",                         // 4 TCR sequence
        "4111111111111111",          // 5-20 account number
        "000",                       // 21-23 extension
        "   ",                       // 24-26 floor limit, CRB, PCAS
        "74000000000000000000021",   // 27-49 ARN
        "10054321",                  // 50-57 acquirer business id
        "1130",                      // 58-61 purchase date MMDD
        "000000002500",              // 62-73 destination amount
        "840",                       // 74-76 destination currency
        "000000002500",              // 77-88 source amount
        "840",                       // 89-91 source currency
        "CAFE ROMA                ", // 92-116 merchant name
        "SPRINGFIELD  ",             // 117-129 merchant city
        "US ",                       // 130-132 merchant country
        "5812",                      // 133-136 MCC
        "     ",                     // 137-141 ZIP
        "   ",                       // 142-144 state
        "              ",            // 145-158
        "   ",                       // 159-161
        "05",                        // 162-163 POS entry mode
        "     ",                     // 164-168
    ]
    .concat();
    assert_eq!(by_hand.len(), 168);
    assert_eq!(by_hand, tcr(&sale_fields("74000000000000000000021", "1130", 2500, "840")));
}

/// The fields of a TC 05 TCR 0.
fn sale_fields<'a>(arn: &'a str, mmdd: &'a str, _minor: i64, currency: &'a str) -> Vec<(usize, &'a str)> {
    vec![
        (1, "0500"),
        (5, "4111111111111111"),
        (21, "000"),
        (27, arn),
        (50, "10054321"),
        (58, mmdd),
        (62, "000000002500"),
        (74, currency),
        (77, "000000002500"),
        (89, currency),
        (92, "CAFE ROMA"),
        (117, "SPRINGFIELD"),
        (130, "US"),
        (133, "5812"),
        (162, "05"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base2_file_made_by_hand_loads_field_by_field() {
    let header = tcr(&[(1, "9000"), (5, "400000"), (11, "26341")]); // 2026-12-07
    let sale = tcr(&sale_fields("74000000000000000000021", "1130", 2500, "840"));
    let sale1 = tcr(&[(1, "0501"), (81, "MERCHANT0000001"), (96, "TERM0001"), (116, "5")]);
    let sale5 = tcr(&[(1, "0505"), (92, "000000000420000"), (107, "D")]); // 0.42 USD
    let mut credit = sale.clone();
    credit.replace_range(0..2, "06");
    credit.replace_range(26..49, "74000000000000000000022");
    credit.replace_range(57..61, "1231"); // the previous year's 31 December
    let mut chargeback = sale.clone();
    chargeback.replace_range(0..2, "15");
    chargeback.replace_range(147..149, "83");
    let mut reversal = sale.clone();
    reversal.replace_range(0..2, "25");
    reversal.replace_range(26..49, "74000000000000000000023");
    let fraud = tcr(&[
        (1, "4000"),
        (17, "4111111111111111"),
        (36, "74000000000000000000021"),
        (67, "1129"),
        (71, "000000002500"),
        (83, "978"),
        (86, "CAFE ROMA"),
        (124, "FR"),
        (127, "5812"),
        (132, "6"),
        (137, "01"),
        (139, "MERCHANT0000001"),
    ]);
    let trailer = tcr(&[(1, "9200"), (31, "000000000004"), (49, "000000000009"), (102, "000000000010000")]);
    let records = [header, sale, sale1, sale5, credit, chargeback, reversal, fraud, trailer];
    let engine = Engine::in_memory();
    let ctx = analyst();
    let report = load(&engine, &ctx, base2_file(&records), "visa.ctf").await;
    assert_eq!(report.status, ReportStatus::Completed, "{:?}", report.errors);
    assert_eq!((report.facts_loaded, report.rows_skipped, report.rows_rejected), (4, 1, 0));
    assert!(report.controls[0].ok, "{:?}", report.controls);
    let facts = facts_of(&engine, &ctx).await;
    let get = |arn: &str, stage| facts.iter().find(|f| f.transaction_id == arn && f.stage == stage).unwrap();
    let s = get("74000000000000000000021", Stage::Clearing);
    assert_eq!(s.occurred_at.to_string(), "2026-11-30T00:00:00Z");
    assert_eq!((s.amount.minor, s.amount.currency), (2500, Currency::USD));
    assert_eq!(s.issuer_bin.as_deref(), Some("411111"));
    assert_eq!(
        (s.merchant_id.as_deref(), s.merchant_name.as_deref()),
        (Some("MERCHANT0000001"), Some("CAFE ROMA"))
    );
    assert_eq!((s.mcc.as_deref(), s.merchant_country), (Some("5812"), Country::parse("US")));
    assert_eq!(
        (s.entry_mode, s.interchange_fee, s.network.clone()),
        (Some(EntryMode::Chip), Some(42), Some(Network::Visa))
    );
    let c = get("74000000000000000000022", Stage::Refund);
    assert_eq!(c.occurred_at.to_string(), "2025-12-31T00:00:00Z");
    let cb = get("74000000000000000000021", Stage::Chargeback);
    assert_eq!((cb.reason_code.as_deref(), cb.amount.minor), (Some("83"), 2500));
    let f = get("74000000000000000000021", Stage::Fraud);
    assert_eq!((f.amount.minor, f.amount.currency, f.fraud_reported), (2500, Currency::EUR, true));
    assert_eq!(
        (f.occurred_at.to_string().as_str(), f.merchant_country),
        ("2026-11-29T00:00:00Z", Country::parse("FR"))
    );
    assert_eq!(f.card_token, s.card_token);
    assert_eq!(report.skipped[0].reason, "reversal (TC 25)");
    // The same transactions in EBCDIC, one record after another without line ends.
    let ebcdic: Vec<u8> = records.iter().flat_map(|r| cp500(r)).collect();
    let other = analyst();
    let again = load(&engine, &other, ebcdic, "visa.ebc").await;
    assert_eq!((again.status, again.facts_loaded), (ReportStatus::Completed, 4), "{:?}", again.errors);
    let mut a: Vec<Want> = facts.iter().map(Want::of).collect();
    let mut b: Vec<Want> = facts_of(&engine, &other).await.iter().map(Want::of).collect();
    a.sort_by_key(|w| format!("{w:?}"));
    b.sort_by_key(|w| format!("{w:?}"));
    assert_eq!(a, b);
}

/// ASCII text in EBCDIC code page 500 (digits, letters, space).
fn cp500(text: &str) -> Vec<u8> {
    text.bytes()
        .map(|b| match b {
            b'0'..=b'9' => 0xF0 + (b - b'0'),
            b'A'..=b'I' => 0xC1 + (b - b'A'),
            b'J'..=b'R' => 0xD1 + (b - b'J'),
            b'S'..=b'Z' => 0xE2 + (b - b'S'),
            b' ' => 0x40,
            other => panic!("no EBCDIC letter for {other}"),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generators_network_files_load_to_its_truth() {
    generated_files_load_to_the_truth(&Engine::in_memory()).await;
}

/// The same on Postgres: the network files go through the same load path into its tables.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generators_network_files_load_to_its_truth_on_postgres() {
    let Some(db) = crate::services::TestDb::create().await else { return };
    let pg = db.backend(4).await;
    let stores = payscope_core::Stores::postgres(&pg, payscope_core::store::jobs::DEFAULT_LEASE);
    let objects = std::sync::Arc::new(object_store::memory::InMemory::new());
    let key = payscope_core::ingest::pan::PanKey::generate();
    generated_files_load_to_the_truth(&Engine::new(stores, objects, key, Default::default())).await;
}

/// Loads a generated bank's CSVs (without the facts the network files carry), its IPM and its
/// Base II file into `engine`, then compares every fact with the generator's truth.
async fn generated_files_load_to_the_truth(engine: &Engine) {
    let data = crate::fixtures::dataset();
    let bank = &data.banks[0];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    for stage in Stage::ALL {
        let mut bytes = Vec::new();
        let rows = write_report_where(bank, stage, Layout::NetworkCsv, &data.key, &mut bytes, |tx| {
            !in_network_file(bank, tx, stage)
        })
        .unwrap();
        let options = ReportOptions { report_type: ReportType::for_stage(stage), ..Default::default() };
        let report = engine.ingest(&ctx, bytes, options).await.unwrap();
        assert_eq!((report.status, report.facts_loaded), (ReportStatus::Completed, rows), "{stage}");
    }
    let (mut ipm, mut base2) = (Vec::new(), Vec::new());
    let ipm_rows = write_ipm(bank, &mut ipm).unwrap();
    let base2_rows = write_base2(bank, &mut base2).unwrap();
    assert!(ipm_rows > 100 && base2_rows > 100, "{ipm_rows} {base2_rows}");
    for (bytes, rows, name) in [(ipm, ipm_rows, "clearing.ipm"), (base2, base2_rows, "clearing.ctf")] {
        let report = load(engine, &ctx, bytes.clone(), name).await;
        assert_eq!(report.status, ReportStatus::Completed, "{name}: {:?}", report.errors);
        assert_eq!((report.facts_loaded, report.rows_rejected), (rows, 0), "{name}: {:?}", report.errors);
        // The same messages in other bytes are another report whose every fact is a
        // duplicate: nothing is stored twice (IPM: a pad byte after the end changed; Base II:
        // LF line ends instead of CR LF).
        let other = if name.ends_with(".ctf") {
            String::from_utf8(bytes).unwrap().replace("\r\n", "\n").into_bytes()
        } else {
            let mut b = bytes;
            let last = b.len() - 1;
            b[last] ^= 0x01;
            b
        };
        let again = load(engine, &ctx, other, name).await;
        assert_eq!((again.facts_loaded, again.duplicates_skipped), (0, rows), "{name}: {:?}", again.errors);
        assert!(
            report.controls.iter().all(|c| c.ok) && report.controls.len() == 1,
            "{name}: {:?}",
            report.controls
        );
    }
    let txs: BTreeMap<&str, &payscope_core::synth::SynthTx> =
        bank.txs.iter().map(|t| (t.id.as_str(), t)).collect();
    let mut got = facts_of(engine, &ctx).await;
    let mut want: Vec<Fact> = Stage::ALL
        .iter()
        .flat_map(|s| bank.txs.iter().filter_map(move |tx| bank.fact(tx, *s, &data.key)))
        .collect();
    let key = |f: &Fact| (f.transaction_id.clone(), f.stage);
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        let tx = txs[w.transaction_id.as_str()];
        let (mut g, mut w) = (serde_json::to_value(g).unwrap(), serde_json::to_value(w).unwrap());
        if in_network_file(bank, tx, w_stage(&w)) {
            // The network file says more than the generator's truth holds: check it, then
            // compare the rest. Base II dates purchases to the day.
            let card = bank.card(tx);
            let merchant = bank.merchant(tx);
            assert_eq!(g["issuer_bin"], json!(&card.pan[..6]));
            assert_eq!(g["mcc"], json!(merchant.mcc));
            assert_eq!(g["merchant_country"], json!(merchant.country));
            for k in g.as_object().unwrap().keys().cloned().collect::<Vec<_>>() {
                if w.get(&k).is_none() {
                    g.as_object_mut().unwrap().remove(&k);
                }
            }
            if card.network == Network::Visa {
                for v in [&mut g, &mut w] {
                    let day = v["occurred_at"].as_str().unwrap()[..10].to_owned();
                    v["occurred_at"] = json!(day);
                }
            }
        }
        for v in [&mut g, &mut w] {
            let o = v.as_object_mut().unwrap();
            o.remove("lineage");
            o.remove("card_token");
        }
        assert_eq!(g, w);
    }
}

fn w_stage(w: &Value) -> Stage {
    Stage::parse(w["stage"].as_str().unwrap()).unwrap()
}

/// Damaged network files, made by flipping, cutting and repeating bytes of whole ones, parse to
/// a clean outcome or a clean error: no panic, consistent counts, no card number in a message.
#[test]
fn damaged_network_files_fail_cleanly() {
    use payscope_core::ingest::pan::{redact, PanKey};
    use payscope_core::ingest::parse_report;
    let bank = &crate::fixtures::dataset().banks[1];
    let (mut ipm, mut base2) = (Vec::new(), Vec::new());
    write_ipm(bank, &mut ipm).unwrap();
    write_base2(bank, &mut base2).unwrap();
    let key = PanKey::new([5; 32]);
    let mut r = Lcg(99);
    for (whole, name) in [(&ipm[..40_000], "ipm"), (&base2[..40_000], "base2")] {
        for round in 0..400 {
            let mut bytes = whole.to_vec();
            match round % 4 {
                0 => bytes.truncate(1 + r.below(bytes.len() as u64) as usize),
                1 => {
                    for _ in 0..1 + r.below(8) {
                        let at = r.below(bytes.len() as u64) as usize;
                        bytes[at] ^= 1 << r.below(8);
                    }
                }
                2 => {
                    let at = r.below(bytes.len() as u64) as usize;
                    bytes[at] = [0x00, 0xFF, 0x40, b'9', b'\n'][r.below(5) as usize];
                }
                _ => {
                    let (a, n) = (r.below(bytes.len() as u64 - 64) as usize, 1 + r.below(64) as usize);
                    let piece = bytes[a..a + n].to_vec();
                    bytes.splice(a..a, piece);
                }
            }
            let report = Report::queued(
                BankId::from_uuid(uuid::Uuid::nil()),
                payscope_core::facts::Sha256::digest(&bytes),
                bytes.len() as u64,
                &ReportOptions::default(),
            );
            let mut facts = 0u64;
            let outcome = parse_report(std::io::Cursor::new(bytes), &report, &key, 512, &mut |b: Vec<_>| {
                facts += b.len() as u64;
                Ok(())
            });
            match outcome {
                Ok(s) => {
                    assert!(
                        s.rows_rejected <= s.rows_total && facts <= s.rows_total,
                        "{name} {round}: {s:?}"
                    );
                    for e in &s.errors {
                        assert_eq!(redact(&e.message), e.message, "{name} {round}: a card number in {e:?}");
                    }
                }
                Err(e) => assert_eq!(redact(&e.to_string()), e.to_string(), "{name} {round}: {e}"),
            }
        }
    }
}
