//! The HTTP API over real TCP: one integration-test binary (see `support` for the harness).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod api;
mod auth;
mod console;
mod limits;
mod mappings;
mod ops;
mod overload;
mod query;
mod spec;
mod support;
