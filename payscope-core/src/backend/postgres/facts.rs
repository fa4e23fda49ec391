//! `FactStore` on Postgres. A load is one transaction: each batch is copied (binary `COPY`)
//! into a temporary staging table and moved into `facts` as it arrives — a plain insert under
//! a savepoint, or `ON CONFLICT DO NOTHING` once a batch repeats stored facts (so reloading
//! never double-counts) — while the stored facts' sums are tallied in Rust. The commit fixes
//! fraud counting, adds the sums into the daily rollups (upserts into unique cells, so
//! existing days are updated in place), upserts merchants, bumps the bank's data version and
//! writes the report — all or nothing, the commit under a per-bank lock.
//!
//! Each released savepoint leaves a subtransaction id with the load's transaction; past 64 of
//! them, other sessions check its rows' visibility in `pg_subtrans`. Only the rows of a load
//! still in progress are affected, and those no reader sees anyway.

use std::collections::HashSet;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};

use super::copy::{encode, COPY_STAGING, CREATE_STAGING, STAGED_COLUMNS};
use super::metrics::{filter_sql, stage_index_sql, Params};
use super::tally::Tally;
use super::{db_error, dynamic, reports, PgBackend, Planner};
use crate::bank::{BankContext, BankId};
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::{CardToken, Country, EntryMode, Fact, Lineage, Network, Report, ReportId, Sha256, Stage};
use crate::money::{Currency, Money};
use crate::store::{FactFilter, FactKey, FactLoad, FactStats, FactStore, LoadOutcome};

/// The columns a fact is read back from.
pub(super) const FACT_COLUMNS: &str = "stage, transaction_id, (extract(epoch from occurred_at) * 1000)::bigint AS at_ms, \
    amount_minor, currency, network, response_code, approved, merchant_id, merchant_name, mcc, merchant_country, \
    issuer_country, issuer_bin, card_token, entry_mode, interchange_fee_minor, reason_code, fraud_reported, \
    report_id, artifact_sha256, source_row";

fn bad(what: &str) -> Error {
    Error::internal(format!("a stored fact has an unreadable {what}"))
}

/// A fact from a row selected with [`FACT_COLUMNS`].
pub(super) fn fact_of(row: &PgRow) -> Result<Fact> {
    let text = |c: &str| row.get::<Option<String>, _>(c);
    let stage: String = row.get("stage");
    let currency: String = row.get("currency");
    let currency = Currency::from_code(currency.trim()).ok_or_else(|| bad("currency"))?;
    Ok(Fact {
        transaction_id: row.get("transaction_id"),
        stage: Stage::parse(&stage).ok_or_else(|| bad("stage"))?,
        occurred_at: Timestamp(row.get("at_ms")),
        amount: Money::new(row.get("amount_minor"), currency),
        network: text("network").and_then(|n| Network::parse(&n)),
        response_code: text("response_code"),
        approved: row.get("approved"),
        merchant_id: text("merchant_id"),
        merchant_name: text("merchant_name"),
        mcc: text("mcc"),
        merchant_country: text("merchant_country").and_then(|c| Country::parse(&c)),
        issuer_country: text("issuer_country").and_then(|c| Country::parse(&c)),
        issuer_bin: text("issuer_bin"),
        card_token: text("card_token").and_then(|t| CardToken::parse_hex(&t)),
        entry_mode: text("entry_mode").and_then(|e| EntryMode::parse(&e)),
        interchange_fee: row.get("interchange_fee_minor"),
        reason_code: text("reason_code"),
        fraud_reported: row.get("fraud_reported"),
        lineage: Lineage {
            report_id: ReportId(row.get("report_id")),
            sha256: Sha256::parse_hex(row.get::<String, _>("artifact_sha256").trim())
                .ok_or_else(|| bad("sha256"))?,
            row: row.get::<i32, _>("source_row") as u32,
        },
    })
}

/// An open load: one transaction with a staging table. Each batch is written by a task of
/// its own while the next is encoded and the previous tallied, so Postgres is kept busy.
pub(super) struct PgLoad {
    backend: PgBackend,
    writer: Option<Writing>,
    staged: u64,
    tally: Tally,
}

/// The load's transaction: idle, or writing a batch in the background.
enum Writing {
    Idle(BatchWriter),
    Busy(tokio::task::JoinHandle<(BatchWriter, Result<Stored>)>, Vec<Fact>),
}

/// Which facts of a batch were stored.
enum Stored {
    All,
    Rows(HashSet<u32>),
}

/// Writes batches into `facts` within the load's transaction.
struct BatchWriter {
    tx: Transaction<'static, Postgres>,
    bank: BankId,
    report: ReportRef,
    /// A batch repeated stored facts: the rest of the load skips them row by row.
    skipping: bool,
}

/// What the load's facts share: their report, digest and the mapping's confidence.
struct ReportRef {
    id: ReportId,
    sha256: Sha256,
    confidence: f64,
}

/// Moves the staged batch into `facts`, in file order, with the load's bank and report.
/// Plain, a repeated fact fails the statement (which is cheaper than checking each row);
/// skipping, repeated facts are left out and the first of a file's repeats is kept.
fn store_batch(skipping: bool) -> String {
    let (order, conflict) =
        if skipping { (" ORDER BY source_row", " ON CONFLICT DO NOTHING") } else { ("", "") };
    format!(
        "INSERT INTO payscope.facts (bank_id, {STAGED_COLUMNS}, report_id, artifact_sha256, confidence)
         SELECT $1, {STAGED_COLUMNS}, $2, $3, $4 FROM load_staging{order}{conflict}"
    )
}

/// The rows of the staged batch that a skipping insert stored (asked only when it skipped
/// some): those whose stored fact is the staged row itself.
const STORED_ROWS: &str = "SELECT s.source_row FROM load_staging s
    JOIN payscope.facts f ON f.bank_id = $1 AND f.stage = s.stage AND f.transaction_id = s.transaction_id
   WHERE f.report_id = $2 AND f.source_row = s.source_row";

impl BatchWriter {
    /// Copies one encoded batch of `len` facts into staging and from there into `facts`.
    async fn write(mut self, payload: Vec<u8>, len: u64) -> (BatchWriter, Result<Stored>) {
        let stored = self.copy_and_store(payload, len).await;
        (self, stored)
    }

    async fn copy_and_store(&mut self, payload: Vec<u8>, len: u64) -> Result<Stored> {
        let mut copy = self.tx.copy_in_raw(COPY_STAGING).await.map_err(db_error)?;
        copy.send(payload).await.map_err(db_error)?;
        copy.finish().await.map_err(db_error)?;
        let n = self.store_staged().await?;
        let stored = if n == len {
            Stored::All
        } else if n == 0 {
            Stored::Rows(HashSet::new())
        } else {
            let rows: Vec<i32> = sqlx::query_scalar(STORED_ROWS)
                .bind(self.bank.as_uuid())
                .bind(self.report.id.0)
                .fetch_all(&mut *self.tx)
                .await
                .map_err(db_error)?;
            Stored::Rows(rows.into_iter().map(|r| r as u32).collect())
        };
        // Created in this transaction, the table is truncated in place.
        sqlx::query("TRUNCATE load_staging").execute(&mut *self.tx).await.map_err(db_error)?;
        Ok(stored)
    }

    /// Stores the staged batch; plain under a savepoint until a batch repeats stored facts,
    /// skipping from then on. Returns how many facts it stored.
    async fn store_staged(&mut self) -> Result<u64> {
        if !self.skipping {
            sqlx::raw_sql("SAVEPOINT load_batch").execute(&mut *self.tx).await.map_err(db_error)?;
            match self.store(false).await {
                Ok(n) => {
                    sqlx::raw_sql("RELEASE SAVEPOINT load_batch")
                        .execute(&mut *self.tx)
                        .await
                        .map_err(db_error)?;
                    return Ok(n);
                }
                Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505") => {
                    sqlx::raw_sql("ROLLBACK TO SAVEPOINT load_batch; RELEASE SAVEPOINT load_batch")
                        .execute(&mut *self.tx)
                        .await
                        .map_err(db_error)?;
                    self.skipping = true;
                }
                Err(e) => return Err(db_error(e)),
            }
        }
        self.store(true).await.map_err(db_error)
    }

    async fn store(&mut self, skipping: bool) -> sqlx::Result<u64> {
        let r = &self.report;
        Ok(sqlx::query(dynamic(store_batch(skipping)))
            .bind(self.bank.as_uuid())
            .bind(r.id.0)
            .bind(r.sha256.to_string())
            .bind(r.confidence as f32)
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }
}

impl PgLoad {
    /// Waits for the batch being written; returns the writer and that batch's facts with
    /// which of them were stored.
    async fn settle(&mut self) -> Result<(BatchWriter, Option<(Vec<Fact>, Stored)>)> {
        match self.writer.take() {
            Some(Writing::Idle(w)) => Ok((w, None)),
            Some(Writing::Busy(task, facts)) => {
                let (w, stored) = task.await?;
                let stored = stored?;
                Ok((w, Some((facts, stored))))
            }
            None => Err(Error::internal("a batch of this load failed before")),
        }
    }

    fn tally(&mut self, written: Option<(Vec<Fact>, Stored)>) {
        let Some((facts, mut stored)) = written else { return };
        for f in &facts {
            // A row number counts once, should a caller repeat one.
            let kept = match &mut stored {
                Stored::All => true,
                Stored::Rows(rows) => rows.remove(&f.lineage.row),
            };
            if kept {
                self.tally.stored(f);
            }
        }
    }
}

#[async_trait]
impl FactLoad for PgLoad {
    async fn append(&mut self, facts: Vec<Fact>) -> Result<()> {
        if facts.is_empty() {
            return Ok(());
        }
        let _t = self.backend.timer("load_copy");
        let payload = encode(&facts);
        let (writer, written) = self.settle().await?;
        let task = tokio::spawn(writer.write(payload, facts.len() as u64));
        self.staged += facts.len() as u64;
        for f in &facts {
            self.tally.seen(f);
        }
        self.writer = Some(Writing::Busy(task, facts));
        self.tally(written);
        Ok(())
    }

    async fn commit(mut self: Box<Self>, mut report: Report) -> Result<(Report, LoadOutcome)> {
        let (writer, written) = self.settle().await?;
        self.tally(written);
        let PgLoad { backend, staged, mut tally, .. } = *self;
        let BatchWriter { mut tx, bank, report: load, .. } = writer;
        if report.bank_id != bank || report.report_id != load.id {
            return Err(Error::internal("commit of a report other than the one being loaded"));
        }
        let _t = backend.timer("load_commit");
        let b = bank.as_uuid();
        // One commit per bank at a time: the fraud fix-up reads what the previous load wrote.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 7))")
            .bind(b.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        // Another worker committed this report first (its job was taken over): keep that.
        if let Some(done) = reports::stored(&mut tx, &report).await?.filter(|r| r.status.is_final()) {
            return Ok((done, LoadOutcome::default()));
        }
        if report.confidence != load.confidence {
            sqlx::query("UPDATE payscope.facts SET confidence = $3 WHERE bank_id = $1 AND report_id = $2")
                .bind(b)
                .bind(load.id.0)
                .bind(report.confidence as f32)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        // A transaction's fraud counts once: a fraud-reported AUTH fact stops counting when a
        // FRAUD fact of its transaction exists (stored before or in this load).
        let candidates = tally.take_fraud_transactions();
        if !candidates.is_empty() {
            let uncounted = sqlx::query(dynamic(format!(
                "UPDATE payscope.facts f SET fraud_counted = false
                  WHERE f.bank_id = $1 AND f.stage = 'AUTH' AND f.fraud_counted AND f.transaction_id = ANY($2)
                    AND EXISTS (SELECT 1 FROM payscope.facts g
                                 WHERE g.bank_id = $1 AND g.stage = 'FRAUD' AND g.transaction_id = f.transaction_id)
                RETURNING {FACT_COLUMNS}"
            )))
            .bind(b)
            .bind(candidates)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_error)?;
            for row in &uncounted {
                tally.uncounted(&fact_of(row)?);
            }
        }
        let loaded = tally.loaded();
        let version = tally.write(&mut tx, bank).await?;
        report.facts_loaded = loaded;
        report.duplicates_skipped = staged.saturating_sub(loaded);
        report.data_version = Some(version as u64);
        if reports::write(&mut tx, &report).await? == 0 {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        tx.commit().await.map_err(db_error)?;
        Ok((report, LoadOutcome { loaded, duplicates: staged.saturating_sub(loaded) }))
    }
}

#[async_trait]
impl FactStore for PgBackend {
    async fn begin_load(&self, ctx: &BankContext, report: &Report) -> Result<Box<dyn FactLoad>> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        sqlx::query(CREATE_STAGING).execute(&mut *tx).await.map_err(db_error)?;
        let report = ReportRef { id: report.report_id, sha256: report.sha256, confidence: report.confidence };
        Ok(Box::new(PgLoad {
            backend: self.clone(),
            writer: Some(Writing::Idle(BatchWriter { tx, bank: ctx.bank_id(), report, skipping: false })),
            staged: 0,
            tally: Tally::default(),
        }))
    }

    async fn scan(
        &self,
        ctx: &BankContext,
        filter: &FactFilter,
        after: Option<&FactKey>,
        limit: usize,
    ) -> Result<Vec<Fact>> {
        let _t = self.timer("fact_scan");
        let mut p = Params::new(ctx.bank_id());
        let mut sql = format!("SELECT {FACT_COLUMNS} FROM payscope.facts WHERE bank_id = $1");
        if let Some(r) = filter.range {
            sql += &format!(
                " AND occurred_at >= {} AND occurred_at < {}",
                p.timestamp(r.from),
                p.timestamp(r.to)
            );
        }
        if !filter.stages.is_empty() {
            let stages: Vec<String> = filter.stages.iter().map(|s| s.as_str().to_owned()).collect();
            sql += &format!(" AND stage = ANY({})", p.texts(stages));
        }
        if let Some(t) = &filter.transaction_id {
            sql += &format!(" AND transaction_id = {}", p.text(t.clone()));
        }
        if let Some(r) = filter.report_id {
            sql += &format!(" AND report_id = {}", p.uuid(r.0));
        }
        for f in &filter.filters {
            sql += &format!(" AND {}", filter_sql(&mut p, f, "")?);
        }
        let order = format!("(occurred_at, transaction_id COLLATE \"C\", {})", stage_index_sql("stage"));
        if let Some(k) = after {
            sql += &format!(
                " AND {order} > ({}, {} COLLATE \"C\", {})",
                p.timestamp(k.occurred_at),
                p.text(k.transaction_id.clone()),
                p.int(k.stage.index() as i64 + 1)
            );
        }
        sql += &format!(" ORDER BY {order} LIMIT {}", limit.min(i64::MAX as usize));
        let rows = self.fetch(ctx.bank_id(), sql, p, Planner::Default).await?;
        rows.iter().map(fact_of).collect()
    }

    async fn stats(&self, ctx: &BankContext) -> Result<FactStats> {
        let _t = self.timer("fact_stats");
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT data_version, facts_by_stage,
                            (extract(epoch from first_at) * 1000)::bigint AS first_ms,
                            (extract(epoch from last_at) * 1000)::bigint AS last_ms
                       FROM payscope.bank_state WHERE bank_id = $1",
                )
                .bind(*bank.as_uuid())
            })
            .await?;
        let Some(row) = rows.first() else { return Ok(FactStats::default()) };
        let counts: Vec<i64> = row.get("facts_by_stage");
        let mut by_stage = [0u64; 6];
        for (slot, n) in by_stage.iter_mut().zip(counts) {
            *slot = n.max(0) as u64;
        }
        Ok(FactStats {
            total: by_stage.iter().sum(),
            by_stage,
            first: row.get::<Option<i64>, _>("first_ms").map(Timestamp),
            last: row.get::<Option<i64>, _>("last_ms").map(Timestamp),
            data_version: row.get::<i64, _>("data_version") as u64,
        })
    }

    async fn clear(&self, ctx: &BankContext) -> Result<u64> {
        let _t = self.timer("fact_clear");
        let b = *ctx.bank_id().as_uuid();
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let n = sqlx::query("DELETE FROM payscope.facts WHERE bank_id = $1")
            .bind(b)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        for table in ["rollup_daily", "rollup_daily_totals", "merchants"] {
            sqlx::query(dynamic(format!("DELETE FROM payscope.{table} WHERE bank_id = $1")))
                .bind(b)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        sqlx::query(
            "UPDATE payscope.bank_state SET facts_by_stage = '{0,0,0,0,0,0}', first_at = NULL, last_at = NULL,
                    data_version = data_version + 1, updated_at = now()
              WHERE bank_id = $1",
        )
        .bind(b)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(n)
    }
}
