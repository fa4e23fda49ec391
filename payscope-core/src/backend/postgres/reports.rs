//! `ReportStore` on Postgres: the status document as `jsonb`, the per-bank sequence from
//! `bank_state`, deduplication by `(bank_id, sha256)`.

use async_trait::async_trait;
use sqlx::Row;

use super::{db_error, PgBackend, Planner};
use crate::bank::BankContext;
use crate::error::{Error, Result};
use crate::facts::{Report, ReportId};
use crate::store::{Registered, ReportPage, ReportStore};

pub(super) fn document(r: &Report) -> Result<serde_json::Value> {
    serde_json::to_value(r).map_err(Error::internal)
}

pub(super) fn from_document(v: serde_json::Value) -> Result<Report> {
    serde_json::from_value(v).map_err(|e| Error::internal(format!("stored report is unreadable: {e}")))
}

fn time(t: Option<crate::calendar::Timestamp>) -> Option<String> {
    t.map(|t| t.to_string())
}

/// Writes a report's status columns and document; a final status is never changed (see
/// `ReportStore::update`). Returns the rows written: 0 when the report is missing or already
/// final with another status.
pub(super) async fn write(conn: &mut sqlx::PgConnection, r: &Report) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE payscope.reports
            SET status = $3, report_type = $4, completed_at = $5::timestamptz, document = $6
          WHERE bank_id = $1 AND report_id = $2
            AND (status NOT IN ('completed', 'failed') OR status = $3)",
    )
    .bind(r.bank_id.as_uuid())
    .bind(r.report_id.0)
    .bind(r.status.as_str())
    .bind(r.report_type.as_str())
    .bind(time(r.completed_at))
    .bind(document(r)?)
    .execute(conn)
    .await
    .map_err(db_error)?;
    Ok(done.rows_affected())
}

/// The stored version of a report, locked until the transaction ends.
pub(super) async fn stored(conn: &mut sqlx::PgConnection, r: &Report) -> Result<Option<Report>> {
    sqlx::query("SELECT document FROM payscope.reports WHERE bank_id = $1 AND report_id = $2 FOR UPDATE")
        .bind(r.bank_id.as_uuid())
        .bind(r.report_id.0)
        .fetch_optional(conn)
        .await
        .map_err(db_error)?
        .map(|row| from_document(row.get("document")))
        .transpose()
}

#[async_trait]
impl ReportStore for PgBackend {
    async fn register(&self, ctx: &BankContext, mut report: Report) -> Result<Registered> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::internal("register of another bank's report"));
        }
        let _t = self.timer("report_register");
        let existing = |tx: sqlx::postgres::PgRow| from_document(tx.get("document"));
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let found = sqlx::query("SELECT document FROM payscope.reports WHERE bank_id = $1 AND sha256 = $2")
            .bind(ctx.bank_id().as_uuid())
            .bind(report.sha256.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        if let Some(row) = found {
            return Ok(Registered::Duplicate(existing(row)?));
        }
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO payscope.bank_state (bank_id, report_seq) VALUES ($1, 1)
             ON CONFLICT (bank_id) DO UPDATE SET report_seq = payscope.bank_state.report_seq + 1, updated_at = now()
             RETURNING report_seq",
        )
        .bind(ctx.bank_id().as_uuid())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        report.seq = seq as u64;
        let inserted = sqlx::query(
            "INSERT INTO payscope.reports (bank_id, report_id, seq, sha256, status, report_type, created_at, document)
             VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $8)
             ON CONFLICT (bank_id, sha256) DO NOTHING",
        )
        .bind(ctx.bank_id().as_uuid())
        .bind(report.report_id.0)
        .bind(seq)
        .bind(report.sha256.to_string())
        .bind(report.status.as_str())
        .bind(report.report_type.as_str())
        .bind(report.created_at.to_string())
        .bind(document(&report)?)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 0 {
            // A concurrent upload of the same bytes won the race.
            tx.rollback().await.map_err(db_error)?;
            let mut tx = self.bank_tx(ctx.bank_id()).await?;
            let row = sqlx::query("SELECT document FROM payscope.reports WHERE bank_id = $1 AND sha256 = $2")
                .bind(ctx.bank_id().as_uuid())
                .bind(report.sha256.to_string())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
            return Ok(Registered::Duplicate(existing(row)?));
        }
        tx.commit().await.map_err(db_error)?;
        Ok(Registered::New(report))
    }

    async fn get(&self, ctx: &BankContext, id: ReportId) -> Result<Option<Report>> {
        let _t = self.timer("report_get");
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query("SELECT document FROM payscope.reports WHERE bank_id = $1 AND report_id = $2")
                    .bind(*bank.as_uuid())
                    .bind(id.0)
            })
            .await?;
        let row = rows.into_iter().next();
        row.map(|r| from_document(r.get("document"))).transpose()
    }

    async fn list(&self, ctx: &BankContext, limit: usize, cursor: Option<&str>) -> Result<ReportPage> {
        let before: i64 = match cursor {
            None => i64::MAX,
            // A report's `seq`, as the memory backend reads it (no sign).
            Some(c) => c
                .parse::<u64>()
                .ok()
                .and_then(|seq| i64::try_from(seq).ok())
                .ok_or_else(|| Error::invalid("invalid_request", "cursor is not valid"))?,
        };
        let _t = self.timer("report_list");
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT document FROM payscope.reports WHERE bank_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                )
                .bind(*bank.as_uuid())
                .bind(before)
                .bind(limit as i64 + 1)
            })
            .await?;
        let mut reports =
            rows.into_iter().map(|r| from_document(r.get("document"))).collect::<Result<Vec<_>>>()?;
        let more = reports.len() > limit;
        reports.truncate(limit);
        let next_cursor = if more { reports.last().map(|r| r.seq.to_string()) } else { None };
        Ok(ReportPage { reports, next_cursor })
    }

    async fn update(&self, ctx: &BankContext, report: &Report) -> Result<()> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        let _t = self.timer("report_update");
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        if write(&mut tx, report).await? == 0 && stored(&mut tx, report).await?.is_none() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        tx.commit().await.map_err(db_error)
    }

    async fn reopen(&self, ctx: &BankContext, report: &Report) -> Result<bool> {
        if report.bank_id != ctx.bank_id() {
            return Err(Error::NotFound(format!("report {}", report.report_id)));
        }
        let _t = self.timer("report_reopen");
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let done = sqlx::query(
            "UPDATE payscope.reports
                SET status = $3, report_type = $4, completed_at = NULL, document = $5
              WHERE bank_id = $1 AND report_id = $2 AND status = 'failed'",
        )
        .bind(report.bank_id.as_uuid())
        .bind(report.report_id.0)
        .bind(report.status.as_str())
        .bind(report.report_type.as_str())
        .bind(document(report)?)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(done.rows_affected() == 1)
    }
}
