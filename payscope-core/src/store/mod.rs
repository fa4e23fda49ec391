//! One async trait per storage capability. Every method takes a [`BankContext`] (never a bare
//! bank id) and every backend scopes every read and write by it.
//!
//! Backends live in [`crate::backend`]; the behaviour they share is pinned down by the
//! conformance suite in `payscope-core/tests/it/conformance.rs`, which runs against each one.

pub mod artifacts;
pub mod audit;
pub mod cache;
pub mod graph;
pub mod jobs;
pub mod measures;
pub mod metric;
pub mod profiles;
pub mod reconcile;
pub mod vector;

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use audit::{AnswerId, AuditEntry, AuditLog, AuditRecord, ChainVerification};
pub use cache::{AnswerCache, CacheKey};
pub use graph::{CppQuery, CppRow, GraphBatch, GraphStore, Relationship};
pub use jobs::{ClaimedJob, FailOutcome, Job, JobId, JobQueue};
pub use metric::{
    Dimension, Filter, Granularity, Metric, MetricQuery, MetricResult, MetricRow, MetricValue, Order, Source,
    Unit,
};
pub use profiles::ProfileStore;
pub use reconcile::{ReconcileQuery, ReconcileSummary};
pub use vector::{VectorDoc, VectorHit, VectorIndex};

use crate::bank::BankContext;
use crate::calendar::{TimeRange, Timestamp};
use crate::error::Result;
use crate::facts::{Fact, Report, ReportId, Stage};

/// Result of registering an uploaded artifact.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    /// A new report was created.
    New(Report),
    /// The bank already uploaded these bytes; this is the existing report.
    Duplicate(Report),
}

/// A page of reports, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportPage {
    /// The reports on this page.
    pub reports: Vec<Report>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Reports and their status.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Registers `report` unless the bank already has a report with the same `sha256`
    /// (then returns that one). Assigns `seq`.
    async fn register(&self, ctx: &BankContext, report: Report) -> Result<Registered>;

    /// One report of the caller's bank.
    async fn get(&self, ctx: &BankContext, id: ReportId) -> Result<Option<Report>>;

    /// The caller's reports, newest first; `cursor` comes from a previous page.
    async fn list(&self, ctx: &BankContext, limit: usize, cursor: Option<&str>) -> Result<ReportPage>;

    /// Stores a status change that carries no facts (`processing`, `failed`, a requeue).
    /// The first final outcome wins: a report that is `completed` or `failed` keeps that
    /// status, and an update to another status is ignored (a worker whose job was taken
    /// over cannot undo the other worker's result).
    async fn update(&self, ctx: &BankContext, report: &Report) -> Result<()>;

    /// Gives a `failed` report a second chance: stores `report` (queued, with new options)
    /// only if the stored report is still `failed`. Returns false, changing nothing, otherwise.
    async fn reopen(&self, ctx: &BankContext, report: &Report) -> Result<bool>;
}

/// Outcome of committing a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LoadOutcome {
    /// Facts newly stored.
    pub loaded: u64,
    /// Facts skipped because `(transaction_id, stage)` was already stored (or repeated in the file).
    pub duplicates: u64,
}

/// An open, uncommitted load of one report's facts. Dropping it without `commit` discards
/// everything appended.
#[async_trait]
pub trait FactLoad: Send {
    /// Adds a batch of facts (all of the load's bank).
    async fn append(&mut self, facts: Vec<Fact>) -> Result<()>;

    /// Atomically stores the facts, their rollups and `report` (with `facts_loaded` and
    /// `duplicates_skipped` filled in from the outcome). Returns the stored report.
    async fn commit(self: Box<Self>, report: Report) -> Result<(Report, LoadOutcome)>;
}

/// Which facts a scan returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactFilter {
    /// Half-open range over `occurred_at`; all time when `None`.
    pub range: Option<TimeRange>,
    /// Only these stages; all when empty.
    pub stages: Vec<Stage>,
    /// Only this transaction.
    pub transaction_id: Option<String>,
    /// Only facts of this report.
    pub report_id: Option<ReportId>,
    /// Dimension filters, as in metric queries.
    pub filters: Vec<Filter>,
}

/// A position in scan order `(occurred_at, transaction_id, stage)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FactKey {
    /// Time.
    pub occurred_at: Timestamp,
    /// Transaction id.
    pub transaction_id: String,
    /// Stage.
    pub stage: Stage,
}

impl FactKey {
    /// The key of a fact.
    pub fn of(f: &Fact) -> FactKey {
        FactKey { occurred_at: f.occurred_at, transaction_id: f.transaction_id.clone(), stage: f.stage }
    }
}

/// Summary of a bank's stored facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactStats {
    /// Facts stored.
    pub total: u64,
    /// Facts per stage, in [`Stage::ALL`] order.
    pub by_stage: [u64; 6],
    /// Earliest `occurred_at`.
    pub first: Option<Timestamp>,
    /// Latest `occurred_at`.
    pub last: Option<Timestamp>,
    /// Bumped by every committed load; keys the answer cache.
    pub data_version: u64,
}

/// Canonical facts.
#[async_trait]
pub trait FactStore: Send + Sync {
    /// Opens a load for the facts of `report` (which must be registered). Its `confidence`
    /// should already be the mapping's: a store may write facts as they are appended, and a
    /// commit with another confidence then has to re-stamp them.
    async fn begin_load(&self, ctx: &BankContext, report: &Report) -> Result<Box<dyn FactLoad>>;

    /// Facts matching `filter`, ordered by `(occurred_at, transaction_id, stage)`, after the
    /// key `after` (exclusive), at most `limit`: pass the last fact's key to get the next page.
    async fn scan(
        &self,
        ctx: &BankContext,
        filter: &FactFilter,
        after: Option<&FactKey>,
        limit: usize,
    ) -> Result<Vec<Fact>>;

    /// Counts and bounds of the bank's facts.
    async fn stats(&self, ctx: &BankContext) -> Result<FactStats>;

    /// Removes every fact of the bank (used to rebuild embedded state); returns how many.
    async fn clear(&self, ctx: &BankContext) -> Result<u64>;
}

/// How much of a range has data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// UTC days in the range (partial days count).
    pub days_in_range: u32,
    /// Days in the range with at least one fact.
    pub days_with_data: u32,
}

/// A value of a dimension the bank's data holds, with how many facts carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DimensionValue {
    /// Canonical value (`M000077`, `visa`).
    pub value: String,
    /// A label, when the value has one (the merchant name for a merchant id).
    pub label: Option<String>,
    /// Facts with this value.
    pub facts: u64,
}

/// Answers metric queries.
#[async_trait]
pub trait MetricStore: Send + Sync {
    /// Computes a metric query exactly.
    async fn query(&self, ctx: &BankContext, query: &MetricQuery) -> Result<MetricResult>;

    /// Matches AUTH, CLEARING and SETTLEMENT facts of approved authorizations in a range.
    async fn reconcile(&self, ctx: &BankContext, query: &ReconcileQuery) -> Result<ReconcileSummary>;

    /// Days of `range` that have data.
    async fn coverage(&self, ctx: &BankContext, range: TimeRange) -> Result<Coverage>;

    /// The most frequent values of a dimension (merchant ids with names, networks, codes).
    async fn dimension_values(
        &self,
        ctx: &BankContext,
        dimension: Dimension,
        limit: usize,
    ) -> Result<Vec<DimensionValue>>;
}

/// The stores an engine runs on.
#[derive(Clone)]
pub struct Stores {
    /// Reports and their status.
    pub reports: Arc<dyn ReportStore>,
    /// Canonical facts.
    pub facts: Arc<dyn FactStore>,
    /// Metric queries.
    pub metrics: Arc<dyn MetricStore>,
    /// The audit trail.
    pub audit: Arc<dyn AuditLog>,
    /// The entity graph.
    pub graph: Arc<dyn GraphStore>,
    /// The vector index.
    pub vectors: Arc<dyn VectorIndex>,
    /// The ingestion job queue.
    pub jobs: Arc<dyn JobQueue>,
    /// The answer cache.
    pub cache: Arc<dyn AnswerCache>,
    /// The banks' mapping profiles.
    pub profiles: Arc<dyn ProfileStore>,
}

/// A backend's liveness check, registered by whatever builds the engine's stores.
#[async_trait]
pub trait Probe: Send + Sync {
    /// The dependency's name on `/health/ready` (one of [`DEPENDENCIES`]).
    fn dependency(&self) -> &'static str;
    /// True when requests cannot be served without it (readiness then fails with 503).
    fn required(&self) -> bool;
    /// A cheap round trip (`SELECT 1`, `PING`, ...).
    async fn check(&self) -> Result<()>;
}
