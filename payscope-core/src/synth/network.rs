//! The card networks' clearing files for synthetic transactions, laid out as the networks
//! deliver them: a Mastercard IPM file (EBCDIC, 1014-byte blocks, RDW-framed ISO 8583
//! messages with a 1644 header and trailer) and a Visa Base II file (168-byte TCRs with CR LF,
//! a TC 90 header and a TC 92 trailer). The layouts are those `ingest::network` documents.
//!
//! Mastercard's presentments, refunds and chargebacks go in the IPM file; Visa's
//! presentments, refunds and fraud advices in the Base II file (a Base II chargeback's reason
//! holds two digits, not the `10.4` form the generator uses, so Visa chargebacks stay in CSV).

use std::io::{self, Write};

use super::{SynthBank, SynthTx};
use crate::calendar::Timestamp;
use crate::facts::{EntryMode, Network, Stage};
use crate::ingest::ebcdic;

/// True when the fact of `stage` of `tx` is written to a network clearing file rather than
/// to the stage's CSV.
pub fn in_network_file(bank: &SynthBank, tx: &SynthTx, stage: Stage) -> bool {
    match bank.card(tx).network {
        Network::Mastercard => matches!(stage, Stage::Clearing | Stage::Refund | Stage::Chargeback),
        Network::Visa => matches!(stage, Stage::Clearing | Stage::Refund | Stage::Fraud),
        _ => false,
    }
}

/// The date of a network file: the last day any of its facts happened.
fn file_date(bank: &SynthBank, network: &Network) -> jiff::civil::Date {
    let stages = [Stage::Clearing, Stage::Refund, Stage::Chargeback, Stage::Fraud];
    bank.txs
        .iter()
        .filter(|tx| bank.card(tx).network == *network)
        .flat_map(|tx| stages.iter().filter_map(move |s| when(tx, *s)))
        .max()
        .map_or(jiff::civil::date(2026, 1, 1), civil)
}

/// The UTC day of a timestamp.
fn civil(t: Timestamp) -> jiff::civil::Date {
    let (y, m, d) = t.date().ymd();
    jiff::civil::date(y as i16, m as i8, d as i8)
}

/// When the fact of `stage` happened, if it did.
fn when(tx: &SynthTx, stage: Stage) -> Option<Timestamp> {
    match stage {
        Stage::Clearing => tx.clearing.map(|c| c.0),
        Stage::Refund => tx.refund.map(|r| r.0),
        Stage::Chargeback => tx.chargeback.map(|c| c.0),
        Stage::Fraud => tx.fraud_report.then_some(tx.at),
        _ => None,
    }
}

/// An ISO 8583 message being built: its elements' text by number.
struct Message {
    mti: &'static str,
    elements: Vec<(usize, String)>,
}

impl Message {
    fn new(mti: &'static str) -> Message {
        Message { mti, elements: Vec::new() }
    }

    fn set(&mut self, de: usize, text: impl Into<String>) -> &mut Message {
        self.elements.push((de, text.into()));
        self
    }

    /// The message in EBCDIC with its binary bitmaps (both always present, as in IPM).
    fn encode(&mut self) -> Vec<u8> {
        self.elements.sort_by_key(|e| e.0);
        let mut bitmap = [0u8; 16];
        bitmap[0] = 0x80;
        let mut body = String::new();
        for (de, text) in &self.elements {
            bitmap[(de - 1) / 8] |= 0x80 >> ((de - 1) % 8);
            match de {
                2 | 31 | 43 => body.push_str(&format!("{:02}", text.len())),
                48 => body.push_str(&format!("{:03}", text.len())),
                _ => {}
            }
            body.push_str(text);
        }
        let mut out = ebcdic::encode(self.mti);
        out.extend_from_slice(&bitmap);
        out.extend(ebcdic::encode(&body));
        out
    }
}

/// A private data element: `tag(4) length(3) data`.
fn pds(tag: u16, data: &str) -> String {
    format!("{tag:04}{:03}{data}", data.len())
}

/// Writes records with RDWs in 1014-byte blocks.
struct Blocked<'w, W> {
    out: &'w mut W,
    in_block: usize,
}

impl<W: Write> Blocked<'_, W> {
    fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let k = bytes.len().min(1012 - self.in_block);
            self.out.write_all(&bytes[..k])?;
            bytes = &bytes[k..];
            self.in_block += k;
            if self.in_block == 1012 {
                self.out.write_all(&[0x40, 0x40])?;
                self.in_block = 0;
            }
        }
        Ok(())
    }

    fn record(&mut self, message: &[u8]) -> io::Result<()> {
        self.write(&(message.len() as u32).to_be_bytes())?;
        self.write(message)
    }

    /// The zero-length end record, then the last block padded.
    fn finish(mut self) -> io::Result<()> {
        self.write(&[0, 0, 0, 0])?;
        if self.in_block > 0 {
            self.out.write_all(&vec![0x40; 1014 - self.in_block])?;
        }
        Ok(())
    }
}

/// DE 22 with subfield 7 (card data input mode) for an entry mode.
fn pos_data(mode: EntryMode) -> String {
    let input = match mode {
        EntryMode::Chip => 'C',
        EntryMode::Contactless => 'M',
        EntryMode::Ecommerce => 'S',
        EntryMode::Magstripe => 'B',
        EntryMode::Manual => '1',
        EntryMode::Other => '0',
    };
    format!("510101{input}13400")
}

/// Writes the bank's Mastercard presentments, refunds and chargebacks as an IPM file; the
/// number of transaction messages.
pub fn write_ipm(bank: &SynthBank, out: &mut impl Write) -> io::Result<u64> {
    let date = file_date(bank, &Network::Mastercard);
    let file_id = format!("002{}0000000000100001", date.strftime("%y%m%d"));
    let mut file = Blocked { out, in_block: 0 };
    let mut number = 1u64;
    file.record(
        &Message::new("1644").set(24, "697").set(48, pds(105, &file_id)).set(71, "00000001").encode(),
    )?;
    let (mut rows, mut amounts) = (0u64, 0u128);
    for tx in bank.txs.iter().filter(|tx| bank.card(tx).network == Network::Mastercard) {
        for stage in [Stage::Clearing, Stage::Refund, Stage::Chargeback] {
            let Some(fact) = bank.fact(tx, stage, &crate::ingest::pan::PanKey::new([0; 32])) else {
                continue;
            };
            let card = bank.card(tx);
            let merchant = bank.merchant(tx);
            let currency = fact.amount.currency;
            let mut m = Message::new(if stage == Stage::Chargeback { "1442" } else { "1240" });
            number += 1;
            m.set(2, card.pan.as_str())
                .set(3, if stage == Stage::Refund { "200000" } else { "000000" })
                .set(4, format!("{:012}", fact.amount.minor))
                .set(12, fact.occurred_at.to_string().get(2..19).unwrap_or("").replace(['-', 'T', ':'], ""))
                .set(22, pos_data(tx.entry_mode))
                .set(24, if stage == Stage::Chargeback { "450" } else { "200" })
                .set(26, merchant.mcc)
                .set(31, tx.id.as_str())
                .set(42, format!("{:<15}", merchant.id))
                .set(
                    43,
                    format!(
                        "{}\\1 MARKET STREET\\CITY\\{:<10}   {}",
                        merchant.name,
                        "10001",
                        merchant.country.alpha3()
                    ),
                )
                .set(49, format!("{:03}", currency.numeric()))
                .set(71, format!("{number:08}"));
            if let Some(reason) = &fact.reason_code {
                m.set(25, reason.as_str());
            }
            if let Some(fee) = fact.interchange_fee {
                let c = format!("{:03}", currency.numeric());
                m.set(48, pds(146, &format!("000000{c}{fee:012}{c}{fee:012}")));
            }
            amounts += fact.amount.minor.unsigned_abs() as u128;
            rows += 1;
            file.record(&m.encode())?;
        }
    }
    number += 1;
    let trailer =
        [pds(105, &file_id), pds(301, &format!("{amounts:016}")), pds(306, &format!("{number:08}"))].concat();
    file.record(
        &Message::new("1644").set(24, "695").set(48, trailer).set(71, format!("{number:08}")).encode(),
    )?;
    file.finish()?;
    Ok(rows)
}

/// A 168-byte TCR being filled at 1-based positions.
struct Tcr([u8; 168]);

impl Tcr {
    fn new(code: &str, sequence: u8) -> Tcr {
        let mut t = Tcr([b' '; 168]);
        t.put(1, code).put(3, "0").put(4, &sequence.to_string());
        t
    }

    /// Writes `text` from position `at`, cut to the room before `to` when given.
    fn put(&mut self, at: usize, text: &str) -> &mut Tcr {
        for (i, b) in text.bytes().enumerate() {
            if let Some(slot) = self.0.get_mut(at - 1 + i) {
                *slot = b;
            }
        }
        self
    }

    fn write(&self, out: &mut impl Write) -> io::Result<()> {
        out.write_all(&self.0)?;
        out.write_all(b"\r\n")
    }
}

/// Writes the bank's Visa presentments, refunds and fraud advices as a Base II file; the
/// number of transactions.
pub fn write_base2(bank: &SynthBank, out: &mut impl Write) -> io::Result<u64> {
    let date = file_date(bank, &Network::Visa);
    let key = crate::ingest::pan::PanKey::new([0; 32]);
    Tcr::new("90", 0).put(5, "400000").put(11, &date.strftime("%y%j").to_string()).write(out)?;
    let (mut tcrs, mut monetary, mut source, mut rows) = (1u64, 0u64, 0u128, 0u64);
    for tx in bank.txs.iter().filter(|tx| bank.card(tx).network == Network::Visa) {
        for stage in [Stage::Clearing, Stage::Refund, Stage::Fraud] {
            let Some(fact) = bank.fact(tx, stage, &key) else { continue };
            let card = bank.card(tx);
            let merchant = bank.merchant(tx);
            let amount = format!("{:012}", fact.amount.minor);
            let currency = format!("{:03}", fact.amount.currency.numeric());
            let mmdd = civil(fact.occurred_at).strftime("%m%d").to_string();
            let mut records = Vec::new();
            if stage == Stage::Fraud {
                let mut t = Tcr::new("40", 0);
                t.put(17, &card.pan).put(36, &tx.id).put(67, &mmdd).put(71, &amount).put(83, &currency);
                t.put(86, &merchant.name)
                    .put(111, "CITY")
                    .put(124, merchant.country.alpha2())
                    .put(127, merchant.mcc);
                t.put(132, "6").put(137, "01").put(139, &merchant.id);
                records.push(t);
            } else {
                // Every TCR of a transaction carries its transaction code.
                let code = if stage == Stage::Refund { "06" } else { "05" };
                let mut t = Tcr::new(code, 0);
                t.put(5, &card.pan)
                    .put(21, "000")
                    .put(27, &tx.id)
                    .put(58, &mmdd)
                    .put(62, &amount)
                    .put(74, &currency);
                t.put(77, &amount).put(89, &currency).put(92, &merchant.name).put(117, "CITY");
                t.put(130, merchant.country.alpha2()).put(133, merchant.mcc).put(162, "05");
                records.push(t);
                let mut t1 = Tcr::new(code, 1);
                t1.put(81, &merchant.id);
                records.push(t1);
                if let Some(fee) = fact.interchange_fee {
                    let micro = i128::from(fee) * 10i128.pow(u32::from(6 - fact.amount.currency.exponent()));
                    let mut t5 = Tcr::new(code, 5);
                    t5.put(92, &format!("{micro:015}")).put(107, "D");
                    records.push(t5);
                }
                monetary += 1;
                source += fact.amount.minor.unsigned_abs() as u128;
            }
            for t in &records {
                t.write(out)?;
            }
            tcrs += records.len() as u64;
            rows += 1;
        }
    }
    tcrs += 1;
    let mut trailer = Tcr::new("92", 0);
    trailer.put(5, "400000").put(11, &date.strftime("%y%j").to_string());
    trailer
        .put(31, &format!("{monetary:012}"))
        .put(49, &format!("{tcrs:012}"))
        .put(102, &format!("{source:015}"));
    trailer.write(out)?;
    Ok(rows)
}
