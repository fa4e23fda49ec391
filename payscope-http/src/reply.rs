//! The responses handlers build: a body with its content type, JSON, and the error response.
//! One floor below the routes and the request handler, which both use them.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::error::ApiError;

/// A response with a complete body.
pub type HttpResponse = Response<Full<Bytes>>;
/// What handlers return.
pub type Handled = Result<HttpResponse, ApiError>;

/// A JSON response.
pub fn ok_json(status: StatusCode, body: &impl Serialize) -> Handled {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        tracing::error!(error = %e, "response serialization failed");
        ApiError::internal()
    })?;
    Ok(with_body(status, "application/json", bytes))
}

/// A response with a content type and body.
pub fn with_body(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> HttpResponse {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The response for an error.
pub fn error_response(e: &ApiError) -> HttpResponse {
    let mut response = with_body(e.status, "application/json", e.body().to_string());
    if e.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    if let Some(seconds) = e.retry_after {
        response.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
