//! A report (one uploaded file) and its processing status, as `GET /reports/{id}` shows it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::Stage;
use super::{Control, MappingOverrides, MappingProfile, SkipCount, Structure};
use crate::bank::BankId;
use crate::calendar::Timestamp;
use crate::error::{Error, Result};

/// A report's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ReportId(pub Uuid);

impl ReportId {
    /// A fresh random id.
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for ReportId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for ReportId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s).map(Self).map_err(|_| Error::NotFound(format!("report `{s}`")))
    }
}

impl fmt::Display for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ReportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReportId({})", self.0)
    }
}

/// A SHA-256 digest, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// Hashes bytes.
    pub fn digest(bytes: &[u8]) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(bytes).into())
    }

    /// Parses 64 hex characters.
    pub fn parse_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(Self(out))
    }

    /// The 64 lowercase hex digits, without allocating (every audit append writes two).
    pub fn hex_digits(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        // Cannot fail: the output is exactly twice the input's length.
        let _ = hex::encode_to_slice(self.0, &mut out);
        out
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex_digits()).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

impl Serialize for Sha256 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Sha256::parse_hex(&s).ok_or_else(|| serde::de::Error::custom("sha256 must be 64 hex characters"))
    }
}

/// What kind of report a file is, as the uploader declared it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReportType {
    /// Decide from a stage column or the headers.
    #[default]
    Auto,
    /// Authorizations.
    Authorization,
    /// Clearing records.
    Clearing,
    /// Settlement records.
    Settlement,
    /// Chargebacks.
    Chargeback,
    /// Refunds.
    Refund,
    /// Fraud reports (TC40 / SAFE).
    Fraud,
}

impl ReportType {
    /// The stage every row of such a report has, if the type fixes one.
    pub fn stage(self) -> Option<Stage> {
        Some(match self {
            ReportType::Auto => return None,
            ReportType::Authorization => Stage::Auth,
            ReportType::Clearing => Stage::Clearing,
            ReportType::Settlement => Stage::Settlement,
            ReportType::Chargeback => Stage::Chargeback,
            ReportType::Refund => Stage::Refund,
            ReportType::Fraud => Stage::Fraud,
        })
    }

    /// The report type that yields `stage`.
    pub fn for_stage(stage: Stage) -> ReportType {
        match stage {
            Stage::Auth => ReportType::Authorization,
            Stage::Clearing => ReportType::Clearing,
            Stage::Settlement => ReportType::Settlement,
            Stage::Chargeback => ReportType::Chargeback,
            Stage::Refund => ReportType::Refund,
            Stage::Fraud => ReportType::Fraud,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::Auto => "auto",
            ReportType::Authorization => "authorization",
            ReportType::Clearing => "clearing",
            ReportType::Settlement => "settlement",
            ReportType::Chargeback => "chargeback",
            ReportType::Refund => "refund",
            ReportType::Fraud => "fraud",
        }
    }
}

impl FromStr for ReportType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        if s.trim().eq_ignore_ascii_case("auto") || s.trim().is_empty() {
            return Ok(ReportType::Auto);
        }
        Stage::parse(s).map(ReportType::for_stage).ok_or_else(|| {
            Error::invalid(
                "invalid_report_type",
                format!(
                    "report_type `{s}` is not one of authorization, clearing, settlement, chargeback, refund, fraud, auto"
                ),
            )
        })
    }
}

/// Processing state of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    /// Stored and waiting for a worker.
    Queued,
    /// A worker is loading it.
    Processing,
    /// Loaded (possibly with rejected rows).
    Completed,
    /// Nothing was loaded; `errors` says why.
    Failed,
}

impl ReportStatus {
    /// True once processing has ended, successfully or not.
    pub fn is_final(self) -> bool {
        matches!(self, ReportStatus::Completed | ReportStatus::Failed)
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Queued => "queued",
            ReportStatus::Processing => "processing",
            ReportStatus::Completed => "completed",
            ReportStatus::Failed => "failed",
        }
    }
}

/// How one source column was mapped to a canonical field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingDecision {
    /// The column's header as it appears in the file.
    pub column: String,
    /// The canonical field (`amount`, `transaction_id`, ..., or `stage` for an inferred stage).
    pub field: String,
    /// 0–1: how sure the mapper is.
    pub confidence: f64,
    /// `canonical`, `vocabulary`, `fuzzy`, `value_shape`, `override`, `profile`,
    /// `report_type`, `header_inference`, or the reasoning of a decision beyond columns.
    pub rule: String,
    /// The line of the table's header, when the file has several transaction tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<u64>,
}

impl MappingDecision {
    /// A decision about `column`.
    pub fn new(
        column: impl Into<String>,
        field: impl Into<String>,
        confidence: f64,
        rule: impl Into<String>,
    ) -> Self {
        MappingDecision {
            column: column.into(),
            field: field.into(),
            confidence,
            rule: rule.into(),
            section: None,
        }
    }
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// The data row number (1 = first row after the header); 0 for file-level errors.
    pub row: u32,
    /// The source column, when one is at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Stable error code (`invalid_amount`, `missing_value`, ...).
    pub code: String,
    /// What was wrong, never echoing a card number.
    pub message: String,
}

/// A report and its status (docs/ingestion.md, "Report status").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The report's id.
    pub report_id: ReportId,
    /// The bank that uploaded it (not part of the wire form; the HTTP layer omits it).
    pub bank_id: BankId,
    /// Processing state.
    pub status: ReportStatus,
    /// The file name the uploader gave, if any.
    pub filename: Option<String>,
    /// Declared (or, once processed, inferred) report type.
    pub report_type: ReportType,
    /// Network the uploader declared for rows without one.
    pub network: Option<String>,
    /// Default currency for rows without one.
    pub currency: Option<String>,
    /// IANA time zone for timestamps without an offset.
    pub timezone: String,
    /// SHA-256 of the raw bytes.
    pub sha256: Sha256,
    /// Size of the raw file.
    pub size_bytes: u64,
    /// Data rows in the file.
    pub rows_total: u64,
    /// Facts loaded.
    pub facts_loaded: u64,
    /// Rows rejected with a row-level error.
    pub rows_rejected: u64,
    /// Facts skipped because the same `(transaction_id, stage)` was already loaded.
    pub duplicates_skipped: u64,
    /// Rows that are not card transactions (payouts, fees, transfers, non-card methods).
    #[serde(default)]
    pub rows_skipped: u64,
    /// Skipped rows by reason.
    #[serde(default)]
    pub skipped: Vec<SkipCount>,
    /// The first 100 row errors (counts above are complete).
    pub errors: Vec<RowError>,
    /// Header mapping decisions.
    pub mapping: Vec<MappingDecision>,
    /// The mapping the upload gave (it wins over inference and over a saved profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapping_overrides: Option<MappingOverrides>,
    /// The file's structure: its tables and their roles, metadata, structural lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
    /// The file's own totals checked against its rows.
    #[serde(default)]
    pub controls: Vec<Control>,
    /// What a person should know about the load (a table not read, a profile applied).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The mapping profiles the report was read with, as they were then (so a rebuild reads
    /// it the same way whatever became of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles_applied: Vec<MappingProfile>,
    /// Overall mapping confidence the report's facts carry (0–1).
    pub confidence: f64,
    /// When it was uploaded.
    pub created_at: Timestamp,
    /// Who uploaded it (who uploaded it again, for a failed report read again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploaded_by: Option<crate::bank::Caller>,
    /// When processing ended.
    pub completed_at: Option<Timestamp>,
    /// Monotonic per-bank sequence, assigned by the report store; orders reports newest first.
    pub seq: u64,
    /// The bank's data version the commit of this report produced; orders rebuilds.
    #[serde(default)]
    pub data_version: Option<u64>,
}

impl Report {
    /// Most row errors a report keeps.
    pub const MAX_ERRORS: usize = 100;

    /// A new queued report.
    pub fn queued(bank_id: BankId, sha256: Sha256, size_bytes: u64, options: &ReportOptions) -> Report {
        Report {
            report_id: ReportId::new(),
            bank_id,
            status: ReportStatus::Queued,
            filename: options.filename.clone(),
            report_type: options.report_type,
            network: options.network.clone(),
            currency: options.currency.clone(),
            timezone: options.timezone.clone().unwrap_or_else(|| "UTC".to_owned()),
            sha256,
            size_bytes,
            rows_total: 0,
            facts_loaded: 0,
            rows_rejected: 0,
            duplicates_skipped: 0,
            rows_skipped: 0,
            skipped: Vec::new(),
            errors: Vec::new(),
            mapping: Vec::new(),
            mapping_overrides: options.mapping.clone(),
            structure: None,
            controls: Vec::new(),
            warnings: Vec::new(),
            profiles_applied: Vec::new(),
            confidence: 0.0,
            created_at: Timestamp::now(),
            uploaded_by: None,
            completed_at: None,
            seq: 0,
            data_version: None,
        }
    }

    /// A failed report queued again with the options of a new upload of its bytes (the
    /// filename kept when the new upload gives none).
    pub fn reopened(&self, options: &ReportOptions) -> Report {
        let mut r = Report::queued(self.bank_id, self.sha256, self.size_bytes, options);
        r.report_id = self.report_id;
        r.seq = self.seq;
        r.created_at = self.created_at;
        r.filename = r.filename.or_else(|| self.filename.clone());
        r
    }

    /// The options the report was uploaded with.
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            report_type: self.report_type,
            network: self.network.clone(),
            currency: self.currency.clone(),
            timezone: Some(self.timezone.clone()),
            filename: self.filename.clone(),
            mapping: self.mapping_overrides.clone(),
        }
    }
}

/// The upload parameters of docs/ingestion.md (`report_type`, `network`, `currency`, `timezone`, `filename`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// Declared report type (default `auto`).
    #[serde(default)]
    pub report_type: ReportType,
    /// Network for rows without one.
    #[serde(default)]
    pub network: Option<String>,
    /// Currency for rows without one.
    #[serde(default)]
    pub currency: Option<String>,
    /// IANA zone for timestamps without an offset (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// The file's name.
    #[serde(default)]
    pub filename: Option<String>,
    /// Mapping overrides: which column holds which field, how dates are ordered, which row
    /// types are which stage.
    #[serde(default)]
    pub mapping: Option<MappingOverrides>,
}
