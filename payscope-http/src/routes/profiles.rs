//! `GET`/`POST /mapping-profiles` and `GET`/`PUT`/`DELETE /mapping-profiles/{profile_id}`:
//! a bank's saved mappings of file layouts.

use http::{Method, Request, StatusCode};
use hyper::body::Incoming;
use payscope_core::bank::BankContext;
use payscope_core::facts::ProfileDraft;
use payscope_core::Engine;
use serde_json::json;
use uuid::Uuid;

use crate::body;
use crate::error::ApiError;
use crate::reply::{ok_json, with_body, Handled};

/// The bank's profiles, or a new one.
pub async fn collection(engine: &Engine, ctx: &BankContext, req: Request<Incoming>) -> Handled {
    if req.method() == Method::POST {
        let (parts, body) = req.into_parts();
        let draft: ProfileDraft = body::json(&parts.headers, body).await?;
        return ok_json(StatusCode::CREATED, &engine.create_mapping_profile(ctx, draft).await?);
    }
    ok_json(StatusCode::OK, &json!({ "profiles": engine.mapping_profiles(ctx).await? }))
}

/// One profile: read, replace or delete.
pub async fn item(engine: &Engine, ctx: &BankContext, id: &str, req: Request<Incoming>) -> Handled {
    let id: Uuid = id.parse().map_err(|_| ApiError::invalid("profile_id must be a UUID"))?;
    match *req.method() {
        Method::PUT => {
            let (parts, body) = req.into_parts();
            let draft: ProfileDraft = body::json(&parts.headers, body).await?;
            ok_json(StatusCode::OK, &engine.update_mapping_profile(ctx, id, draft).await?)
        }
        Method::DELETE => {
            engine.delete_mapping_profile(ctx, id).await?;
            Ok(with_body(StatusCode::NO_CONTENT, "application/json", ""))
        }
        _ => ok_json(StatusCode::OK, &engine.mapping_profile(ctx, id).await?),
    }
}
