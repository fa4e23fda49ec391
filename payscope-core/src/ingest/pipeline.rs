//! Bytes to canonical facts: detect the format, read the file's structure (sections, headers,
//! metadata, totals), map and plan each transaction table, then stream its rows through the
//! compiled [`RowPlan`](super::row::RowPlan) into bounded batches. Memory stays at one batch,
//! the header sample and any summary rows kept for control totals, whatever the file's size
//! (XLSX, a zip archive, is read whole).
//!
//! This runs on a blocking thread; the caller's `sink` receives each batch (and typically
//! forwards it to a store load on the async side).

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use super::detect::{detect, utf8_reader, Format, SNIFF_BYTES};
use super::document::Document;
use super::network::{base2, ipm};
use super::pan::PanKey;
use super::rows::default_threads;
use super::table::{sniff_delimiter, CsvTable, SheetTable, XlsxSheets};
use crate::error::{Error, Result};
use crate::facts::{
    Control, Fact, MappingDecision, MappingProfile, Report, ReportType, RowError, SkipCount, Structure,
};
use crate::money::Currency;

/// Facts per batch handed to the sink.
pub const BATCH_SIZE: usize = 8192;

/// Rows of a reason counted apart in [`ParseSummary::skipped`]; further reasons are pooled.
const MAX_SKIP_REASONS: usize = 64;

/// What parsing found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseSummary {
    /// The file's format.
    pub format: Format,
    /// Data rows of the transaction tables (facts + duplicates + rejected + skipped).
    pub rows_total: u64,
    /// Rows rejected with an error.
    pub rows_rejected: u64,
    /// Rows that are not card transactions.
    pub rows_skipped: u64,
    /// Skipped rows by reason.
    pub skipped: Vec<SkipCount>,
    /// The first [`Report::MAX_ERRORS`] row errors.
    pub errors: Vec<RowError>,
    /// Column mapping decisions (and the stage, date-order and approval decisions).
    pub mapping: Vec<MappingDecision>,
    /// Confidence the facts carry.
    pub confidence: f64,
    /// The report type, declared or inferred (`auto` when rows carry their own stage).
    pub report_type: ReportType,
    /// The file's structure.
    pub structure: Structure,
    /// Control totals the file states, checked against its rows.
    pub controls: Vec<Control>,
    /// Things a person should know (an unread table, a profile applied).
    pub warnings: Vec<String>,
    /// The mapping profiles tables were read with.
    pub profiles_applied: Vec<MappingProfile>,
}

impl ParseSummary {
    /// True when more than half the rows that are transactions were rejected (the report
    /// then fails).
    pub fn too_many_rejected(&self) -> bool {
        let considered = self.rows_total - self.rows_skipped.min(self.rows_total);
        considered > 0 && self.rows_rejected * 2 > considered
    }
}

/// Where parsed facts go. A closure that takes batches is a sink.
pub trait FactSink {
    /// Called once the columns are mapped, before the first batch, with the confidence every
    /// fact of the file carries (so a store can write facts as they arrive).
    fn planned(&mut self, _confidence: f64) -> Result<()> {
        Ok(())
    }

    /// Receives the next batch of facts, in file order.
    fn batch(&mut self, facts: Vec<Fact>) -> Result<()>;

    /// Called once every line is read, with the file's structure — also when no table could
    /// be loaded (a preview shows it beside the error).
    fn structure(&mut self, _structure: &Structure) {}
}

impl<F: FnMut(Vec<Fact>) -> Result<()>> FactSink for F {
    fn batch(&mut self, facts: Vec<Fact>) -> Result<()> {
        self(facts)
    }
}

/// Counts rows and batches facts for the sink.
pub(crate) struct Collector<'a> {
    sink: &'a mut dyn FactSink,
    batch: Vec<Fact>,
    batch_size: usize,
    planned: bool,
    pub rows_total: u64,
    pub rows_rejected: u64,
    pub rows_skipped: u64,
    skipped: BTreeMap<String, u64>,
    pub errors: Vec<RowError>,
}

impl<'a> Collector<'a> {
    pub fn new(sink: &'a mut dyn FactSink, batch_size: usize) -> Self {
        Collector {
            sink,
            batch: Vec::with_capacity(batch_size),
            batch_size,
            planned: false,
            rows_total: 0,
            rows_rejected: 0,
            rows_skipped: 0,
            skipped: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// Tells the sink the facts' confidence, once, before the first fact.
    pub fn planned(&mut self, confidence: f64) -> Result<()> {
        if !self.planned {
            self.planned = true;
            self.sink.planned(confidence)?;
        }
        Ok(())
    }

    pub fn fact(&mut self, f: Fact) -> Result<()> {
        self.rows_total += 1;
        self.batch.push(f);
        if self.batch.len() >= self.batch_size {
            self.sink.batch(std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size)))?;
        }
        Ok(())
    }

    pub fn reject(&mut self, e: RowError) {
        self.rows_total += 1;
        self.rows_rejected += 1;
        if self.errors.len() < Report::MAX_ERRORS {
            self.errors.push(e);
        }
    }

    pub fn skip(&mut self, reason: String) {
        self.rows_total += 1;
        self.rows_skipped += 1;
        let reason = if self.skipped.len() < MAX_SKIP_REASONS || self.skipped.contains_key(&reason) {
            reason
        } else {
            "other reasons".to_owned()
        };
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Hands the sink the file's structure.
    pub fn structure(&mut self, s: &Structure) {
        self.sink.structure(s);
    }

    /// Sends the last batch.
    pub fn flush(&mut self) -> Result<()> {
        if !self.batch.is_empty() {
            self.sink.batch(std::mem::take(&mut self.batch))?;
        }
        Ok(())
    }

    /// Skipped rows by reason, most first.
    pub fn skipped(&self) -> Vec<SkipCount> {
        let mut v: Vec<SkipCount> = self
            .skipped
            .iter()
            .map(|(reason, rows)| SkipCount { reason: reason.clone(), rows: *rows })
            .collect();
        v.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.reason.cmp(&b.reason)));
        v
    }
}

/// The currency the upload declared for rows without one, checked.
pub(crate) fn declared_currency(report: &Report) -> Result<Option<Currency>> {
    match report.currency.as_deref() {
        Some(c) => Currency::parse_any(c).map(Some).ok_or_else(|| {
            Error::invalid("unknown_currency", format!("currency `{c}` is not an ISO 4217 currency"))
        }),
        None => Ok(None),
    }
}

/// Parses a report file, streaming facts to `sink` in batches of `batch_size`.
pub fn parse_report(
    input: impl Read + Send + 'static,
    report: &Report,
    key: &PanKey,
    batch_size: usize,
    sink: &mut dyn FactSink,
) -> Result<ParseSummary> {
    parse_report_with(input, report, key, &[], batch_size, sink)
}

/// [`parse_report`] with the bank's mapping profiles: a table whose header fingerprint
/// matches one is read with its mapping (the upload's own mapping overrides win).
pub fn parse_report_with(
    input: impl Read + Send + 'static,
    report: &Report,
    key: &PanKey,
    profiles: &[MappingProfile],
    batch_size: usize,
    sink: &mut dyn FactSink,
) -> Result<ParseSummary> {
    parse_on(input, report, key, profiles, batch_size, default_threads(), sink)
}

/// [`parse_report_with`] reading a table's rows on `threads` threads (the outcome is the same
/// on any number).
pub(crate) fn parse_on(
    mut input: impl Read + Send + 'static,
    report: &Report,
    key: &PanKey,
    profiles: &[MappingProfile],
    batch_size: usize,
    threads: usize,
    sink: &mut dyn FactSink,
) -> Result<ParseSummary> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut input).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let detected = detect(&head)?;
    // Detection read a network file's framing; the reader needs it again.
    let framing = (ipm::sniff(&head), base2::sniff(&head));
    let collector = Collector::new(sink, batch_size);
    let whole = Cursor::new(head).chain(input);
    match detected.format {
        Format::Csv => {
            let mut text = utf8_reader(whole, detected.encoding);
            let mut sniff = Vec::with_capacity(SNIFF_BYTES);
            (&mut text).take(SNIFF_BYTES as u64).read_to_end(&mut sniff)?;
            let delimiter = sniff_delimiter(&String::from_utf8_lossy(&sniff));
            let mut table = CsvTable::new(Box::new(Cursor::new(sniff).chain(text)), delimiter);
            let mut doc = Document::new(report, key, profiles, collector, Format::Csv, threads);
            doc.delimiter(delimiter);
            doc.read(&mut table)?;
            doc.finish(|| {
                Error::Unprocessable("the file has no header row (no line with two or more columns)".into())
            })
        }
        Format::Xlsx => {
            let mut bytes = Vec::new();
            { whole }.read_to_end(&mut bytes)?;
            let book = XlsxSheets::open(bytes)?;
            let names: Vec<String> = book.sheets.iter().map(|(n, _, _)| n.clone()).collect();
            let mut doc = Document::new(report, key, profiles, collector, Format::Xlsx, threads);
            for (_, first_row, rows) in book.sheets {
                doc.read(&mut SheetTable::new(first_row, rows))?;
                doc.end_part()?;
            }
            doc.finish(|| {
                Error::Unprocessable(format!(
                    "no sheet has a header row with known column names (sheets: {})",
                    names.join(", ")
                ))
            })
        }
        Format::Jsonl => super::jsonl::parse(utf8_reader(whole, detected.encoding), report, key, collector),
        Format::Ipm | Format::Base2 => match framing {
            (Some(f), _) => ipm::parse(whole, f, report, key, collector),
            (None, Some(f)) => base2::parse(whole, f, report, key, collector),
            (None, None) => Err(Error::Unprocessable("the network file's framing cannot be read".into())),
        },
    }
}
