//! The OpenAPI 3.1 document of the API, served at `GET /openapi.json`. It is written by hand
//! next to the code; the integration tests check every route against it and every response
//! they receive against its schemas.

use http::StatusCode;

use crate::reply::{with_body, Handled};

/// The document.
pub const DOCUMENT: &str = include_str!("../openapi.json");

/// `GET /openapi.json`.
pub fn response() -> Handled {
    Ok(with_body(StatusCode::OK, "application/json", DOCUMENT))
}
