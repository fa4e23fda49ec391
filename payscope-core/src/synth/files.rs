//! Renders synthetic transactions as the report files banks receive (the layouts of
//! `shared/samples/`), or as JSON Lines of canonical facts.

use std::io::{self, Write};

use super::{SynthBank, SynthTx};
use crate::calendar::Timestamp;
use crate::facts::{EntryMode, Network, ReportType, Stage};
use crate::ingest::pan::PanKey;
use crate::money::{format_minor, Money};

/// How a report is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The network's CSV layout for the stage (as in `shared/samples/`).
    NetworkCsv,
    /// One canonical fact per line (`card_token` instead of a card number).
    Jsonl,
}

/// The file name of a stage's report.
pub fn file_name(stage: Stage, layout: Layout) -> String {
    let base = match stage {
        Stage::Auth => "auth",
        Stage::Clearing => "clearing",
        Stage::Settlement => "settlement",
        Stage::Refund => "refund",
        Stage::Chargeback => "chargeback",
        Stage::Fraud => "fraud",
    };
    match layout {
        Layout::NetworkCsv => format!("{base}.csv"),
        Layout::Jsonl => format!("{base}.jsonl"),
    }
}

/// The `report_type` to upload a stage's report with.
pub fn report_type(stage: Stage) -> ReportType {
    ReportType::for_stage(stage)
}

/// Writes the report of `stage`; returns the number of data rows.
pub fn write_report(
    bank: &SynthBank,
    stage: Stage,
    layout: Layout,
    key: &PanKey,
    out: &mut impl Write,
) -> io::Result<u64> {
    write_report_where(bank, stage, layout, key, out, |_| true)
}

/// [`write_report`] of the transactions `keep` keeps.
pub fn write_report_where(
    bank: &SynthBank,
    stage: Stage,
    layout: Layout,
    key: &PanKey,
    out: &mut impl Write,
    keep: impl Fn(&SynthTx) -> bool,
) -> io::Result<u64> {
    let mut rows = 0;
    if layout == Layout::Jsonl {
        for tx in bank.txs.iter().filter(|tx| keep(tx)) {
            if let Some(fact) = bank.fact(tx, stage, key) {
                let mut v = serde_json::to_value(&fact).map_err(io::Error::other)?;
                if let Some(o) = v.as_object_mut() {
                    o.remove("lineage");
                }
                serde_json::to_writer(&mut *out, &v).map_err(io::Error::other)?;
                out.write_all(b"\n")?;
                rows += 1;
            }
        }
        return Ok(rows);
    }
    let (header, eol) = match stage {
        Stage::Auth => ("Transaction ID,Transaction Date,Transaction Time,Card Number,Card Network,Merchant ID,Merchant Name,MCC,Merchant Country,Issuer Country,POS Entry Mode,Transaction Amount,Currency Code,Response Code,Fraud Flag", "\n"),
        Stage::Clearing => ("Trace ID;Processing Date;Card Brand;MID;DBA Name;Amount;Currency;Interchange Fee", "\r\n"),
        Stage::Settlement => ("network_transaction_id,settlement_timestamp,scheme,merchant_id,settled_amount_minor,currency_numeric,interchange_fee_minor", "\n"),
        Stage::Chargeback => ("ARN,Chargeback Date,Network,Merchant ID,Dispute Amount,Currency,Reason Code", "\n"),
        Stage::Refund => ("Original Transaction ID,Refund Date,Network,Merchant ID,Refund Amount,Currency", "\n"),
        Stage::Fraud => ("Transaction ID,Transaction Date,Card Number,Network,Merchant ID,Merchant Name,Fraud Amount,Currency,Fraud Type", "\n"),
    };
    write!(out, "{header}{eol}")?;
    for tx in bank.txs.iter().filter(|tx| keep(tx)) {
        if let Some(line) = row(bank, tx, stage) {
            write!(out, "{line}{eol}")?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn row(bank: &SynthBank, tx: &SynthTx, stage: Stage) -> Option<String> {
    let card = bank.card(tx);
    let m = bank.merchant(tx);
    let network = card.network.as_str();
    let cur = tx.amount.currency;
    Some(match stage {
        Stage::Auth => {
            let (date, time) = split_iso(tx.at);
            format!(
                "{},{date},{time},{},{},{},{},{},{},{},{},{},{},{},{}",
                tx.id,
                card.pan,
                brand(&card.network),
                m.id,
                m.name,
                m.mcc,
                m.country,
                card.issuer_country,
                pos_entry_mode(tx.entry_mode),
                csv_amount(tx.amount),
                cur,
                tx.response_code,
                u8::from(tx.fraud)
            )
        }
        Stage::Clearing => {
            let (at, fee) = tx.clearing?;
            format!(
                "{};{};{network};{};{};{};{cur};{}",
                tx.id,
                european_datetime(at),
                m.id,
                m.name,
                european_amount(tx.amount.minor, cur.exponent()),
                european_amount(fee, cur.exponent())
            )
        }
        Stage::Settlement => {
            let (at, amount, fee) = tx.settlement?;
            let iso = at.to_string();
            format!(
                "{},{}+00:00,{network},{},{amount},{:03},{fee}",
                tx.id,
                iso.trim_end_matches('Z'),
                m.id,
                cur.numeric()
            )
        }
        Stage::Chargeback => {
            let (at, reason) = tx.chargeback?;
            format!("{},{at},{network},{},{},{cur},{reason}", tx.id, m.id, csv_amount(tx.amount))
        }
        Stage::Refund => {
            let (at, amount) = tx.refund?;
            let (date, time) = split_iso(at);
            format!(
                "{},{date} {time},{network},{},{},{cur}",
                tx.id,
                m.id,
                csv_amount(Money::new(amount, cur))
            )
        }
        Stage::Fraud => {
            if !tx.fraud_report {
                return None;
            }
            format!(
                "{},{},{},{network},{},{},{},{cur},{}",
                tx.id,
                tx.at,
                card.pan,
                m.id,
                m.name,
                csv_amount(tx.amount),
                if tx.entry_mode == EntryMode::Ecommerce { "Card Not Present" } else { "Counterfeit" }
            )
        }
    })
}

fn brand(n: &Network) -> &'static str {
    match n {
        Network::Visa => "VISA",
        Network::Mastercard => "MasterCard",
        Network::Amex => "AMEX",
        _ => "OTHER",
    }
}

fn pos_entry_mode(e: EntryMode) -> &'static str {
    match e {
        EntryMode::Chip => "05",
        EntryMode::Contactless => "07",
        EntryMode::Ecommerce => "81",
        EntryMode::Magstripe => "90",
        EntryMode::Manual => "01",
        EntryMode::Other => "00",
    }
}

fn split_iso(t: Timestamp) -> (String, String) {
    let s = t.to_string();
    (s[..10].to_owned(), s[11..19].to_owned())
}

/// `1,234.56`, quoted when it holds a comma.
fn csv_amount(m: Money) -> String {
    let s = m.format_grouped();
    if s.contains(',') {
        format!("\"{s}\"")
    } else {
        s
    }
}

/// `1.234,56` (the decimal comma convention).
fn european_amount(minor: i64, exponent: u8) -> String {
    format_minor(minor, exponent, true).replace(',', "_").replace('.', ",").replace('_', ".")
}

fn european_datetime(t: Timestamp) -> String {
    let s = t.to_string();
    format!("{}.{}.{} {}", &s[8..10], &s[5..7], &s[..4], &s[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{generate, SynthConfig};

    #[test]
    fn layouts_match_the_samples() {
        let banks = generate(&SynthConfig::small(1));
        let key = PanKey::new([9; 32]);
        let mut auth = Vec::new();
        let n = write_report(&banks[0], Stage::Auth, Layout::NetworkCsv, &key, &mut auth).unwrap();
        assert_eq!(n as usize, banks[0].txs.len());
        let text = String::from_utf8(auth).unwrap();
        assert!(text.starts_with("Transaction ID,Transaction Date,Transaction Time,Card Number"));
        let mut clearing = Vec::new();
        write_report(&banks[0], Stage::Clearing, Layout::NetworkCsv, &key, &mut clearing).unwrap();
        let text = String::from_utf8(clearing).unwrap();
        assert!(text.contains("\r\n") && text.lines().nth(1).unwrap().split(';').count() == 8);
        assert_eq!(european_amount(123_456, 2), "1.234,56");
        assert_eq!(european_amount(5196, 0), "5.196");
    }
}
