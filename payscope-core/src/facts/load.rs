//! The record of how a file was read, kept on its [`Report`](super::Report): the file's
//! structure, the rows skipped and why, the control totals it states and how they checked,
//! the mapping a person chose (an upload's overrides or a bank's saved profile).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Report, ReportType};
use crate::calendar::Timestamp;

/// Rows skipped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkipCount {
    /// Why (`payout/transfer (Type transfer)`, `non-card payment method (ideal)`).
    pub reason: String,
    /// How many rows.
    pub rows: u64,
}

/// One table of a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionInfo {
    /// The line (or sheet row) of its header.
    pub line: u64,
    /// Its name: the record type of its rows, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `detail` (its rows are facts), `summary` (totals, checked against the detail) or
    /// `unread` (it could not be mapped).
    pub role: String,
    /// Its data rows.
    pub rows: u64,
    /// Its header's columns.
    pub columns: Vec<String>,
    /// The header fingerprint mapping profiles are matched by.
    pub fingerprint: String,
    /// Why it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a file is made of around its facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Structure {
    /// `csv`, `xlsx`, `jsonl`, `ipm` or `base2`.
    pub format: String,
    /// The CSV delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// The tables, in file order.
    pub sections: Vec<SectionInfo>,
    /// `Key=Value` metadata of the file (report name, period).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<(String, String)>,
    /// Lines that are not rows of any table: wrappers, metadata, titles, totals, summary rows.
    pub structural_lines: u64,
}

/// The outcome of one control check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// What the file states (`summary section \`Authorization Summary\` (24 rows)`, `trailer`).
    pub source: String,
    /// The columns groups are compared by (empty: totals).
    pub by: Vec<String>,
    /// Groups compared.
    pub groups: u64,
    /// Groups whose count and amount agree.
    pub matched: u64,
    /// True when every compared group agrees.
    pub ok: bool,
    /// Each difference, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<String>,
    /// Summary groups the detail does not list at all (an opening inventory, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_in_detail: Vec<String>,
}

/// Explicit choices that replace inference: a field's column by its header (or `None`: the
/// file has no such column), and how to read ambiguous values. An upload's overrides win over
/// a saved profile's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingOverrides {
    /// Field name (`transaction_id`, `occurred_at`, `amount`, ...) → header, or null.
    #[serde(default)]
    pub columns: BTreeMap<String, Option<String>>,
    /// `dmy` or `mdy`: how to read dates such as `03/04/2025`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order: Option<String>,
    /// Row type value → stage (`AUTH`, `CLEARING`, ...) or `skip`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub kinds: BTreeMap<String, String>,
    /// The report type of files of this layout, when the upload leaves it `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_type: Option<ReportType>,
    /// The currency of rows without one, when the upload gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The time zone of times without an offset, when the upload gives none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl MappingOverrides {
    /// True when nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == MappingOverrides::default()
    }

    /// The report with these defaults filled in where the upload left them unset.
    pub fn apply_defaults(&self, report: &Report) -> Report {
        let mut r = report.clone();
        if r.report_type == ReportType::Auto {
            r.report_type = self.report_type.unwrap_or(ReportType::Auto);
        }
        if r.currency.is_none() {
            r.currency = self.currency.clone();
        }
        if r.timezone == "UTC" {
            if let Some(tz) = &self.timezone {
                r.timezone = tz.clone();
            }
        }
        r
    }

    /// These overrides, with `other`'s filling what these leave unset.
    pub fn or(&self, other: &MappingOverrides) -> MappingOverrides {
        let mut out = other.clone();
        out.columns.extend(self.columns.clone());
        out.kinds.extend(self.kinds.clone());
        out.date_order = self.date_order.clone().or(out.date_order);
        out.report_type = self.report_type.or(out.report_type);
        out.currency = self.currency.clone().or(out.currency);
        out.timezone = self.timezone.clone().or(out.timezone);
        out
    }
}

/// A saved mapping for one header layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MappingProfile {
    /// The profile's id.
    pub profile_id: Uuid,
    /// A name for people (`Adyen settlement details`).
    pub name: String,
    /// The header fingerprint it applies to (see [`fingerprint`]).
    pub fingerprint: String,
    /// The mapping applied.
    pub mapping: MappingOverrides,
    /// When it was saved first.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// A mapping profile as a person writes it; the engine gives it its id and times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileDraft {
    /// A name for people.
    pub name: String,
    /// The header fingerprint it applies to, as a preview reports it.
    pub fingerprint: String,
    /// The mapping applied.
    #[serde(default)]
    pub mapping: MappingOverrides,
}

/// What an upload of a file would do, computed without storing anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preview {
    /// True when the file (as far as it was read) would load.
    pub would_load: bool,
    /// Why it would not load: what is missing, the candidates, the way to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Bytes read; a large CSV is previewed from its first lines.
    pub bytes_read: u64,
    /// True when only the start of the file was read (counts and controls cover that part).
    pub truncated: bool,
    /// The report type, declared or inferred.
    pub report_type: ReportType,
    /// The file's structure: its tables, with the header fingerprint of each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structure: Option<Structure>,
    /// Each mapping decision with its rule and confidence (and the stage, date-order and
    /// approval decisions).
    pub mapping: Vec<super::MappingDecision>,
    /// The confidence the facts would carry.
    pub confidence: f64,
    /// Data rows read.
    pub rows_read: u64,
    /// Of which rejected.
    pub rows_rejected: u64,
    /// Of which skipped as not card transactions.
    pub rows_skipped: u64,
    /// Skipped rows by reason.
    pub skipped: Vec<SkipCount>,
    /// The first rejected rows and why.
    pub errors: Vec<super::RowError>,
    /// Control totals the file states, checked against the rows read.
    pub controls: Vec<Control>,
    /// Things a person should know.
    pub warnings: Vec<String>,
    /// The mapping profiles that would apply.
    pub profiles_applied: Vec<MappingProfile>,
    /// The first facts, as they would be stored.
    pub facts: Vec<super::Fact>,
}
