//! `GET /audit/answers/{answer_id}`, `GET /audit/verify` and `POST /audit/export`.

use http::StatusCode;
use payscope_core::bank::BankContext;
use payscope_core::Engine;

use crate::error::ApiError;
use crate::reply::{ok_json, Handled};

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
