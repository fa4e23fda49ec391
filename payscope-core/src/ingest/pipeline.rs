//! Bytes to canonical facts: detect the format, find the header row, map the columns, then
//! stream the rows through the compiled [`RowPlan`] into bounded batches. Memory stays at one
//! batch plus the header sample, whatever the file's size (XLSX, a zip archive, is read whole).
//!
//! This runs on a blocking thread; the caller's `sink` receives each batch (and typically
//! forwards it to a store load on the async side).

use std::io::{BufRead, BufReader, Cursor, Read};

use csv::StringRecord;

use super::detect::{detect, utf8_reader, Format, SNIFF_BYTES};
use super::mapping::{header_score, map_columns, ColumnMap};
use super::pan::PanKey;
use super::row::RowPlan;
use super::table::{sniff_delimiter, CsvTable, Next, SheetTable, Table, XlsxSheets};
use crate::error::{Error, Result};
use crate::facts::{Fact, MappingDecision, Report, ReportType, RowError, Stage};

/// Rows examined to find the header.
const HEADER_SEARCH_ROWS: usize = 20;
/// Rows after the header sampled for value-shape inference and decimal style.
const SAMPLE_ROWS: usize = 200;
/// Facts per batch handed to the sink.
pub const BATCH_SIZE: usize = 8192;

/// What parsing found.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseSummary {
    /// The file's format.
    pub format: Format,
    /// Data rows (blank and summary rows excluded).
    pub rows_total: u64,
    /// Rows rejected with an error.
    pub rows_rejected: u64,
    /// The first [`Report::MAX_ERRORS`] row errors.
    pub errors: Vec<RowError>,
    /// Column mapping decisions (and the stage decision).
    pub mapping: Vec<MappingDecision>,
    /// Confidence the facts carry.
    pub confidence: f64,
    /// The report type, declared or inferred (`auto` when rows carry their own stage).
    pub report_type: ReportType,
}

impl ParseSummary {
    /// True when more than half the rows were rejected (the report then fails).
    pub fn too_many_rejected(&self) -> bool {
        self.rows_total > 0 && self.rows_rejected * 2 > self.rows_total
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
}

impl<F: FnMut(Vec<Fact>) -> Result<()>> FactSink for F {
    fn batch(&mut self, facts: Vec<Fact>) -> Result<()> {
        self(facts)
    }
}

struct Collector<'a> {
    sink: &'a mut dyn FactSink,
    batch: Vec<Fact>,
    batch_size: usize,
    rows_total: u64,
    rows_rejected: u64,
    errors: Vec<RowError>,
}

impl Collector<'_> {
    fn fact(&mut self, f: Fact) -> Result<()> {
        self.rows_total += 1;
        self.batch.push(f);
        if self.batch.len() >= self.batch_size {
            self.sink.batch(std::mem::replace(&mut self.batch, Vec::with_capacity(self.batch_size)))?;
        }
        Ok(())
    }

    fn planned(&mut self, plan: &RowPlan) -> Result<()> {
        self.sink.planned(plan.confidence)
    }

    fn reject(&mut self, e: RowError) {
        self.rows_total += 1;
        self.rows_rejected += 1;
        if self.errors.len() < Report::MAX_ERRORS {
            self.errors.push(e);
        }
    }

    fn finish(
        mut self,
        format: Format,
        mapping: Vec<MappingDecision>,
        confidence: f64,
        report_type: ReportType,
    ) -> Result<ParseSummary> {
        if !self.batch.is_empty() {
            self.sink.batch(std::mem::take(&mut self.batch))?;
        }
        Ok(ParseSummary {
            format,
            rows_total: self.rows_total,
            rows_rejected: self.rows_rejected,
            errors: self.errors,
            mapping,
            confidence,
            report_type,
        })
    }
}

/// Parses a report file, streaming facts to `sink` in batches of `batch_size`.
pub fn parse_report(
    mut input: impl Read + Send + 'static,
    report: &Report,
    key: &PanKey,
    batch_size: usize,
    sink: &mut dyn FactSink,
) -> Result<ParseSummary> {
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    (&mut input).take(SNIFF_BYTES as u64).read_to_end(&mut head)?;
    let detected = detect(&head)?;
    let collector = Collector {
        sink,
        batch: Vec::with_capacity(batch_size),
        batch_size,
        rows_total: 0,
        rows_rejected: 0,
        errors: Vec::new(),
    };
    let whole = Cursor::new(head).chain(input);
    match detected.format {
        Format::Csv => {
            let mut text = utf8_reader(whole, detected.encoding);
            let mut sniff = Vec::with_capacity(SNIFF_BYTES);
            (&mut text).take(SNIFF_BYTES as u64).read_to_end(&mut sniff)?;
            let delimiter = sniff_delimiter(&String::from_utf8_lossy(&sniff));
            let mut table = CsvTable::new(Box::new(Cursor::new(sniff).chain(text)), delimiter);
            parse_table(&mut table, Format::Csv, report, key, collector)
        }
        Format::Xlsx => {
            let mut bytes = Vec::new();
            { whole }.read_to_end(&mut bytes)?;
            let book = XlsxSheets::open(bytes)?;
            let names: Vec<String> = book.sheets.iter().map(|(n, _)| n.clone()).collect();
            for (_, rows) in book.sheets {
                let mut table = SheetTable::new(rows);
                match find_header(&mut table)? {
                    Some(found) => return tabular(&mut table, found, Format::Xlsx, report, key, collector),
                    None => continue,
                }
            }
            Err(Error::Unprocessable(format!(
                "no sheet has a header row with known column names (sheets: {})",
                names.join(", ")
            )))
        }
        Format::Jsonl => parse_jsonl(utf8_reader(whole, detected.encoding), report, key, collector),
    }
}

/// Rows read while looking for the header: the header itself and what follows it.
struct Found {
    header: StringRecord,
    buffered: Vec<StringRecord>,
}

/// Reads up to [`HEADER_SEARCH_ROWS`] rows and picks the header: the first row with at least
/// two known column names, else the first row with at least two non-empty cells. Title rows
/// above it are skipped.
fn find_header(table: &mut dyn Table) -> Result<Option<Found>> {
    let mut rows = Vec::new();
    let mut rec = StringRecord::new();
    while rows.len() < HEADER_SEARCH_ROWS {
        match table.next(&mut rec) {
            Next::Row => rows.push(rec.clone()),
            Next::Bad(_) => rows.push(StringRecord::new()),
            Next::End => break,
        }
    }
    let filled = |r: &StringRecord| r.iter().filter(|c| !c.trim().is_empty()).count();
    let pick =
        rows.iter().position(|r| header_score(r) >= 2).or_else(|| rows.iter().position(|r| filled(r) >= 2));
    Ok(pick.map(|i| {
        let mut rest = rows.split_off(i);
        let header = rest.remove(0);
        Found { header, buffered: rest }
    }))
}

fn parse_table(
    table: &mut dyn Table,
    format: Format,
    report: &Report,
    key: &PanKey,
    collector: Collector<'_>,
) -> Result<ParseSummary> {
    match find_header(table)? {
        Some(found) => tabular(table, found, format, report, key, collector),
        None => {
            Err(Error::Unprocessable("the file has no header row (no line with two or more columns)".into()))
        }
    }
}

/// True for rows that are not data: all blank, or a totals line under the table.
fn is_filler(rec: &StringRecord) -> bool {
    let Some(first) = rec.iter().map(str::trim).find(|c| !c.is_empty()) else {
        return true;
    };
    // Data rows start with an id, which never begins with these words.
    if !first.as_bytes()[0].is_ascii_alphabetic() {
        return false;
    }
    ["total", "grand total", "subtotal", "sum", "count", "end of report", "records"].iter().any(|w| {
        first.split_at_checked(first.len().min(w.len())).is_some_and(|(head, rest)| {
            head.eq_ignore_ascii_case(w)
                && (rest.is_empty() || rest.starts_with(':') || rest.starts_with(' '))
        })
    })
}

fn tabular(
    table: &mut dyn Table,
    found: Found,
    format: Format,
    report: &Report,
    key: &PanKey,
    mut c: Collector<'_>,
) -> Result<ParseSummary> {
    let Found { header, mut buffered } = found;
    let mut rec = StringRecord::new();
    let mut bad_rows: Vec<(usize, String)> = Vec::new();
    while buffered.len() < SAMPLE_ROWS {
        match table.next(&mut rec) {
            Next::Row => buffered.push(rec.clone()),
            Next::Bad(why) => {
                bad_rows.push((buffered.len(), why));
                buffered.push(StringRecord::new());
            }
            Next::End => break,
        }
    }
    let sample: Vec<StringRecord> =
        buffered.iter().filter(|r| !is_filler(r)).take(SAMPLE_ROWS).cloned().collect();
    let map: ColumnMap = map_columns(&header, &sample);
    let mut plan = RowPlan::build(&map, &sample, report, key)?;
    c.planned(&plan)?;
    let mut mapping = map.decisions.clone();
    mapping.extend(plan.stage_decision.clone());
    let mut row: u32 = 0;
    let mut handle =
        |rec: &StringRecord, bad: Option<String>, plan: &mut RowPlan, c: &mut Collector<'_>| -> Result<()> {
            row += 1;
            if let Some(why) = bad {
                c.reject(RowError { row, column: None, code: "unreadable_row".into(), message: why });
                return Ok(());
            }
            if is_filler(rec) {
                return Ok(());
            }
            match plan.fact(rec, row) {
                Ok(f) => c.fact(f),
                Err(e) => {
                    c.reject(e);
                    Ok(())
                }
            }
        };
    for (i, r) in buffered.iter().enumerate() {
        let bad = bad_rows.iter().find(|(j, _)| *j == i).map(|(_, w)| w.clone());
        handle(r, bad, &mut plan, &mut c)?;
    }
    loop {
        match table.next(&mut rec) {
            Next::Row => handle(&rec, None, &mut plan, &mut c)?,
            Next::Bad(why) => handle(&rec, Some(why), &mut plan, &mut c)?,
            Next::End => break,
        }
    }
    let report_type = match report.report_type.stage().or_else(|| inferred_stage(&mapping)) {
        Some(s) => ReportType::for_stage(s),
        None => ReportType::Auto,
    };
    c.finish(format, mapping, plan.confidence, report_type)
}

fn inferred_stage(mapping: &[MappingDecision]) -> Option<Stage> {
    mapping.iter().find_map(|d| d.field.strip_prefix("stage=").and_then(Stage::parse))
}

/// The canonical columns a JSON Lines fact is laid out in before the shared row plan reads it.
const JSONL_COLUMNS: [&str; 21] = [
    "transaction_id",
    "stage",
    "occurred_at",
    "amount",
    "amount_minor",
    "currency",
    "network",
    "response_code",
    "approved",
    "merchant_id",
    "merchant_name",
    "mcc",
    "merchant_country",
    "issuer_country",
    "issuer_bin",
    "card_number",
    "card_token",
    "entry_mode",
    "interchange_fee_minor",
    "reason_code",
    "fraud_reported",
];

/// Lays a JSON fact out as a row of [`JSONL_COLUMNS`].
fn json_row(v: &serde_json::Value, rec: &mut StringRecord) -> std::result::Result<(), String> {
    let obj = v.as_object().ok_or("the line is not a JSON object")?;
    let text = |k: &str| -> String {
        match obj.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Bool(b)) => {
                if *b {
                    "1".into()
                } else {
                    "0".into()
                }
            }
            Some(other) => other.to_string(),
        }
    };
    let (amount, amount_minor, currency) = match obj.get("amount") {
        Some(serde_json::Value::Object(m)) => {
            let minor = m
                .get("minor")
                .and_then(serde_json::Value::as_i64)
                .ok_or("amount.minor must be an integer")?;
            let cur = m
                .get("currency")
                .and_then(serde_json::Value::as_str)
                .ok_or("amount.currency must be a code")?;
            (String::new(), minor.to_string(), cur.to_owned())
        }
        _ => (text("amount"), text("amount_minor"), text("currency")),
    };
    let approved = match obj.get("approved") {
        Some(serde_json::Value::Bool(b)) => if *b { "approved" } else { "declined" }.to_owned(),
        _ => text("approved"),
    };
    let pan = if obj.contains_key("pan") { text("pan") } else { text("card_number") };
    let fee = if obj.contains_key("interchange_fee") {
        text("interchange_fee")
    } else {
        text("interchange_fee_minor")
    };
    rec.clear();
    for col in JSONL_COLUMNS {
        let v = match col {
            "amount" => amount.clone(),
            "amount_minor" => amount_minor.clone(),
            "currency" => currency.clone(),
            "approved" => approved.clone(),
            "card_number" => pan.clone(),
            "interchange_fee_minor" => fee.clone(),
            other => text(other),
        };
        rec.push_field(&v);
    }
    Ok(())
}

fn parse_jsonl(
    input: Box<dyn Read + Send>,
    report: &Report,
    key: &PanKey,
    mut c: Collector<'_>,
) -> Result<ParseSummary> {
    let header = StringRecord::from(JSONL_COLUMNS.to_vec());
    let map = map_columns(&header, &[]);
    // Amounts in JSON Lines are decimal text or minor units; the plan needs an amount column.
    let mut plan = RowPlan::build(&map, &[], report, key)?;
    c.planned(&plan)?;
    let mut mapping = map.decisions.clone();
    mapping.extend(plan.stage_decision.clone());
    let mut rec = StringRecord::new();
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let mut line = String::new();
    let mut row = 0u32;
    loop {
        line.clear();
        let n = match reader.read_line(&mut line) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                row += 1;
                c.reject(RowError {
                    row,
                    column: None,
                    code: "unreadable_row".into(),
                    message: "the line is not valid UTF-8".into(),
                });
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        row += 1;
        let parsed = serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| format!("the line is not valid JSON ({})", json_error_kind(&e)))
            .and_then(|v| json_row(&v, &mut rec));
        match parsed {
            Ok(()) => match plan.fact(&rec, row) {
                Ok(f) => c.fact(f)?,
                Err(e) => c.reject(e),
            },
            Err(why) => c.reject(RowError { row, column: None, code: "invalid_json".into(), message: why }),
        }
    }
    let report_type = report.report_type;
    c.finish(Format::Jsonl, mapping, plan.confidence, report_type)
}

fn json_error_kind(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "truncated line",
    }
}
