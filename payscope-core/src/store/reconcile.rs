//! AUTH ↔ CLEARING ↔ SETTLEMENT matching, for the reconcile agent.

use serde::{Deserialize, Serialize};

use super::metric::Filter;
use crate::calendar::TimeRange;
use crate::money::Money;

/// Which approved authorizations to reconcile: those whose AUTH fact falls in `range` and matches `filters`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileQuery {
    /// Range over the AUTH fact's `occurred_at`.
    pub range: TimeRange,
    /// Dimension filters applied to the AUTH fact.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// How many example transaction ids to return per finding.
    #[serde(default)]
    pub examples: usize,
}

/// An authorization whose later stage disagrees with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The transaction.
    pub transaction_id: String,
    /// Approved amount.
    pub authorized: Money,
    /// Settled amount.
    pub settled: Money,
}

/// The result of matching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileSummary {
    /// Approved AUTH facts considered.
    pub approved_auths: u64,
    /// Of those, with a CLEARING fact.
    pub cleared: u64,
    /// Of those, with a SETTLEMENT fact.
    pub settled: u64,
    /// Approved AUTH facts with no SETTLEMENT fact.
    pub unmatched: u64,
    /// Approved amount of the unmatched authorizations, per currency.
    pub unmatched_amount: Vec<Money>,
    /// Settled transactions whose settled amount or currency differs from the authorization.
    pub amount_mismatches: u64,
    /// Sum of `settled − authorized` over the mismatches, per currency (same-currency pairs only).
    pub mismatch_difference: Vec<Money>,
    /// Sum of AUTH → SETTLEMENT delays in milliseconds over settled transactions.
    pub delay_total_millis: i64,
    /// Longest AUTH → SETTLEMENT delay in milliseconds.
    pub delay_max_millis: i64,
    /// Example unmatched transaction ids (oldest first).
    pub unmatched_examples: Vec<String>,
    /// Example mismatches (largest difference first).
    pub mismatch_examples: Vec<Mismatch>,
}
