//! The analyses against planted truth (EVAL.md, "Planted incidents"). For each of 20 seeds the
//! generator writes three one-bank data sets — incidents planted (an issuer outage, a merchant's
//! fraud burst, a settlement delay at one network), a slow approval drift, and a clean control
//! twin — which are loaded through their report files and asked typed queries, as a client of
//! `POST /query` would. The checks compare the answers with what was planted, and with values
//! computed here from the generated transactions (never from the engine):
//!
//! - root cause names the planted network first (then the planted code), its contributions
//!   add up to the change, and the change is called more than noise;
//! - anomaly detection flags the planted days and names the planted segment, and flags few days
//!   on the control data;
//! - forecast intervals cover the held-back days at about their nominal 95%;
//! - what-if results equal a recomputation from the transactions.
//!
//! The rates over all seeds are written to `target/planted.md` and asserted against floors.

use std::collections::BTreeMap;

use payscope_core::bank::{BankContext, Role};
use payscope_core::calendar::{Date, Timestamp};
use payscope_core::facts::{Network, ReportOptions, ReportType, Stage};
use payscope_core::query::answer::{Answer, AnswerMetric};
use payscope_core::query::TypedQuery;
use payscope_core::synth::files::{write_report, Layout};
use payscope_core::synth::{self, Incident, SynthBank, SynthConfig};
use payscope_core::Engine;
use serde_json::{json, Value};

/// Seeds run (`PLANTED_SEEDS` overrides, for a quicker look).
fn seeds() -> u64 {
    std::env::var("PLANTED_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20)
}

fn end() -> Date {
    Date::from_ymd(2026, 11, 1).unwrap()
}

fn day(s: &str) -> Date {
    Date::from_ymd(s[0..4].parse().unwrap(), s[5..7].parse().unwrap(), s[8..10].parse().unwrap()).unwrap()
}

fn config(seed: u64, incidents: Vec<Incident>) -> SynthConfig {
    SynthConfig {
        seed,
        banks: 1,
        days: 70,
        end: end(),
        auths_per_day: 160,
        merchants: 200,
        cards: 4_000,
        incidents,
    }
}

/// The fraud burst's merchant for a seed (a mid-popularity one).
fn burst_merchant(seed: u64) -> u32 {
    8 + (seed % 20) as u32
}

fn planted(seed: u64) -> Vec<Incident> {
    vec![
        Incident::last_week_outage(end()),
        Incident::FraudBurst { merchant: burst_merchant(seed), day: day("2026-10-28"), cases: 12 },
        Incident::SettlementDelay { network: Network::Visa, from: day("2026-10-05"), days: 7, hours: 72 },
    ]
}

fn drifting() -> Vec<Incident> {
    vec![Incident::Drift { network: Network::Visa, from: day("2026-09-06"), per_day: 0.003 }]
}

/// An engine with the bank loaded through its report files.
async fn load(cfg: &SynthConfig) -> (Engine, SynthBank, BankContext) {
    let bank = synth::generate(cfg).remove(0);
    let key = payscope_core::ingest::pan::PanKey::new([7; 32]);
    let engine = Engine::in_memory();
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    for stage in Stage::ALL {
        let mut bytes = Vec::new();
        write_report(&bank, stage, Layout::Jsonl, &key, &mut bytes).unwrap();
        let options = ReportOptions { report_type: ReportType::Auto, ..Default::default() };
        let r = engine.ingest(&ctx, bytes, options).await.unwrap();
        assert_eq!(r.rows_rejected, 0);
    }
    (engine, bank, ctx)
}

async fn ask(engine: &Engine, ctx: &BankContext, query: Value) -> Answer {
    let mut query = query;
    query["as_of"] = query.get("as_of").cloned().unwrap_or(json!("2026-11-01T00:00:00Z"));
    let q: TypedQuery = serde_json::from_value(query.clone()).unwrap();
    engine.query(ctx, &q).await.unwrap_or_else(|e| panic!("{query}: {e}"))
}

fn dims(m: &AnswerMetric) -> Vec<(&str, &str)> {
    m.dimensions
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(k, _)| *k != "merchant_name")
        .collect()
}

/// The contributions of one level: the entries of `name` whose dimensions are `path` plus one
/// more, as (that dimension's value, contribution).
fn level<'a>(a: &'a Answer, name: &str, path: &[(&str, &str)], dim: &str) -> Vec<(&'a str, f64)> {
    a.metrics
        .iter()
        .filter(|m| m.name == name && m.dimensions.contains_key(dim))
        .filter(|m| {
            dims(m).len() == path.len() + 1
                && path.iter().all(|(k, v)| m.dimensions.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|m| (m.dimensions[dim].as_str(), m.value.unwrap()))
        .collect()
}

fn value(a: &Answer, name: &str) -> Option<f64> {
    a.metrics.iter().find(|m| m.name == name && m.dimensions.is_empty()).and_then(|m| m.value)
}

/// The first-named (largest, in the direction of the change) segment of a level.
fn first(level: &[(&str, f64)], change: f64) -> Option<String> {
    level
        .iter()
        .filter(|(k, v)| *k != "others" && v.signum() == change.signum())
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
        .map(|(k, _)| k.to_string())
}

/// Days an anomaly answer flagged, with the dimensions of each day's contributing segment.
fn flagged(a: &Answer, metric: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut out: BTreeMap<String, Vec<(String, String)>> = a
        .metrics
        .iter()
        .filter(|m| m.name == format!("{metric}_zscore"))
        .map(|m| (m.dimensions["day"].clone(), vec![]))
        .collect();
    for m in a.metrics.iter().filter(|m| m.name == format!("{metric}_deviation_share")) {
        if let Some(segments) = out.get_mut(&m.dimensions["day"]) {
            segments.extend(
                m.dimensions.iter().filter(|(k, _)| *k != "day").map(|(k, v)| (k.clone(), v.clone())),
            );
        }
    }
    out
}

/// Tallies of the checks over all seeds.
#[derive(Default)]
struct Tally(BTreeMap<&'static str, (u32, u32)>);

impl Tally {
    fn count(&mut self, check: &'static str, ok: bool) {
        let e = self.0.entry(check).or_default();
        e.0 += ok as u32;
        e.1 += 1;
    }

    fn add(&mut self, check: &'static str, hits: u32, of: u32) {
        let e = self.0.entry(check).or_default();
        e.0 += hits;
        e.1 += of;
    }

    fn rate(&self, check: &str) -> f64 {
        self.0.get(check).map_or(0.0, |(h, n)| *h as f64 / (*n).max(1) as f64)
    }
}

/// Root cause, anomalies and what-if on the data with incidents planted.
async fn planted_checks(seed: u64, t: &mut Tally) {
    let (engine, bank, ctx) = load(&config(seed, planted(seed))).await;
    // The outage: Mastercard first, then code 91; the network split adds up to the change.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "why", "metrics": ["approval_rate"], "time": {"from": "2026-10-19", "to": "2026-10-25"}}),
    )
    .await;
    let change = value(&a, "approval_rate_change").unwrap();
    let networks = level(&a, "approval_rate_contribution", &[], "network");
    t.count(
        "root cause: outage network named first",
        first(&networks, change).as_deref() == Some("mastercard"),
    );
    let codes = level(&a, "approval_rate_contribution", &[("network", "mastercard")], "response_code");
    t.count(
        "root cause: outage code named first",
        first(&codes, value_with(&a, "approval_rate_change", &[("network", "mastercard")])).as_deref()
            == Some("91"),
    );
    let sum: f64 = networks.iter().map(|(_, v)| v).sum();
    t.count("root cause: contributions add up to the change", (sum - change).abs() < 1e-5);
    t.count(
        "root cause: outage called more than noise",
        value(&a, "approval_rate_change_zscore").is_some_and(|z| z <= -2.0),
    );
    // The outage days are flagged, with Mastercard or code 91 as the contributing segment.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "anomaly", "metrics": ["decline_rate"], "time": {"from": "2026-10-19", "to": "2026-10-25"}}),
    )
    .await;
    let days = flagged(&a, "decline_rate");
    for d in ["2026-10-20", "2026-10-21"] {
        t.count("anomaly: outage day flagged", days.contains_key(d));
        let named = days.get(d).is_some_and(|s| {
            s.iter()
                .any(|(k, v)| (k == "network" && v == "mastercard") || (k == "response_code" && v == "91"))
        });
        t.count("anomaly: outage segment named", named);
    }
    let others = days.keys().filter(|d| !["2026-10-20", "2026-10-21"].contains(&d.as_str())).count();
    t.add("anomaly: other days flagged in the outage week", others as u32, 5);
    // The fraud burst: its day flagged, its merchant named.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "anomaly", "metrics": ["fraud_count"], "time": {"from": "2026-10-26", "to": "2026-10-31"}}),
    )
    .await;
    let days = flagged(&a, "fraud_count");
    let merchant = bank.merchants[burst_merchant(seed) as usize].id.clone();
    t.count("anomaly: fraud burst day flagged", days.contains_key("2026-10-28"));
    t.count(
        "anomaly: fraud burst merchant named",
        days.get("2026-10-28").is_some_and(|s| s.iter().any(|(k, v)| k == "merchant_id" && *v == merchant)),
    );
    // The settlement delay: Visa named first.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "why", "metrics": ["settlement_delay_hours"], "time": {"from": "2026-10-05", "to": "2026-10-11"}}),
    )
    .await;
    let change = value(&a, "settlement_delay_hours_change").unwrap();
    let networks = level(&a, "settlement_delay_hours_contribution", &[], "network");
    t.count("root cause: delayed network named first", first(&networks, change).as_deref() == Some("visa"));
    // What-if: interchange +10 bps of the cleared amount, recomputed from the transactions.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "what_if", "metrics": ["interchange_fees"], "scenario": {"metric": "interchange_fees", "bps": 10},
               "time": {"from": "2026-10-01", "to": "2026-10-31"}}),
    )
    .await;
    let october = |t: Timestamp| t >= day("2026-10-01").start() && t < day("2026-11-01").start();
    let mut fees: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for tx in &bank.txs {
        if let Some((_, fee)) = tx.clearing.filter(|(at, _)| october(*at)) {
            let e = fees.entry(tx.amount.currency.code().to_owned()).or_default();
            e.0 += fee;
            e.1 += tx.amount.minor;
        }
    }
    let right = fees.iter().all(|(currency, (fee, cleared))| {
        let expected = fee + ((*cleared as f64) * 10.0 / 10_000.0).round() as i64;
        a.metrics.iter().any(|m| {
            m.name == "interchange_fees"
                && m.period.as_deref() == Some("scenario")
                && m.currency.as_deref() == Some(currency)
                && m.minor_units == Some(expected)
        })
    });
    t.count("what-if: fees +10 bps equal the recomputation", right && !fees.is_empty());
    // What-if: fraud doubles; the fraud rate is recomputed over the same approvals.
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "what_if", "metrics": ["fraud_count"], "scenario": {"metric": "fraud_count", "percent": 100},
               "time": {"from": "2026-10-01", "to": "2026-10-31"}}),
    )
    .await;
    let approved = bank.txs.iter().filter(|tx| october(tx.at) && tx.approved()).count() as f64;
    // A transaction counts as fraud when its authorization is flagged or a fraud report names it.
    let fraud = bank.txs.iter().filter(|tx| october(tx.at) && tx.fraud).count() as f64;
    let scenario_rate = a
        .metrics
        .iter()
        .find(|m| m.name == "fraud_rate" && m.period.as_deref() == Some("scenario"))
        .and_then(|m| m.value);
    let right = scenario_rate.is_some_and(|r| (r - 2.0 * fraud / approved).abs() < 1e-6);
    if !right {
        println!(
            "seed {seed}: fraud rate scenario {scenario_rate:?}, expected {} ({fraud} / {approved})\n{}",
            2.0 * fraud / approved,
            a.summary
        );
    }
    t.count("what-if: doubled fraud rate equals the recomputation", right);
}

/// The entry of `name` with exactly `path` as dimensions.
fn value_with(a: &Answer, name: &str, path: &[(&str, &str)]) -> f64 {
    a.metrics.iter().find(|m| m.name == name && dims(m) == path).and_then(|m| m.value).unwrap_or(0.0)
}

/// Root cause of a slow drift over four weeks.
async fn drift_checks(seed: u64, t: &mut Tally) {
    let (engine, _, ctx) = load(&config(seed, drifting())).await;
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "why", "metrics": ["approval_rate"], "time": {"from": "2026-10-04", "to": "2026-10-31"}}),
    )
    .await;
    let change = value(&a, "approval_rate_change").unwrap();
    let networks = level(&a, "approval_rate_contribution", &[], "network");
    t.count("root cause: drifting network named first", first(&networks, change).as_deref() == Some("visa"));
    t.count(
        "root cause: drift called more than noise",
        value(&a, "approval_rate_change_zscore").is_some_and(|z| z <= -2.0),
    );
}

/// False alarms and forecast coverage on the clean twin.
async fn control_checks(seed: u64, t: &mut Tally) {
    let (engine, bank, ctx) = load(&config(seed, vec![])).await;
    for metric in ["transaction_count", "decline_rate", "fraud_count"] {
        let a = ask(
            &engine,
            &ctx,
            json!({"analysis": "anomaly", "metrics": [metric], "time": {"from": "2026-10-04", "to": "2026-10-31"}}),
        )
        .await;
        let judged = value(&a, "days_judged").unwrap_or(0.0) as u32;
        let check = match metric {
            "transaction_count" => "control: days flagged in transaction count",
            "decline_rate" => "control: days flagged in decline rate",
            _ => "control: days flagged in fraud count (the generator's compromised merchant is real fraud)",
        };
        t.add(check, flagged(&a, metric).len() as u32, judged);
    }
    let a = ask(
        &engine,
        &ctx,
        json!({"analysis": "why", "metrics": ["approval_rate"], "time": {"from": "2026-10-19", "to": "2026-10-25"}}),
    )
    .await;
    t.count(
        "control: weekly change called more than noise",
        value(&a, "approval_rate_change_zscore").is_some_and(|z| z.abs() >= 2.0),
    );
    // Forecasts from 2026-10-18 of the next 14 days, against what the generator wrote.
    let actual: BTreeMap<Date, (f64, f64)> = bank.txs.iter().fold(BTreeMap::new(), |mut m, tx| {
        let e = m.entry(tx.at.date()).or_insert((0.0, 0.0));
        e.0 += 1.0;
        e.1 += tx.approved() as u32 as f64;
        m
    });
    for (metric, pick) in [("transaction_count", 0), ("approval_rate", 1)] {
        let a = ask(
            &engine,
            &ctx,
            json!({"analysis": "forecast", "metrics": [metric], "time": {"from": "2026-10-18", "to": "2026-10-31"},
                   "as_of": "2026-10-18T00:00:00Z"}),
        )
        .await;
        let f = a.forecast.expect("a forecast");
        for p in &f.points {
            let (n, k) = actual[&p.t.date()];
            let truth = if pick == 0 { n } else { k / n };
            t.count(
                if pick == 0 {
                    "forecast: daily count within its 95% interval"
                } else {
                    "forecast: daily approval rate within its 95% interval"
                },
                truth >= p.lower && truth <= p.upper,
            );
        }
        let days: Vec<Date> = f.points.iter().map(|p| p.t.date()).collect();
        let total = if pick == 0 {
            days.iter().map(|d| actual[d].0).sum::<f64>()
        } else {
            days.iter().map(|d| actual[d].1).sum::<f64>() / days.iter().map(|d| actual[d].0).sum::<f64>()
        };
        t.count(
            "forecast: 14-day total within its 95% interval",
            total >= f.total_lower && total <= f.total_upper,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyses_find_what_was_planted_across_seeds() {
    let mut t = Tally::default();
    // Two seeds at a time, one per core.
    let all: Vec<u64> = (1..=seeds()).collect();
    for pair in all.chunks(2) {
        let tasks: Vec<_> = pair
            .iter()
            .map(|&seed| {
                tokio::spawn(async move {
                    let mut t = Tally::default();
                    planted_checks(seed, &mut t).await;
                    drift_checks(seed, &mut t).await;
                    control_checks(seed, &mut t).await;
                    t
                })
            })
            .collect();
        for task in tasks {
            for (check, (hits, n)) in task.await.unwrap().0 {
                t.add(check, hits, n);
            }
        }
    }
    let mut table = format!("| check ({} seeds) | rate | count |\n|---|---|---|\n", seeds());
    for (check, (hits, n)) in &t.0 {
        table.push_str(&format!(
            "| {check} | {:.1}% | {hits} / {n} |\n",
            100.0 * *hits as f64 / (*n).max(1) as f64
        ));
    }
    println!("{table}");
    let _ = std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/planted.md"), &table);
    for (check, floor) in [
        ("root cause: outage network named first", 0.95),
        ("root cause: outage code named first", 0.95),
        ("root cause: contributions add up to the change", 1.0),
        ("root cause: outage called more than noise", 0.9),
        ("root cause: delayed network named first", 0.95),
        ("root cause: drifting network named first", 0.9),
        ("anomaly: outage day flagged", 0.9),
        ("anomaly: outage segment named", 0.9),
        ("anomaly: fraud burst day flagged", 0.9),
        ("anomaly: fraud burst merchant named", 0.9),
        ("what-if: fees +10 bps equal the recomputation", 1.0),
        ("what-if: doubled fraud rate equals the recomputation", 1.0),
        ("forecast: daily count within its 95% interval", 0.8),
        ("forecast: daily approval rate within its 95% interval", 0.8),
        ("forecast: 14-day total within its 95% interval", 0.8),
    ] {
        assert!(t.rate(check) >= floor, "{check}: {:.3} below {floor}\n{table}", t.rate(check));
    }
    for check in ["control: days flagged in transaction count", "control: days flagged in decline rate"] {
        assert!(t.rate(check) <= 0.02, "{check}\n{table}");
    }
    assert!(t.rate("control: weekly change called more than noise") <= 0.2, "{table}");
}
