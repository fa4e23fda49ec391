//! A [`RowPlan`] is a column mapping compiled for one table of a report: it turns each row
//! into a canonical [`Fact`], a skip (the row is not a card transaction, with the reason), or
//! a [`RowError`] that names the column and never echoes a card number.

use csv::StringRecord;
use hmac::{Hmac, Mac};
use rustc_hash::FxHashMap;

use super::approval::{description_approves, lifecycle_word, status_word, Convention};
use super::kinds::{method, Method, Skip};
use super::mapping::{header_currency, ColumnMap, Field};
use super::normalize::{
    excel_serial, normalize_mcc, parse_amount, parse_amount_rounded, parse_flag, parse_minor, parse_time,
    parse_when_in, DateOrder, DecimalStyle, RowZone, When,
};
use super::pan::{issuer_bin, masked_pan, pan_digits_from, redact, PanKey, TokenCache};
use super::stage::{StageOutcome, StageRule};
use super::values::month_name;
use crate::calendar::{Date, Timestamp};
use crate::error::Result;
use crate::facts::{CardToken, Country, EntryMode, Fact, Lineage, Network, Report, RowError, Stage};
use crate::money::{Currency, Money};

/// Longest transaction id accepted.
const MAX_ID_LEN: usize = 64;
/// Longest merchant name accepted.
const MAX_TEXT_LEN: usize = 256;

/// What a row became.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "boxing the fact would cost an allocation per row")]
pub(crate) enum Outcome {
    /// A fact.
    Fact(Fact),
    /// Not a card transaction: the reason, as reported.
    Skip(String),
    /// A row with a bad value.
    Reject(RowError),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum AmountSource {
    Decimal(usize, DecimalStyle),
    Minor(usize),
    /// Separate debit and credit columns: the amount is credit − debit.
    DebitCredit {
        debit: usize,
        credit: usize,
        style: DecimalStyle,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum TimeSource {
    /// One column: a timestamp, a date, epoch seconds/milliseconds or an Excel serial.
    Column { col: usize, order: DateOrder },
    /// A date column and a time-of-day column.
    DateAndTime { date: usize, time: usize, order: DateOrder },
    /// Year, month and day columns, and a time of day if there is one.
    Parts { year: usize, month: usize, day: usize, time: Option<usize> },
}

impl TimeSource {
    /// The column errors about the time point at.
    pub fn column(self) -> usize {
        match self {
            TimeSource::Column { col, .. } => col,
            TimeSource::DateAndTime { date, .. } => date,
            TimeSource::Parts { year, .. } => year,
        }
    }
}

/// Where a row's time zone comes from.
#[derive(Clone)]
enum Zone {
    /// The header names it (`Created (UTC)`), or the report's `timezone` (UTC when `None`).
    Fixed(Option<RowZone>),
    /// A column per row (`TimeZone`: `CET`, `PDT`), cached per distinct value; empty cells use
    /// the report's zone.
    Column { col: usize, fallback: Option<RowZone>, cache: FxHashMap<Box<str>, Option<RowZone>> },
}

/// How an authorization's approval is read: the first of these columns that is filled in
/// the row decides; with none mapped, the file lists completed authorizations.
#[derive(Debug, Clone, Default)]
pub(crate) struct Approval {
    /// An approved/declined word.
    pub status: Option<usize>,
    /// A response code in its convention, and its description when the file has one.
    pub code: Option<(usize, Convention, Option<usize>)>,
    /// An error column: approved when empty.
    pub error: Option<usize>,
}

impl Approval {
    fn is_empty(&self) -> bool {
        self.status.is_none() && self.code.is_none() && self.error.is_none()
    }
}

/// Where transaction ids come from.
#[derive(Clone)]
enum TxSource {
    Column(usize),
    /// No column identifies transactions: an id from a keyed hash of the row's cells (so the
    /// same row in another file gets the same id), numbered in file order by [`Repeats`] when
    /// a file repeats a row.
    Generated(Hmac<sha2::Sha256>),
}

/// Everything a [`RowPlan`] is built from.
pub(crate) struct PlanParts {
    pub map: ColumnMap,
    pub time: TimeSource,
    pub amount: AmountSource,
    /// Minor units read when the decimal amount cell is empty (JSON Lines carry either).
    pub amount_minor: Option<usize>,
    pub fee: Option<(AmountSource, bool)>,
    pub fee_currency: Option<usize>,
    pub stage: StageRule,
    pub approval: Approval,
    pub lifecycle: Option<usize>,
    pub generated_ids: bool,
    pub confidence: f64,
}

/// The compiled mapping of one table. Its caches are its own: each thread reading rows of
/// the table works on a clone.
#[derive(Clone)]
pub(crate) struct RowPlan {
    headers: Vec<String>,
    tx: TxSource,
    time: TimeSource,
    zone: Zone,
    amount: AmountSource,
    amount_minor: Option<usize>,
    currency: Option<usize>,
    default_currency: Option<Currency>,
    network: Option<usize>,
    default_network: Option<Network>,
    /// How each network value reads (a file holds a handful).
    methods: FxHashMap<Box<str>, Option<Method>>,
    fee: Option<(AmountSource, bool)>,
    fee_currency: Option<usize>,
    stage: StageRule,
    approval: Approval,
    lifecycle: Option<usize>,
    col: Columns,
    key: PanKey,
    tokens: TokenCache,
    lineage: Lineage,
    /// Confidence the facts carry.
    pub confidence: f64,
}

impl RowPlan {
    /// Compiles the parts the pipeline decided into a plan.
    pub fn new(parts: PlanParts, report: &Report, key: &PanKey) -> Result<RowPlan> {
        let map = &parts.map;
        let col = Columns::of(&map.columns);
        let report_zone = match report.timezone.as_str() {
            "" | "UTC" | "utc" | "Etc/UTC" => None,
            tz => Some(RowZone::Tz(jiff::tz::TimeZone::get(tz).map_err(|_| {
                crate::error::Error::invalid(
                    "invalid_timezone",
                    format!("timezone `{tz}` is not an IANA time zone name"),
                )
            })?)),
        };
        let time_col = parts.time.column();
        let header_zone = map.words.get(time_col).and_then(|w| w.zone).filter(|z| *z == "utc" || *z == "gmt");
        let zone = match (col.get(Field::Zone), header_zone) {
            (_, Some(_)) => Zone::Fixed(None),
            (Some(c), None) => Zone::Column { col: c, fallback: report_zone, cache: FxHashMap::default() },
            (None, None) => Zone::Fixed(report_zone),
        };
        let amount_col = match parts.amount {
            AmountSource::Decimal(c, _) | AmountSource::Minor(c) => c,
            AmountSource::DebitCredit { credit, .. } => credit,
        };
        let default_currency =
            super::pipeline::declared_currency(report)?.or_else(|| header_currency(map, amount_col));
        let tx = match col.get(Field::TransactionId) {
            Some(c) if !parts.generated_ids => TxSource::Column(c),
            _ => TxSource::Generated(
                <Hmac<sha2::Sha256> as Mac>::new_from_slice(&key.derive("row-id"))
                    .map_err(|_| crate::error::Error::internal("row-id key"))?,
            ),
        };
        Ok(RowPlan {
            headers: map.headers().iter().map(|h| redact(h)).collect(),
            tx,
            time: parts.time,
            zone,
            amount: parts.amount,
            amount_minor: parts.amount_minor,
            currency: col.get(Field::Currency),
            default_currency,
            network: col.get(Field::Network),
            default_network: report.network.as_deref().and_then(Network::parse),
            methods: FxHashMap::default(),
            fee: parts.fee,
            fee_currency: parts.fee_currency,
            stage: parts.stage,
            approval: parts.approval,
            lifecycle: parts.lifecycle,
            col,
            key: key.clone(),
            tokens: TokenCache::new(),
            lineage: Lineage { report_id: report.report_id, sha256: report.sha256, row: 0 },
            confidence: parts.confidence,
        })
    }

    /// True when the table has no transaction id column: its facts' ids are generated, and
    /// numbered in file order with [`Repeats`].
    pub fn generates_ids(&self) -> bool {
        matches!(self.tx, TxSource::Generated(_))
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
        let c = self.col.get(f)?;
        let v = rec.get(c)?.trim_cell();
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

    /// A money cell in minor units, with the currency written in it, if any.
    fn money(
        &self,
        rec: &StringRecord,
        src: AmountSource,
        currency: Option<Currency>,
        row: u32,
        what: &str,
    ) -> std::result::Result<(i64, Option<Currency>), RowError> {
        let exponent = |embedded: Option<Currency>| embedded.or(currency).map_or(2, Currency::exponent);
        let one = |c: usize,
                   style: Option<DecimalStyle>|
         -> std::result::Result<Option<(i64, Option<Currency>)>, RowError> {
            let raw = rec.get(c).unwrap_or("").trim_cell();
            if raw.is_empty() {
                return Ok(None);
            }
            let parsed = match style {
                None => parse_minor(raw).map(|m| (m, None)),
                Some(style) => parse_amount(raw, style, exponent).map(|a| (a.minor, a.currency)),
            };
            parsed.map(Some).map_err(|why| {
                self.err(row, Some(c), "invalid_amount", format!("{what} `{}` {why}", truncate(raw)))
            })
        };
        let missing = |c: usize| self.err(row, Some(c), "missing_value", format!("{what} is empty"));
        match src {
            AmountSource::Minor(c) => one(c, None)?.ok_or_else(|| missing(c)),
            AmountSource::Decimal(c, style) => one(c, Some(style))?.ok_or_else(|| missing(c)),
            AmountSource::DebitCredit { debit, credit, style } => {
                match (one(debit, Some(style))?, one(credit, Some(style))?) {
                    (None, None) => Err(missing(credit)),
                    (d, c) => {
                        let cur = c.and_then(|c| c.1).or(d.and_then(|d| d.1));
                        Ok((c.map_or(0, |c| c.0) - d.map_or(0, |d| d.0), cur))
                    }
                }
            }
        }
    }

    /// The amount column of this row: the decimal one, or minor units when it is empty.
    fn amount_source(&self, rec: &StringRecord) -> AmountSource {
        match (self.amount, self.amount_minor) {
            (AmountSource::Decimal(c, _), Some(minor))
                if rec.get(c).is_none_or(|v| v.trim_cell().is_empty()) =>
            {
                AmountSource::Minor(minor)
            }
            (primary, _) => primary,
        }
    }

    /// The row's amount in minor units as the file writes it (signed), for control totals;
    /// `None` when it cannot be read.
    pub fn raw_amount(&self, rec: &StringRecord) -> Option<i64> {
        let currency =
            self.currency.and_then(|c| rec.get(c)).and_then(Currency::parse_any).or(self.default_currency);
        self.money(rec, self.amount_source(rec), currency, 0, "amount").ok().map(|(m, _)| m)
    }

    /// Turns one data row (starting on file line `row`) into an outcome.
    pub fn fact(&mut self, rec: &StringRecord, row: u32) -> Outcome {
        match self.try_fact(rec, row) {
            Ok(o) => o,
            Err(e) => Outcome::Reject(e),
        }
    }

    fn try_fact(&mut self, rec: &StringRecord, row: u32) -> std::result::Result<Outcome, RowError> {
        let decided = self.stage.decide(rec);
        let mut assumed = None;
        let (kind_stage, explicit_sale) = match decided {
            StageOutcome::Skip(reason) => return Ok(Outcome::Skip(reason)),
            StageOutcome::Stage { stage, sale } => (stage, sale),
            StageOutcome::Assumed { stage, value } => {
                assumed = Some(value);
                (stage, false)
            }
            StageOutcome::Unknown(v) => {
                return Err(self.err(
                    row,
                    self.stage.column(),
                    "unknown_stage",
                    format!("cannot tell the stage of type `{}`; upload with report_type or map it in the mapping's kinds", truncate(&v)),
                ))
            }
        };
        let method = self.method(rec);
        if let Some(reason) = self.non_card(rec, method.as_ref()) {
            return Ok(Outcome::Skip(reason));
        }
        if let Some(c) = self.lifecycle.filter(|_| kind_stage != Stage::Auth) {
            let v = rec.get(c).unwrap_or("").trim_cell();
            if lifecycle_word(v) == Some(false) {
                return Ok(Outcome::Skip(format!(
                    "{} ({} {})",
                    Skip::NotCompleted.as_str(),
                    self.headers[c],
                    truncate(v)
                )));
            }
        }
        let currency = self.currency(rec, row)?;
        let (signed, embedded) = self.money(rec, self.amount_source(rec), currency, row, "amount")?;
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
        if let Some(value) = assumed.filter(|_| signed < 0) {
            return Err(self.err(
                row,
                self.stage.column(),
                "unknown_row_type",
                format!(
                    "the row's type `{}` is not known and its amount is negative: it could be a refund, a payout or a fee; name it in the mapping's kinds",
                    truncate(&value)
                ),
            ));
        }
        // A negative sale is a refund, unless the file says what each row is: then it is a
        // payment the account holder sent.
        let stage = match kind_stage {
            s @ (Stage::Auth | Stage::Clearing | Stage::Settlement) if signed < 0 => {
                if explicit_sale && self.stage.has_column() {
                    return Ok(Outcome::Skip(self.stage.reason(rec, Skip::Sent)));
                }
                debug_assert!(s != Stage::Refund);
                Stage::Refund
            }
            s => s,
        };
        let tx = self.transaction_id(rec, row)?;
        let occurred_at = self.occurred_at(rec, row)?;
        let mut f = Fact::new(
            tx,
            stage,
            occurred_at,
            Money::new(signed.abs(), currency),
            Lineage { row, ..self.lineage.clone() },
        );
        self.describe(&mut f, rec, method, row)?;
        Ok(Outcome::Fact(f))
    }

    /// How the row's network value reads: a card network, a non-card method, or neither
    /// (`None`: the value is kept as the network's name).
    fn method(&mut self, rec: &StringRecord) -> Option<Method> {
        let v = rec.get(self.network?)?.trim_cell();
        if let Some(m) = self.methods.get(v) {
            return m.clone();
        }
        let m = method(v);
        if self.methods.len() < 4096 {
            self.methods.insert(v.into(), m.clone());
        }
        m
    }

    /// The skip reason when the row's payment method or account is not a card.
    fn non_card(&self, rec: &StringRecord, method: Option<&Method>) -> Option<String> {
        if let (Some(c), Some(Method::NonCard)) = (self.network, method) {
            let v = rec.get(c).unwrap_or("").trim_cell();
            return Some(format!("{} ({})", Skip::NonCard.as_str(), truncate(v)));
        }
        if let Some((_, v)) = self.cell(rec, Field::Pan) {
            if v.eq_ignore_ascii_case("iban") || is_iban(v) {
                return Some(format!(
                    "{} (account {})",
                    Skip::NonCard.as_str(),
                    if is_iban(v) { "IBAN" } else { v }
                ));
            }
        }
        None
    }

    fn currency(&self, rec: &StringRecord, row: u32) -> std::result::Result<Option<Currency>, RowError> {
        match self.currency.and_then(|c| rec.get(c).map(|v| (c, v.trim_cell()))) {
            Some((c, v)) if !v.is_empty() => Currency::parse_any(v).map(Some).ok_or_else(|| {
                self.err(
                    row,
                    Some(c),
                    "unknown_currency",
                    format!("currency `{}` is not an ISO 4217 code", truncate(v)),
                )
            }),
            _ => Ok(self.default_currency),
        }
    }

    fn transaction_id(&mut self, rec: &StringRecord, row: u32) -> std::result::Result<String, RowError> {
        let c = match &mut self.tx {
            TxSource::Column(c) => *c,
            TxSource::Generated(mac) => return Ok(generated_id(mac, rec)),
        };
        let raw = rec.get(c).unwrap_or("").trim_cell();
        if raw.is_empty() {
            return Err(self.err(row, Some(c), "missing_value", "transaction_id is empty".into()));
        }
        if raw.len() > MAX_ID_LEN || raw.chars().any(|c| c.is_control()) {
            return Err(self.err(
                row,
                Some(c),
                "invalid_transaction_id",
                format!("transaction_id is longer than {MAX_ID_LEN} characters or holds control characters"),
            ));
        }
        Ok(raw.to_owned())
    }

    /// Everything beyond the required fields.
    fn describe(
        &mut self,
        f: &mut Fact,
        rec: &StringRecord,
        method: Option<Method>,
        row: u32,
    ) -> std::result::Result<(), RowError> {
        f.network = match self.network.and_then(|c| rec.get(c)).map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => match method {
                Some(Method::Card(n)) => Some(n),
                _ => Network::parse(v),
            },
            None => self.default_network.clone(),
        };
        if let Some((c, v)) = self.cell(rec, Field::ResponseCode).filter(|_| f.stage == Stage::Auth) {
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
        if f.stage == Stage::Auth {
            f.approved = self.approved(rec, row)?;
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
        self.card(f, rec, row)?;
        f.entry_mode = self.cell(rec, Field::EntryMode).and_then(|(_, v)| EntryMode::parse(v));
        if let Some((src, negate)) = self.fee {
            let c = match src {
                AmountSource::Decimal(c, _)
                | AmountSource::Minor(c)
                | AmountSource::DebitCredit { credit: c, .. } => c,
            };
            let same_currency = self
                .fee_currency
                .and_then(|fc| rec.get(fc))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .is_none_or(|v| Currency::parse_any(v) == Some(f.amount.currency));
            let raw = rec.get(c).unwrap_or("").trim_cell();
            if !raw.is_empty() && same_currency {
                let minor = match src {
                    AmountSource::Decimal(_, style) => {
                        parse_amount_rounded(raw, style, f.amount.currency.exponent())
                    }
                    _ => parse_minor(raw),
                }
                .map_err(|why| {
                    self.err(
                        row,
                        Some(c),
                        "invalid_amount",
                        format!("interchange fee `{}` {why}", truncate(raw)),
                    )
                })?;
                f.interchange_fee = Some(if negate { -minor } else { minor });
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::ReasonCode) {
            if v.chars().count() > 16 {
                return Err(self.err(
                    row,
                    Some(c),
                    "invalid_reason_code",
                    format!("reason code `{}` is longer than 16 characters", truncate(v)),
                ));
            }
            f.reason_code = Some(v.to_owned());
        }
        f.fraud_reported = f.stage == Stage::Fraud
            || self.cell(rec, Field::FraudReported).is_some_and(|(_, v)| parse_flag(v));
        Ok(())
    }

    /// The card: a full number gives the BIN and a keyed token and is then forgotten; a
    /// masked number gives the BIN it shows and a token of its masked form.
    fn card(&mut self, f: &mut Fact, rec: &StringRecord, row: u32) -> std::result::Result<(), RowError> {
        if let Some((c, v)) = self.cell(rec, Field::Pan) {
            if let Some(digits) = pan_digits_from(v, 11) {
                f.issuer_bin = Some(issuer_bin(&digits));
                f.card_token = Some(self.tokens.get_or_insert(&digits, &self.key));
            } else if let Some(m) = masked_pan(v) {
                f.issuer_bin = m.bin;
                f.card_token = Some(self.key.tokenize(&m.text));
            } else {
                return Err(self.err(
                    row,
                    Some(c),
                    "invalid_card_number",
                    "the card number is not 11–19 digits passing the Luhn check, nor a masked card number"
                        .into(),
                ));
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::IssuerBin) {
            if let Some(digits) = pan_digits_from(v, 13) {
                f.issuer_bin = Some(issuer_bin(&digits));
                f.card_token = f.card_token.or_else(|| Some(self.tokens.get_or_insert(&digits, &self.key)));
            } else if let Some(bin) = masked_pan(v).and_then(|m| m.bin) {
                f.issuer_bin = Some(bin);
            } else if (6..=8).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
                f.issuer_bin = Some(v.to_owned());
            } else {
                return Err(self.err(
                    row,
                    Some(c),
                    "invalid_bin",
                    format!("issuer BIN `{}` is not 6–8 digits", truncate(v)),
                ));
            }
        }
        if let Some((c, v)) = self.cell(rec, Field::CardToken) {
            f.card_token = Some(CardToken::parse_hex(v).ok_or_else(|| {
                self.err(row, Some(c), "invalid_card_token", "card_token is not 32 hex characters".into())
            })?);
        }
        Ok(())
    }

    fn approved(&self, rec: &StringRecord, row: u32) -> std::result::Result<Option<bool>, RowError> {
        let a = &self.approval;
        if a.is_empty() {
            return Ok(Some(true));
        }
        let cell = |c: usize| rec.get(c).unwrap_or("").trim_cell();
        if let Some(c) = a.status.filter(|c| !cell(*c).is_empty()) {
            let v = cell(c);
            return status_word(v).map(Some).ok_or_else(|| {
                self.err(
                    row,
                    Some(c),
                    "invalid_status",
                    format!("status `{}` is neither approved nor declined", truncate(v)),
                )
            });
        }
        if let Some((code, convention, text)) = a.code.filter(|(c, _, _)| !cell(*c).is_empty()) {
            return Ok(Some(match text.map(cell).filter(|t| !t.is_empty()) {
                Some(t) => description_approves(t),
                None => convention.approves(cell(code)),
            }));
        }
        Ok(a.error.map(|c| cell(c).is_empty()))
    }

    fn occurred_at(&mut self, rec: &StringRecord, row: u32) -> std::result::Result<Timestamp, RowError> {
        let cell = |c: usize| rec.get(c).unwrap_or("").trim_cell();
        let bad = |plan: &Self, c: usize, what: &str, v: &str| {
            plan.err(row, Some(c), "invalid_timestamp", format!("`{}` is not {what}", truncate(v)))
        };
        let (c, when) = match self.time {
            TimeSource::Column { col, order } => {
                let v = cell(col);
                if v.is_empty() {
                    return Err(self.err(row, Some(col), "missing_value", "the date is empty".into()));
                }
                let when = parse_when_in(v, order)
                    .or_else(|| excel_serial(v).map(When::Local))
                    .ok_or_else(|| bad(self, col, "a date or timestamp", v))?;
                (col, when)
            }
            TimeSource::DateAndTime { date, time, order } => {
                let dv = cell(date);
                let when = parse_when_in(dv, order)
                    .or_else(|| excel_serial(dv).map(When::Local))
                    .ok_or_else(|| bad(self, date, "a date", dv))?;
                let tv = cell(time);
                let when = match (when, tv.is_empty()) {
                    (When::Date(d), false) => When::Local(
                        d.start().0 + parse_time(tv).ok_or_else(|| bad(self, time, "a time of day", tv))?,
                    ),
                    (w, _) => w,
                };
                (date, when)
            }
            TimeSource::Parts { year, month, day, time } => {
                let num = |c: usize, what: &str| -> std::result::Result<u32, RowError> {
                    let v = cell(c);
                    v.parse::<u32>().ok().or_else(|| month_name(v)).ok_or_else(|| bad(self, c, what, v))
                };
                let d =
                    Date::from_ymd(num(year, "a year")? as i32, num(month, "a month")?, num(day, "a day")?)
                        .ok_or_else(|| {
                        self.err(
                            row,
                            Some(year),
                            "invalid_timestamp",
                            "year, month and day do not form a date".into(),
                        )
                    })?;
                let ms = match time.map(|t| (t, cell(t))) {
                    Some((t, tv)) if !tv.is_empty() => {
                        parse_time(tv).ok_or_else(|| bad(self, t, "a time of day", tv))?
                    }
                    _ => 0,
                };
                (year, When::Local(d.start().0 + ms))
            }
        };
        let t = match when {
            When::Instant(t) => Some(t),
            When::Local(ms) => self.local(rec, ms),
            When::Date(d) => self.local(rec, d.start().0),
        }
        .ok_or_else(|| {
            self.err(
                row,
                Some(c),
                "invalid_timestamp",
                "the local time does not exist in the report's time zone, or the row's zone is unknown"
                    .into(),
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

    /// Local civil milliseconds in the row's zone.
    fn local(&mut self, rec: &StringRecord, ms: i64) -> Option<Timestamp> {
        match &mut self.zone {
            Zone::Fixed(None) => Some(Timestamp(ms)),
            Zone::Fixed(Some(z)) => z.resolve(ms),
            Zone::Column { col, fallback, cache } => {
                let v = rec.get(*col).unwrap_or("").trim_cell();
                if v.is_empty() {
                    return match fallback {
                        Some(z) => z.resolve(ms),
                        None => Some(Timestamp(ms)),
                    };
                }
                if !cache.contains_key(v) && cache.len() < 1024 {
                    cache.insert(v.into(), RowZone::parse(v));
                }
                match cache.get(v) {
                    Some(z) => z.as_ref()?.resolve(ms),
                    None => RowZone::parse(v)?.resolve(ms),
                }
            }
        }
    }
}

/// A keyed hash of the row's cells as its transaction id (`row-` and 24 hex digits).
fn generated_id(mac: &Hmac<sha2::Sha256>, rec: &StringRecord) -> String {
    let mut m = mac.clone();
    for cell in rec.iter() {
        m.update(cell.trim_cell().as_bytes());
        m.update(&[0x1f]);
    }
    format!("row-{}", hex::encode(&m.finalize().into_bytes()[..12]))
}

/// Numbers the rows a file repeats, in file order, when transaction ids are generated: the
/// second copy of a row is `row-…-2`, and so on.
#[derive(Default)]
pub(crate) struct Repeats {
    seen: FxHashMap<[u8; GENERATED_ID_LEN], u32>,
}

/// `row-` and 24 hex digits.
const GENERATED_ID_LEN: usize = 28;

impl Repeats {
    /// Gives the fact of a generated id its number among the file's copies of the row.
    pub fn number(&mut self, f: &mut Fact) {
        // Bounded: a row repeated further apart than a million distinct rows counts as a repeat.
        if self.seen.len() >= 1 << 20 {
            self.seen.clear();
        }
        let Ok(id) = <[u8; GENERATED_ID_LEN]>::try_from(f.transaction_id.as_bytes()) else { return };
        let n = self.seen.entry(id).or_insert(0);
        *n += 1;
        if *n > 1 {
            f.transaction_id = format!("{}-{n}", f.transaction_id);
        }
    }
}

/// True for an IBAN (`NL91ABNA0417164300`): two letters, two check digits, then letters and
/// digits, 15–34 characters.
fn is_iban(v: &str) -> bool {
    // Checked on every row with a card column: no allocation, and a card number (digits
    // first) is out at the first byte.
    let mut b = v.bytes().filter(|c| *c != b' ');
    let mut next = |test: fn(&u8) -> bool| b.next().is_some_and(|c| test(&c));
    let head = next(u8::is_ascii_uppercase)
        && next(u8::is_ascii_uppercase)
        && next(u8::is_ascii_digit)
        && next(u8::is_ascii_digit);
    if !head {
        return false;
    }
    let mut rest = 0;
    for c in b {
        if !c.is_ascii_alphanumeric() {
            return false;
        }
        rest += 1;
    }
    (11..=30).contains(&rest)
}

/// Each field's column, indexed by the field: looked up a dozen times per row.
#[derive(Debug, Clone, Default)]
struct Columns([Option<usize>; Field::ALL.len()]);

impl Columns {
    fn of(columns: &[Option<Field>]) -> Columns {
        let mut c = Columns::default();
        for (i, f) in columns.iter().enumerate() {
            if let Some(f) = f {
                c.0[*f as usize] = Some(i);
            }
        }
        c
    }

    fn get(&self, f: Field) -> Option<usize> {
        self.0[f as usize]
    }
}

/// Trimming of cells on the per-row path: ASCII blanks first, then (only when a non-ASCII
/// character is left at an end) Unicode whitespace such as a no-break space — as `str::trim`,
/// at a fraction of its cost on the usual ASCII cell.
trait TrimCell {
    fn trim_cell(&self) -> &str;
}

impl TrimCell for str {
    fn trim_cell(&self) -> &str {
        let t = self.trim_ascii();
        match (t.as_bytes().first(), t.as_bytes().last()) {
            (Some(&a), Some(&b)) if a >= 0x80 || b >= 0x80 => t.trim(),
            _ => t,
        }
    }
}

/// A value for messages: card numbers masked first, then cut to 40 characters.
pub(crate) fn truncate(v: &str) -> String {
    super::values::example(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_and_trimming() {
        for iban in ["NL91ABNA0417164300", "DE89 3704 0044 0532 0130 00", "GB29NWBK60161331926819"] {
            assert!(is_iban(iban), "{iban}");
        }
        for not in [
            "4111111111111111",
            "NL91",
            "NL91ABNA041716430012345678901234567",
            "nl91abna0417164300",
            "NL9XABNA0417164300",
        ] {
            assert!(!is_iban(not), "{not}");
        }
        assert_eq!(" 12,50 ".trim_cell(), "12,50");
        assert_eq!("\u{a0}12,50\u{a0}".trim_cell(), "12,50");
        assert_eq!("Café ".trim_cell(), "Café");
        let cols = Columns::of(&[None, Some(Field::Amount), Some(Field::Currency)]);
        assert_eq!(
            (cols.get(Field::Amount), cols.get(Field::Currency), cols.get(Field::Mcc)),
            (Some(1), Some(2), None)
        );
    }
}
