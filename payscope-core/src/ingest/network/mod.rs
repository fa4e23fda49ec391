//! The clearing files card networks send their members, read from their bytes: Mastercard
//! IPM ([`ipm`]) and Visa Base II ([`base2`]). Neither has headers to map: each field's place
//! is fixed by the network, so a reader picks each message's fields into a [`Draft`] and the
//! [`Loader`] checks them by the rules every file follows (exact money, a card number turned
//! into its BIN and keyed token at once, ids and texts within bounds, times within 1970–2099 in
//! the upload's time zone) and rejects a message with its record number when one fails. Both stream record by record; the file's own control
//! totals (an IPM trailer, a Base II file trailer) are checked against what was read.

pub(crate) mod base2;
pub(crate) mod ebcdic;
pub(crate) mod ipm;

pub(crate) use ebcdic::push_text;

use std::borrow::Cow;

use super::detect::Format;
use super::normalize::normalize_mcc;
use super::pan::{issuer_bin, masked_pan, pan_digits_from, redact, PanKey, TokenCache};
use super::pipeline::{Collector, ParseSummary};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::{
    Control, Country, EntryMode, Fact, Lineage, MappingDecision, Network, Report, ReportType, RowError,
    Stage, Structure,
};
use crate::money::{Currency, Money};

/// A field without the spaces networks pad with.
pub(crate) fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' '] = b {
        b = rest;
    }
    b
}

/// A field's text, trimmed of the spaces networks pad with.
pub(crate) fn text(bytes: &[u8], ebcdic: bool) -> String {
    let mut s = String::with_capacity(bytes.len());
    push_text(bytes, ebcdic, &mut s);
    let end = s.trim_end().len();
    s.truncate(end);
    s.trim_start().to_owned()
}

/// The value of a field of ASCII digits (`None` when any is not a digit).
pub(crate) fn digits(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 19 {
        return None;
    }
    bytes.iter().try_fold(0u64, |n, &b| b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0')))
}

/// `minor` units of a currency written with `from` decimals, in units of `to` decimals; `None`
/// when that is not exact (a fraction of the smallest unit) or overflows.
pub(crate) fn rescale(minor: i64, from: u8, to: u8) -> Option<i64> {
    if from <= to {
        minor.checked_mul(10i64.checked_pow(u32::from(to - from))?)
    } else {
        let d = 10i64.checked_pow(u32::from(from - to))?;
        (minor % d == 0).then_some(minor / d)
    }
}

/// A transaction message's canonical fields as a network reader found them: text fields are
/// the file's Latin-1 bytes (trimmed), checked and turned into a fact by [`Loader::fact`].
pub(crate) struct Draft<'t> {
    pub transaction_id: &'t [u8],
    pub stage: Stage,
    /// Local date and time, in the upload's time zone.
    pub local: (i16, i8, i8, i8, i8, i8),
    pub minor: i64,
    pub currency: Currency,
    pub network: Network,
    pub card: &'t [u8],
    pub mcc: &'t [u8],
    pub merchant_id: &'t [u8],
    pub merchant_name: &'t [u8],
    pub merchant_country: &'t [u8],
    pub entry_mode: Option<EntryMode>,
    pub interchange_fee: Option<i64>,
    pub reason_code: &'t [u8],
}

impl<'t> Draft<'t> {
    /// A draft of `stage` with the required fields; the rest empty.
    pub fn new(stage: Stage, network: Network, minor: i64, currency: Currency) -> Draft<'t> {
        Draft {
            transaction_id: b"",
            stage,
            local: (0, 0, 0, 0, 0, 0),
            minor,
            currency,
            network,
            card: b"",
            mcc: b"",
            merchant_id: b"",
            merchant_name: b"",
            merchant_country: b"",
            entry_mode: None,
            interchange_fee: None,
            reason_code: b"",
        }
    }
}

/// Longest transaction or merchant id, merchant name and reason code kept (as for any file).
const MAX_ID_LEN: usize = 64;
const MAX_TEXT_LEN: usize = 256;
const MAX_REASON_LEN: usize = 16;

/// Where the messages of a network file go: checked, turned into facts (a card number into its
/// BIN and keyed token at once) and handed to the collector in file order.
pub(crate) struct Loader<'a> {
    mapping: Vec<MappingDecision>,
    collector: Collector<'a>,
    report_type: ReportType,
    lineage: Lineage,
    zone: Option<jiff::tz::TimeZone>,
    key: PanKey,
    tokens: TokenCache,
}

impl<'a> Loader<'a> {
    /// A loader whose mapping decisions name the network's fields (`fields`: the file's field
    /// → the canonical field it fills). The layout is the network's: confidence 1.
    pub fn new(
        report: &Report,
        key: &PanKey,
        mut collector: Collector<'a>,
        format: Format,
        fields: &[(&str, &str)],
    ) -> Result<Loader<'a>> {
        let zone = match report.timezone.as_str() {
            "" | "UTC" | "utc" | "Etc/UTC" => None,
            tz => Some(jiff::tz::TimeZone::get(tz).map_err(|_| {
                Error::invalid("invalid_timezone", format!("timezone `{tz}` is not an IANA time zone name"))
            })?),
        };
        collector.planned(1.0)?;
        let rule = format!("{} layout", format.as_str());
        let mapping =
            fields.iter().map(|&(from, to)| MappingDecision::new(from, to, 1.0, rule.as_str())).collect();
        Ok(Loader {
            mapping,
            collector,
            report_type: report.report_type,
            lineage: Lineage { report_id: report.report_id, sha256: report.sha256, row: 0 },
            zone,
            key: key.clone(),
            tokens: TokenCache::new(),
        })
    }

    /// Turns the draft of record `number` into a fact, or rejects it saying why.
    pub fn fact(&mut self, d: &Draft<'_>, number: u32) -> Result<()> {
        match self.build(d, number) {
            Ok(f) => self.collector.fact(f),
            Err((code, why)) => {
                self.reject(number, code, format!("record {number}: {why}"));
                Ok(())
            }
        }
    }

    fn build(&mut self, d: &Draft<'_>, number: u32) -> std::result::Result<Fact, (&'static str, String)> {
        let id = latin1(d.transaction_id);
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Err((
                "invalid_transaction_id",
                format!("transaction id `{}` is empty or too long", redact(&id)),
            ));
        }
        let occurred_at = self.time(d.local)?;
        let lineage = Lineage { row: number, ..self.lineage };
        let mut f =
            Fact::new(id.into_owned(), d.stage, occurred_at, Money::new(d.minor, d.currency), lineage);
        f.network = Some(d.network.clone());
        f.merchant_id = text_field(d.merchant_id, MAX_ID_LEN, "merchant_id")?;
        f.merchant_name = text_field(d.merchant_name, MAX_TEXT_LEN, "merchant_name")?;
        f.reason_code = text_field(d.reason_code, MAX_REASON_LEN, "reason_code")?;
        if !d.mcc.is_empty() {
            let mcc = latin1(d.mcc);
            f.mcc = Some(
                normalize_mcc(&mcc)
                    .ok_or_else(|| ("invalid_mcc", format!("mcc `{mcc}` is not a four-digit code")))?,
            );
        }
        if !d.merchant_country.is_empty() {
            let c = latin1(d.merchant_country);
            f.merchant_country = Some(Country::parse(&c).ok_or_else(|| {
                ("invalid_country", format!("merchant country `{c}` is not an ISO 3166 code"))
            })?);
        }
        if !d.card.is_empty() {
            let card = latin1(d.card);
            if let Some(digits) = pan_digits_from(&card, 11) {
                f.issuer_bin = Some(issuer_bin(&digits));
                f.card_token = Some(self.tokens.get_or_insert(&digits, &self.key));
            } else if let Some(m) = masked_pan(&card) {
                f.issuer_bin = m.bin;
                f.card_token = Some(self.key.tokenize(&m.text));
            } else {
                return Err((
                    "invalid_card_number",
                    "the card number is not 11–19 digits passing the Luhn check, nor a masked card number"
                        .into(),
                ));
            }
        }
        f.entry_mode = d.entry_mode;
        f.interchange_fee = d.interchange_fee;
        f.fraud_reported = d.stage == Stage::Fraud;
        Ok(f)
    }

    /// A local date and time in the upload's zone, within 1970–2099.
    fn time(
        &self,
        (y, mo, d, h, mi, s): (i16, i8, i8, i8, i8, i8),
    ) -> std::result::Result<Timestamp, (&'static str, String)> {
        let bad = || {
            ("invalid_date", format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} is not a date and time"))
        };
        let t = match &self.zone {
            None => {
                Timestamp::from_civil(i32::from(y), mo as u32, d as u32, h as u32, mi as u32, s as u32, 0)
            }
            Some(tz) => jiff::civil::DateTime::new(y, mo, d, h, mi, s, 0)
                .ok()
                .and_then(|dt| dt.to_zoned(tz.clone()).ok())
                .map(|z| Timestamp(z.timestamp().as_millisecond())),
        }
        .ok_or_else(bad)?;
        if !t.is_plausible() {
            return Err(("invalid_date", format!("{t} is outside 1970–2099")));
        }
        Ok(t)
    }

    /// A message that is not a card transaction, counted with its reason.
    pub fn skip(&mut self, reason: String) {
        self.collector.skip(reason);
    }

    /// A message that cannot be read.
    pub fn reject(&mut self, number: u32, code: &str, message: String) {
        self.collector.reject(RowError { row: number, column: None, code: code.into(), message });
    }

    /// Flushes the last facts and sums up.
    pub fn finish(
        mut self,
        format: Format,
        structure: Structure,
        controls: Vec<Control>,
        mut warnings: Vec<String>,
    ) -> Result<ParseSummary> {
        self.collector.flush()?;
        self.collector.structure(&structure);
        for c in controls.iter().filter(|c| !c.ok) {
            warnings.push(format!("{} disagrees with the file: {}", c.source, c.differences.join("; ")));
        }
        let c = &mut self.collector;
        Ok(ParseSummary {
            format,
            rows_total: c.rows_total,
            rows_rejected: c.rows_rejected,
            rows_skipped: c.rows_skipped,
            skipped: c.skipped(),
            errors: std::mem::take(&mut c.errors),
            mapping: self.mapping,
            confidence: 1.0,
            report_type: self.report_type,
            structure,
            controls,
            warnings,
            profiles_applied: Vec::new(),
        })
    }
}

/// Latin-1 bytes as text (borrowed when ASCII, as network fields nearly always are).
fn latin1(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) if s.is_ascii() => Cow::Borrowed(s),
        _ => Cow::Owned(b.iter().map(|&c| char::from(c)).collect()),
    }
}

/// An optional text field of at most `max` characters.
fn text_field(
    b: &[u8],
    max: usize,
    name: &str,
) -> std::result::Result<Option<String>, (&'static str, String)> {
    if b.is_empty() {
        return Ok(None);
    }
    let s = latin1(b);
    if s.chars().count() > max {
        return Err(("invalid_text", format!("{name} is longer than {max} characters")));
    }
    Ok(Some(s.into_owned()))
}

/// A control check of stated totals against counted ones: (what, stated, counted).
pub(crate) fn control(source: &str, checks: &[(&str, i128, i128)]) -> Control {
    let differences: Vec<String> = checks
        .iter()
        .filter(|(_, stated, counted)| stated != counted)
        .map(|(what, stated, counted)| {
            format!("{what}: the file states {stated}, its records give {counted}")
        })
        .collect();
    Control {
        source: source.to_owned(),
        by: Vec::new(),
        groups: checks.len() as u64,
        matched: (checks.len() - differences.len()) as u64,
        ok: differences.is_empty(),
        differences,
        not_in_detail: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ebcdic_text_and_digits() {
        let mut s = String::new();
        push_text(&[0xF1, 0xF2, 0x40, 0xC1, 0x81, 0x4B], true, &mut s);
        assert_eq!(s, "12 Aa.");
        assert_eq!(text(b"  CAFE  ", false), "CAFE");
        assert_eq!(digits(b"000123"), Some(123));
        assert_eq!(digits(b"12a"), None);
        assert_eq!(rescale(1234, 2, 3), Some(12340));
        assert_eq!(rescale(1230, 3, 2), Some(123));
        assert_eq!(rescale(1234, 3, 2), None);
    }
}
