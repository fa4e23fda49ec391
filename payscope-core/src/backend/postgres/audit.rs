//! `AuditLog` on Postgres: appends lock the bank's chain head (`audit_heads … FOR UPDATE`),
//! so one bank's answers are chained in order while other banks append in parallel. The
//! record is stored as the exact canonical bytes that were hashed; verification recomputes
//! every link from them.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::Row;

use super::{db_error, PgBackend};
use crate::bank::BankContext;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::store::audit::{
    verify_chain, AnswerId, AuditEntry, AuditLog, AuditRecord, BrokenLink, ChainVerification,
};

fn entry_of(row: &PgRow) -> Result<AuditEntry> {
    let record: String = row.get("record");
    let hash = |c: &str| {
        Sha256::parse_hex(row.get::<String, _>(c).trim())
            .ok_or_else(|| Error::internal("stored audit hash is unreadable"))
    };
    Ok(AuditEntry {
        seq: row.get::<i64, _>("seq") as u64,
        record: serde_json::from_str(&record)
            .map_err(|e| Error::internal(format!("stored audit record is unreadable: {e}")))?,
        prev_hash: hash("prev_hash")?,
        hash: hash("hash")?,
    })
}

#[async_trait]
impl AuditLog for PgBackend {
    async fn append(&self, ctx: &BankContext, record: AuditRecord) -> Result<AuditEntry> {
        let _t = self.timer("audit_append");
        let bank = *ctx.bank_id().as_uuid();
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        sqlx::query(
            "INSERT INTO payscope.audit_heads (bank_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT DO NOTHING",
        )
        .bind(bank)
        .bind(Sha256([0; 32]).to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let head = sqlx::query("SELECT seq, hash FROM payscope.audit_heads WHERE bank_id = $1 FOR UPDATE")
            .bind(bank)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let seq = head.get::<i64, _>("seq") as u64;
        let prev_hash = Sha256::parse_hex(head.get::<String, _>("hash").trim())
            .ok_or_else(|| Error::internal("stored audit head is unreadable"))?;
        let hash = AuditEntry::chain_hash(&prev_hash, &record);
        let entry = AuditEntry { seq: seq + 1, record, prev_hash, hash };
        let body = &entry.record.body;
        let text = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        let canonical = String::from_utf8(entry.record.canonical_bytes()).map_err(Error::internal)?;
        sqlx::query(
            "INSERT INTO payscope.answers
                  (bank_id, answer_id, seq, created_at, intent, confidence, model, prompt_version, schema_version,
                   record, prev_hash, hash)
             VALUES ($1, $2, $3, timestamptz 'epoch' + $4 * interval '1 millisecond', $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(bank)
        .bind(entry.record.answer_id.0)
        .bind(entry.seq as i64)
        .bind(entry.record.created_at.0)
        .bind(text("intent"))
        .bind(body.get("confidence").and_then(|v| v.as_f64()))
        .bind(text("model"))
        .bind(body.get("prompt_versions").map(|v| v.to_string()))
        .bind(body.get("schema_version").map(|v| v.to_string()))
        .bind(canonical)
        .bind(entry.prev_hash.to_string())
        .bind(entry.hash.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        if let Some(traces) = body.get("agent_traces").and_then(|v| v.as_array()) {
            for t in traces {
                sqlx::query(
                    "INSERT INTO payscope.agent_traces (bank_id, answer_id, agent, status, duration_ms, trace)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(bank)
                .bind(entry.record.answer_id.0)
                .bind(t.get("agent").and_then(|v| v.as_str()).unwrap_or("unknown"))
                .bind(t.get("status").and_then(|v| v.as_str()).unwrap_or("unknown"))
                .bind(t.get("duration_ms").and_then(|v| v.as_f64()))
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            }
        }
        sqlx::query("UPDATE payscope.audit_heads SET seq = $2, hash = $3 WHERE bank_id = $1")
            .bind(bank)
            .bind(entry.seq as i64)
            .bind(entry.hash.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(entry)
    }

    async fn get(&self, ctx: &BankContext, answer_id: AnswerId) -> Result<Option<AuditEntry>> {
        let _t = self.timer("audit_get");
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let row = sqlx::query(
            "SELECT seq, record, prev_hash, hash FROM payscope.answers WHERE bank_id = $1 AND answer_id = $2",
        )
        .bind(ctx.bank_id().as_uuid())
        .bind(answer_id.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        row.as_ref().map(entry_of).transpose()
    }

    async fn verify(&self, ctx: &BankContext) -> Result<ChainVerification> {
        let _t = self.timer("audit_verify");
        let rows = self.chain_rows(ctx).await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            match entry_of(row) {
                Ok(e) => entries.push(e),
                // An unreadable record is a broken link, not an error of the check itself.
                Err(_) => {
                    let checked = verify_chain(&entries);
                    if !checked.ok {
                        return Ok(checked);
                    }
                    let seq = row.get::<i64, _>("seq") as u64;
                    return Ok(ChainVerification {
                        ok: false,
                        records: seq,
                        first_broken: Some(BrokenLink {
                            seq,
                            answer_id: None,
                            reason: "unreadable record".into(),
                        }),
                    });
                }
            }
        }
        Ok(verify_chain(&entries))
    }

    async fn entries(&self, ctx: &BankContext) -> Result<Vec<AuditEntry>> {
        let _t = self.timer("audit_export");
        self.chain_rows(ctx).await?.iter().map(entry_of).collect()
    }
}

impl PgBackend {
    /// Every row of the bank's chain, in order.
    async fn chain_rows(&self, ctx: &BankContext) -> Result<Vec<PgRow>> {
        let mut tx = self.bank_tx(ctx.bank_id()).await?;
        let rows = sqlx::query(
            "SELECT seq, record, prev_hash, hash FROM payscope.answers WHERE bank_id = $1 ORDER BY seq",
        )
        .bind(ctx.bank_id().as_uuid())
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(rows)
    }
}
