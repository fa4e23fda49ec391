//! Tabular sources (CSV and XLSX) as a stream of rows of text cells, with delimiter sniffing
//! for CSV and Excel cell conversion (dates stored as serial numbers) for XLSX.

use std::io::{Cursor, Read};

use calamine::{Data, Reader, Xlsx};
use csv::StringRecord;

use super::pan;
use crate::calendar::{Timestamp, MS_PER_DAY};
use crate::error::{Error, Result};

/// One read from a table.
#[derive(Debug)]
pub(crate) enum Next {
    /// `record` holds the next row.
    Row,
    /// A row that could not be read (bad encoding, broken quoting); reading goes on.
    Bad(String),
    /// No more rows.
    End,
}

/// A source of rows.
pub(crate) trait Table {
    /// Reads the next row into `record`.
    fn next(&mut self, record: &mut StringRecord) -> Next;

    /// The line (CSV) or sheet row (XLSX) the row last read starts on, from 1, as an editor
    /// or a spreadsheet numbers it.
    fn line(&self) -> u64;
}

/// Picks the delimiter of a CSV head: the candidate that splits the most lines into the same
/// number (≥ 2) of fields, outside quotes.
pub(crate) fn sniff_delimiter(head: &str) -> u8 {
    let lines: Vec<&str> = head.lines().filter(|l| !l.trim().is_empty()).take(30).collect();
    let mut best = (b',', 0usize);
    for d in [b',', b';', b'\t', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_fields(l, d)).collect();
        let mut freq = std::collections::HashMap::new();
        for c in counts.iter().filter(|c| **c >= 2) {
            *freq.entry(*c).or_insert(0usize) += 1;
        }
        let Some((&fields, &lines_with)) = freq.iter().max_by_key(|(f, n)| (**n, **f)) else {
            continue;
        };
        let score = lines_with * 100 + fields.min(99);
        if score > best.1 {
            best = (d, score);
        }
    }
    best.0
}

fn count_fields(line: &str, d: u8) -> usize {
    let mut in_quotes = false;
    let mut n = 1;
    for b in line.bytes() {
        match b {
            b'"' => in_quotes = !in_quotes,
            x if x == d && !in_quotes => n += 1,
            _ => {}
        }
    }
    n
}

/// A CSV reader over UTF-8 text.
pub(crate) struct CsvTable {
    reader: csv::Reader<Box<dyn Read + Send>>,
    line: u64,
}

impl CsvTable {
    /// Reads `input` with `delimiter`, double-quote quoting, rows of any width.
    pub fn new(input: Box<dyn Read + Send>, delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        CsvTable { reader, line: 0 }
    }
}

impl Table for CsvTable {
    fn line(&self) -> u64 {
        self.line
    }

    fn next(&mut self, record: &mut StringRecord) -> Next {
        // A record that cannot be read is numbered from where the reader stood.
        self.line = self.reader.position().line();
        match self.reader.read_record(record) {
            Ok(true) => {
                self.line = record.position().map_or(self.line, csv::Position::line);
                Next::Row
            }
            Ok(false) => Next::End,
            Err(e) => match e.kind() {
                csv::ErrorKind::Utf8 { .. } => {
                    Next::Bad("the row is not valid text in the file's encoding".into())
                }
                csv::ErrorKind::Io(_) => Next::Bad(format!("the file could not be read: {e}")),
                _ => Next::Bad("the row is malformed (check quoting)".into()),
            },
        }
    }
}

/// The sheets of a workbook, each as rows of text with the sheet row of its first row.
pub(crate) struct XlsxSheets {
    pub sheets: Vec<(String, u64, Vec<Vec<Data>>)>,
}

impl XlsxSheets {
    /// Opens a workbook held in memory (XLSX is a zip archive and must be read whole).
    pub fn open(bytes: Vec<u8>) -> Result<XlsxSheets> {
        // calamine can panic on some malformed workbooks (arithmetic overflow on absurd cell
        // references); a bad upload must be a clean error, never a crashed task.
        std::panic::catch_unwind(move || XlsxSheets::read(bytes)).unwrap_or_else(|_| {
            Err(Error::Unprocessable("the XLSX workbook is malformed and cannot be read".into()))
        })
    }

    fn read(bytes: Vec<u8>) -> Result<XlsxSheets> {
        let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(|e| {
            Error::Unprocessable(format!(
                "the XLSX workbook cannot be opened ({}); is the file complete?",
                quote(&e)
            ))
        })?;
        let names = book.sheet_names().to_vec();
        let mut sheets = Vec::new();
        for name in names {
            let range = book.worksheet_range(&name).map_err(|e| {
                Error::Unprocessable(pan::redact(&format!("sheet `{name}` cannot be read ({})", quote(&e))))
            })?;
            let first_row = range.start().map_or(0, |(row, _)| u64::from(row));
            sheets.push((name, first_row, range.rows().map(|r| r.to_vec()).collect()));
        }
        Ok(XlsxSheets { sheets })
    }
}

/// A parser library's error, safe to show: its text can quote the file (card numbers
/// included), so numbers are masked and the quote is cut short.
fn quote(e: &dyn std::fmt::Display) -> String {
    let text = pan::redact(&e.to_string());
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Rows of one sheet.
pub(crate) struct SheetTable {
    rows: std::vec::IntoIter<Vec<Data>>,
    line: u64,
}

impl SheetTable {
    /// A table over the rows of a sheet whose first row is sheet row `first_row` (from 0).
    pub fn new(first_row: u64, rows: Vec<Vec<Data>>) -> Self {
        SheetTable { rows: rows.into_iter(), line: first_row }
    }
}

impl Table for SheetTable {
    fn line(&self) -> u64 {
        self.line
    }

    fn next(&mut self, record: &mut StringRecord) -> Next {
        let Some(row) = self.rows.next() else {
            return Next::End;
        };
        self.line += 1;
        record.clear();
        for cell in &row {
            record.push_field(&cell_text(cell));
        }
        Next::Row
    }
}

/// The text of an Excel cell. Numbers use the shortest decimal that reads back as the same
/// double (so `19.04` stays `19.04`); dates, stored as serial day numbers, become ISO 8601.
pub(crate) fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{}", *f as i64)
            } else {
                format!("{f}")
            }
        }
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => excel_serial_to_iso(dt.as_f64()).unwrap_or_else(|| dt.as_f64().to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#ERROR {e:?}"),
    }
}

/// Converts an Excel serial date (days since 1899-12-30, with the fraction as time of day)
/// to an ISO 8601 UTC text; `None` outside 1900–2100.
pub(crate) fn excel_serial_to_iso(serial: f64) -> Option<String> {
    if !(1.0..73_051.0).contains(&serial) {
        return None;
    }
    // 1899-12-30 is day -25569 relative to the Unix epoch.
    let ms = ((serial - 25_569.0) * MS_PER_DAY as f64).round() as i64;
    let t = Timestamp(ms);
    let s = t.to_string();
    Some(if t.is_midnight() { s[..10].to_owned() } else { s })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters() {
        assert_eq!(sniff_delimiter("a,b,c\n1,2,3\n"), b',');
        assert_eq!(sniff_delimiter("Trace ID;Date;Amount\r\n1;20.08.2026;19,04\r\n"), b';');
        assert_eq!(sniff_delimiter("a\tb\n1\t2\n"), b'\t');
        assert_eq!(sniff_delimiter("a|b|c\n1|\"x|y\"|3\n"), b'|');
        assert_eq!(sniff_delimiter("Report title\na;b;c\n1;\"2,5\";3\n"), b';');
    }

    #[test]
    fn excel_serials() {
        assert_eq!(excel_serial_to_iso(46_252.0).as_deref(), Some("2026-08-18"));
        assert_eq!(excel_serial_to_iso(46_252.5).as_deref(), Some("2026-08-18T12:00:00Z"));
        assert_eq!(excel_serial_to_iso(-3.0), None);
        assert_eq!(cell_text(&Data::Float(19.04)), "19.04");
        assert_eq!(cell_text(&Data::Float(1234.0)), "1234");
    }
}
