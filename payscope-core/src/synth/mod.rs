//! Seeded, deterministic synthetic data for any number of banks: merchants with a Zipf
//! popularity, cards with real-looking (Luhn-valid) numbers, authorizations with a realistic
//! decline mix (worse late at night), clearing with interchange fees, settlement with a few
//! mismatches and misses, refunds, chargebacks concentrated at a few merchants, and fraud
//! clustered on cards that used one compromised merchant.
//!
//! The generator keeps the per-transaction truth ([`SynthTx`]); [`files`] renders it as the
//! report files networks send, and [`SynthBank::facts`] hands canonical facts straight to a store.

pub mod files;
mod incidents;
mod names;
pub mod network;
mod rng;

use crate::bank::BankId;
use crate::calendar::{Date, Timestamp, MS_PER_DAY};
use crate::facts::{CardToken, Country, EntryMode, Fact, Lineage, Network, ReportId, Sha256, Stage};
use crate::ingest::pan::{issuer_bin, with_check_digit, PanKey};
use crate::money::{Currency, Money};

pub use incidents::Incident;
pub use rng::Rng;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// Seed; the same seed gives the same data.
    pub seed: u64,
    /// Number of banks.
    pub banks: usize,
    /// Days of authorizations, ending the day before `end`.
    pub days: u32,
    /// The first day not generated (the data's `as_of` is its midnight).
    pub end: Date,
    /// Mean authorizations per bank per day.
    pub auths_per_day: u32,
    /// Merchants per bank.
    pub merchants: u32,
    /// Cards per bank.
    pub cards: u32,
    /// Incidents planted in the data (the sample data has an issuer outage in the last full
    /// week: approvals, then settlements, drop).
    pub incidents: Vec<Incident>,
}

impl SynthConfig {
    /// A small data set: 2 banks, 75 days ending 2026-11-01, ~120 authorizations a day.
    pub fn small(seed: u64) -> Self {
        SynthConfig {
            seed,
            banks: 2,
            days: 75,
            end: Date::from_ymd(2026, 11, 1).unwrap_or(Date(20_393)),
            auths_per_day: 120,
            merchants: 300,
            cards: 3_000,
            incidents: vec![Incident::last_week_outage(Date::from_ymd(2026, 11, 1).unwrap_or(Date(20_393)))],
        }
    }

    /// The benchmark data set: 2 banks, 90 days ending 2026-11-01, sized for about
    /// `total_facts` facts (every authorization yields about 2.8 facts over its stages).
    pub fn bench(total_facts: u64) -> Self {
        let per_bank_day = (total_facts as f64 / 2.0 / 90.0 / 2.78 / 1.028).round() as u32;
        SynthConfig {
            seed: 1,
            banks: 2,
            days: 90,
            end: Date::from_ymd(2026, 11, 1).unwrap_or(Date(20_393)),
            auths_per_day: per_bank_day.max(1),
            merchants: 5_000,
            cards: (per_bank_day * 20).max(1_000),
            incidents: vec![Incident::last_week_outage(Date::from_ymd(2026, 11, 1).unwrap_or(Date(20_393)))],
        }
    }

    /// The data's `as_of`: midnight at the start of `end`.
    pub fn as_of(&self) -> Timestamp {
        self.end.start()
    }
}

/// A merchant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthMerchant {
    /// Id (`M000077`).
    pub id: String,
    /// Name (`Cedar Electronics 77`).
    pub name: String,
    /// MCC.
    pub mcc: &'static str,
    /// Country.
    pub country: Country,
    /// Currency it charges in.
    pub currency: Currency,
    /// Chargebacks are 20× more likely here.
    pub risky: bool,
}

/// A card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthCard {
    /// The full card number (written to authorization files only).
    pub pan: String,
    /// Its network.
    pub network: Network,
    /// Issuer country.
    pub issuer_country: Country,
}

/// One transaction and everything that happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthTx {
    /// Transaction id shared by all stages.
    pub id: String,
    /// Authorization time.
    pub at: Timestamp,
    /// Authorized amount.
    pub amount: Money,
    /// Index into the bank's merchants.
    pub merchant: u32,
    /// Index into the bank's cards.
    pub card: u32,
    /// Entry mode.
    pub entry_mode: EntryMode,
    /// ISO 8583 response code.
    pub response_code: &'static str,
    /// Reported as fraud on the authorization.
    pub fraud: bool,
    /// Also reported in the fraud (TC40) file.
    pub fraud_report: bool,
    /// Clearing time and interchange fee.
    pub clearing: Option<(Timestamp, i64)>,
    /// Settlement time, amount and fee.
    pub settlement: Option<(Timestamp, i64, i64)>,
    /// Refund time and amount.
    pub refund: Option<(Timestamp, i64)>,
    /// Chargeback time and reason code.
    pub chargeback: Option<(Timestamp, &'static str)>,
}

impl SynthTx {
    /// True when approved.
    pub fn approved(&self) -> bool {
        self.response_code == "00"
    }
}

/// One bank's generated data.
#[derive(Debug, Clone)]
pub struct SynthBank {
    /// The bank.
    pub bank_id: BankId,
    /// Its merchants.
    pub merchants: Vec<SynthMerchant>,
    /// Its cards.
    pub cards: Vec<SynthCard>,
    /// Its transactions, by authorization time.
    pub txs: Vec<SynthTx>,
    /// The merchant whose card data leaked.
    pub compromised_merchant: String,
    /// Facts are dated before this (later stages that would fall after it are absent).
    pub as_of: Timestamp,
}

/// Generates every bank.
pub fn generate(cfg: &SynthConfig) -> Vec<SynthBank> {
    (0..cfg.banks).map(|b| generate_bank(cfg, b)).collect()
}

/// The id of bank `index` for a seed (stable across runs).
pub fn bank_id(seed: u64, index: usize) -> BankId {
    let mut r = Rng::new(seed ^ 0xB4A7_u64.wrapping_mul(index as u64 + 1));
    let bytes: [u8; 16] = std::array::from_fn(|_| r.next_u64() as u8);
    BankId::from_uuid(uuid::Builder::from_random_bytes(bytes).into_uuid())
}

const NETWORK_SHARE: [(Network, f64); 3] =
    [(Network::Visa, 0.55), (Network::Mastercard, 0.40), (Network::Amex, 0.05)];
const DECLINES: [(&str, f64); 7] =
    [("05", 0.33), ("51", 0.27), ("91", 0.09), ("57", 0.09), ("14", 0.08), ("54", 0.07), ("61", 0.07)];

fn generate_bank(cfg: &SynthConfig, index: usize) -> SynthBank {
    let mut r = Rng::new(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64 + 1));
    let merchants = names::merchants(&mut r, index, cfg.merchants);
    let cards = make_cards(&mut r, cfg.cards);
    let zipf = r.zipf_table(merchants.len(), 1.07);
    let as_of = cfg.as_of();
    let first_day = cfg.end.add_days(-(cfg.days as i32));
    // The compromised merchant is a mid-popularity one; its leak window is days 30–50 before the end.
    let compromised = (merchants.len() / 20).max(1).min(merchants.len() - 1);
    let leak_from = cfg.end.add_days(-50).start();
    let leak_to = cfg.end.add_days(-30).start();
    let mut compromised_cards: std::collections::HashMap<u32, Timestamp> = std::collections::HashMap::new();
    let mut txs = Vec::with_capacity((cfg.days * cfg.auths_per_day) as usize);
    let mut seq = 0u64;
    for d in 0..cfg.days as i32 {
        let day = first_day.add_days(d);
        let weekend = day.weekday() >= 5;
        let growth = 1.0 + 0.002 * d as f64;
        let mean = cfg.auths_per_day as f64 * growth * if weekend { 0.8 } else { 1.0 };
        let n = (mean * (0.9 + 0.2 * r.f64())).round() as u32;
        let mut day_txs: Vec<SynthTx> = (0..n)
            .map(|_| {
                seq += 1;
                let m = r.pick_cdf(&zipf) as u32;
                let c = r.below(cards.len() as u64) as u32;
                make_tx(
                    &mut r,
                    index,
                    seq,
                    day,
                    &merchants[m as usize],
                    m,
                    &cards[c as usize],
                    c,
                    &cfg.incidents,
                )
            })
            .collect();
        // Cards used at the compromised merchant during the leak window are stolen.
        for tx in &day_txs {
            if tx.merchant as usize == compromised && tx.at >= leak_from && tx.at < leak_to && r.chance(0.6) {
                let bad_from = tx.at.add_millis((2 + r.below(8) as i64) * MS_PER_DAY);
                let bad_from = Timestamp(bad_from.0 - bad_from.0.rem_euclid(1000));
                let from = compromised_cards.entry(tx.card).or_insert(bad_from);
                *from = (*from).min(bad_from);
            }
        }
        // A little background fraud anywhere.
        for tx in &mut day_txs {
            if tx.approved() && r.chance(0.0002) {
                tx.fraud = true;
                tx.fraud_report = r.chance(0.5);
            }
        }
        for burst in cfg.incidents.iter() {
            if let Incident::FraudBurst { merchant, day: d, cases } = burst {
                if *d == day {
                    let m = (*merchant as usize).min(merchants.len() - 1);
                    for _ in 0..*cases {
                        seq += 1;
                        let c = r.below(cards.len() as u64) as u32;
                        let mut tx = make_tx(
                            &mut r,
                            index,
                            seq,
                            day,
                            &merchants[m],
                            m as u32,
                            &cards[c as usize],
                            c,
                            &[],
                        );
                        tx.response_code = "00";
                        tx.entry_mode = EntryMode::Ecommerce;
                        tx.fraud = true;
                        tx.fraud_report = true;
                        day_txs.push(tx);
                    }
                }
            }
        }
        day_txs.sort_by_key(|t| t.at);
        txs.extend(day_txs);
    }
    // Stolen cards are used online one to three times after the thief gets them.
    let mut stolen: Vec<(u32, Timestamp)> = compromised_cards.into_iter().collect();
    stolen.sort_unstable();
    for (card, from) in stolen {
        for _ in 0..1 + r.below(3) {
            let at = from.add_millis(r.below(6 * 86_400) as i64 * 1000);
            if at >= as_of {
                continue;
            }
            let m = r.pick_cdf(&zipf) as u32;
            seq += 1;
            let mut tx = make_tx(
                &mut r,
                index,
                seq,
                at.date(),
                &merchants[m as usize],
                m,
                &cards[card as usize],
                card,
                &[],
            );
            tx.at = at;
            tx.response_code = "00";
            tx.entry_mode = EntryMode::Ecommerce;
            tx.fraud = true;
            tx.fraud_report = r.chance(0.5);
            txs.push(tx);
        }
    }
    txs.sort_by_key(|t| t.at);
    // Renumber in time order so ids grow with time, as networks assign them.
    for (i, tx) in txs.iter_mut().enumerate() {
        tx.id = tx_id(index, i as u64 + 1);
    }
    for tx in &mut txs {
        let network = &cards[tx.card as usize].network;
        let delay: i64 = cfg.incidents.iter().map(|i| i.settlement_delay(tx.at, network)).sum();
        later_stages(&mut r, tx, &merchants[tx.merchant as usize], network, as_of, delay);
    }
    SynthBank {
        bank_id: bank_id(cfg.seed, index),
        compromised_merchant: merchants[compromised].id.clone(),
        merchants,
        cards,
        txs,
        as_of,
    }
}

fn tx_id(bank: usize, n: u64) -> String {
    format!("{}{:011}", bank % 10, n)
}

fn make_cards(r: &mut Rng, n: u32) -> Vec<SynthCard> {
    let issuers = [
        (country("US"), 0.86),
        (country("GB"), 0.05),
        (country("DE"), 0.04),
        (country("CA"), 0.03),
        (country("JP"), 0.02),
    ];
    (0..n)
        .map(|_| {
            let network = r.pick_weighted(&NETWORK_SHARE).clone();
            let body = match network {
                Network::Amex => {
                    format!("{}{:012}", if r.chance(0.5) { "34" } else { "37" }, r.below(1_000_000_000_000))
                }
                Network::Mastercard => format!("5{}{:013}", 1 + r.below(5), r.below(10_000_000_000_000)),
                _ => format!("4{:014}", r.below(100_000_000_000_000)),
            };
            let issuer_country = *r.pick_weighted(&issuers);
            SynthCard { pan: with_check_digit(&body), network, issuer_country }
        })
        .collect()
}

/// A country from a code literal of this module.
pub(crate) fn country(code: &str) -> Country {
    Country::parse(code).unwrap_or_else(|| unreachable!("{code} is in the ISO 3166 table"))
}

#[allow(clippy::too_many_arguments)]
fn make_tx(
    r: &mut Rng,
    bank: usize,
    seq: u64,
    day: Date,
    merchant: &SynthMerchant,
    m: u32,
    card: &SynthCard,
    c: u32,
    incidents: &[Incident],
) -> SynthTx {
    let hour = *r.pick_weighted(&names::HOUR_WEIGHTS);
    let at = Timestamp(day.start().0 + hour as i64 * 3_600_000 + r.below(3_600) as i64 * 1000);
    let major = r.lognormal(3.6, 0.9).clamp(1.0, 5_000.0);
    let exponent = merchant.currency.exponent() as i32;
    let scale = if merchant.currency == Currency::JPY { 150.0 } else { 1.0 };
    let minor = ((major * scale) * 10f64.powi(exponent)).round().max(1.0) as i64;
    let entry_mode = *r.pick_weighted(&names::ENTRY_MODES);
    let late = !(5..22).contains(&hour);
    let mut decline_p = if late { 0.13 } else { 0.06 };
    if entry_mode == EntryMode::Manual {
        decline_p += 0.05;
    }
    let mut response_code = "00";
    let planted = incidents.iter().find_map(|i| i.decline(at, &card.network));
    if let Some((code, _)) = planted.filter(|(_, p)| r.chance(*p)) {
        response_code = code;
    } else if r.chance(decline_p) {
        response_code = *r.pick_weighted(&DECLINES);
    }
    SynthTx {
        id: tx_id(bank, seq),
        at,
        amount: Money::new(minor, merchant.currency),
        merchant: m,
        card: c,
        entry_mode,
        response_code,
        fraud: false,
        fraud_report: false,
        clearing: None,
        settlement: None,
        refund: None,
        chargeback: None,
    }
}

fn later_stages(
    r: &mut Rng,
    tx: &mut SynthTx,
    merchant: &SynthMerchant,
    network: &Network,
    as_of: Timestamp,
    delay_hours: i64,
) {
    if !tx.approved() {
        return;
    }
    let before = |t: Timestamp| (t < as_of).then_some(t);
    let hours = |h: u64| h as i64 * 3_600_000;
    if r.chance(0.985) {
        let cleared_at = tx.at.add_millis(hours(8 + r.below(40)));
        let bps = if tx.entry_mode == EntryMode::Ecommerce { 190 } else { 150 } + r.below(60) as i64;
        let fee = (tx.amount.minor * bps + 5_000) / 10_000;
        if let Some(at) = before(cleared_at) {
            tx.clearing = Some((at, fee));
            if r.chance(0.985) {
                let settled_at = cleared_at.add_millis(hours(12 + r.below(60)) + delay_hours * 3_600_000);
                let amount = if r.chance(0.01) {
                    tx.amount.minor + (tx.amount.minor * (1 + r.below(3) as i64) / 100).max(1)
                } else {
                    tx.amount.minor
                };
                if let Some(at) = before(settled_at) {
                    tx.settlement = Some((at, amount, fee));
                }
            }
        }
    }
    if r.chance(0.008) {
        let at = tx.at.add_millis(hours(24 + r.below(24 * 14)));
        let amount = if r.chance(0.7) { tx.amount.minor } else { (tx.amount.minor / 2).max(1) };
        tx.refund = before(at).map(|at| (at, amount));
    }
    let cb_p = if tx.fraud {
        0.5
    } else if merchant.risky {
        0.02
    } else {
        0.0006
    };
    if r.chance(cb_p) {
        let at = tx.at.add_millis(hours(24 * (10 + r.below(40))));
        let reason = names::reason_for_network(r, network, tx.fraud);
        tx.chargeback = before(at).map(|at| (at, reason));
    }
}

impl SynthBank {
    /// The card behind a transaction.
    pub fn card(&self, tx: &SynthTx) -> &SynthCard {
        &self.cards[tx.card as usize]
    }

    /// The merchant of a transaction.
    pub fn merchant(&self, tx: &SynthTx) -> &SynthMerchant {
        &self.merchants[tx.merchant as usize]
    }

    /// The canonical facts of `stage` (as ingestion of the bank's files would produce them),
    /// with lineage pointing at `report`.
    pub fn facts<'a>(
        &'a self,
        stage: Stage,
        report: ReportId,
        key: &'a PanKey,
    ) -> impl Iterator<Item = Fact> + 'a {
        let sha = Sha256([0; 32]);
        let mut row = 0u32;
        self.txs.iter().filter_map(move |tx| {
            let fact = self.fact(tx, stage, key)?;
            row += 1;
            Some(Fact { lineage: Lineage { report_id: report, sha256: sha, row }, ..fact })
        })
    }

    /// The fact of `stage` for one transaction, if that stage happened (lineage left empty).
    pub fn fact(&self, tx: &SynthTx, stage: Stage, key: &PanKey) -> Option<Fact> {
        let card = self.card(tx);
        let merchant = self.merchant(tx);
        let lineage = Lineage { report_id: ReportId(uuid::Uuid::nil()), sha256: Sha256([0; 32]), row: 0 };
        let mut f = Fact::new(tx.id.clone(), stage, tx.at, tx.amount, lineage);
        f.network = Some(card.network.clone());
        f.merchant_id = Some(merchant.id.clone());
        match stage {
            Stage::Auth => {
                f.response_code = Some(tx.response_code.to_owned());
                f.approved = Some(tx.approved());
                f.merchant_name = Some(merchant.name.clone());
                f.mcc = Some(merchant.mcc.to_owned());
                f.merchant_country = Some(merchant.country);
                f.issuer_country = Some(card.issuer_country);
                f.issuer_bin = Some(issuer_bin(&card.pan));
                f.card_token = Some(card_token(key, &card.pan));
                f.entry_mode = Some(tx.entry_mode);
                f.fraud_reported = tx.fraud;
            }
            Stage::Clearing => {
                let (at, fee) = tx.clearing?;
                f.occurred_at = at;
                f.merchant_name = Some(merchant.name.clone());
                f.interchange_fee = Some(fee);
            }
            Stage::Settlement => {
                let (at, amount, fee) = tx.settlement?;
                f.occurred_at = at;
                f.amount = Money::new(amount, tx.amount.currency);
                f.interchange_fee = Some(fee);
            }
            Stage::Refund => {
                let (at, amount) = tx.refund?;
                f.occurred_at = at;
                f.amount = Money::new(amount, tx.amount.currency);
            }
            Stage::Chargeback => {
                let (at, reason) = tx.chargeback?;
                f.occurred_at = at;
                f.reason_code = Some(reason.to_owned());
            }
            Stage::Fraud => {
                if !tx.fraud_report {
                    return None;
                }
                f.merchant_name = Some(merchant.name.clone());
                f.issuer_bin = Some(issuer_bin(&card.pan));
                f.card_token = Some(card_token(key, &card.pan));
                f.fraud_reported = true;
            }
        }
        Some(f)
    }
}

fn card_token(key: &PanKey, pan: &str) -> CardToken {
    key.tokenize(pan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_realistic() {
        let cfg = SynthConfig::small(7);
        let a = generate(&cfg);
        let b = generate(&cfg);
        assert_eq!(a[0].txs, b[0].txs);
        assert_ne!(a[0].bank_id, a[1].bank_id);
        let txs = &a[0].txs;
        assert!(txs.len() > 7_000, "{}", txs.len());
        let approved = txs.iter().filter(|t| t.approved()).count() as f64 / txs.len() as f64;
        assert!((0.85..0.97).contains(&approved), "{approved}");
        assert!(txs.iter().any(|t| t.amount.currency == Currency::JPY));
        assert!(txs.iter().any(|t| t.fraud) && txs.iter().any(|t| t.chargeback.is_some()));
        assert!(txs.iter().all(|t| t.settlement.is_none_or(|(at, ..)| at < cfg.as_of())));
        assert!(txs.windows(2).all(|w| w[0].at <= w[1].at && w[0].id < w[1].id));
        for c in &a[0].cards {
            assert!(crate::ingest::pan::pan_digits(&c.pan).is_some(), "{}", c.pan);
        }
    }
}
