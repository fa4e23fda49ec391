//! PayScope's HTTP API (docs/http-api.md): a thin hyper server around [`payscope_core::Engine`].
//!
//! - [`server`]: the accept loop (HTTP/1.1 + HTTP/2, timeouts, graceful shutdown).
//! - [`app`]: request ids, routing, metrics and the access log around every handler.
//! - [`auth`]: bearer JWTs verified against the configured public key → `BankContext`.
//! - `routes`: one module per resource; `body`: JSON and streamed upload bodies.
//! - [`openapi`]: the OpenAPI 3.1 document served at `/openapi.json`.
//! - [`reply`]: the responses handlers build (one floor below `app` and the routes).
//! - [`demo`]: `--demo` — embedded stores, an ephemeral key, two banks of generated data.
//! - [`console`]: the analysts' web console served at `/` (static page, module and stylesheet).
//! - [`logging`]: JSON log lines.

pub mod app;
pub mod auth;
mod body;
pub mod console;
pub mod demo;
pub mod error;
pub mod logging;
pub mod openapi;
pub mod overload;
pub mod reply;
mod routes;
pub mod server;

pub use app::App;
pub use auth::Authenticator;
pub use server::{serve, shutdown_signal};
