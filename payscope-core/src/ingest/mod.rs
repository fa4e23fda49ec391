//! Ingestion: report files (CSV, XLSX, JSON Lines, IPM, Base II) to canonical facts.
//!
//! - [`detect`]: format and text encoding from the bytes.
//! - `network`: the card networks' clearing files (Mastercard IPM, Visa Base II).
//! - `table`: CSV and XLSX as rows of text cells, with their line numbers.
//! - `layout` and `document`: a file's structure (wrappers, metadata, titles, sections with
//!   their own headers, summary rows, totals) and the reading of its tables.
//! - `vocabulary`: the words headers are made of, in several languages.
//! - [`mapping`]: which column holds which field (header words, value checks, value shapes,
//!   overrides), every decision recorded; `values` holds the value checks.
//! - `plan`, `stage`, `kinds`, `approval`: how a mapped table's rows become facts (time and
//!   date order, amounts, each row's stage and skip reasons, approval conventions).
//! - `row`: the compiled per-table plan, row → fact, skip or row error.
//! - `rows`: a table's rows read in blocks on every core, handed back in file order.
//! - `controls`: a file's own totals checked against its rows.
//! - [`normalize`]: amounts, timestamps, zones, flags and codes in every form reports use.
//! - [`pan`]: card-number detection, keyed tokenization, masking.
//! - [`profiles`]: mapping profiles saved per bank, matched by header fingerprint.
//! - [`pipeline`]: bytes to batches of facts, streaming.
//! - [`preview`]: a file read as an upload would read it, nothing stored.

mod approval;
mod controls;
pub mod detect;
mod document;
mod jsonl;
mod kinds;
mod layout;
pub mod mapping;
mod network;
pub mod normalize;
pub mod pan;
pub mod pipeline;
mod plan;
pub mod preview;
pub mod profiles;
mod row;
mod rows;
mod stage;
mod table;
mod values;
mod vocabulary;

pub(crate) use network::ebcdic;
pub use pipeline::{parse_report, parse_report_with, FactSink, ParseSummary, BATCH_SIZE};
pub use profiles::fingerprint;
