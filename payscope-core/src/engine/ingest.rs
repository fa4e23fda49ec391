//! Report ingestion on the engine: upload (artifact + report + job), processing (parse →
//! load → commit, or a failed report), the worker step, waiting for a report, and start-up
//! recovery of embedded state.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;

use super::Engine;
use crate::backend::memory::MemoryBackend;
use crate::bank::{BankContext, Permission};
use crate::calendar::Timestamp;
use crate::error::{Error, ErrorKind, Result};
use crate::facts::{Fact, MappingProfile, Report, ReportId, ReportOptions, ReportStatus, RowError};
use crate::ingest::{parse_report_with, FactSink, ParseSummary, BATCH_SIZE};
use crate::money::Currency;
use crate::store::graph::GraphBatch;
use crate::store::jobs::{FailOutcome, Job, Liveness};
use crate::store::vector::VectorDoc;
use crate::store::{FactFilter, FactKey, Registered, ReportPage};
use crate::telemetry::{OutcomeLabels, StatusLabels};

/// The result of an upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Submission {
    /// The report (new, or the one the same bytes created before).
    pub report: Report,
    /// True when the bank had already uploaded these bytes.
    pub duplicate: bool,
}

/// What one worker step did.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// No job was waiting.
    Idle,
    /// A report was processed (completed or failed).
    Processed(Box<Report>),
    /// Processing hit a transient error; the job will be retried.
    Retrying(String),
    /// The job used its last attempt; the report was marked failed.
    DeadLettered(String),
}

pub(super) fn check_options(o: &ReportOptions) -> Result<()> {
    if let Some(c) = &o.currency {
        Currency::parse_any(c).ok_or_else(|| {
            Error::invalid("invalid_request", format!("currency `{c}` is not an ISO 4217 code"))
        })?;
    }
    if let Some(tz) = &o.timezone {
        if tz != "UTC" && jiff::tz::TimeZone::get(tz).is_err() {
            return Err(Error::invalid(
                "invalid_request",
                format!("timezone `{tz}` is not an IANA time zone name"),
            ));
        }
    }
    if o.filename.as_ref().is_some_and(|f| f.len() > 255) {
        return Err(Error::invalid("invalid_request", "filename is longer than 255 characters"));
    }
    if let Some(m) = &o.mapping {
        m.validate()?;
    }
    Ok(())
}

/// What the parser thread hands the load.
enum Parsed {
    /// The columns are mapped: the confidence the file's facts carry.
    Planned(f64),
    /// The next facts, in file order.
    Batch(Vec<Fact>),
}

/// The parser's sink: forwards to the load on the async side, waiting while it is busy.
struct ParsedSender(tokio::sync::mpsc::Sender<Parsed>);

impl ParsedSender {
    fn send(&self, p: Parsed) -> Result<()> {
        self.0.blocking_send(p).map_err(|_| Error::internal("the load stopped"))
    }
}

impl FactSink for ParsedSender {
    fn planned(&mut self, confidence: f64) -> Result<()> {
        self.send(Parsed::Planned(confidence))
    }

    fn batch(&mut self, facts: Vec<Fact>) -> Result<()> {
        self.send(Parsed::Batch(facts))
    }
}

impl Engine {
    /// Uploads a report: stores the bytes (encrypted, content-addressed), registers the report
    /// and queues it for processing. The same bytes from the same bank return the existing
    /// report with `duplicate: true`.
    pub async fn submit<S, E>(&self, ctx: &BankContext, body: S, options: ReportOptions) -> Result<Submission>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        self.submit_inner(ctx, body, options, true).await
    }

    async fn submit_inner<S, E>(
        &self,
        ctx: &BankContext,
        body: S,
        options: ReportOptions,
        enqueue: bool,
    ) -> Result<Submission>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: Into<Error>,
    {
        ctx.require(Permission::Upload)?;
        check_options(&options)?;
        let stored = self.inner.artifacts.store(ctx, body, self.inner.options.max_upload_bytes).await?;
        let mut report = Report::queued(ctx.bank_id(), stored.sha256, stored.size, &options);
        report.uploaded_by = ctx.caller().cloned();
        match self.inner.stores.reports.register(ctx, report).await? {
            Registered::New(report) => {
                if enqueue {
                    self.inner.stores.jobs.enqueue(Job::new(ctx, report.report_id)).await?;
                    self.refresh_queue_gauge().await;
                }
                Ok(Submission { report, duplicate: false })
            }
            Registered::Duplicate(report) if report.status == ReportStatus::Failed => {
                // A failed report gets another chance with this upload's options (a mapping
                // override, say) and the bank's profiles as they are now.
                let mut reopened = report.reopened(&options);
                reopened.uploaded_by = ctx.caller().cloned();
                if !self.inner.stores.reports.reopen(ctx, &reopened).await? {
                    let current = self.inner.stores.reports.get(ctx, report.report_id).await?;
                    return Ok(Submission { report: current.unwrap_or(report), duplicate: true });
                }
                if enqueue {
                    self.inner.stores.jobs.enqueue(Job::new(ctx, reopened.report_id)).await?;
                    self.refresh_queue_gauge().await;
                }
                Ok(Submission { report: reopened, duplicate: true })
            }
            Registered::Duplicate(report) => {
                // A report left queued (its job lost to a crash) is queued again; processing
                // a report twice is harmless because finished reports are skipped.
                if enqueue && report.status == ReportStatus::Queued {
                    self.inner.stores.jobs.enqueue(Job::new(ctx, report.report_id)).await?;
                }
                Ok(Submission { report, duplicate: true })
            }
        }
    }

    /// Uploads and processes a report in this task (no queue): for programs that embed the
    /// engine. Returns the final report status.
    pub async fn ingest(
        &self,
        ctx: &BankContext,
        bytes: impl Into<Bytes>,
        options: ReportOptions,
    ) -> Result<Report> {
        let body = futures::stream::iter([Ok::<Bytes, Error>(bytes.into())]);
        let submission = self.submit_inner(ctx, body, options, false).await?;
        if submission.duplicate && submission.report.status.is_final() {
            return Ok(submission.report);
        }
        self.process(&BankContext::for_queued_job(ctx.bank_id()), submission.report.report_id).await
    }

    /// A report of the caller's bank.
    pub async fn report(&self, ctx: &BankContext, id: ReportId) -> Result<Report> {
        ctx.require(Permission::Ask)?;
        self.inner.stores.reports.get(ctx, id).await?.ok_or_else(|| Error::NotFound(format!("report {id}")))
    }

    /// The caller's reports, newest first.
    pub async fn reports(&self, ctx: &BankContext, limit: usize, cursor: Option<&str>) -> Result<ReportPage> {
        ctx.require(Permission::Ask)?;
        self.inner.stores.reports.list(ctx, limit.clamp(1, 500), cursor).await
    }

    /// Waits until a report has finished processing (or `timeout` passes) and returns it.
    pub async fn wait_for_report(
        &self,
        ctx: &BankContext,
        id: ReportId,
        timeout: Duration,
    ) -> Result<Report> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.completions.notified();
            let report = self
                .inner
                .stores
                .reports
                .get(ctx, id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("report {id}")))?;
            if report.status.is_final() || tokio::time::Instant::now() >= deadline {
                return Ok(report);
            }
            // Workers in other processes do not notify this one: poll as well.
            let _ = tokio::time::timeout(
                Duration::from_millis(200).min(deadline - tokio::time::Instant::now()),
                notified,
            )
            .await;
        }
    }

    /// Processes a queued report: parse, load, commit (or record why it failed). Finished
    /// reports are returned unchanged, so a redelivered job does nothing.
    pub async fn process(&self, ctx: &BankContext, id: ReportId) -> Result<Report> {
        let stores = &self.inner.stores;
        let mut report =
            stores.reports.get(ctx, id).await?.ok_or_else(|| Error::NotFound(format!("report {id}")))?;
        if report.status.is_final() {
            return Ok(report);
        }
        report.status = ReportStatus::Processing;
        stores.reports.update(ctx, &report).await?;
        let started = Instant::now();
        let profiles = stores.profiles.list(ctx).await?;
        let result = self.load(ctx, report, profiles).await;
        let t = &self.inner.telemetry;
        t.ingest_duration.observe(started.elapsed().as_secs_f64());
        if let Ok(r) = &result {
            t.ingest_reports.get_or_create(&StatusLabels { status: r.status.as_str().to_owned() }).inc();
            for (outcome, n) in [
                ("loaded", r.facts_loaded),
                ("rejected", r.rows_rejected),
                ("duplicate", r.duplicates_skipped),
                ("skipped", r.rows_skipped),
            ] {
                t.ingest_rows.get_or_create(&OutcomeLabels { outcome: outcome.to_owned() }).inc_by(n);
            }
            tracing::info!(report_id = %r.report_id, status = r.status.as_str(), rows = r.rows_total, loaded = r.facts_loaded, rejected = r.rows_rejected, duplicates = r.duplicates_skipped, "report processed");
            // Counted first: the report's final status is already visible to clients.
            let started = Instant::now();
            self.after_commit(ctx, r).await;
            tracing::debug!(report_id = %r.report_id, graph_index_ms = started.elapsed().as_millis() as u64, "report indexed");
        }
        self.inner.completions.notify_waiters();
        result
    }

    /// Parses the report's artifact (with the bank's mapping `profiles`) into a load and
    /// commits it, or marks the report failed.
    async fn load(
        &self,
        ctx: &BankContext,
        mut report: Report,
        profiles: Vec<MappingProfile>,
    ) -> Result<Report> {
        let stores = &self.inner.stores;
        let reader = self.inner.artifacts.reader(ctx, &report.sha256).await?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(2);
        let (key, for_parser) = (self.inner.key.clone(), report.clone());
        let parser = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let parsed =
                parse_report_with(reader, &for_parser, &key, &profiles, BATCH_SIZE, &mut ParsedSender(tx));
            (parsed, started.elapsed())
        });
        // The load begins once the columns are mapped, so the facts it stores as they arrive
        // carry the mapping's confidence.
        let mut load = None;
        let mut store_error = None;
        // Time spent storing batches (the parser works meanwhile): see the "report loaded" log.
        let mut storing = Duration::ZERO;
        while let Some(parsed) = rx.recv().await {
            let started = Instant::now();
            let step = match (parsed, &mut load) {
                (Parsed::Planned(confidence), None) => {
                    report.confidence = confidence;
                    stores.facts.begin_load(ctx, &report).await.map(|l| load = Some(l))
                }
                (Parsed::Batch(facts), Some(l)) => l.append(facts).await,
                _ => Err(Error::internal("the parser sent facts before its plan, or two plans")),
            };
            storing += started.elapsed();
            if let Err(e) = step {
                store_error = Some(e);
                break;
            }
        }
        drop(rx);
        let (parsed, parsing) = parser.await?;
        if let Some(e) = store_error {
            return Err(e);
        }
        // A rebuild keeps the original completion time.
        report.completed_at = report.completed_at.or(Some(Timestamp::now()));
        let summary: ParseSummary = match parsed {
            Ok(s) => s,
            Err(e) if e.kind().is_user_error() => return self.fail(ctx, report, e.to_string()).await,
            Err(e) => return Err(e),
        };
        let too_many_rejected = summary.too_many_rejected();
        report.rows_total = summary.rows_total;
        report.rows_rejected = summary.rows_rejected;
        report.rows_skipped = summary.rows_skipped;
        report.skipped = summary.skipped;
        report.errors = summary.errors;
        report.mapping = summary.mapping;
        report.confidence = summary.confidence;
        report.report_type = summary.report_type;
        report.structure = Some(summary.structure);
        report.controls = summary.controls;
        report.warnings = summary.warnings;
        report.profiles_applied = summary.profiles_applied;
        if too_many_rejected {
            let why = format!(
                "{} of {} rows were rejected (more than half of the {} card transactions), so nothing was loaded; see errors for the first {}",
                report.rows_rejected,
                report.rows_total,
                report.rows_total - report.rows_skipped,
                report.errors.len()
            );
            drop(load);
            return self.fail(ctx, report, why).await;
        }
        report.status = ReportStatus::Completed;
        let load = match load {
            Some(l) => l,
            None => stores.facts.begin_load(ctx, &report).await?,
        };
        let started = Instant::now();
        let (report, _) = load.commit(report).await?;
        tracing::debug!(
            report_id = %report.report_id,
            rows = report.rows_total,
            parse_ms = parsing.as_millis() as u64,
            store_ms = storing.as_millis() as u64,
            commit_ms = started.elapsed().as_millis() as u64,
            "report loaded"
        );
        Ok(report)
    }

    /// What follows a report's commit: its facts into the graph and its summary into the
    /// vector index (both idempotent).
    async fn after_commit(&self, ctx: &BankContext, report: &Report) {
        if report.status == ReportStatus::Completed {
            self.update_graph(ctx, report).await;
            self.index_report(ctx, report).await;
        }
    }

    async fn fail(&self, ctx: &BankContext, mut report: Report, why: String) -> Result<Report> {
        report.status = ReportStatus::Failed;
        report.completed_at = Some(Timestamp::now());
        report.facts_loaded = 0;
        report.duplicates_skipped = 0;
        report
            .errors
            .insert(0, RowError { row: 0, column: None, code: "report_failed".into(), message: why });
        report.errors.truncate(Report::MAX_ERRORS);
        self.inner.stores.reports.update(ctx, &report).await?;
        // Another worker may have finished the report first; its outcome stands.
        Ok(self.inner.stores.reports.get(ctx, report.report_id).await?.unwrap_or(report))
    }

    /// Merges the report's facts into the graph, page by page. Graph updates are idempotent,
    /// so a failure is logged and repaired by the next rebuild or reprocessing.
    async fn update_graph(&self, ctx: &BankContext, report: &Report) {
        let filter = FactFilter { report_id: Some(report.report_id), ..Default::default() };
        let mut after: Option<FactKey> = None;
        loop {
            let page = match self.inner.stores.facts.scan(ctx, &filter, after.as_ref(), BATCH_SIZE).await {
                Ok(p) => p,
                Err(e) => return self.graph_failed(e),
            };
            let Some(last) = page.last() else { return };
            after = Some(FactKey::of(last));
            let batch = GraphBatch::from_facts(&page);
            if let Err(e) = self.inner.stores.graph.upsert(ctx, &batch).await {
                return self.graph_failed(e);
            }
        }
    }

    /// Puts a summary of the report into the bank's vector index (for retrieval); idempotent
    /// by report id, logged and skipped on failure.
    async fn index_report(&self, ctx: &BankContext, report: &Report) {
        let text = format!(
            "Report {} ({} report) uploaded {}: {} facts loaded from {} rows, {} rows rejected, {} duplicates skipped.",
            report.filename.as_deref().unwrap_or("without a name"),
            report.report_type.as_str(),
            report.created_at.date(),
            report.facts_loaded,
            report.rows_total,
            report.rows_rejected,
            report.duplicates_skipped
        );
        let result = async {
            let vector = self.inner.embedder.embed(std::slice::from_ref(&text)).await?.remove(0);
            let metadata = std::collections::BTreeMap::from([
                ("kind".to_owned(), "report".to_owned()),
                ("report_id".to_owned(), report.report_id.to_string()),
                ("source".to_owned(), "reports".to_owned()),
            ]);
            self.inner
                .stores
                .vectors
                .upsert(
                    ctx,
                    vec![VectorDoc { id: format!("report:{}", report.report_id), vector, text, metadata }],
                )
                .await
        }
        .await;
        if let Err(e) = result {
            self.inner.telemetry.error(e.kind(), "vectors");
            tracing::warn!(error = %e, "indexing the report summary failed");
        }
    }

    fn graph_failed(&self, e: Error) {
        self.inner.telemetry.error(e.kind(), "graph");
        tracing::warn!(error = %e, "graph update failed; it is retried on the next rebuild");
    }

    /// Claims one job and processes it: the worker's single step.
    pub async fn run_next_job(&self, worker: &str, wait: Duration) -> Result<JobOutcome> {
        let jobs = &self.inner.stores.jobs;
        let Some(claimed) = jobs.claim(worker, wait).await? else {
            self.refresh_queue_gauge().await;
            return Ok(JobOutcome::Idle);
        };
        let ctx = claimed.job.context();
        // Renew the claim while the report loads, so no other worker takes it over.
        let heartbeat = async {
            loop {
                tokio::time::sleep(jobs.lease() / 3).await;
                if let Err(e) = jobs.extend(&claimed).await {
                    tracing::warn!(error = %e, "renewing the job's lease failed");
                }
            }
        };
        let processed = tokio::select! {
            processed = self.process(&ctx, claimed.job.report_id) => processed,
            never = heartbeat => never,
        };
        let outcome = match processed {
            Ok(report) => {
                jobs.complete(&claimed).await?;
                JobOutcome::Processed(Box::new(report))
            }
            Err(Error::NotFound(_)) => {
                jobs.complete(&claimed).await?;
                JobOutcome::Idle
            }
            Err(e) => {
                self.inner.telemetry.error(e.kind(), "ingest");
                let reason = e.to_string();
                match jobs.fail(&claimed, &reason).await? {
                    FailOutcome::Retry { .. } => {
                        self.requeue(&ctx, claimed.job.report_id).await;
                        JobOutcome::Retrying(reason)
                    }
                    FailOutcome::DeadLettered => {
                        // Alerted on: a report that will not load without someone looking at it.
                        self.inner.telemetry.error(e.kind(), "dead_letter");
                        if let Ok(Some(report)) =
                            self.inner.stores.reports.get(&ctx, claimed.job.report_id).await
                        {
                            let why =
                                format!("processing failed after {} attempts: {reason}", claimed.job.attempt);
                            self.fail(&ctx, report, why).await?;
                            self.inner.completions.notify_waiters();
                        }
                        JobOutcome::DeadLettered(reason)
                    }
                }
            }
        };
        self.refresh_queue_gauge().await;
        Ok(outcome)
    }

    /// Gives a claimed-but-unprocessed report back its `queued` status.
    async fn requeue(&self, ctx: &BankContext, id: ReportId) {
        if let Ok(Some(mut r)) = self.inner.stores.reports.get(ctx, id).await {
            if r.status == ReportStatus::Processing {
                r.status = ReportStatus::Queued;
                let _ = self.inner.stores.reports.update(ctx, &r).await;
            }
        }
    }

    async fn refresh_queue_gauge(&self) {
        if let Ok(n) = self.inner.stores.jobs.depth().await {
            self.inner.telemetry.jobs_in_queue.set(n as i64);
        }
    }

    /// Records that the worker `name` is alive and consuming the queue.
    pub async fn heartbeat(&self, name: &str) -> Result<()> {
        self.inner.stores.jobs.heartbeat(name).await
    }

    /// The workers consuming the queue and the oldest waiting job's age (also set as the
    /// `workers_live`, `jobs_oldest_waiting_seconds` and `jobs_in_queue` gauges).
    pub async fn queue_liveness(&self) -> Result<Liveness> {
        let liveness = self.inner.stores.jobs.liveness().await?;
        let t = &self.inner.telemetry;
        t.workers_live.set(liveness.live_workers as i64);
        t.jobs_oldest_waiting.set(liveness.oldest_waiting.map_or(0, |d| d.as_secs() as i64));
        self.refresh_queue_gauge().await;
        Ok(liveness)
    }

    /// Rebuilds embedded state after a restart: completed reports are loaded again from their
    /// artifacts in commit order; reports that were queued or processing are queued again.
    pub(super) async fn recover(&self, backend: &MemoryBackend) -> Result<()> {
        for report in backend.reports_with_status(ReportStatus::Completed) {
            let ctx = BankContext::for_queued_job(report.bank_id);
            // Read as it was read then: with the profiles of that time.
            let profiles = report.profiles_applied.clone();
            let reloaded = self.load(&ctx, report.clone(), profiles).await?;
            self.after_commit(&ctx, &reloaded).await;
            if reloaded.status != ReportStatus::Completed {
                tracing::error!(report_id = %report.report_id, "a completed report failed to load again at start-up");
                self.inner.telemetry.error(ErrorKind::Internal, "recovery");
            }
        }
        for status in [ReportStatus::Processing, ReportStatus::Queued] {
            for mut report in backend.reports_with_status(status) {
                let ctx = BankContext::for_queued_job(report.bank_id);
                report.status = ReportStatus::Queued;
                self.inner.stores.reports.update(&ctx, &report).await?;
                self.inner.stores.jobs.enqueue(Job::new(&ctx, report.report_id)).await?;
            }
        }
        self.refresh_queue_gauge().await;
        Ok(())
    }
}
