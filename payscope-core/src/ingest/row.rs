//! A [`RowPlan`] is a column mapping compiled for one report: it turns each row into a
//! canonical [`Fact`] or a [`RowError`] that names the column and never echoes a card number.

use csv::StringRecord;
use rustc_hash::FxHashMap;

use super::mapping::{ColumnMap, Field};
use super::normalize::{
    normalize_mcc, parse_amount, parse_flag, parse_minor, parse_status, parse_time, parse_when, resolve,
    DecimalStyle, When,
};
use super::pan::{issuer_bin, pan_digits, redact, PanKey};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::{
    response_code_is_approved, CardToken, Country, EntryMode, Fact, Lineage, MappingDecision, Network,
    Report, RowError, Stage,
};
use crate::money::{Currency, Money};

/// Longest transaction id accepted.
const MAX_ID_LEN: usize = 64;
/// Longest merchant name accepted.
const MAX_TEXT_LEN: usize = 256;

#[derive(Debug, Clone, Copy)]
enum StageSource {
    Fixed(Stage),
    Column(usize),
}

#[derive(Debug, Clone, Copy)]
enum TimeSource {
    Column(usize),
    DateAndTime(usize, usize),
}

#[derive(Debug, Clone, Copy)]
enum AmountSource {
    Decimal(usize, DecimalStyle),
    Minor(usize),
}

/// The compiled mapping of one report.
pub(crate) struct RowPlan {
    headers: Vec<String>,
    stage: StageSource,
    tx: usize,
    time: TimeSource,
    amount: AmountSource,
    /// Minor units, read when the decimal amount cell is empty (JSON Lines carry either).
    amount_minor: Option<AmountSource>,
    currency: Option<usize>,
    default_currency: Option<Currency>,
    network: Option<usize>,
    default_network: Option<Network>,
    fee: Option<AmountSource>,
    col: FxHashMap<Field, usize>,
    zone: Option<jiff::tz::TimeZone>,
    key: PanKey,
    tokens: TokenCache,
    lineage: Lineage,
    /// The stage decision (when not from a column) and the report's confidence.
    pub stage_decision: Option<MappingDecision>,
    /// Combined confidence of the required fields and the stage.
    pub confidence: f64,
}

/// What the headers say about the stage, if anything.
fn infer_stage(map: &ColumnMap) -> Option<(Stage, f64)> {
    let joined: String =
        map.headers().iter().map(|h| super::mapping::normalize_header(h)).collect::<Vec<_>>().join("|");
    let has = |w: &str| joined.contains(w);
    let named = |w: &str| joined.split('|').any(|h| h == w);
    if map.column(Field::ResponseCode).is_some() || map.column(Field::Status).is_some() {
        return Some((Stage::Auth, 0.9));
    }
    if map.column(Field::ReasonCode).is_some() || has("chargeback") || has("dispute") || named("arn") {
        return Some((Stage::Chargeback, 0.85));
    }
    if has("refund") {
        return Some((Stage::Refund, 0.85));
    }
    if has("settle") || has("funding") {
        return Some((Stage::Settlement, 0.85));
    }
    if has("fraud") || has("tc40") {
        return Some((Stage::Fraud, 0.8));
    }
    if has("clearing")
        || has("presentment")
        || has("processingdate")
        || map.column(Field::InterchangeFee).is_some()
    {
        return Some((Stage::Clearing, 0.75));
    }
    None
}

fn missing(map: &ColumnMap, what: &[&str]) -> Error {
    Error::Unprocessable(format!(
        "missing required column{}: {}; columns seen: {}",
        if what.len() > 1 { "s" } else { "" },
        what.join(", "),
        map.headers().iter().map(|h| redact(h)).collect::<Vec<_>>().join(", ")
    ))
}

impl RowPlan {
    /// Compiles a mapping. Fails (the report fails) when a required field is missing, the stage
    /// cannot be told, or the transaction-id column holds card numbers.
    pub fn build(map: &ColumnMap, sample: &[StringRecord], report: &Report, key: &PanKey) -> Result<RowPlan> {
        let col: FxHashMap<Field, usize> =
            map.columns.iter().enumerate().filter_map(|(i, f)| f.map(|f| (f, i))).collect();
        let default_currency = match report.currency.as_deref() {
            Some(c) => Some(Currency::parse_any(c).ok_or_else(|| {
                Error::invalid("unknown_currency", format!("currency `{c}` is not an ISO 4217 currency"))
            })?),
            None => None,
        };
        let default_network = report.network.as_deref().and_then(Network::parse);
        let zone = match report.timezone.as_str() {
            "" | "UTC" | "utc" | "Etc/UTC" => None,
            tz => Some(jiff::tz::TimeZone::get(tz).map_err(|_| {
                Error::invalid("invalid_timezone", format!("timezone `{tz}` is not an IANA time zone name"))
            })?),
        };
        let sample_values = |c: usize| sample.iter().filter_map(move |r| r.get(c));
        let mut lacking = Vec::new();
        let tx = col.get(&Field::TransactionId).copied();
        if tx.is_none() {
            lacking.push("transaction_id");
        }
        let time = match (col.get(&Field::OccurredAt), col.get(&Field::Date), col.get(&Field::Time)) {
            (Some(&c), _, _) => Some(TimeSource::Column(c)),
            (None, Some(&d), Some(&t)) => Some(TimeSource::DateAndTime(d, t)),
            (None, Some(&d), None) => Some(TimeSource::Column(d)),
            _ => {
                lacking.push("occurred_at (a date or timestamp)");
                None
            }
        };
        let amount = match (col.get(&Field::Amount), col.get(&Field::AmountMinor)) {
            (Some(&c), _) => Some(AmountSource::Decimal(c, DecimalStyle::detect(sample_values(c)))),
            (None, Some(&c)) => Some(AmountSource::Minor(c)),
            _ => {
                lacking.push("amount");
                None
            }
        };
        let currency = col.get(&Field::Currency).copied();
        if currency.is_none() && default_currency.is_none() {
            let embedded = match amount {
                Some(AmountSource::Decimal(c, style)) => {
                    let vals: Vec<&str> = sample_values(c).collect();
                    !vals.is_empty()
                        && vals.iter().all(|v| {
                            parse_amount(v, style, |c| c.map_or(2, Currency::exponent))
                                .is_ok_and(|a| a.currency.is_some())
                        })
                }
                _ => false,
            };
            if !embedded {
                lacking.push("currency (or pass ?currency=)");
            }
        }
        let (Some(tx), Some(time), Some(amount), true) = (tx, time, amount, lacking.is_empty()) else {
            return Err(missing(map, &lacking));
        };
        let ids: Vec<&str> = sample_values(tx).filter(|v| !v.trim_ascii().is_empty()).collect();
        if !ids.is_empty() && ids.iter().filter(|v| pan_digits(v).is_some()).count() * 2 > ids.len() {
            return Err(Error::Unprocessable(format!(
                "column `{}` was mapped to transaction_id but holds card numbers; card numbers cannot identify transactions",
                redact(map.headers()[tx])
            )));
        }
        let (stage, stage_decision, stage_conf) = match (report.report_type.stage(), col.get(&Field::Stage)) {
            (Some(s), _) => (
                StageSource::Fixed(s),
                Some(MappingDecision { column: "(upload)".into(), field: "stage".into(), confidence: 1.0, rule: "report_type".into() }),
                1.0,
            ),
            (None, Some(&c)) => (StageSource::Column(c), None, map.decisions[c].confidence),
            (None, None) => match infer_stage(map) {
                Some((s, conf)) => (
                    StageSource::Fixed(s),
                    Some(MappingDecision {
                        column: "(headers)".into(),
                        field: format!("stage={}", s.as_str()),
                        confidence: conf,
                        rule: "header_inference".into(),
                    }),
                    conf,
                ),
                None => {
                    return Err(Error::Unprocessable(format!(
                        "cannot tell what kind of report this is from its columns ({}); upload it with report_type",
                        map.headers().iter().map(|h| redact(h)).collect::<Vec<_>>().join(", ")
                    )))
                }
            },
        };
        let required = [
            Some(tx),
            Some(match time {
                TimeSource::Column(c) | TimeSource::DateAndTime(c, _) => c,
            }),
            Some(match amount {
                AmountSource::Decimal(c, _) | AmountSource::Minor(c) => c,
            }),
        ];
        let min_conf = required.iter().flatten().map(|&c| map.decisions[c].confidence).fold(1.0f64, f64::min);
        let fee = match (col.get(&Field::InterchangeFee), col.get(&Field::InterchangeFeeMinor)) {
            (Some(&c), _) => Some(AmountSource::Decimal(c, DecimalStyle::detect(sample_values(c)))),
            (None, Some(&c)) => Some(AmountSource::Minor(c)),
            _ => None,
        };
        Ok(RowPlan {
            headers: map.headers().iter().map(|h| redact(h)).collect(),
            stage,
            tx,
            time,
            amount,
            amount_minor: match (amount, col.get(&Field::AmountMinor)) {
                (AmountSource::Decimal(..), Some(&c)) => Some(AmountSource::Minor(c)),
                _ => None,
            },
            currency,
            default_currency,
            network: col.get(&Field::Network).copied(),
            default_network,
            fee,
            col,
            zone,
            key: key.clone(),
            tokens: TokenCache::new(),
            lineage: Lineage { report_id: report.report_id, sha256: report.sha256, row: 0 },
            stage_decision,
            confidence: ((min_conf * stage_conf) * 100.0).round() / 100.0,
        })
    }

    fn err(&self, row: u32, c: Option<usize>, code: &str, message: String) -> RowError {
        RowError {
            row,
            column: c.and_then(|c| self.headers.get(c).cloned()),
            code: code.to_owned(),
            message: redact(&message),
        }
    }

    fn cell<'r>(&self, rec: &'r StringRecord, f: Field) -> Option<(usize, &'r str)> {
        let c = *self.col.get(&f)?;
        let v = rec.get(c)?.trim_ascii();
        (!v.is_empty()).then_some((c, v))
    }

    fn text(
        &self,
        rec: &StringRecord,
        f: Field,
        max: usize,
        row: u32,
    ) -> std::result::Result<Option<String>, RowError> {
        let Some((c, v)) = self.cell(rec, f) else {
            return Ok(None);
        };
        if v.len() > max && v.chars().count() > max {
            return Err(self.err(
                row,
                Some(c),
                "value_too_long",
                format!("{} is longer than {max} characters", f.as_str()),
            ));
        }
        let first = v.as_bytes()[0];
        // Spreadsheet formula prefixes; a leading minus only when it is not a plain number.
        let plain_number = v.bytes().skip(1).all(|b| b.is_ascii_digit() || b == b'.' || b == b',');
        let risky = matches!(first, b'=' | b'+' | b'@') || (first == b'-' && !plain_number);
        if risky || v.chars().any(|ch| ch.is_control()) {
            return Err(self.err(
                row,
                Some(c),
                "unsafe_text",
                format!(
                    "{} `{}` looks like a spreadsheet formula or holds control characters",
                    f.as_str(),
                    truncate(v)
                ),
            ));
        }
        Ok(Some(super::pan::redact_cow(v).into_owned()))
    }

    fn token(&mut self, digits: &str) -> CardToken {
        self.tokens.get_or_insert(digits, &self.key)
    }

    fn parse_money(
        &self,
        rec: &StringRecord,
        src: AmountSource,
        currency: Option<Currency>,
        row: u32,
        what: &str,
    ) -> std::result::Result<(i64, Option<Currency>), RowError> {
        let c = match src {
            AmountSource::Decimal(c, _) | AmountSource::Minor(c) => c,
        };
        let raw = rec.get(c).unwrap_or("").trim_ascii();
        if raw.is_empty() {
            return Err(self.err(row, Some(c), "missing_value", format!("{what} is empty")));
        }
        match src {
            AmountSource::Minor(_) => parse_minor(raw).map(|m| (m, None)).map_err(|why| {
                self.err(row, Some(c), "invalid_amount", format!("{what} `{}` {why}", truncate(raw)))
            }),
            AmountSource::Decimal(_, style) => {
                parse_amount(raw, style, |embedded| embedded.or(currency).map_or(2, Currency::exponent))
                    .map(|a| (a.minor, a.currency))
                    .map_err(|why| {
                        self.err(row, Some(c), "invalid_amount", format!("{what} `{}` {why}", truncate(raw)))
                    })
            }
        }
    }

    /// Turns one data row into a fact.
    pub fn fact(&mut self, rec: &StringRecord, row: u32) -> std::result::Result<Fact, RowError> {
        let stage = match self.stage {
            StageSource::Fixed(s) => s,
            StageSource::Column(c) => {
                let v = rec.get(c).unwrap_or("").trim_ascii();
                Stage::parse(v).ok_or_else(|| {
                    self.err(
                        row,
                        Some(c),
                        "invalid_stage",
                        format!(
                            "stage `{}` is not AUTH, CLEARING, SETTLEMENT, REFUND, CHARGEBACK or FRAUD",
                            truncate(v)
                        ),
                    )
                })?
            }
        };
        let tx_raw = rec.get(self.tx).unwrap_or("").trim_ascii();
        if tx_raw.is_empty() {
            return Err(self.err(row, Some(self.tx), "missing_value", "transaction_id is empty".into()));
        }
        if tx_raw.len() > MAX_ID_LEN || tx_raw.chars().any(|c| c.is_control()) {
            return Err(self.err(
                row,
                Some(self.tx),
                "invalid_transaction_id",
                format!("transaction_id is longer than {MAX_ID_LEN} characters or holds control characters"),
            ));
        }
        let occurred_at = self.occurred_at(rec, row)?;
        let currency = match self.currency {
            Some(c) => match rec.get(c).map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => Some(Currency::parse_any(v).ok_or_else(|| {
                    self.err(
                        row,
                        Some(c),
                        "unknown_currency",
                        format!("currency `{}` is not an ISO 4217 code", truncate(v)),
                    )
                })?),
                None => self.default_currency,
            },
            None => self.default_currency,
        };
        let source = match (self.amount, self.amount_minor) {
            (AmountSource::Decimal(c, _), Some(minor))
                if rec.get(c).is_none_or(|v| v.trim_ascii().is_empty()) =>
            {
                minor
            }
            (primary, _) => primary,
        };
        let (minor, embedded) = self.parse_money(rec, source, currency, row, "amount")?;
        let currency = match (currency, embedded) {
            (Some(a), Some(b)) if a != b => {
                return Err(self.err(
                    row,
                    None,
                    "currency_mismatch",
                    format!("the amount is written in {b} but the currency column says {a}"),
                ))
            }
            (Some(c), _) | (None, Some(c)) => c,
            (None, None) => {
                return Err(self.err(
                    row,
                    self.currency,
                    "missing_value",
                    "currency is empty and no default currency was given".into(),
                ))
            }
        };
        let mut f = Fact::new(
            tx_raw,
            stage,
            occurred_at,
            Money::new(minor, currency),
            Lineage { row, ..self.lineage.clone() },
        );
        f.network = match self.network.and_then(|c| rec.get(c)).map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => Network::parse(v),
            None => self.default_network.clone(),
        };
        if let Some((c, v)) = self.cell(rec, Field::ResponseCode) {
            if v.len() > 8 {
                return Err(self.err(
                    row,
                    Some(c),
                    "invalid_response_code",
                    format!("response code `{}` is longer than 8 characters", truncate(v)),
                ));
            }
            f.response_code = Some(v.to_owned());
        }
        if stage == Stage::Auth {
            f.approved = match self.cell(rec, Field::Status) {
                Some((c, v)) => Some(parse_status(v).ok_or_else(|| {
                    self.err(
                        row,
                        Some(c),
                        "invalid_status",
                        format!("status `{}` is neither approved nor declined", truncate(v)),
                    )
                })?),
                None => f.response_code.as_deref().map(response_code_is_approved),
            };
        }
        f.merchant_id = self.text(rec, Field::MerchantId, MAX_ID_LEN, row)?;
        f.merchant_name = self.text(rec, Field::MerchantName, MAX_TEXT_LEN, row)?;
        if let Some((c, v)) = self.cell(rec, Field::Mcc) {
            f.mcc = Some(normalize_mcc(v).ok_or_else(|| {
                self.err(
                    row,
                    Some(c),
                    "invalid_mcc",
                    format!("mcc `{}` is not a four-digit code", truncate(v)),
                )
            })?);
        }
        for (field, slot) in
            [(Field::MerchantCountry, &mut f.merchant_country), (Field::IssuerCountry, &mut f.issuer_country)]
        {
            if let Some((c, v)) = self.cell(rec, field) {
                *slot = Some(Country::parse(v).ok_or_else(|| {
                    self.err(
                        row,
                        Some(c),
                        "invalid_country",
                        format!("{} `{}` is not an ISO 3166 country code", field.as_str(), truncate(v)),
                    )
                })?);
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::Pan) {
            let digits = pan_digits(v).ok_or_else(|| {
                self.err(
                    row,
                    Some(c),
                    "invalid_card_number",
                    "the card number is not 13–19 digits passing the Luhn check".into(),
                )
            })?;
            f.issuer_bin = Some(issuer_bin(&digits));
            f.card_token = Some(self.token(&digits));
        }
        if let Some((c, v)) = self.cell(rec, Field::IssuerBin) {
            match pan_digits(v) {
                Some(digits) => {
                    f.issuer_bin = Some(issuer_bin(&digits));
                    f.card_token = f.card_token.or_else(|| Some(self.token(&digits)));
                }
                None if (6..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) => {
                    f.issuer_bin = Some(v.to_owned())
                }
                None => {
                    return Err(self.err(
                        row,
                        Some(c),
                        "invalid_bin",
                        format!("issuer BIN `{}` is not 6–8 digits", truncate(v)),
                    ))
                }
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::CardToken) {
            f.card_token = Some(CardToken::parse_hex(v).ok_or_else(|| {
                self.err(row, Some(c), "invalid_card_token", "card_token is not 32 hex characters".into())
            })?);
        }
        f.entry_mode = self.cell(rec, Field::EntryMode).and_then(|(_, v)| EntryMode::parse(v));
        if let Some(src) = self.fee {
            let c = match src {
                AmountSource::Decimal(c, _) | AmountSource::Minor(c) => c,
            };
            if rec.get(c).is_some_and(|v| !v.trim_ascii().is_empty()) {
                f.interchange_fee =
                    Some(self.parse_money(rec, src, Some(currency), row, "interchange fee")?.0);
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::ReasonCode) {
            if v.len() > 16 {
                return Err(self.err(
                    row,
                    Some(c),
                    "invalid_reason_code",
                    format!("reason code `{}` is longer than 16 characters", truncate(v)),
                ));
            }
            f.reason_code = Some(v.to_owned());
        }
        f.fraud_reported =
            stage == Stage::Fraud || self.cell(rec, Field::FraudReported).is_some_and(|(_, v)| parse_flag(v));
        Ok(f)
    }

    fn occurred_at(&self, rec: &StringRecord, row: u32) -> std::result::Result<Timestamp, RowError> {
        let (c, when) = match self.time {
            TimeSource::Column(c) => {
                let v = rec.get(c).unwrap_or("").trim_ascii();
                if v.is_empty() {
                    return Err(self.err(row, Some(c), "missing_value", "the date is empty".into()));
                }
                (
                    c,
                    parse_when(v).ok_or_else(|| {
                        self.err(
                            row,
                            Some(c),
                            "invalid_timestamp",
                            format!("`{}` is not a date or timestamp", truncate(v)),
                        )
                    })?,
                )
            }
            TimeSource::DateAndTime(d, t) => {
                let dv = rec.get(d).unwrap_or("").trim_ascii();
                let when = parse_when(dv).ok_or_else(|| {
                    self.err(row, Some(d), "invalid_timestamp", format!("`{}` is not a date", truncate(dv)))
                })?;
                let tv = rec.get(t).unwrap_or("").trim_ascii();
                let when = match (when, tv.is_empty()) {
                    (When::Date(date), false) => {
                        let ms = parse_time(tv).ok_or_else(|| {
                            self.err(
                                row,
                                Some(t),
                                "invalid_timestamp",
                                format!("`{}` is not a time of day", truncate(tv)),
                            )
                        })?;
                        When::Local(date.start().0 + ms)
                    }
                    (w, _) => w,
                };
                (d, when)
            }
        };
        let t = resolve(when, self.zone.as_ref()).ok_or_else(|| {
            self.err(
                row,
                Some(c),
                "invalid_timestamp",
                "the local time does not exist in the report's time zone".into(),
            )
        })?;
        if !t.is_plausible() {
            return Err(self.err(
                row,
                Some(c),
                "timestamp_out_of_range",
                format!("{t} is outside 1970–2099"),
            ));
        }
        Ok(t)
    }
}

/// A direct-mapped cache of card tokens (64 Ki slots, 1.5 MiB: it stays in cache, unlike a
/// map of every card in a large file). A miss costs one HMAC.
struct TokenCache {
    slots: Vec<(u64, CardToken)>,
}

impl TokenCache {
    const BITS: u32 = 16;

    fn new() -> Self {
        TokenCache { slots: vec![(u64::MAX, CardToken([0; 16])); 1 << Self::BITS] }
    }

    fn get_or_insert(&mut self, digits: &str, key: &PanKey) -> CardToken {
        // PANs never start with 0, so the digits as a number identify the card.
        let Ok(n) = digits.parse::<u64>() else {
            return key.tokenize(digits);
        };
        let slot = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - Self::BITS)) as usize;
        if self.slots[slot].0 == n {
            return self.slots[slot].1;
        }
        let token = key.tokenize(digits);
        self.slots[slot] = (n, token);
        token
    }
}

/// A value for messages: card numbers masked first, then cut to 40 characters.
fn truncate(v: &str) -> String {
    let v = redact(v);
    if v.chars().count() <= 40 {
        v
    } else {
        format!("{}…", v.chars().take(40).collect::<String>())
    }
}
