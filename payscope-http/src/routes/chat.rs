//! `POST /chat/query` (a question in words) and `POST /query` (a typed query).

use http::{Request, StatusCode};
use hyper::body::Incoming;
use payscope_core::bank::BankContext;
use payscope_core::query::{Query, TypedQuery};
use payscope_core::Engine;

use crate::body;
use crate::reply::{with_body, Handled};

/// Answers a question (docs/questions.md).
pub async fn query(engine: &Engine, ctx: &BankContext, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let query: Query = body::json(&parts.headers, body).await?;
    let json = engine.ask_json(ctx, query).await?;
    Ok(with_body(StatusCode::OK, "application/json", json))
}

/// Answers a typed query (docs/query.md): the same answer JSON, no language involved.
pub async fn typed(engine: &Engine, ctx: &BankContext, req: Request<Incoming>) -> Handled {
    let (parts, body) = req.into_parts();
    let query: TypedQuery = body::json(&parts.headers, body).await?;
    let json = engine.query_json(ctx, &query).await?;
    Ok(with_body(StatusCode::OK, "application/json", json))
}
