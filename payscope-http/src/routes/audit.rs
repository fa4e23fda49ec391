//! `GET /audit/answers` (the trail), `GET /audit/answers/{answer_id}`, `GET /audit/verify` and
//! `POST /audit/export`.

use http::StatusCode;
use payscope_core::bank::BankContext;
use payscope_core::store::audit::{AuditEntry, TrailPage};
use payscope_core::Engine;
use serde_json::{json, Value};

use super::params;
use crate::error::ApiError;
use crate::reply::{ok_json, Handled};

/// The caller's bank's trail, newest first: `?limit=` (1–500, default 50), `?cursor=` (an
/// earlier page's `next_cursor`) and `?subject=` (only what that subject asked).
pub async fn trail(engine: &Engine, ctx: &BankContext, query: Option<&str>) -> Handled {
    let pairs = params(query, &["limit", "cursor", "subject"])?;
    let mut page = TrailPage { before: None, limit: 50, subject: None };
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => {
                page.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
                    .ok_or_else(|| ApiError::invalid("`limit` must be a number from 1 to 500"))?
            }
            "cursor" => {
                page.before = Some(v.parse().map_err(|_| {
                    ApiError::invalid("`cursor` must be the `next_cursor` of an earlier page")
                })?)
            }
            _ if v.is_empty() || v.len() > 256 => {
                return Err(ApiError::invalid("`subject` must be 1 to 256 characters"))
            }
            _ => page.subject = Some(v.as_str()),
        }
    }
    let got = engine.audit_trail(ctx, page).await?;
    let answers: Vec<Value> = got.entries.iter().map(trail_line).collect();
    ok_json(StatusCode::OK, &json!({ "answers": answers, "next_cursor": got.next.map(|n| n.to_string()) }))
}

/// One entry as the trail lists it: who asked what, how it was understood, when; the full
/// trace is `GET /audit/answers/{answer_id}`.
fn trail_line(entry: &AuditEntry) -> Value {
    let body = entry.record.body.value();
    let pick = |pointer: &str| body.pointer(pointer).cloned().unwrap_or(Value::Null);
    json!({
        "answer_id": entry.record.answer_id,
        "seq": entry.seq,
        "created_at": entry.record.created_at,
        "asked_by": entry.record.asked_by,
        "question": pick("/question"),
        "interpretation": pick("/interpretation/text"),
        "intent": pick("/intent"),
        "confidence": pick("/confidence"),
        "summary": pick("/summary"),
        "event": pick("/event"),
    })
}

/// The full trace of one answer of the caller's bank.
pub async fn answer(engine: &Engine, ctx: &BankContext, id: &str) -> Handled {
    let id = id.parse().map_err(|_| ApiError::invalid("answer_id must be a UUID"))?;
    ok_json(StatusCode::OK, &engine.audit_entry(ctx, id).await?)
}

/// Verifies the caller's bank's hash chain.
pub async fn verify(engine: &Engine, ctx: &BankContext) -> Handled {
    ok_json(StatusCode::OK, &engine.verify_audit(ctx).await?)
}

/// Writes the caller's bank's chain to the backups store (the body, if any, is ignored).
pub async fn export(engine: &Engine, ctx: &BankContext) -> Handled {
    ok_json(StatusCode::OK, &engine.export_audit(ctx).await?)
}
