//! PayScope's engine: it turns card-network reports into exact canonical facts, metrics, a
//! graph and a search index, and answers a bank analyst's questions with numbers that are
//! correct to the cent, explained, audited, and never visible to another bank.
//!
//! # Layout
//!
//! - [`bank`]: tenancy — [`BankId`](bank::BankId), roles and the [`BankContext`](bank::BankContext)
//!   every store call is scoped by.
//! - [`money`]: ISO 4217 currencies and exact integer [`Money`](money::Money).
//! - [`calendar`]: UTC timestamps, dates and half-open ranges.
//! - [`facts`]: the canonical fact, report and lineage types (docs/ingestion.md).
//! - [`store`]: one async trait per storage capability, the metric semantic layer and the
//!   measures all backends share.
//! - [`backend`]: implementations — the embedded [`memory`](backend::memory) backend always.
//! - [`ingest`]: report files to canonical facts (formats, header mapping, normalization, PAN safety).
//! - [`synth`]: seeded synthetic multi-bank data (feature `synth`, on by default).
//! - [`query`]: questions to answers — time expressions, the lexicon and parser, the plan,
//!   the answer and its grounding.
//! - [`agents`]: one agent per kind of analysis (metrics, trend, compare, breakdown, root cause,
//!   anomaly, forecast, what-if, reconcile, fraud, disputes, graph, retrieval, narrative).
//! - [`llm`]: the optional language model and the embedder.
//! - [`engine`]: the [`Engine`] — the entry point for ingesting reports and answering questions.
//! - [`telemetry`]: Prometheus metrics of docs/operations.md.
//! - [`worker`]: the ingestion worker loop.
//! - [`config`]: every environment variable, parsed once.
//! - [`error`]: user vs internal errors.

pub mod agents;
pub mod backend;
pub mod bank;
pub mod calendar;
pub mod config;
pub mod engine;
pub mod error;
pub mod facts;
mod http_client;
pub mod ingest;
pub mod llm;
pub mod money;
pub mod query;
pub mod store;
#[cfg(feature = "synth")]
pub mod synth;
pub mod telemetry;
pub mod worker;

pub use bank::{BankContext, BankId, Role};
pub use engine::{Engine, EngineOptions, Stores};
pub use error::{Error, ErrorKind, Result};
