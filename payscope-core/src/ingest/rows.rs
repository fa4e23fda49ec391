//! A transaction table's rows on their way to facts, on every core. The document reader (one
//! thread, in file order) gathers a table's rows into blocks; worker threads turn blocks into
//! outcomes, each with its own copy of the table's [`RowReader`]; the outcomes come back in
//! file order, so counts, row errors and "the first of a file's repeats wins" are exactly what
//! one thread gives. A table smaller than a block never starts a thread.

use std::collections::VecDeque;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use csv::StringRecord;
use rustc_hash::FxHashMap;

use super::layout::is_summary_value;
use super::row::{Outcome, RowPlan};
use crate::error::{Error, Result};
use crate::facts::RowError;

/// Rows per block handed to a worker: large enough that handing over costs nothing next to
/// reading the rows, small enough that a few blocks in flight keep memory flat.
const BLOCK_ROWS: usize = 1024;
/// Blocks in flight per worker before the reader waits for the oldest.
const BLOCKS_PER_WORKER: usize = 2;

/// The threads rows are read on by default: one per core, at most 8.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// How a table's rows are read: its plan, and which record-type values mark summary rows.
#[derive(Clone)]
pub(crate) struct RowReader {
    pub plan: RowPlan,
    /// A record-type column whose summary values (`Subtotal`) mark rows that are not data.
    record_type: Option<usize>,
    summary_values: FxHashMap<Box<str>, bool>,
}

/// What one row of a transaction table is.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "boxing the outcome would cost an allocation per row")]
pub(crate) enum RowResult {
    /// A summary line inside the table (a `Subtotal` record): structure, not data.
    Summary,
    /// A data row's outcome.
    Row(Outcome),
}

impl RowReader {
    pub fn new(plan: RowPlan, record_type: Option<usize>) -> Self {
        RowReader { plan, record_type, summary_values: FxHashMap::default() }
    }

    /// Reads the row starting on file line `line`; `bad` says why it could not be read.
    pub fn read(&mut self, rec: &StringRecord, line: u64, bad: Option<&str>) -> RowResult {
        let row = u32::try_from(line).unwrap_or(u32::MAX);
        if let Some(why) = bad {
            return RowResult::Row(Outcome::Reject(RowError {
                row,
                column: None,
                code: "unreadable_row".into(),
                message: why.to_owned(),
            }));
        }
        if self.is_summary(rec) {
            return RowResult::Summary;
        }
        RowResult::Row(self.plan.fact(rec, row))
    }

    /// True for a row its record-type column marks as a summary.
    pub fn is_summary(&mut self, rec: &StringRecord) -> bool {
        let Some(rt) = self.record_type else { return false };
        let v = rec.get(rt).unwrap_or("").trim();
        if let Some(&summary) = self.summary_values.get(v) {
            return summary;
        }
        let summary = is_summary_value(v);
        if self.summary_values.len() < 256 {
            self.summary_values.insert(v.into(), summary);
        }
        summary
    }
}

/// Rows gathered for one worker. Its records are reused from block to block, so reading a
/// row allocates nothing once the first blocks have gone round.
#[derive(Default)]
struct Block {
    rows: Vec<StringRecord>,
    /// Each row's line and, for a row that could not be read, why.
    lines: Vec<(u64, Option<String>)>,
}

impl Block {
    fn len(&self) -> usize {
        self.lines.len()
    }

    /// Takes the row out of `rec` (leaving an old record there for the next read).
    fn push(&mut self, rec: &mut StringRecord, line: u64, bad: Option<String>) {
        let i = self.lines.len();
        if i == self.rows.len() {
            self.rows.push(StringRecord::new());
        }
        std::mem::swap(&mut self.rows[i], rec);
        self.lines.push((line, bad));
    }

    /// Reads the block's rows into `results` (emptied and refilled, so its memory is reused).
    fn read_into(&self, reader: &mut RowReader, results: &mut Vec<RowResult>) {
        results.clear();
        let rows = self.rows.iter().zip(&self.lines);
        results.extend(rows.map(|(rec, (line, bad))| reader.read(rec, *line, bad.as_deref())));
    }

    fn clear(&mut self) {
        self.lines.clear();
    }
}

/// A worker's task: a block, the reader of its table (`generation` tells tables apart) and
/// a vector to put the block's results in.
struct Job {
    reader: Arc<RowReader>,
    generation: u64,
    block: Block,
    results: Vec<RowResult>,
}

struct Worker {
    jobs: Option<Sender<Job>>,
    done: Receiver<(Block, Vec<RowResult>)>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    fn spawn(i: usize) -> Result<Worker> {
        let (jobs, inbox) = channel::<Job>();
        let (outbox, done) = channel();
        let thread = std::thread::Builder::new()
            .name(format!("payscope-rows-{i}"))
            .spawn(move || work(inbox, outbox))
            .map_err(|e| Error::internal(format!("starting a row thread failed: {e}")))?;
        Ok(Worker { jobs: Some(jobs), done, thread: Some(thread) })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread after its current block.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn work(inbox: Receiver<Job>, outbox: Sender<(Block, Vec<RowResult>)>) {
    let mut mine: Option<(u64, RowReader)> = None;
    for job in inbox {
        let reader = match &mut mine {
            Some((g, r)) if *g == job.generation => r,
            _ => &mut mine.insert((job.generation, (*job.reader).clone())).1,
        };
        let mut results = job.results;
        job.block.read_into(reader, &mut results);
        if outbox.send((job.block, results)).is_err() {
            return;
        }
    }
}

/// The rows of the open transaction table, read on `threads` threads and handed back in file
/// order by [`RowFlow::push`] and [`RowFlow::drain`].
pub(crate) struct RowFlow {
    threads: usize,
    workers: Vec<Worker>,
    /// The worker the next block goes to (round robin, so results return in order).
    next: usize,
    /// Workers holding a block, oldest first.
    pending: VecDeque<usize>,
    block: Block,
    spare: Vec<Block>,
    /// Result vectors given back by [`RowFlow::recycle`]: a block's results are about 300 KiB,
    /// and allocating them afresh each time makes the kernel zero new pages for every block.
    spare_results: Vec<Vec<RowResult>>,
    reader: Option<RowReader>,
    /// The workers' copy of `reader`, made when the table's first block is handed over.
    shared: Option<Arc<RowReader>>,
    generation: u64,
}

impl RowFlow {
    pub fn new(threads: usize) -> Self {
        RowFlow {
            threads: threads.max(1),
            workers: Vec::new(),
            next: 0,
            pending: VecDeque::new(),
            block: Block::default(),
            spare: Vec::new(),
            spare_results: Vec::new(),
            reader: None,
            shared: None,
            generation: 0,
        }
    }

    /// Starts a table read with `reader` (the previous one must be drained).
    pub fn start(&mut self, reader: RowReader) {
        debug_assert!(self.pending.is_empty() && self.block.len() == 0);
        self.reader = Some(reader);
        self.shared = None;
        self.generation += 1;
    }

    /// The open table's reader.
    pub fn reader(&mut self) -> Result<&mut RowReader> {
        self.reader.as_mut().ok_or_else(|| Error::internal("a row arrived before its table was planned"))
    }

    /// Adds a row (taken out of `rec`); returns the results of the blocks finished meanwhile,
    /// in file order.
    pub fn push(
        &mut self,
        rec: &mut StringRecord,
        line: u64,
        bad: Option<String>,
    ) -> Result<Vec<Vec<RowResult>>> {
        self.block.push(rec, line, bad);
        let mut done = Vec::new();
        if self.block.len() >= BLOCK_ROWS {
            if self.threads == 1 {
                done.push(self.read_here()?);
            } else {
                self.hand_over(&mut done)?;
            }
        }
        Ok(done)
    }

    /// Ends the table: the results of every row not yet returned, in file order.
    pub fn drain(&mut self) -> Result<Vec<Vec<RowResult>>> {
        let mut done = Vec::new();
        while !self.pending.is_empty() {
            done.push(self.receive()?);
        }
        if self.block.len() > 0 {
            done.push(self.read_here()?);
        }
        Ok(done)
    }

    /// Reads the gathered block on this thread.
    fn read_here(&mut self) -> Result<Vec<RowResult>> {
        let reader = self.reader.as_mut().ok_or_else(|| Error::internal("rows without a table"))?;
        let mut results = self.spare_results.pop().unwrap_or_default();
        self.block.read_into(reader, &mut results);
        self.block.clear();
        Ok(results)
    }

    /// Hands the gathered block to the next worker, first taking the oldest results when
    /// enough blocks are in flight.
    fn hand_over(&mut self, done: &mut Vec<Vec<RowResult>>) -> Result<()> {
        if self.workers.is_empty() {
            for i in 0..self.threads {
                self.workers.push(Worker::spawn(i)?);
            }
        }
        while self.pending.len() >= self.threads * BLOCKS_PER_WORKER {
            done.push(self.receive()?);
        }
        let reader = match &self.shared {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(self.reader()?.clone());
                self.shared = Some(r.clone());
                r
            }
        };
        let block = std::mem::replace(&mut self.block, self.spare.pop().unwrap_or_default());
        let results = self.spare_results.pop().unwrap_or_default();
        let job = Job { reader, generation: self.generation, block, results };
        let w = self.next;
        let sent = self.workers[w].jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(stopped());
        }
        self.pending.push_back(w);
        self.next = (w + 1) % self.workers.len();
        Ok(())
    }

    /// Takes back the result vectors of [`RowFlow::push`] and [`RowFlow::drain`] once they
    /// are emptied.
    pub fn recycle(&mut self, done: Vec<Vec<RowResult>>) {
        let keep = self.threads * BLOCKS_PER_WORKER + 1;
        let emptied = done.into_iter().filter(|v| v.is_empty() && v.capacity() > 0);
        self.spare_results.extend(emptied.take(keep.saturating_sub(self.spare_results.len())));
    }

    /// The oldest block's results.
    fn receive(&mut self) -> Result<Vec<RowResult>> {
        let w = self.pending.pop_front().ok_or_else(stopped)?;
        let (mut block, results) = self.workers[w].done.recv().map_err(|_| stopped())?;
        block.clear();
        self.spare.push(block);
        Ok(results)
    }
}

fn stopped() -> Error {
    Error::internal("a thread reading rows stopped")
}

#[cfg(test)]
mod tests {
    use std::fmt::Write;

    use super::super::pan::PanKey;
    use super::super::pipeline::{parse_on, ParseSummary};
    use crate::bank::BankId;
    use crate::facts::{Fact, Report, ReportOptions, ReportType, Sha256};

    /// Two tables: the first without transaction ids (generated, with repeated rows), summary
    /// lines, bad amounts and a row that is not text; the second with ids of its own.
    fn file() -> Vec<u8> {
        let cards = ["4111111111111111", "5500005555555559", "4012888888881881", "378282246310005"];
        let mut out =
            b"Report,Daily authorizations\n\nRecord Type,Date,Time,Card Number,Amount,Currency,Merchant\n"
                .to_vec();
        for i in 0..9000u32 {
            let mut row = String::new();
            match i {
                i if i % 101 == 7 => row.push_str("Subtotal,,,,1000.00,EUR,\n"),
                i if i % 97 == 5 => {
                    row.push_str("Sale,2026-03-01,10:00:00,4111111111111111,5.00,EUR,Repeat\n")
                }
                i if i % 89 == 3 => {
                    writeln!(row, "Sale,2026-03-01,10:00:00,{},12.3x,EUR,Bad", cards[0]).unwrap()
                }
                i => writeln!(
                    row,
                    "Sale,2026-03-{:02},{:02}:{:02}:00,{},{}.{:02},EUR,Shop {}",
                    i % 28 + 1,
                    i % 24,
                    i % 60,
                    cards[i as usize % cards.len()],
                    i % 500,
                    i % 100,
                    i % 37
                )
                .unwrap(),
            }
            out.extend_from_slice(row.as_bytes());
            if i == 6000 {
                out.extend_from_slice(b"Sale,2026-03-02,11:00:00,4111111111111111,1.00,EUR,Caf\xe9 \xff\n");
            }
        }
        out.extend_from_slice(b"\nTransaction ID,Date,Amount,Currency,Card Number\n");
        for i in 0..3000u32 {
            let id = if i % 50 == 0 { 1 } else { i };
            let row =
                format!("T{id},2026-04-{:02},{}.00,USD,{}\n", i % 28 + 1, i % 900 + 1, cards[i as usize % 4]);
            out.extend_from_slice(row.as_bytes());
        }
        out
    }

    fn parse(report: &Report, bytes: Vec<u8>, threads: usize) -> (Vec<Fact>, ParseSummary) {
        let mut facts = Vec::new();
        let summary = parse_on(
            std::io::Cursor::new(bytes),
            report,
            &PanKey::new([7; 32]),
            &[],
            500,
            threads,
            &mut |batch: Vec<Fact>| {
                facts.extend(batch);
                Ok(())
            },
        )
        .unwrap();
        (facts, summary)
    }

    #[test]
    fn every_thread_count_reads_the_same_facts_in_the_same_order() {
        let bytes = file();
        let options = ReportOptions { report_type: ReportType::Clearing, ..Default::default() };
        let report =
            Report::queued(BankId::from_uuid(uuid::Uuid::nil()), Sha256::digest(&bytes), 1, &options);
        let (facts, summary) = parse(&report, bytes.clone(), 1);
        assert!(facts.len() > 10_000, "{} facts: {:?}", facts.len(), summary.errors.first());
        assert!(summary.rows_rejected >= 100, "{summary:?}");
        assert!(summary.errors.iter().any(|e| e.code == "unreadable_row"), "{:?}", summary.errors);
        assert!(summary.structure.structural_lines >= 89, "{:?}", summary.structure);
        assert!(facts.iter().any(|f| f.transaction_id.ends_with("-2")), "repeated rows are numbered");
        assert!(facts.iter().any(|f| f.transaction_id == "T2"), "the second table is read");
        for threads in [2, 3, 8] {
            let (f, s) = parse(&report, bytes.clone(), threads);
            assert_eq!(s, summary, "summary on {threads} threads");
            assert_eq!(f.len(), facts.len(), "facts on {threads} threads");
            if let Some(i) = (0..f.len()).find(|&i| f[i] != facts[i]) {
                panic!("fact {i} on {threads} threads: {:?}, on one: {:?}", f[i], facts[i]);
            }
        }
    }
}
