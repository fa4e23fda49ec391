//! The typed form of an analyst's question, what the parser (or an LLM fallback) produces and
//! the planner consumes, and the request that carries it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::{TimeRangeSpec, TimeSpec};
use crate::calendar::{TimeRange, Timestamp};
use crate::store::metric::{Dimension, Filter, Granularity, Metric, Order};

/// What kind of answer is wanted (docs/questions.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// A number (or a few) over a period.
    Describe,
    /// A series over time.
    Trend,
    /// Entities or periods side by side.
    Compare,
    /// Top-N by a dimension.
    Breakdown,
    /// Why a metric changed.
    Why,
    /// Unusual days.
    Anomaly,
    /// Where a metric is heading.
    Forecast,
    /// A hypothetical change.
    WhatIf,
    /// Matching authorizations with clearing and settlement.
    Reconcile,
    /// A definition from the knowledge base.
    Lookup,
    /// Relationships in the entity graph.
    Relationship,
    /// In the domain, but some of its words could not be placed: no numbers, the words named
    /// and the closest questions that can be answered offered instead.
    Clarify,
    /// Not understood.
    Unsupported,
}

impl Intent {
    /// Every intent.
    pub const ALL: [Intent; 13] = [
        Intent::Describe,
        Intent::Trend,
        Intent::Compare,
        Intent::Breakdown,
        Intent::Why,
        Intent::Anomaly,
        Intent::Forecast,
        Intent::WhatIf,
        Intent::Reconcile,
        Intent::Lookup,
        Intent::Relationship,
        Intent::Clarify,
        Intent::Unsupported,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Describe => "describe",
            Intent::Trend => "trend",
            Intent::Compare => "compare",
            Intent::Breakdown => "breakdown",
            Intent::Why => "why",
            Intent::Anomaly => "anomaly",
            Intent::Forecast => "forecast",
            Intent::WhatIf => "what_if",
            Intent::Reconcile => "reconcile",
            Intent::Lookup => "lookup",
            Intent::Relationship => "relationship",
            Intent::Clarify => "clarify",
            Intent::Unsupported => "unsupported",
        }
    }
}

/// A hypothetical change (`fraud increases 20%`, `approval rate up 5 percentage points`):
/// relative, or for a rate in percentage points — exactly one of the two.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The metric that changes.
    pub metric: Metric,
    /// Relative change in percent (`+20` is ×1.2, `-50` halves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// Change of a rate in percentage points (`+5` takes 90% to 95%; 50 bps is `0.5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
    /// Change of a fee in basis points of the amount it is charged on (`interchange_fees`:
    /// `+10` adds 0.10% of the cleared amount to the fees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bps: Option<f64>,
    /// Change of a count by this many (`+50` chargebacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub absolute: Option<f64>,
}

impl Scenario {
    /// A relative change.
    pub fn percent(metric: Metric, percent: f64) -> Scenario {
        Scenario { metric, percent: Some(percent), points: None, bps: None, absolute: None }
    }

    /// The factor the metric is multiplied by, given its baseline (a rate's value 0–1).
    pub fn factor(&self, baseline: Option<f64>) -> f64 {
        match (self.percent, self.points, self.absolute, baseline) {
            (Some(p), _, _, _) => 1.0 + p / 100.0,
            (None, Some(pts), _, Some(b)) if b > 0.0 => (b + pts / 100.0).max(0.0) / b,
            (None, None, Some(n), Some(b)) if b > 0.0 => (b + n).max(0.0) / b,
            _ => 1.0,
        }
    }

    /// `rises 20%`, `falls 0.5 percentage points`.
    pub fn change_text(&self) -> String {
        let (v, unit) = match (self.percent, self.points, self.bps, self.absolute) {
            (Some(p), ..) => (p, "%"),
            (None, Some(pts), ..) => (pts, " percentage points"),
            (None, None, Some(b), _) => (b, " basis points of the cleared amount"),
            (None, None, None, Some(n)) => {
                let shown = if n.fract() == 0.0 { format!("{}", n.abs()) } else { format!("{:.2}", n.abs()) };
                return format!("{} by {shown}", if n >= 0.0 { "rises" } else { "falls" });
            }
            (None, None, None, None) => (0.0, "%"),
        };
        let shown = if v.fract() == 0.0 { format!("{}", v.abs()) } else { format!("{:.2}", v.abs()) };
        format!("{} {shown}{unit}", if v >= 0.0 { "rises" } else { "falls" })
    }
}

/// What to put side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Comparison {
    /// Values of one dimension (`visa` vs `mastercard`).
    Entities {
        /// The dimension.
        dimension: Dimension,
        /// Its values.
        values: Vec<String>,
    },
    /// Two periods.
    Periods {
        /// The current period.
        current: TimeRange,
        /// The period it is compared with.
        previous: TimeRange,
    },
}

/// What a lookup is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "code", rename_all = "snake_case")]
pub enum LookupTarget {
    /// An ISO 8583 response code.
    ResponseCode(String),
    /// A chargeback reason code.
    ReasonCode(String),
    /// A merchant category code.
    Mcc(String),
    /// A metric or term of the glossary.
    Term(String),
}

/// What a relationship question is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RelationshipTarget {
    /// Merchants fraud cards visited before their first fraud.
    CommonPointOfPurchase,
    /// A merchant's networks and cards.
    Merchant {
        /// The merchant.
        merchant_id: String,
    },
}

/// A question in typed form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The text as asked.
    pub text: String,
    /// What kind of answer.
    pub intent: Intent,
    /// Metrics asked for.
    pub metrics: Vec<Metric>,
    /// Filters (from the text and the request).
    pub filters: Vec<Filter>,
    /// Group-by dimensions.
    pub group_by: Vec<Dimension>,
    /// Rows to keep in a breakdown.
    pub top_n: Option<usize>,
    /// Data the question asks about that the reports do not hold (it is then unsupported).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    /// Conditions on each transaction's amount (`above 100 USD`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amount: Vec<crate::store::metric::AmountCondition>,
    /// Conditions on each group of a breakdown (`with at least 100 transactions`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub having: Vec<crate::store::metric::Having>,
    /// Sort order of a breakdown.
    pub order: Option<Order>,
    /// Where relative ranges end ("now" for the question).
    pub as_of: Timestamp,
    /// The time window.
    pub time: TimeSpec,
    /// Entities or periods to compare.
    pub compare: Option<Comparison>,
    /// Series granularity.
    pub granularity: Option<Granularity>,
    /// A what-if scenario.
    pub scenario: Option<Scenario>,
    /// A lookup target.
    pub lookup: Option<LookupTarget>,
    /// A relationship target.
    pub relationship: Option<RelationshipTarget>,
    /// Why a question that was understood cannot be answered (it is then unsupported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// Words the parser did not understand.
    pub not_understood: Vec<String>,
    /// How sure the parser is, 0–1.
    pub confidence: f64,
}

/// A question as a client sends it (`POST /chat/query`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The question, 1–2,000 characters.
    pub query: String,
    /// The fallback time range (`30d` by default).
    #[serde(default)]
    pub time_range: Option<TimeRangeSpec>,
    /// Extra filters by dimension name (`{"network": "visa"}`).
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// Where relative ranges end (default: now).
    #[serde(default)]
    pub as_of: Option<Timestamp>,
}

impl Query {
    /// Longest question accepted.
    pub const MAX_CHARS: usize = 2000;

    /// A question with defaults for everything else.
    pub fn new(text: impl Into<String>) -> Self {
        Query { query: text.into(), ..Default::default() }
    }

    /// Sets `as_of`.
    pub fn as_of(mut self, t: Timestamp) -> Self {
        self.as_of = Some(t);
        self
    }
}
