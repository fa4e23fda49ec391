//! A tabular file read as a document: its lines in order, each a wrapper, metadata, a total,
//! a header or a row of the current table. A header opens a table; its first rows are sampled
//! to decide what the table is (a summary, kept to check the detail against, or a
//! transaction table, mapped and planned) and then every row streams through the plan.

use csv::StringRecord;
use rustc_hash::FxHashMap;

use super::controls::{check, check_count, Summary, Tally, MAX_SUMMARY_ROWS};
use super::detect::Format;
use super::layout::{is_header, is_summary_value, line_role, stated_count, Line, Metadata};
use super::mapping::{map_columns, MapContext};
use super::pan::{redact, PanKey};
use super::pipeline::{Collector, ParseSummary};
use super::plan::{plan, Place, PlanInput};
use super::profiles::fingerprint;
use super::row::{Outcome, Repeats, RowPlan};
use super::rows::{RowFlow, RowReader, RowResult};
use super::stage;
use super::table::{Next, Table};
use super::vocabulary::{HeaderWords, W};
use crate::error::{Error, Result};
use crate::facts::{
    Control, MappingDecision, MappingOverrides, MappingProfile, Report, ReportType, SectionInfo, Structure,
};

/// Rows before a header is found: after this many, the first row with two filled cells is
/// taken as the header.
const HEADER_SEARCH_ROWS: usize = 20;
/// Rows of a table sampled to map and plan it.
const SAMPLE_ROWS: usize = 200;

/// A row read before its table was planned.
struct Buffered {
    rec: StringRecord,
    line: u64,
    bad: Option<String>,
}

/// A transaction table being loaded (its rows go through the document's [`RowFlow`]).
struct Detail {
    tally: Option<Tally>,
    /// Numbers repeated rows when the table's transaction ids are generated.
    repeats: Option<Repeats>,
}

enum State {
    Sampling(Vec<Buffered>),
    Detail(Box<Detail>),
    Summary(Summary),
    /// A table that could not be mapped: its rows are skipped with this reason.
    Unread(String),
}

struct Section {
    header: StringRecord,
    line: u64,
    name: Option<String>,
    rows: u64,
    state: State,
    error: Option<String>,
}

/// The reading of one file.
pub(crate) struct Document<'a> {
    report: &'a Report,
    key: &'a PanKey,
    profiles: &'a [MappingProfile],
    c: Collector<'a>,
    format: Format,
    structure: Structure,
    metadata: Metadata,
    preamble: Vec<(StringRecord, u64)>,
    /// The open table (boxed: it is taken and put back for every row)
    section: Option<Box<Section>>,
    summaries: Vec<Summary>,
    /// The first transaction table's counts and amounts, grouped by what the summaries seen
    /// before it share with it (kept only when there are such summaries).
    tally: Option<Tally>,
    stated_counts: Vec<(String, u64)>,
    mapping: Vec<MappingDecision>,
    confidence: f64,
    report_type: Option<ReportType>,
    details: usize,
    detail_rows: u64,
    first_error: Option<Error>,
    warnings: Vec<String>,
    profiles_applied: Vec<MappingProfile>,
    /// The open transaction table's rows, read on `threads` threads.
    rows: RowFlow,
}

impl<'a> Document<'a> {
    pub fn new(
        report: &'a Report,
        key: &'a PanKey,
        profiles: &'a [MappingProfile],
        c: Collector<'a>,
        format: Format,
        threads: usize,
    ) -> Self {
        Document {
            report,
            key,
            profiles,
            c,
            format,
            structure: Structure { format: format.as_str().into(), ..Default::default() },
            metadata: Metadata::default(),
            preamble: Vec::new(),
            section: None,
            summaries: Vec::new(),
            tally: None,
            stated_counts: Vec::new(),
            mapping: Vec::new(),
            confidence: 1.0,
            report_type: None,
            details: 0,
            detail_rows: 0,
            first_error: None,
            warnings: Vec::new(),
            profiles_applied: Vec::new(),
            rows: RowFlow::new(threads),
        }
    }

    /// Records the CSV delimiter in the structure.
    pub fn delimiter(&mut self, d: u8) {
        self.structure.delimiter = Some(match d {
            b'\t' => "tab".to_owned(),
            d => (d as char).to_string(),
        });
    }

    /// Reads every row of `table`.
    pub fn read(&mut self, table: &mut dyn Table) -> Result<()> {
        let mut rec = StringRecord::new();
        loop {
            match table.next(&mut rec) {
                Next::Row => self.line(&mut rec, table.line())?,
                Next::Bad(why) => self.bad(table.line(), why)?,
                Next::End => return Ok(()),
            }
        }
    }

    /// Ends a part of the file (an XLSX sheet): its table ends with it.
    pub fn end_part(&mut self) -> Result<()> {
        self.close()?;
        self.structure.structural_lines += self.preamble.len() as u64;
        self.preamble.clear();
        Ok(())
    }

    /// One line of the file; a data row is taken out of `rec`.
    fn line(&mut self, rec: &mut StringRecord, line: u64) -> Result<()> {
        match line_role(rec) {
            Line::Blank => Ok(()),
            Line::Wrapper | Line::Metadata => {
                self.metadata.add(rec);
                self.structure.structural_lines += 1;
                Ok(())
            }
            Line::Total => {
                self.structure.structural_lines += 1;
                if let Some(n) = stated_count(rec) {
                    self.stated_counts.push((format!("totals line {line}"), n));
                }
                Ok(())
            }
            Line::Other => match &self.section {
                Some(sec) if !rec.as_slice().bytes().any(|b| b.is_ascii_digit()) && is_header(rec) => {
                    if same_header(rec, &sec.header) {
                        self.structure.structural_lines += 1;
                        Ok(())
                    } else {
                        self.close()?;
                        self.open(rec, line);
                        Ok(())
                    }
                }
                Some(_) => self.data(rec, line, None),
                None if is_header(rec) => {
                    self.open(rec, line);
                    Ok(())
                }
                None => {
                    self.preamble.push((rec.clone(), line));
                    if self.preamble.len() >= HEADER_SEARCH_ROWS {
                        self.fallback_header()?;
                    }
                    Ok(())
                }
            },
        }
    }

    fn bad(&mut self, line: u64, why: String) -> Result<()> {
        match self.section {
            Some(_) => self.data(&mut StringRecord::new(), line, Some(why)),
            None => Ok(()),
        }
    }

    /// No row read as a header: the first with two filled cells is taken, the rows after it
    /// are its data (the plan then says which fields are missing).
    fn fallback_header(&mut self) -> Result<()> {
        let filled = |r: &StringRecord| r.iter().filter(|c| !c.trim().is_empty()).count();
        let Some(i) = self.preamble.iter().position(|(r, _)| filled(r) >= 2) else { return Ok(()) };
        let mut rows = std::mem::take(&mut self.preamble);
        let rest = rows.split_off(i + 1);
        let (header, line) = rows.pop().unwrap_or_default();
        self.structure.structural_lines += rows.len() as u64;
        self.open_at(&header, line);
        for (mut r, l) in rest {
            self.data(&mut r, l, None)?;
        }
        Ok(())
    }

    fn open(&mut self, header: &StringRecord, line: u64) {
        self.structure.structural_lines += self.preamble.len() as u64;
        for (rec, _) in std::mem::take(&mut self.preamble) {
            self.metadata.title(&rec);
        }
        self.open_at(header, line);
    }

    fn open_at(&mut self, header: &StringRecord, line: u64) {
        self.structure.structural_lines += 1;
        self.section = Some(Box::new(Section {
            header: header.clone(),
            line,
            name: None,
            rows: 0,
            state: State::Sampling(Vec::new()),
            error: None,
        }));
    }

    fn data(&mut self, rec: &mut StringRecord, line: u64, bad: Option<String>) -> Result<()> {
        let Some(mut sec) = self.section.take() else { return Ok(()) };
        sec.rows += 1;
        let result = match &mut sec.state {
            State::Sampling(buf) => {
                buf.push(Buffered { rec: rec.clone(), line, bad });
                if buf.len() >= SAMPLE_ROWS {
                    self.decide(&mut sec)
                } else {
                    Ok(())
                }
            }
            State::Detail(d) => self.detail_row(d, rec, line, bad),
            State::Summary(s) => {
                self.structure.structural_lines += 1;
                if s.rows.len() < MAX_SUMMARY_ROWS {
                    s.rows.push(rec.clone());
                }
                Ok(())
            }
            State::Unread(reason) => {
                self.c.skip(reason.clone());
                Ok(())
            }
        };
        self.section = Some(sec);
        result
    }

    /// Decides what a sampled table is and replays its sampled rows.
    fn decide(&mut self, sec: &mut Section) -> Result<()> {
        let State::Sampling(buf) = std::mem::replace(&mut sec.state, State::Unread(String::new())) else {
            return Ok(());
        };
        let sample: Vec<StringRecord> =
            buf.iter().filter(|b| b.bad.is_none()).map(|b| b.rec.clone()).collect();
        sec.name = table_name(&sec.header, &sample);
        if is_summary(&sec.header, &sample) {
            self.structure.structural_lines += buf.len() as u64;
            let name = sec.name.clone().unwrap_or_else(|| format!("line {}", sec.line));
            sec.state = State::Summary(Summary { name, header: sec.header.clone(), rows: sample });
            return Ok(());
        }
        match self.plan_table(sec, &sample) {
            Ok(detail) => sec.state = State::Detail(Box::new(detail)),
            Err(e) if e.kind().is_user_error() => {
                let why = e.to_string();
                sec.error = Some(why.clone());
                self.first_error.get_or_insert(e);
                sec.state = State::Unread(format!("a table that could not be read (line {})", sec.line));
            }
            Err(e) => return Err(e),
        }
        for mut b in buf {
            match &mut sec.state {
                State::Detail(d) => self.detail_row(d, &mut b.rec, b.line, b.bad)?,
                State::Unread(reason) => self.c.skip(reason.clone()),
                _ => {}
            }
        }
        Ok(())
    }

    /// Maps and plans a transaction table, with the upload's mapping and any profile saved for
    /// its header.
    fn plan_table(&mut self, sec: &Section, sample: &[StringRecord]) -> Result<Detail> {
        let fp = fingerprint(&sec.header);
        let profile = self.profiles.iter().find(|p| p.fingerprint == fp);
        let explicit = self.report.mapping_overrides.as_ref();
        let overrides = match (explicit, profile) {
            (Some(e), Some(p)) => e.or(&p.mapping),
            (Some(e), None) => e.clone(),
            (None, Some(p)) => p.mapping.clone(),
            (None, None) => MappingOverrides::default(),
        };
        let rule = if explicit.is_some() { "override" } else { "profile" };
        if let Some(p) = profile {
            self.warnings.push(format!(
                "the table at line {} was read with mapping profile `{}` ({})",
                sec.line, p.name, p.profile_id
            ));
            if !self.profiles_applied.iter().any(|a| a.profile_id == p.profile_id) {
                self.profiles_applied.push(p.clone());
            }
        }
        let report = overrides.apply_defaults(self.report);
        let named = self.metadata.report_name().and_then(|n| stage::named_stage(&HeaderWords::of(n).words));
        let mut cx = MapContext {
            stage: report.report_type.stage().or(named),
            overrides: Some(&overrides),
            override_rule: rule,
        };
        let mut map = map_columns(&sec.header, sample, cx);
        if cx.stage.is_none() {
            if let Some((s, _, _)) = stage::infer(&map, &self.metadata, sample) {
                cx.stage = Some(s);
                map = map_columns(&sec.header, sample, cx);
            }
        }
        let place =
            Place { line: sec.line, name: sec.name.clone(), several: !self.structure.sections.is_empty() };
        let input = PlanInput {
            sample,
            report: &report,
            metadata: &self.metadata,
            overrides: &overrides,
            place: &place,
            infer_stage: true,
        };
        let (parts, notes) = plan(map, &input)?;
        let record_type = parts.map.words.iter().position(|w| w.has(W::Record) && w.has(W::Type));
        let mut decisions = parts.map.decisions.clone();
        decisions.extend(notes);
        let base = parts.stage.base();
        let plan = RowPlan::new(parts, &report, self.key)?;
        self.c.planned(plan.confidence)?;
        let repeats = plan.generates_ids().then(Repeats::default);
        self.confidence = self.confidence.min(plan.confidence);
        if self.details == 1 {
            // A second transaction table: every decision says which table it belongs to.
            let first = self.structure.sections.iter().find(|s| s.role == "detail").map(|s| s.line);
            for d in &mut self.mapping {
                d.section = first;
            }
        }
        if self.details >= 1 {
            for d in &mut decisions {
                d.section = Some(sec.line);
            }
        }
        self.mapping.extend(decisions);
        self.details += 1;
        if self.report_type.is_none() {
            self.report_type = Some(match (report.report_type, base) {
                (ReportType::Auto, Some(s)) => ReportType::for_stage(s),
                (declared, _) => declared,
            });
        }
        let tally = (!self.summaries.is_empty() && self.tally.is_none() && self.details == 1)
            .then(|| Tally::new(&sec.header, sample, &self.summaries));
        self.rows.start(RowReader::new(plan, record_type));
        Ok(Detail { tally, repeats })
    }

    /// A row of a transaction table (taken out of `rec`): tallied here, in file order, when
    /// the file states totals, then read with the table's plan.
    fn detail_row(
        &mut self,
        d: &mut Detail,
        rec: &mut StringRecord,
        line: u64,
        bad: Option<String>,
    ) -> Result<()> {
        if let Some(t) = &mut d.tally {
            let reader = self.rows.reader()?;
            if bad.is_some() {
                t.add(rec, None);
            } else if !reader.is_summary(rec) {
                t.add(rec, reader.plan.raw_amount(rec));
            }
        }
        let done = self.rows.push(rec, line, bad)?;
        self.take(d, done)
    }

    /// Counts and collects read rows, in file order, and gives the emptied result vectors
    /// back to the flow.
    fn take(&mut self, d: &mut Detail, mut done: Vec<Vec<RowResult>>) -> Result<()> {
        for result in done.iter_mut().flat_map(|block| block.drain(..)) {
            let RowResult::Row(outcome) = result else {
                self.structure.structural_lines += 1;
                continue;
            };
            self.detail_rows += 1;
            match outcome {
                Outcome::Fact(mut f) => {
                    if let Some(r) = &mut d.repeats {
                        r.number(&mut f);
                    }
                    self.c.fact(f)?;
                }
                Outcome::Skip(reason) => self.c.skip(reason),
                Outcome::Reject(e) => self.c.reject(e),
            }
        }
        self.rows.recycle(done);
        Ok(())
    }

    /// Ends the current table.
    fn close(&mut self) -> Result<()> {
        let Some(mut sec) = self.section.take() else { return Ok(()) };
        if matches!(sec.state, State::Sampling(_)) {
            self.decide(&mut sec)?;
        }
        if let State::Detail(d) = &mut sec.state {
            let done = self.rows.drain()?;
            self.take(d, done)?;
        }
        let role = match &sec.state {
            State::Detail(_) => "detail",
            State::Summary(_) => "summary",
            _ => "unread",
        };
        self.structure.sections.push(SectionInfo {
            line: sec.line,
            name: sec.name.clone(),
            role: role.into(),
            rows: sec.rows,
            columns: sec.header.iter().map(redact).collect(),
            fingerprint: fingerprint(&sec.header),
            error: sec.error.clone(),
        });
        match sec.state {
            State::Summary(s) => self.summaries.push(s),
            State::Detail(d) if self.tally.is_none() => self.tally = d.tally,
            _ => {}
        }
        Ok(())
    }

    /// The summary once every line is read; `no_header` is the error when the file has no
    /// table at all.
    pub fn finish(mut self, no_header: impl FnOnce() -> Error) -> Result<ParseSummary> {
        if self.section.is_none() && self.structure.sections.is_empty() {
            // A short file whose header has no known words: read it as a table, so the
            // error says which fields are missing among its columns.
            self.fallback_header()?;
        }
        self.close()?;
        self.structure.metadata = self.metadata.pairs.clone();
        self.c.structure(&self.structure);
        if self.details == 0 {
            return Err(self.first_error.take().unwrap_or_else(no_header));
        }
        for s in &self.structure.sections {
            if let Some(e) = &s.error {
                self.warnings.push(format!("the table at line {} was not loaded: {e}", s.line));
            }
        }
        let controls = self.controls();
        for c in controls.iter().filter(|c| !c.ok) {
            self.warnings.push(format!(
                "the file's own totals disagree with the rows read ({}): {}",
                c.source,
                c.differences.first().map_or("see controls", String::as_str)
            ));
        }
        self.c.flush()?;
        Ok(ParseSummary {
            format: self.format,
            rows_total: self.c.rows_total,
            rows_rejected: self.c.rows_rejected,
            rows_skipped: self.c.rows_skipped,
            skipped: self.c.skipped(),
            errors: std::mem::take(&mut self.c.errors),
            mapping: self.mapping,
            confidence: self.confidence,
            report_type: self.report_type.unwrap_or(self.report.report_type),
            structure: self.structure,
            controls,
            warnings: self.warnings,
            profiles_applied: self.profiles_applied,
        })
    }

    /// Every total the file states, checked against its detail rows.
    fn controls(&self) -> Vec<Control> {
        let mut out = Vec::new();
        for s in &self.summaries {
            out.extend(check(s, self.tally.as_ref(), self.detail_rows));
        }
        if let Some(n) = self.metadata.record_count() {
            out.push(check_count("the file's RecordCount", n, self.detail_rows));
        }
        for (source, n) in &self.stated_counts {
            out.push(check_count(source, *n, self.detail_rows));
        }
        out
    }
}

/// True when two headers are the same layout (a header repeated on every page).
fn same_header(a: &StringRecord, b: &StringRecord) -> bool {
    fingerprint(a) == fingerprint(b)
}

/// The table's name: the value its record-type column holds on most sampled rows.
fn table_name(header: &StringRecord, sample: &[StringRecord]) -> Option<String> {
    let col = header.iter().map(HeaderWords::of).position(|w| w.has(W::Type) && w.has(W::Record))?;
    let mut counts: FxHashMap<&str, usize> = FxHashMap::default();
    for v in sample.iter().filter_map(|r| r.get(col)).map(str::trim).filter(|v| !v.is_empty()) {
        *counts.entry(v).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(v, n)| (*n, std::cmp::Reverse(*v)))
        .map(|(v, _)| redact(&v.chars().take(64).collect::<String>()))
}

/// True for a table of totals: its rows are marked as summaries, or it counts transactions
/// and has neither a transaction id nor a time.
fn is_summary(header: &StringRecord, sample: &[StringRecord]) -> bool {
    let marked = sample
        .iter()
        .filter(|r| r.iter().map(str::trim).find(|c| !c.is_empty()).is_some_and(is_summary_value))
        .count();
    if !sample.is_empty() && marked * 5 >= sample.len() * 4 {
        return true;
    }
    let words: Vec<HeaderWords> = header.iter().map(HeaderWords::of).collect();
    let counts = words.iter().any(|w| w.has(W::Count) && !w.has(W::Rate));
    let ids = words.iter().any(|w| {
        (w.has(W::Txn) || w.has(W::Payment)) && (w.has(W::Id) || w.has(W::Reference) || w.has(W::Number))
    });
    let times =
        words.iter().any(|w| w.has(W::Date) || w.has(W::Timestamp) || w.has(W::Time) || w.has(W::Created));
    counts && !ids && !times
}
