//! Ingestion: report files (CSV, XLSX, JSON Lines) to canonical facts.

pub mod pan;
