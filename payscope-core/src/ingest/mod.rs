//! Ingestion: report files (CSV, XLSX, JSON Lines) to canonical facts.
//!
//! - [`detect`]: format and text encoding from the bytes.
//! - [`table`]: CSV and XLSX as rows of text cells.
//! - [`mapping`]: header synonyms, fuzzy and value-shape matching, with recorded decisions.
//! - [`normalize`]: amounts, timestamps, flags and codes in every form reports use.
//! - [`pan`]: card-number detection, keyed tokenization, masking.
//! - [`pipeline`]: bytes to batches of facts, streaming.

pub mod detect;
pub mod mapping;
pub mod normalize;
pub mod pan;
pub mod pipeline;
mod row;
mod table;

pub use pipeline::{parse_report, FactSink, ParseSummary, BATCH_SIZE};
