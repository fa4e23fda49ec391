//! `AuditLog` on Postgres: appends lock the bank's chain head (`audit_heads … FOR UPDATE`),
//! so one bank's answers are chained in order while other banks append in parallel. The
//! record is stored as the exact canonical bytes that were hashed; verification recomputes
//! every link from them.

use async_trait::async_trait;
use futures::TryStreamExt;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{db_error, retrying, PgBackend, Planner};
use crate::bank::BankContext;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::store::audit::{
    AnswerId, AuditEntry, AuditLog, AuditPage, AuditRecord, ChainVerification, ChainVerifier, TrailPage,
};

/// A stored entry, or what makes it unreadable.
fn entry_of(row: &PgRow) -> std::result::Result<AuditEntry, String> {
    let record: String = row.get("record");
    let hash = |c: &str| {
        Sha256::parse_hex(row.get::<String, _>(c).trim())
            .ok_or_else(|| format!("the stored {c} is unreadable"))
    };
    Ok(AuditEntry {
        seq: row.get::<i64, _>("seq") as u64,
        record: serde_json::from_str(&record).map_err(|e| format!("the stored record is unreadable: {e}"))?,
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

/// A bank's chain, in order.
const CHAIN: &str =
    "SELECT seq, record, prev_hash, hash FROM payscope.answers WHERE bank_id = $1 ORDER BY seq";

/// One round trip per answer: lock the bank's chain head, hash the canonical record onto it
/// (`sha256(prev_hash || record)`, the same bytes Rust hashes), store the answer and its
/// agent traces, move the head. No row when the bank has no chain yet.
const APPEND: &str = "WITH head AS (
        SELECT seq, hash FROM payscope.audit_heads WHERE bank_id = $1 FOR UPDATE),
    link AS (
        SELECT seq + 1 AS seq, hash AS prev_hash,
               encode(sha256(decode(hash, 'hex') || convert_to($10, 'UTF8')), 'hex') AS hash
          FROM head),
    answer AS (
        INSERT INTO payscope.answers
              (bank_id, answer_id, seq, created_at, intent, confidence, model, prompt_version, schema_version,
               record, prev_hash, hash, subject)
        SELECT $1, $2, seq, timestamptz 'epoch' + $3 * interval '1 millisecond', $4, $5, $6, $7, $8, $10,
               prev_hash, hash, $11
          FROM link),
    traces AS (
        INSERT INTO payscope.agent_traces (bank_id, answer_id, agent, status, duration_ms, trace)
        SELECT $1, $2, coalesce(t->>'agent', 'unknown'), coalesce(t->>'status', 'unknown'),
               CASE WHEN jsonb_typeof(t->'duration_ms') = 'number' THEN (t->>'duration_ms')::float8 END, t
          FROM link, jsonb_array_elements($9::jsonb) t
        ON CONFLICT DO NOTHING),
    moved AS (
        UPDATE payscope.audit_heads h SET seq = link.seq, hash = link.hash FROM link WHERE h.bank_id = $1)
    SELECT seq, prev_hash, hash FROM link";

#[async_trait]
impl AuditLog for PgBackend {
    async fn append(&self, ctx: &BankContext, record: AuditRecord) -> Result<AuditEntry> {
        let _t = self.timer("audit_append");
        let bank = *ctx.bank_id().as_uuid();
        let canonical = String::from_utf8(record.canonical_bytes()).map_err(Error::internal)?;
        let mut body = record.body.value();
        let traces = match body.get_mut("agent_traces").map(serde_json::Value::take) {
            Some(traces) if traces.is_array() => traces,
            _ => serde_json::Value::Array(Vec::new()),
        };
        let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let link = || {
            sqlx::query(APPEND)
                .bind(bank)
                .bind(record.answer_id.0)
                .bind(record.created_at.0)
                .bind(text("intent"))
                .bind(body.get("confidence").and_then(|v| v.as_f64()))
                .bind(text("model"))
                .bind(body.get("prompt_versions").map(|v| v.to_string()))
                .bind(body.get("schema_version").map(|v| v.to_string()))
                .bind(&traces)
                .bind(&canonical)
                .bind(record.asked_by.as_ref().map(|c| c.subject.as_str()))
        };
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let mut row = link().fetch_optional(&mut *tx).await.map_err(db_error)?;
        if row.is_none() {
            // The bank's first answer: start its chain, then append.
            sqlx::query(
                "INSERT INTO payscope.audit_heads (bank_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
            )
            .bind(bank)
            .bind(Sha256([0; 32]).to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            row = link().fetch_optional(&mut *tx).await.map_err(db_error)?;
        }
        let row = row.ok_or_else(|| Error::internal("the audit chain head is missing"))?;
        let hash = |c: &str| {
            Sha256::parse_hex(row.get::<String, _>(c).trim())
                .ok_or_else(|| Error::internal("stored audit head is unreadable"))
        };
        let entry = AuditEntry {
            seq: row.get::<i64, _>("seq") as u64,
            prev_hash: hash("prev_hash")?,
            hash: hash("hash")?,
            record,
        };
        // Postgres computed the link; it must be the one verification will recompute, or
        // nothing is committed.
        if AuditEntry::chain_hash_of(&entry.prev_hash, canonical.as_bytes()) != entry.hash {
            return Err(Error::internal("postgres hashed an audit record differently from PayScope"));
        }
        tx.commit().await.map_err(db_error)?;
        Ok(entry)
    }

    async fn get(&self, ctx: &BankContext, answer_id: AnswerId) -> Result<Option<AuditEntry>> {
        let _t = self.timer("audit_get");
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT seq, record, prev_hash, hash FROM payscope.answers WHERE bank_id = $1 AND answer_id = $2",
                )
                .bind(*bank.as_uuid())
                .bind(answer_id.0)
            })
            .await?;
        let row = rows.first();
        row.map(|row| entry_of(row).map_err(Error::internal)).transpose()
    }

    async fn verify(&self, ctx: &BankContext) -> Result<ChainVerification> {
        let _t = self.timer("audit_verify");
        // Streamed, one link kept at a time: a chain of millions of answers is not loaded whole.
        retrying(|| async {
            let mut tx = self.begin(ctx.bank_id(), Planner::Default).await?;
            let mut rows = sqlx::query(CHAIN).bind(*ctx.bank_id().as_uuid()).fetch(&mut *tx);
            let mut verifier = ChainVerifier::default();
            while let Some(row) = rows.try_next().await? {
                match entry_of(&row) {
                    Ok(entry) => {
                        if let Some(broken) = verifier.check(&entry) {
                            return Ok(broken);
                        }
                    }
                    // An unreadable record is a broken link, not an error of the check itself.
                    Err(reason) => return Ok(verifier.unreadable(reason)),
                }
            }
            Ok(verifier.finish())
        })
        .await
    }

    async fn entries_page(&self, ctx: &BankContext, from: Option<u64>, limit: usize) -> Result<AuditPage> {
        let _t = self.timer("audit_export");
        // The cursor is the last seq of the previous page.
        let after = from.map_or(0, |seq| seq.min(i64::MAX as u64) as i64);
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT seq, record, prev_hash, hash FROM payscope.answers
                     WHERE bank_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                )
                .bind(*bank.as_uuid())
                .bind(after)
                .bind(limit as i64)
            })
            .await?;
        let entries: Vec<AuditEntry> =
            rows.iter().map(|row| entry_of(row).map_err(Error::internal)).collect::<Result<_>>()?;
        let next = entries.last().filter(|_| entries.len() == limit).map(|e| e.seq);
        Ok(AuditPage { entries, next })
    }

    async fn recent(&self, ctx: &BankContext, page: TrailPage<'_>) -> Result<AuditPage> {
        let _t = self.timer("audit_trail");
        // The cursor is the first seq of the previous (newer) page.
        let before = page.before.map_or(i64::MAX, |seq| seq.min(i64::MAX as u64) as i64);
        let bank = ctx.bank_id();
        let rows = self
            .read(bank, Planner::Default, || {
                sqlx::query(
                    "SELECT seq, record, prev_hash, hash FROM payscope.answers
                     WHERE bank_id = $1 AND seq < $2 AND ($3::text IS NULL OR subject = $3)
                     ORDER BY seq DESC LIMIT $4",
                )
                .bind(*bank.as_uuid())
                .bind(before)
                .bind(page.subject)
                .bind(page.limit as i64)
            })
            .await?;
        let entries: Vec<AuditEntry> =
            rows.iter().map(|row| entry_of(row).map_err(Error::internal)).collect::<Result<_>>()?;
        let next = entries.last().filter(|_| entries.len() == page.limit).map(|e| e.seq);
        Ok(AuditPage { entries, next })
    }
}
