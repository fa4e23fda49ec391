//! payscope-core's integration tests: one binary (builds are slow on two cores: one link, not one per file) with the shared
//! conformance suites and their instantiation for each backend.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod ask;
mod conformance;
pub mod eval;
mod fixtures;
mod ingest;
mod layouts;
mod llm;
mod logs;
mod mappings;
mod memory;
mod naive;
#[cfg(feature = "neo4j")]
mod neo4j;
mod network;
mod phenomena;
#[cfg(feature = "pinecone")]
mod pinecone;
mod planted;
#[cfg(feature = "postgres")]
mod postgres;
pub mod real;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "postgres")]
mod services;
mod worker;
