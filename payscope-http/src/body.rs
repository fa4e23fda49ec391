//! Request bodies: JSON read whole under a 1 MiB limit, uploads streamed frame by frame.
//! Both cut off a client that goes quiet for longer than [`BODY_IDLE_TIMEOUT`].

use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use payscope_core::Error;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON request body.
pub const MAX_JSON_BYTES: u64 = 1 << 20;
/// Longest pause between two chunks of a body.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The declared `Content-Length`, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(http::header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The media type without parameters, lower-cased (`text/csv`).
pub fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
    Some(v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
}

/// The body as a stream of chunks, failing on an idle client or a broken connection.
pub fn stream(body: Incoming) -> impl Stream<Item = Result<Bytes, Error>> + Send + Unpin + 'static {
    let frames = http_body_util::BodyStream::new(body);
    Box::pin(futures::stream::unfold(frames, |mut frames| async move {
        loop {
            return match tokio::time::timeout(BODY_IDLE_TIMEOUT, frames.next()).await {
                Err(_) => Some((
                    Err(Error::invalid(
                        "invalid_request",
                        format!("the body stalled for more than {} s", BODY_IDLE_TIMEOUT.as_secs()),
                    )),
                    frames,
                )),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((
                    Err(Error::invalid("invalid_request", format!("the body could not be read: {e}"))),
                    frames,
                )),
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Some((Ok(data), frames)),
                    Err(_) => continue, // trailers
                },
            };
        }
    }))
}

/// Reads a JSON body of type `T`: `Content-Type: application/json`, at most
/// [`MAX_JSON_BYTES`], and no field `T` does not know.
pub async fn json<T: DeserializeOwned>(headers: &HeaderMap, body: Incoming) -> Result<T, ApiError> {
    match media_type(headers).as_deref() {
        Some("application/json") => {}
        Some(other) => {
            return Err(ApiError::media_type(format!("expected Content-Type application/json, got {other}")))
        }
        None => return Err(ApiError::media_type("Content-Type application/json is required")),
    }
    if content_length(headers).is_some_and(|n| n > MAX_JSON_BYTES) {
        return Err(ApiError::too_large(MAX_JSON_BYTES));
    }
    let limited = http_body_util::Limited::new(body, MAX_JSON_BYTES as usize);
    let bytes = match tokio::time::timeout(BODY_IDLE_TIMEOUT, limited.collect()).await {
        Err(_) => return Err(ApiError::invalid("the body was not received in time")),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(ApiError::too_large(MAX_JSON_BYTES))
        }
        Ok(Err(e)) => return Err(ApiError::invalid(format!("the body could not be read: {e}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))?;
    // serde would also read a struct from an array of its fields; the API takes objects only.
    if !value.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::invalid(format!("invalid request body: {e}")))
}
