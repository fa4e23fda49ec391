//! The structure of a report file around its tables: what each line is. Files are not always
//! one header and rows: processor exports wrap them in `BEGIN`/`END` lines, add metadata lines
//! (`ReportTypeName=SubmissionDetails,FromDate=2025-03-03`), title rows, blank separators,
//! several sections each with its own header (a summary, then the details), `Record Type`
//! columns that mark summary rows, and totals or trailers at the end. None of those lines is
//! a fact; metadata and trailers are kept (a report's period helps read its dates, and its
//! record count checks the load).

use csv::StringRecord;
use serde::{Deserialize, Serialize};

use super::mapping::header_score;
use super::pan::redact;
use super::vocabulary::split;
use crate::calendar::Date;

/// What a line of a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// Empty, or only separators.
    Blank,
    /// `BEGIN`, `END`, `TRAILER` and the like.
    Wrapper,
    /// `Key=Value` cells.
    Metadata,
    /// A totals or summary row (`Total`, `Grand total`, a `Summary` record type).
    Total,
    /// Anything else: a header, a title or a data row (the section decides).
    Other,
}

const WRAPPERS: &[&str] = &[
    "begin",
    "end",
    "eof",
    "trailer",
    "header",
    "hdr",
    "trl",
    "end of report",
    "end of file",
    "start",
    "bof",
];

/// First cells of a trailer line, which states the file's totals (`Trailer,Total records: 5`).
const TRAILERS: &[&str] = &["trailer", "trl", "footer", "eof"];

/// Words that open a totals line, in the languages the vocabulary reads (folded: no accents).
const TOTAL_OPENERS: &[&str] = &[
    "total",
    "totals",
    "grand total",
    "subtotal",
    "sum",
    "count",
    "end of report",
    "records",
    "totale",
    "totaux",
    "somme",
    "summe",
    "gesamt",
    "gesamtsumme",
    "zwischensumme",
    "suma",
    "soma",
    "subtotale",
];

const TOTAL_WORDS: &[&str] =
    &["total", "totals", "subtotal", "sum", "summary", "grandtotal", "count", "records"];

/// Classifies a line without knowing its table.
pub(crate) fn line_role(rec: &StringRecord) -> Line {
    let mut cells = rec.iter().map(str::trim).filter(|c| !c.is_empty());
    let Some(first) = cells.next() else { return Line::Blank };
    // Every line is classified, so the common one is decided first: wrapper, metadata,
    // totals and trailer lines start with a word (a key is one too).
    if !first.starts_with(char::is_alphabetic) {
        return Line::Other;
    }
    let has_pairs = rec.as_slice().contains('=');
    let pair = |c: &str| usize::from(has_pairs && key_value(c).is_some());
    let (filled, pairs) = cells.fold((1, pair(first)), |(n, p), c| (n + 1, p + pair(c)));
    let named = |words: &[&str]| words.iter().any(|w| w.eq_ignore_ascii_case(first));
    if named(WRAPPERS) && pairs + 1 >= filled {
        return Line::Wrapper;
    }
    if pairs * 2 >= filled && pairs > 0 {
        return Line::Metadata;
    }
    if is_total(first) || named(TRAILERS) {
        return Line::Total;
    }
    Line::Other
}

/// True for a first cell that opens a totals line (`Total`, `Grand Total:`, `Subtotal EUR`,
/// `Summe`, `Totale`, `Total général`).
fn is_total(first: &str) -> bool {
    // The openers are ASCII: compared without folding (`Total général` opens with `total`).
    TOTAL_OPENERS.iter().any(|w| {
        first.len() >= w.len()
            && first.is_char_boundary(w.len())
            && first[..w.len()].eq_ignore_ascii_case(w)
            && (first.len() == w.len() || first[w.len()..].starts_with([':', ' ']))
    })
}

/// True when a record-type value marks a summary or totals row (`Authorization Summary`,
/// `DisputeSummary`, `SUBTOTAL`).
pub(crate) fn is_summary_value(v: &str) -> bool {
    split(v).iter().any(|t| TOTAL_WORDS.contains(&t.as_str()) && t != "count" && t != "records")
}

/// A `Key=Value` cell.
fn key_value(cell: &str) -> Option<(&str, &str)> {
    let (k, v) = cell.split_once('=')?;
    let k = k.trim();
    (!k.is_empty()
        && k.len() <= 64
        && k.starts_with(|c: char| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.')))
    .then_some((k, v.trim()))
}

/// True when a row reads as a header: several cells name fields and none is a number.
pub(crate) fn is_header(rec: &StringRecord) -> bool {
    let numeric = |c: &str| {
        let c = c.trim();
        !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit() || matches!(ch, '.' | ',' | '-' | '+'))
    };
    !rec.iter().any(numeric) && header_score(rec) >= 2
}

/// The metadata of a report: its `Key=Value` pairs, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The pairs, first occurrence of each key first.
    pub pairs: Vec<(String, String)>,
}

impl Metadata {
    /// Adds the pairs of a metadata or wrapper line.
    pub(crate) fn add(&mut self, rec: &StringRecord) {
        for (k, v) in rec.iter().filter_map(key_value) {
            if self.pairs.len() < 64 && !self.pairs.iter().any(|(key, _)| key == k) {
                let v: String = v.chars().take(128).collect();
                self.pairs.push((redact(k), redact(&v)));
            }
        }
    }

    /// Keeps a title row above a table (one text cell, `Acquirer clearing report`) as the
    /// report's `Title`, when it has none: a report often names itself only there.
    pub(crate) fn title(&mut self, rec: &StringRecord) {
        let mut cells = rec.iter().map(str::trim).filter(|c| !c.is_empty());
        let (Some(text), None) = (cells.next(), cells.next()) else { return };
        if text.chars().any(char::is_alphabetic) && self.get(&["Title"]).is_none() && self.pairs.len() < 64 {
            let text: String = text.chars().take(128).collect();
            self.pairs.push(("Title".to_owned(), redact(&text)));
        }
    }

    fn get(&self, names: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
            .map(|(_, v)| v.as_str())
    }

    /// The period the report covers (`FromDate`..`ToDate`, `StartDate`..`EndDate`).
    pub fn period(&self) -> Option<(Date, Date)> {
        let date = |names: &[&str]| {
            let v = self.get(names)?;
            match super::normalize::parse_when(v)? {
                super::normalize::When::Date(d) => Some(d),
                super::normalize::When::Local(ms) => Some(crate::calendar::Timestamp(ms).date()),
                super::normalize::When::Instant(t) => Some(t.date()),
            }
        };
        let from = date(&["FromDate", "StartDate", "From", "PeriodStart", "DateFrom"])?;
        let to = date(&["ToDate", "EndDate", "To", "PeriodEnd", "DateTo"]).unwrap_or(from);
        (from.0 <= to.0).then_some((from, to))
    }

    /// The report's own name for what it is (`ReportTypeName=SettlementDetails`).
    pub fn report_name(&self) -> Option<&str> {
        self.get(&["ReportTypeName", "ReportType", "ReportName", "Report", "Type", "Title"])
    }

    /// A record count the file states about itself (`RecordCount=2650`).
    pub fn record_count(&self) -> Option<u64> {
        self.get(&["RecordCount", "TotalRecords", "NumberOfRecords", "Records", "RowCount", "TotalCount"])?
            .parse()
            .ok()
    }
}

/// The record count a totals line states (`Total records: 2650`, `Count,2650`), if it is one.
pub(crate) fn stated_count(rec: &StringRecord) -> Option<u64> {
    let text: Vec<&str> = rec.iter().map(str::trim).filter(|c| !c.is_empty()).collect();
    let words = text.iter().any(|c| {
        let l = c.to_ascii_lowercase();
        ["record", "row", "count", "transactions", "items"].iter().any(|w| l.contains(w))
    });
    let numbers: Vec<u64> = text
        .iter()
        .flat_map(|c| c.split([':', ' ', '=']))
        .filter_map(|p| p.trim().parse::<u64>().ok())
        .collect();
    (words && numbers.len() == 1).then(|| numbers[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(cells: &[&str]) -> StringRecord {
        StringRecord::from(cells.to_vec())
    }

    #[test]
    fn roles() {
        assert_eq!(line_role(&rec(&["BEGIN", "EntityId=418553", "Frequency=adhoc"])), Line::Wrapper);
        assert_eq!(
            line_role(&rec(&["EntityId=418553", "ReportTypeName=Multiple", "FromDate=2025-03-03", "", ""])),
            Line::Metadata
        );
        assert_eq!(line_role(&rec(&["", " ", ""])), Line::Blank);
        assert_eq!(line_role(&rec(&["Grand Total:", "", "1,234.00"])), Line::Total);
        assert_eq!(line_role(&rec(&["T1", "2026-10-01", "10.00"])), Line::Other);
        assert_eq!(line_role(&rec(&["", "Summe", "2.361,60", ""])), Line::Total);
        assert_eq!(line_role(&rec(&["Total général", "12"])), Line::Total);
        assert_eq!(line_role(&rec(&["Trailer", "Total records: 5"])), Line::Total);
        assert_eq!(line_role(&rec(&["Sumatra Coffee", "2026-10-01", "10.00"])), Line::Other);
        assert!(is_summary_value("DisputeSummary") && is_summary_value("Authorization Summary"));
        assert!(!is_summary_value("Authorization Details"));
    }

    #[test]
    fn metadata() {
        let mut m = Metadata::default();
        m.add(&rec(&[
            "EntityId=418553",
            "ReportTypeName=SubmissionDetails",
            "FromDate=2025-03-03",
            "ToDate=2025-03-04",
        ]));
        assert_eq!(m.report_name(), Some("SubmissionDetails"));
        let (from, to) = m.period().unwrap();
        assert_eq!((from.ymd(), to.ymd()), ((2025, 3, 3), (2025, 3, 4)));
        assert_eq!(stated_count(&rec(&["Total records:", "2650"])), Some(2650));
        assert_eq!(stated_count(&rec(&["Total", "", "1,234.00"])), None);
    }

    #[test]
    fn headers() {
        assert!(is_header(&rec(&[
            "Record Type",
            "Entity Identifier",
            "Presentment Currency Code",
            "Authorization Amount"
        ])));
        assert!(!is_header(&rec(&["Authorization Summary", "GBP", "GBP", "100", "Approved"])));
        assert!(!is_header(&rec(&["Daily authorization report", "", ""])));
    }
}
