//! The embedded backend, always compiled: columnar in-memory facts with daily rollups, and
//! reports and audit chains as append-only files under the data directory.
//!
//! [`MemoryBackend`] implements the stores whose writes must be atomic together (facts,
//! rollups, report status) plus metrics and audit; the queue, cache, graph and vector index are
//! separate types.

mod audit;
mod bank;
mod cache;
mod columns;
mod graph;
mod interner;
mod keyset;
mod persist;
mod profiles;
mod query;
mod queue;
mod reconcile;
mod reports;
mod rollup;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use async_trait::async_trait;
use rustc_hash::FxHashMap;
use uuid::Uuid;

pub use cache::MemoryCache;
pub use graph::MemoryGraph;
pub use queue::MemoryQueue;
pub use vector::MemoryVectors;

mod vector;

use audit::AuditChains;
pub use bank::HeapBytes;
use bank::{BankData, ReportRef, Staged};
use profiles::ProfileBook;
use reports::ReportIndex;

use crate::bank::{BankContext, BankId};
use crate::calendar::TimeRange;
use crate::error::{Error, Result};
use crate::facts::{Fact, MappingProfile, Report, ReportId, ReportStatus, Stage};
use crate::store::audit::{
    verify_chain, AnswerId, AuditEntry, AuditLog, AuditPage, AuditRecord, ChainVerification, TrailPage,
};
use crate::store::metric::{Dimension, MetricQuery, MetricResult};
use crate::store::reconcile::{ReconcileQuery, ReconcileSummary};
use crate::store::{
    Coverage, DimensionValue, FactFilter, FactKey, FactLoad, FactStats, FactStore, LoadOutcome, MetricStore,
    ProfileStore, Registered, ReportPage, ReportStore,
};

/// Batches larger than this are encoded on a blocking thread.
const BLOCKING_BATCH: usize = 2048;

type SharedBank = Arc<RwLock<BankData>>;

#[derive(Debug, Default)]
struct Inner {
    banks: RwLock<HashMap<BankId, SharedBank>>,
    reports: Mutex<ReportIndex>,
    profiles: Mutex<ProfileBook>,
    /// A plain lock, held only to link a record (one SHA-256) or look an answer up. With an
    /// async one, cached answers per second were 6–16% fewer in A/B runs of the HTTP bench's
    /// request (likely because a request that waited was woken on the other worker thread,
    /// its buffers in the other core's cache). Files are read without it.
    audit: Mutex<AuditChains>,
    /// A lock per bank, held while its chain is read from its file, so that no append lands
    /// meanwhile (and other banks' answers do not wait for it).
    audit_loading: Mutex<HashMap<BankId, Arc<tokio::sync::Mutex<()>>>>,
}

/// Facts, rollups, metrics, reports and audit for every bank, in memory (with reports and
/// audit persisted when opened on a directory).
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    inner: Arc<Inner>,
}

impl MemoryBackend {
    /// A backend that keeps nothing on disk (tests, benches).
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A backend whose report index and audit chains live under `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| Error::internal(format!("cannot create data dir {}: {e}", data_dir.display())))?;
        Ok(MemoryBackend {
            inner: Arc::new(Inner {
                banks: RwLock::default(),
                reports: Mutex::new(ReportIndex::open(data_dir)?),
                profiles: Mutex::new(ProfileBook::open(data_dir)?),
                audit: Mutex::new(AuditChains::open(&data_dir.join("audit"))?),
                audit_loading: Mutex::default(),
            }),
        })
    }

    fn bank(&self, id: BankId) -> SharedBank {
        if let Some(b) = read(&self.inner.banks).get(&id) {
            return b.clone();
        }
        write(&self.inner.banks).entry(id).or_default().clone()
    }

    fn existing_bank(&self, id: BankId) -> Option<SharedBank> {
        read(&self.inner.banks).get(&id).cloned()
    }

    fn reports(&self) -> MutexGuard<'_, ReportIndex> {
        self.inner.reports.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn profiles(&self) -> MutexGuard<'_, ProfileBook> {
        self.inner.profiles.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn audit(&self) -> MutexGuard<'_, AuditChains> {
        self.inner.audit.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chains, with `bank`'s read from its file if this is its first use.
    async fn audit_of(&self, bank: BankId) -> Result<MutexGuard<'_, AuditChains>> {
        {
            let chains = self.audit();
            if chains.needs_load(bank).is_none() {
                return Ok(chains);
            }
        }
        let loading = {
            let mut locks = self.inner.audit_loading.lock().unwrap_or_else(|e| e.into_inner());
            locks.entry(bank).or_default().clone()
        };
        let _loading = loading.lock().await;
        let unloaded = self.audit().needs_load(bank);
        let Some(path) = unloaded else { return Ok(self.audit()) };
        // A long chain takes a while to read: not on a worker thread other requests need.
        let chain = tokio::task::spawn_blocking(move || audit::load(&path)).await??;
        let mut chains = self.audit();
        chains.insert(bank, chain);
        Ok(chains)
    }

    /// Reports of every bank in `status`, in the order their facts were committed (then
    /// uploaded); used to rebuild facts and requeue work at start-up.
    pub fn reports_with_status(&self, status: ReportStatus) -> Vec<Report> {
        self.reports().with_status(status)
    }

    /// Heap bytes held by the bank's facts, dictionaries, key sets and rollups.
    pub fn heap_bytes(&self, ctx: &BankContext) -> HeapBytes {
        self.existing_bank(ctx.bank_id()).map(|b| read(&b).heap_bytes()).unwrap_or_default()
    }
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl ReportStore for MemoryBackend {
    async fn register(&self, ctx: &BankContext, mut report: Report) -> Result<Registered> {
        report.bank_id = ctx.bank_id();
        self.reports().register(report)
    }

    async fn get(&self, ctx: &BankContext, id: ReportId) -> Result<Option<Report>> {
        Ok(self.reports().get(ctx.bank_id(), id).cloned())
    }

    async fn list(&self, ctx: &BankContext, limit: usize, cursor: Option<&str>) -> Result<ReportPage> {
        self.reports().list(ctx.bank_id(), limit, cursor)
    }

    async fn update(&self, ctx: &BankContext, report: &Report) -> Result<()> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        self.reports().update(report)
    }

    async fn reopen(&self, ctx: &BankContext, report: &Report) -> Result<bool> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        self.reports().reopen(report)
    }
}

#[async_trait]
impl ProfileStore for MemoryBackend {
    async fn list(&self, ctx: &BankContext) -> Result<Vec<MappingProfile>> {
        Ok(self.profiles().list(ctx.bank_id()))
    }

    async fn get(&self, ctx: &BankContext, id: Uuid) -> Result<Option<MappingProfile>> {
        Ok(self.profiles().get(ctx.bank_id(), id))
    }

    async fn put(&self, ctx: &BankContext, profile: MappingProfile) -> Result<MappingProfile> {
        self.profiles().put(ctx.bank_id(), profile)
    }

    async fn delete(&self, ctx: &BankContext, id: Uuid) -> Result<bool> {
        self.profiles().delete(ctx.bank_id(), id)
    }
}

/// An open load: facts are encoded against their own dictionaries until commit.
struct MemoryLoad {
    backend: MemoryBackend,
    bank_id: BankId,
    report_id: ReportId,
    staged: Staged,
}

#[async_trait]
impl FactLoad for MemoryLoad {
    async fn append(&mut self, facts: Vec<Fact>) -> Result<()> {
        if let Some(f) = facts.iter().find(|f| f.lineage.report_id != self.report_id) {
            return Err(Error::invalid(
                "invalid_lineage",
                format!(
                    "fact of report {} appended to the load of report {}",
                    f.lineage.report_id, self.report_id
                ),
            ));
        }
        if facts.len() < BLOCKING_BATCH {
            return facts.iter().try_for_each(|f| self.staged.push(f));
        }
        let mut staged = std::mem::take(&mut self.staged);
        let (staged, result) = tokio::task::spawn_blocking(move || {
            let r = facts.iter().try_for_each(|f| staged.push(f));
            (staged, r)
        })
        .await?;
        self.staged = staged;
        result
    }

    async fn commit(self: Box<Self>, mut report: Report) -> Result<(Report, LoadOutcome)> {
        let this = *self;
        if report.bank_id != this.bank_id || report.report_id != this.report_id {
            return Err(Error::internal("commit of a report other than the one being loaded"));
        }
        let backend = this.backend.clone();
        tokio::task::spawn_blocking(move || {
            let shared = backend.bank(this.bank_id);
            let mut bank = write(&shared);
            // Another worker committed this report first (its job was taken over): keep that.
            if bank.reports.iter().any(|r| r.id == report.report_id) {
                let stored = backend.reports().get(this.bank_id, report.report_id).cloned();
                return Ok((stored.unwrap_or(report), LoadOutcome::default()));
            }
            let prepared = bank.prepare(&this.staged)?;
            let outcome = prepared.outcome;
            report.facts_loaded = outcome.loaded;
            report.duplicates_skipped = outcome.duplicates;
            report.data_version = Some(bank.stats.data_version + 1);
            // The report is written while the bank is locked and before the facts are
            // published: readers see both or neither, and a failed write publishes nothing.
            backend.reports().update(&report)?;
            bank.apply(prepared, ReportRef { id: report.report_id, sha256: report.sha256 });
            Ok((report, outcome))
        })
        .await?
    }
}

#[async_trait]
impl FactStore for MemoryBackend {
    async fn begin_load(&self, ctx: &BankContext, report: &Report) -> Result<Box<dyn FactLoad>> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        Ok(Box::new(MemoryLoad {
            backend: self.clone(),
            bank_id: ctx.bank_id(),
            report_id: report.report_id,
            staged: Staged::default(),
        }))
    }

    async fn scan(
        &self,
        ctx: &BankContext,
        filter: &FactFilter,
        after: Option<&FactKey>,
        limit: usize,
    ) -> Result<Vec<Fact>> {
        let Some(shared) = self.existing_bank(ctx.bank_id()) else {
            return Ok(vec![]);
        };
        let (filter, after) = (filter.clone(), after.cloned());
        tokio::task::spawn_blocking(move || scan_facts(&read(&shared), &filter, after.as_ref(), limit))
            .await?
    }

    async fn stats(&self, ctx: &BankContext) -> Result<FactStats> {
        Ok(self.existing_bank(ctx.bank_id()).map(|b| read(&b).stats.clone()).unwrap_or_default())
    }

    async fn clear(&self, ctx: &BankContext) -> Result<u64> {
        let removed = write(&self.inner.banks).remove(&ctx.bank_id());
        Ok(removed.map_or(0, |b| read(&b).stats.total))
    }
}

fn scan_facts(
    bank: &BankData,
    filter: &FactFilter,
    after: Option<&FactKey>,
    limit: usize,
) -> Result<Vec<Fact>> {
    let filters = query::compile_filters(bank, &filter.filters);
    let tx = match &filter.transaction_id {
        Some(id) => match bank.dicts.find_tx_key(id) {
            Some(k) => Some(k),
            None => return Ok(vec![]),
        },
        None => None,
    };
    let report = match filter.report_id {
        Some(id) => match bank.reports.iter().position(|r| r.id == id) {
            Some(i) => Some(i as u32),
            None => return Ok(vec![]),
        },
        None => None,
    };
    let (mut from, to) = filter.range.map_or((i64::MIN, i64::MAX), |r| (r.from.0, r.to.0));
    if let Some(a) = after {
        from = from.max(a.occurred_at.0);
    }
    let mut out = Vec::new();
    for stage in Stage::ALL {
        if !filter.stages.is_empty() && !filter.stages.contains(&stage) {
            continue;
        }
        for seg in &bank.segments[stage.index()] {
            if report.is_some_and(|r| r != seg.report) {
                continue;
            }
            // Segments are sorted by time: once `limit` facts are taken, the rest of the
            // segment can only matter while it shares the last taken timestamp.
            let mut taken = 0usize;
            let mut last_ts = i64::MIN;
            'facts: for i in seg.range(from, to) {
                if taken >= limit && seg.ts[i] != last_ts {
                    break;
                }
                if tx.is_some_and(|k| k != seg.tx[i]) {
                    continue;
                }
                for f in &filters {
                    if !f.accepts(query::fact_code(bank, stage, seg, i, f.dim)) {
                        continue 'facts;
                    }
                }
                let fact = bank.fact_at(stage, seg, i);
                if after.is_some_and(|a| FactKey::of(&fact) <= *a) {
                    continue;
                }
                out.push(fact);
                taken += 1;
                last_ts = seg.ts[i];
            }
        }
    }
    out.sort_by(|a, b| {
        (a.occurred_at, &a.transaction_id, a.stage).cmp(&(b.occurred_at, &b.transaction_id, b.stage))
    });
    out.truncate(limit);
    Ok(out)
}

/// True when a query is served by rollups alone (cheap enough to answer on the reactor):
/// its range falls on whole hours and rollups keep everything it asks for.
fn served_by_rollups_alone(bank: &BankData, q: &MetricQuery) -> bool {
    let hour = crate::calendar::MS_PER_HOUR;
    let aligned = q.range.from.0 % hour == 0 && q.range.to.0 % hour == 0;
    let p = query::plan(bank, q);
    let day_aligned = q.range.from.is_midnight() && q.range.to.is_midnight();
    aligned && (p.hourly || (p.daily.is_some() && day_aligned))
}

#[async_trait]
impl MetricStore for MemoryBackend {
    async fn query(&self, ctx: &BankContext, q: &MetricQuery) -> Result<MetricResult> {
        let q = q.normalized()?;
        let shared = self.bank(ctx.bank_id());
        {
            let bank = read(&shared);
            if served_by_rollups_alone(&bank, &q) {
                return query::run(&bank, &q);
            }
        }
        tokio::task::spawn_blocking(move || query::run(&read(&shared), &q)).await?
    }

    async fn reconcile(&self, ctx: &BankContext, q: &ReconcileQuery) -> Result<ReconcileSummary> {
        let shared = self.bank(ctx.bank_id());
        let q = q.clone();
        tokio::task::spawn_blocking(move || reconcile::reconcile(&read(&shared), &q)).await?
    }

    async fn coverage(&self, ctx: &BankContext, range: TimeRange) -> Result<Coverage> {
        let first = range.from.date().0;
        let last = crate::calendar::Timestamp(range.to.0 - 1).date().0;
        let days_in_range = if range.to > range.from { (last - first + 1) as u32 } else { 0 };
        let days_with_data = match self.existing_bank(ctx.bank_id()) {
            Some(b) if days_in_range > 0 => read(&b)
                .rollups
                .days
                .range(first..=last)
                .filter(|(_, cells)| cells.coarse.iter().any(|(_, c)| c.count > 0))
                .count() as u32,
            _ => 0,
        };
        Ok(Coverage { days_in_range, days_with_data })
    }

    async fn dimension_values(
        &self,
        ctx: &BankContext,
        dim: Dimension,
        limit: usize,
    ) -> Result<Vec<DimensionValue>> {
        let Some(shared) = self.existing_bank(ctx.bank_id()) else {
            return Ok(vec![]);
        };
        tokio::task::spawn_blocking(move || Ok(dimension_values(&read(&shared), dim, limit))).await?
    }
}

fn dimension_values(bank: &BankData, dim: Dimension, limit: usize) -> Vec<DimensionValue> {
    let mut counts: FxHashMap<u32, u64> = FxHashMap::default();
    // For merchant ids, the most frequent name labels the id.
    let mut names: FxHashMap<(u32, u32), u64> = FxHashMap::default();
    for stage in Stage::ALL {
        for seg in &bank.segments[stage.index()] {
            for i in 0..seg.len() {
                let code = query::fact_code(bank, stage, seg, i, dim);
                if code == 0 {
                    continue;
                }
                *counts.entry(code).or_default() += 1;
                if dim == Dimension::MerchantId {
                    *names.entry((code, bank.dicts.merchant_name_code(seg.merchant[i]))).or_default() += 1;
                }
            }
        }
    }
    let mut best_name: FxHashMap<u32, (u64, u32)> = FxHashMap::default();
    for ((id, name), n) in names {
        let e = best_name.entry(id).or_insert((0, 0));
        if name != 0 && (n, std::cmp::Reverse(name)) > (e.0, std::cmp::Reverse(e.1)) {
            *e = (n, name);
        }
    }
    let mut out: Vec<DimensionValue> = counts
        .into_iter()
        .filter_map(|(code, facts)| {
            Some(DimensionValue {
                value: query::decode(bank, dim, code)?,
                label: best_name.get(&code).and_then(|(_, n)| bank.dicts.string(*n)).map(str::to_owned),
                facts,
            })
        })
        .collect();
    out.sort_by(|a, b| b.facts.cmp(&a.facts).then_with(|| a.value.cmp(&b.value)));
    out.truncate(limit);
    out
}

#[async_trait]
impl AuditLog for MemoryBackend {
    async fn append(&self, ctx: &BankContext, record: AuditRecord) -> Result<AuditEntry> {
        // Serialized before, and written after, the chains' lock: only linking needs it.
        let canonical = record.canonical_bytes();
        let (entry, queued) =
            self.audit_of(ctx.bank_id()).await?.append(ctx.bank_id(), record, &canonical)?;
        if let Some(line) = queued {
            line.write().await?;
        }
        Ok(entry)
    }

    async fn get(&self, ctx: &BankContext, answer_id: AnswerId) -> Result<Option<AuditEntry>> {
        let located = self.audit_of(ctx.bank_id()).await?.locate(ctx.bank_id(), answer_id)?;
        located.map(audit::Located::read).transpose()
    }

    async fn verify(&self, ctx: &BankContext) -> Result<ChainVerification> {
        let path = self.audit().path(ctx.bank_id());
        match path {
            // Streamed from the file as it stands (an append being written is left out).
            Some(path) => tokio::task::spawn_blocking(move || audit::verify_file(&path)).await?,
            None => Ok(verify_chain(&self.audit().page_in_memory(ctx.bank_id(), 0, usize::MAX)?.entries)),
        }
    }

    async fn entries_page(&self, ctx: &BankContext, from: Option<u64>, limit: usize) -> Result<AuditPage> {
        let path = self.audit().path(ctx.bank_id());
        match path {
            // The cursor is a byte offset in the chain's file.
            Some(path) => {
                tokio::task::spawn_blocking(move || audit::read_page(&path, from.unwrap_or(0), limit)).await?
            }
            // The cursor is an index.
            None => self.audit().page_in_memory(ctx.bank_id(), from.unwrap_or(0), limit),
        }
    }

    async fn recent(&self, ctx: &BankContext, page: TrailPage<'_>) -> Result<AuditPage> {
        let path = self.audit().path(ctx.bank_id());
        match path {
            Some(path) => {
                let (before, limit, subject) = (page.before, page.limit, page.subject.map(str::to_owned));
                tokio::task::spawn_blocking(move || {
                    audit::read_trail(&path, TrailPage { before, limit, subject: subject.as_deref() })
                })
                .await?
            }
            None => self.audit().trail_in_memory(ctx.bank_id(), page),
        }
    }
}
