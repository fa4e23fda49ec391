//! Visa Base II clearing files (CTF/ITF): fixed 168-byte Transaction Component Records
//! (TCRs), one after another or one per line (170 bytes with CR LF, 169 with LF), in ASCII
//! or EBCDIC. A transaction is its TCR 0 and the TCRs 1–9 after it of the same transaction
//! code (positions 1–2; position 4 is the TCR's sequence number).
//!
//! **What is read.** TC 05 sales and TC 07 cash (CLEARING), TC 06 credits (REFUND), TC 15/16/17
//! chargebacks (CHARGEBACK, with the TCR 0 reason code), TC 40 fraud advices (FRAUD, dated at
//! the purchase), the TC 90 file header (processing BIN and date, which dates the purchases)
//! and the TC 92 file trailer (its totals are checked). Reversals (TC 25–27, 35–37), fee
//! collections (TC 10, 20), TC 33 deliveries and other codes are skipped and counted.
//!
//! Positions (1-based, inclusive) PayScope reads:
//!
//! | record | field | positions |
//! |---|---|---|
//! | TC 05–07, 15–17 TCR 0 | account number, extension | 5–20, 21–23 |
//! | | acquirer reference number (ARN) | 27–49 |
//! | | purchase date `MMDD` | 58–61 |
//! | | source amount, source currency (numeric) | 77–88, 89–91 |
//! | | merchant name, city, country (alpha-2), MCC | 92–116, 117–129, 130–132, 133–136 |
//! | | reason code (chargebacks) | 148–149 |
//! | | POS entry mode | 162–163 |
//! | TCR 1 | card acceptor id | 81–95 |
//! | | mail/telephone or electronic commerce indicator | 116 |
//! | TCR 5 | interchange fee amount (6 decimals), sign `C`/`D` | 92–106, 107 |
//! | TC 40 TCR 0 | account number | 17–35 |
//! | | ARN, purchase date `MMDD` | 36–58, 67–70 |
//! | | fraud amount, currency | 71–82, 83–85 |
//! | | merchant name, city, country, MCC | 86–110, 111–123, 124–126, 127–130 |
//! | | fraud type | 132 |
//! | | POS entry mode, card acceptor id | 137–138, 139–153 |
//! | TC 90 | processing BIN, processing date `YYDDD` | 5–10, 11–15 |
//! | TC 92 | monetary transactions, TCRs, source amount | 31–42, 49–60, 102–116 |
//!
//! The trailer's totals: the monetary transactions (TC 05–07, 15–17, 25–27, 35–37), every
//! TCR of the file from header to trailer, and the sum of those transactions' source amounts.

use std::io::{BufRead, BufReader, Read};

use jiff::civil::Date;

use super::{control, digits, push_text, rescale, text, trim, Draft, Loader};
use crate::error::{Error, Result};
use crate::facts::{Control, EntryMode, Network, Report, Stage, Structure};
use crate::ingest::detect::Format;
use crate::ingest::pan::PanKey;
use crate::ingest::pipeline::{Collector, ParseSummary};
use crate::money::Currency;

/// A TCR's length.
pub(crate) const TCR: usize = 168;

/// How a Base II file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Bytes after each record: 0, 1 (LF) or 2 (CR LF).
    pub terminator: usize,
    /// EBCDIC (else ASCII).
    pub ebcdic: bool,
}

/// Transaction codes of TCRs PayScope expects to open a Base II file.
fn known_code(tc: &[u8]) -> bool {
    matches!(
        tc,
        b"90"
            | b"05"
            | b"06"
            | b"07"
            | b"15"
            | b"16"
            | b"17"
            | b"25"
            | b"26"
            | b"27"
            | b"10"
            | b"20"
            | b"33"
            | b"40"
    )
}

/// The framing of a Base II file from its head, or `None` when it is not one.
pub(crate) fn sniff(head: &[u8]) -> Option<Framing> {
    if head.len() < TCR {
        return None;
    }
    let ebcdic = head[..4].iter().all(|b| (0xF0..=0xF9).contains(b));
    let ascii = |b: &[u8]| -> Vec<u8> {
        let mut s = String::new();
        push_text(b, ebcdic, &mut s);
        s.into_bytes()
    };
    let first = ascii(&head[..4]);
    if !known_code(&first[..2]) || !first[2..4].iter().all(u8::is_ascii_digit) || first[3] != b'0' {
        return None;
    }
    let terminator = match (head.get(TCR), head.get(TCR + 1)) {
        (Some(b'\r'), Some(b'\n')) => 2,
        (Some(b'\n'), _) => 1,
        _ => 0,
    };
    // A file of more than one record must have a second record where the framing says.
    let next = TCR + terminator;
    if head.len() >= next + 4 {
        let second = ascii(&head[next..next + 4]);
        if !second.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    // Text lines of another length are not Base II.
    if terminator == 0 && head[..TCR.min(head.len())].contains(&b'\n') {
        return None;
    }
    Some(Framing { terminator, ebcdic })
}

/// Cuts the head of a Base II file (a preview's first bytes) after its last whole record.
pub(crate) fn cut_to_whole_records(head: &mut Vec<u8>) {
    match sniff(head) {
        Some(Framing { terminator: 0, .. }) => head.truncate(head.len() / TCR * TCR),
        Some(_) => head.truncate(head.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)),
        None => {}
    }
}

/// Reads fixed records, one by one, as ASCII (EBCDIC transcoded).
struct Records<R> {
    inner: BufReader<R>,
    framing: Framing,
    line: Vec<u8>,
    number: u32,
}

impl<R: Read> Records<R> {
    /// The next TCR into `out`; `false` at the end.
    fn next(&mut self, out: &mut [u8; TCR]) -> Result<bool> {
        let number = self.number + 1;
        self.line.clear();
        let n = if self.framing.terminator == 0 {
            (&mut self.inner).take(TCR as u64).read_to_end(&mut self.line)?
        } else {
            self.inner.read_until(b'\n', &mut self.line)?
        };
        if n == 0 {
            return Ok(false);
        }
        let body = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        if body.is_empty() && self.framing.terminator > 0 {
            return self.next(out);
        }
        if body.len() != TCR {
            return Err(Error::Unprocessable(format!(
                "Base II record {number} is {} bytes long, not {TCR}: every TCR of a Base II file is {TCR} bytes; the file is damaged or cut off",
                body.len()
            )));
        }
        if self.framing.ebcdic {
            let mut s = String::new();
            push_text(body, true, &mut s);
            for (o, c) in out.iter_mut().zip(s.chars()) {
                *o = u8::try_from(u32::from(c)).unwrap_or(b'?');
            }
        } else {
            out.copy_from_slice(body);
        }
        self.number = number;
        Ok(true)
    }
}

/// 1-based inclusive positions of a TCR.
fn at(tcr: &[u8; TCR], from: usize, to: usize) -> &[u8] {
    &tcr[from - 1..to]
}

/// A transaction being assembled: its TCR 0 and the TCRs 1 and 5 that followed.
struct Transaction {
    number: u32,
    tcr0: [u8; TCR],
    tcr1: Option<[u8; TCR]>,
    tcr5: Option<[u8; TCR]>,
}

/// Totals counted for the trailer.
#[derive(Default)]
struct Counted {
    monetary: i128,
    tcrs: i128,
    source: i128,
}

struct Reader<'a> {
    loader: Loader<'a>,
    /// The processing date of the file header.
    file_date: Option<Date>,
    open: Option<Transaction>,
    counted: Counted,
    controls: Vec<Control>,
    structural: u64,
    metadata: Vec<(String, String)>,
    warnings: Vec<String>,
}

const FIELDS: [(&str, &str); 12] = [
    ("TCR 0 27-49", "transaction_id"),
    ("TCR 0 1-2", "stage"),
    ("TCR 0 58-61", "occurred_at"),
    ("TCR 0 77-88", "amount.minor_units"),
    ("TCR 0 89-91", "currency"),
    ("TCR 0 5-23", "card_number"),
    ("TCR 0 162-163", "entry_mode"),
    ("TCR 0 133-136", "mcc"),
    ("TCR 1 81-95", "merchant_id"),
    ("TCR 0 92-116", "merchant_name"),
    ("TCR 5 92-107", "interchange_fee.minor_units"),
    ("TCR 0 148-149", "reason_code"),
];

/// Parses a Base II file into facts.
pub(crate) fn parse(
    input: impl Read,
    framing: Framing,
    report: &Report,
    key: &PanKey,
    collector: Collector<'_>,
) -> Result<ParseSummary> {
    let loader = Loader::new(report, key, collector, Format::Base2, &FIELDS)?;
    let mut r = Reader {
        loader,
        file_date: None,
        open: None,
        counted: Counted::default(),
        controls: Vec::new(),
        structural: 0,
        metadata: vec![(
            "encoding".to_owned(),
            if framing.ebcdic { "EBCDIC (cp500)" } else { "ASCII" }.to_owned(),
        )],
        warnings: Vec::new(),
    };
    let mut records =
        Records { inner: BufReader::with_capacity(256 * 1024, input), framing, line: Vec::new(), number: 0 };
    let mut tcr = [b' '; TCR];
    while records.next(&mut tcr)? {
        r.tcr(&tcr, records.number)?;
    }
    r.close()?;
    if r.controls.is_empty() {
        r.warnings.push("the file has no trailer (TC 92): its totals could not be checked".into());
    }
    let structure = Structure {
        format: Format::Base2.as_str().into(),
        metadata: r.metadata,
        structural_lines: r.structural,
        ..Default::default()
    };
    r.loader.finish(Format::Base2, structure, r.controls, r.warnings)
}

impl Reader<'_> {
    fn tcr(&mut self, tcr: &[u8; TCR], number: u32) -> Result<()> {
        self.counted.tcrs += 1;
        let code = [tcr[0], tcr[1]];
        if tcr[3] != b'0' {
            return match &mut self.open {
                Some(t) if t.tcr0[..2] == code => {
                    match tcr[3] {
                        b'1' => t.tcr1 = Some(*tcr),
                        b'5' => t.tcr5 = Some(*tcr),
                        _ => {}
                    }
                    Ok(())
                }
                _ => {
                    self.loader.reject(
                        number,
                        "bad_record",
                        format!(
                            "record {number}: TCR {} of TC {} follows no TCR 0 of its transaction",
                            tcr[3] as char,
                            text(&code, false)
                        ),
                    );
                    Ok(())
                }
            };
        }
        self.close()?;
        match &code {
            b"90" => self.header(tcr),
            b"91" => self.structural += 1,
            b"92" => self.trailer(tcr, number),
            _ => self.open = Some(Transaction { number, tcr0: *tcr, tcr1: None, tcr5: None }),
        }
        Ok(())
    }

    fn header(&mut self, tcr: &[u8; TCR]) {
        self.structural += 1;
        self.counted = Counted { tcrs: 1, ..Counted::default() };
        self.file_date = julian(at(tcr, 11, 15));
        self.metadata.push(("processing_bin".into(), text(at(tcr, 5, 10), false)));
        if let Some(d) = self.file_date {
            self.metadata.push(("processing_date".into(), d.to_string()));
        }
    }

    fn trailer(&mut self, tcr: &[u8; TCR], number: u32) {
        self.structural += 1;
        let stated = |from, to| digits(at(tcr, from, to)).map(i128::from).unwrap_or(-1);
        let c = &self.counted;
        let checks = [
            ("monetary transactions", stated(31, 42), c.monetary),
            ("TCRs", stated(49, 60), c.tcrs),
            ("source amount", stated(102, 116), c.source),
        ];
        self.controls.push(control(&format!("Base II file trailer (TC 92, record {number})"), &checks));
        self.counted = Counted::default();
    }

    /// Reads the transaction assembled so far.
    fn close(&mut self) -> Result<()> {
        let Some(t) = self.open.take() else { return Ok(()) };
        let code = text(&t.tcr0[..2], false);
        let stage = match code.as_str() {
            "05" | "07" => Some(Stage::Clearing),
            "06" => Some(Stage::Refund),
            "15" | "16" | "17" => Some(Stage::Chargeback),
            "40" => Some(Stage::Fraud),
            _ => None,
        };
        if matches!(
            code.as_str(),
            "05" | "06" | "07" | "15" | "16" | "17" | "25" | "26" | "27" | "35" | "36" | "37"
        ) {
            self.counted.monetary += 1;
            self.counted.source += i128::from(digits(at(&t.tcr0, 77, 88)).unwrap_or(0));
        }
        let skip = match code.as_str() {
            _ if stage.is_some() => None,
            "25" | "26" | "27" => Some(format!("reversal (TC {code})")),
            "35" | "36" | "37" => Some(format!("chargeback reversal (TC {code})")),
            "10" | "20" => Some(format!("fee collection or funds disbursement (TC {code})")),
            "33" => Some("general delivery report (TC 33)".to_owned()),
            _ => Some(format!("TC {code}")),
        };
        if let Some(reason) = skip {
            self.loader.skip(reason);
            return Ok(());
        }
        let Some(stage) = stage else { return Ok(()) };
        match self.draft(&t, stage) {
            Ok(draft) => self.loader.fact(&draft, t.number),
            Err((code, why)) => {
                self.loader.reject(t.number, code, format!("record {}: {why}", t.number));
                Ok(())
            }
        }
    }

    /// The canonical fields of a transaction.
    fn draft<'t>(
        &self,
        t: &'t Transaction,
        stage: Stage,
    ) -> std::result::Result<Draft<'t>, (&'static str, String)> {
        let p = if stage == Stage::Fraud { &TC40 } else { &SALE };
        let tcr0 = &t.tcr0;
        let field = |(from, to): (usize, usize)| trim(at(tcr0, from, to));
        let shown = |place| String::from_utf8_lossy(field(place)).into_owned();
        let file_date = self.file_date.ok_or_else(|| {
            (
                "invalid_date",
                "the file has no header (TC 90) whose processing date dates its MMDD purchase dates"
                    .to_owned(),
            )
        })?;
        let date = purchase_date(field(p.date), file_date).ok_or_else(|| {
            ("invalid_date", format!("purchase date `{}` is not a MMDD date", shown(p.date)))
        })?;
        let minor = digits(field(p.amount))
            .and_then(|a| i64::try_from(a).ok())
            .ok_or_else(|| ("invalid_amount", format!("amount `{}` is not a number", shown(p.amount))))?;
        let currency =
            digits(field(p.currency)).and_then(|n| Currency::from_numeric(n as u16)).ok_or_else(|| {
                (
                    "unknown_currency",
                    format!("currency `{}` is not an ISO 4217 numeric code", shown(p.currency)),
                )
            })?;
        let mut d = Draft::new(stage, Network::Visa, minor, currency);
        d.transaction_id = field(p.arn);
        d.local = (date.year(), date.month(), date.day(), 0, 0, 0);
        // A 17–19 digit account number runs on into its extension (`000` or blank: none).
        d.card = match p.extension {
            Some((from, to)) if field((from, to)).iter().any(|&b| b != b'0') => field((p.account.0, to)),
            _ => field(p.account),
        };
        d.merchant_name = field(p.merchant);
        d.merchant_country = field(p.country);
        d.mcc = field(p.mcc);
        d.entry_mode = Some(entry_mode(field(p.entry_mode), t.tcr1.as_ref().map(|r| r[115])));
        d.merchant_id = match (p.merchant_id, &t.tcr1) {
            (Some(place), _) => field(place),
            (None, Some(r1)) => trim(at(r1, 81, 95)),
            (None, None) => b"",
        };
        d.interchange_fee = t.tcr5.as_ref().and_then(|r5| interchange_fee(r5, currency));
        if stage == Stage::Chargeback {
            d.reason_code = field((148, 149));
        }
        Ok(d)
    }
}

/// Where a TCR 0 keeps the fields PayScope reads.
struct Places {
    account: (usize, usize),
    extension: Option<(usize, usize)>,
    arn: (usize, usize),
    date: (usize, usize),
    amount: (usize, usize),
    currency: (usize, usize),
    merchant: (usize, usize),
    country: (usize, usize),
    mcc: (usize, usize),
    entry_mode: (usize, usize),
    /// The card acceptor id, when the TCR 0 holds it (else TCR 1 does).
    merchant_id: Option<(usize, usize)>,
}

/// TC 05–07 and 15–17.
const SALE: Places = Places {
    account: (5, 20),
    extension: Some((21, 23)),
    arn: (27, 49),
    date: (58, 61),
    amount: (77, 88),
    currency: (89, 91),
    merchant: (92, 116),
    country: (130, 132),
    mcc: (133, 136),
    entry_mode: (162, 163),
    merchant_id: None,
};

/// TC 40.
const TC40: Places = Places {
    account: (17, 35),
    extension: None,
    arn: (36, 58),
    date: (67, 70),
    amount: (71, 82),
    currency: (83, 85),
    merchant: (86, 110),
    country: (124, 126),
    mcc: (127, 130),
    entry_mode: (137, 138),
    merchant_id: Some((139, 153)),
};

/// `YYDDD` (the century is 20).
fn julian(b: &[u8]) -> Option<Date> {
    let n = digits(b)?;
    let (yy, ddd) = ((n / 1000) as i16, (n % 1000) as i16);
    let first = Date::new(2000 + yy, 1, 1).ok()?;
    (1..=first.days_in_year())
        .contains(&ddd)
        .then(|| first.checked_add(jiff::Span::new().days(i64::from(ddd - 1))).ok())
        .flatten()
}

/// A `MMDD` purchase date: the latest such date on or before the file's processing date.
fn purchase_date(b: &[u8], file: Date) -> Option<Date> {
    let n = digits(b)?;
    let (mm, dd) = ((n / 100) as i8, (n % 100) as i8);
    [file.year(), file.year() - 1].into_iter().filter_map(|y| Date::new(y, mm, dd).ok()).find(|d| *d <= file)
}

/// The POS entry mode (ISO 8583 field 22 digits), or e-commerce by the TCR 1 indicator.
fn entry_mode(pos: &[u8], eci: Option<u8>) -> EntryMode {
    match pos {
        b"05" | b"95" => EntryMode::Chip,
        b"07" | b"91" => EntryMode::Contactless,
        b"02" | b"90" => EntryMode::Magstripe,
        b"01" | b"00" | b"" if matches!(eci, Some(b'5'..=b'8')) => EntryMode::Ecommerce,
        b"01" => EntryMode::Manual,
        b"10" => EntryMode::Ecommerce,
        _ => EntryMode::Other,
    }
}

/// The TCR 5 interchange fee in minor units of `currency`, when it is a whole number of them.
fn interchange_fee(tcr5: &[u8; TCR], currency: Currency) -> Option<i64> {
    let micro = i64::try_from(digits(at(tcr5, 92, 106))?).ok()?;
    rescale(micro, 6, currency.exponent())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_resolve_against_the_file_date() {
        let file = julian(b"26341").unwrap();
        assert_eq!(file.to_string(), "2026-12-07");
        assert_eq!(purchase_date(b"1205", file).unwrap().to_string(), "2026-12-05");
        assert_eq!(purchase_date(b"1230", file).unwrap().to_string(), "2025-12-30");
        assert_eq!(purchase_date(b"1340", file), None);
        assert_eq!(julian(b"24366").unwrap().to_string(), "2024-12-31");
        assert_eq!(julian(b"25366"), None);
    }

    #[test]
    fn entry_modes() {
        assert_eq!(entry_mode(b"05", None), EntryMode::Chip);
        assert_eq!(entry_mode(b"01", Some(b'7')), EntryMode::Ecommerce);
        assert_eq!(entry_mode(b"01", Some(b' ')), EntryMode::Manual);
    }
}
