//! The engine's error type: user errors (bad input, not found, forbidden) that map to 4xx,
//! and internal errors (a store is down, a bug) that map to 5xx and never leak details.

use std::fmt;

/// Result alias used across the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which side of the line an error falls on; the HTTP crate maps it to a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request or file is malformed (400).
    InvalidInput,
    /// The caller is not allowed to do this (403).
    Forbidden,
    /// The thing asked for does not exist for this bank (404).
    NotFound,
    /// The body is larger than allowed (413).
    PayloadTooLarge,
    /// The content type or file format is not supported (415).
    UnsupportedMediaType,
    /// The request conflicts with what is stored (409).
    Conflict,
    /// The report is understood but cannot be loaded (422).
    Unprocessable,
    /// A dependency (database, queue, object store) is down (503).
    Unavailable,
    /// The disk under the data directory is full (507).
    StorageFull,
    /// A bug or an unexpected state (500).
    Internal,
}

impl ErrorKind {
    /// True for errors the caller caused.
    pub fn is_user_error(self) -> bool {
        !matches!(self, ErrorKind::Unavailable | ErrorKind::StorageFull | ErrorKind::Internal)
    }
}

/// The engine's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Malformed input; `code` is a stable snake_case identifier.
    #[error("{message}")]
    InvalidInput {
        /// Stable error code.
        code: &'static str,
        /// What was wrong and where.
        message: String,
    },
    /// The caller lacks a permission.
    #[error("{0}")]
    Forbidden(String),
    /// Nothing with this id exists for the caller's bank.
    #[error("{0} not found")]
    NotFound(String),
    /// The body exceeds a size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The content is of a type the engine does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The report cannot be loaded (missing required columns, too many bad rows).
    #[error("{0}")]
    Unprocessable(String),
    /// The request conflicts with stored state (a second mapping profile for one layout).
    #[error("{0}")]
    Conflict(String),
    /// A dependency is unreachable or failing.
    #[error("{dependency} unavailable: {reason}")]
    Unavailable {
        /// Which dependency (`postgres`, `redis`, `object_store`, ...).
        dependency: &'static str,
        /// A short reason, safe to show.
        reason: String,
    },
    /// The disk a store writes to is full: nothing of the request was kept, and it succeeds
    /// once space is freed.
    #[error("the data directory's disk is full ({0}): nothing from this request was kept; free space, then send it again")]
    StorageFull(String),
    /// An unexpected internal failure; the message is logged, never returned to a client.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidInput`].
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidInput { code, message: message.into() }
    }

    /// Shorthand for [`Error::Internal`] from anything displayable.
    pub fn internal(message: impl fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }

    /// Shorthand for [`Error::Unavailable`].
    pub fn unavailable(dependency: &'static str, reason: impl fmt::Display) -> Self {
        Error::Unavailable { dependency, reason: reason.to_string() }
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. } => ErrorKind::InvalidInput,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::PayloadTooLarge(_) => ErrorKind::PayloadTooLarge,
            Error::UnsupportedMediaType(_) => ErrorKind::UnsupportedMediaType,
            Error::Unprocessable(_) => ErrorKind::Unprocessable,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::StorageFull(_) => ErrorKind::StorageFull,
            Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable snake_case code a client sees (docs/http-api.md).
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidInput { code, .. } => code,
            Error::Forbidden(_) => "forbidden",
            Error::NotFound(_) => "not_found",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::UnsupportedMediaType(_) => "unsupported_media_type",
            Error::Unprocessable(_) => "unprocessable_report",
            Error::Conflict(_) => "conflict",
            Error::Unavailable { .. } => "dependency_unavailable",
            Error::StorageFull(_) => "insufficient_storage",
            Error::Internal(_) => "internal_error",
        }
    }

    /// The message a client may see: internal details are replaced by a generic line.
    pub fn public_message(&self) -> String {
        match self {
            Error::Internal(_) => "internal error".to_owned(),
            Error::Unavailable { dependency, .. } => format!("{dependency} is unavailable, retry later"),
            other => other.to_string(),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        match disk_full(&e) {
            Some(full) => full,
            None => Error::Internal(format!("i/o: {e}")),
        }
    }
}

/// [`Error::StorageFull`] when `e`, or an error it wraps, is a full disk or an exhausted quota.
fn disk_full(e: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded) {
                return Some(Error::StorageFull(io.to_string()));
            }
        }
        next = e.source();
    }
    None
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        if let Some(full) = disk_full(&e) {
            return full;
        }
        match e {
            object_store::Error::NotFound { path, .. } => Error::NotFound(format!("object {path}")),
            other => Error::unavailable("object_store", other),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Internal(format!("json: {e}"))
    }
}

impl From<tokio::task::JoinError> for Error {
    fn from(e: tokio::task::JoinError) -> Self {
        Error::Internal(format!("background task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_its_own_error_however_deep_it_is_wrapped() {
        let full = || std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert_eq!(Error::from(full()).code(), "insufficient_storage");
        let wrapped = object_store::Error::Generic { store: "LocalFileSystem", source: Box::new(full()) };
        let e = Error::from(wrapped);
        assert_eq!((e.kind(), e.code()), (ErrorKind::StorageFull, "insufficient_storage"));
        assert!(e.to_string().contains("free space, then send it again"), "{e}");
        assert!(!e.kind().is_user_error());
        let other = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(Error::from(other).kind(), ErrorKind::Internal);
    }

    #[test]
    fn internal_details_never_reach_clients() {
        let e = Error::internal("pool at 10.0.0.3:5432 returned garbage");
        assert_eq!(e.public_message(), "internal error");
        assert!(!e.kind().is_user_error());
        let e = Error::invalid("invalid_amount", "row 3: amount `abc` is not a number");
        assert_eq!(e.code(), "invalid_amount");
        assert!(e.kind().is_user_error());
    }
}
