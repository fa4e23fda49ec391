//! The embedded report index: every report status change appended to `reports.jsonl`,
//! folded (last write wins) and compacted when the data directory is opened.

use std::collections::HashMap;
use std::path::Path;

use super::persist::{read_lines, rewrite, AppendLog};
use crate::bank::BankId;
use crate::error::{Error, Result};
use crate::facts::{Report, ReportId, ReportStatus, Sha256};
use crate::store::{Registered, ReportPage};

#[derive(Debug, Default)]
struct BankReports {
    by_id: HashMap<ReportId, Report>,
    by_sha: HashMap<Sha256, ReportId>,
    next_seq: u64,
}

/// All banks' reports, with an optional append log.
#[derive(Debug, Default)]
pub(crate) struct ReportIndex {
    log: Option<AppendLog>,
    banks: HashMap<BankId, BankReports>,
}

impl ReportIndex {
    /// Loads and compacts `dir/reports.jsonl`.
    pub fn open(dir: &Path) -> Result<ReportIndex> {
        let path = dir.join("reports.jsonl");
        let mut index = ReportIndex::default();
        let all: Vec<Report> = read_lines(&path)?;
        // Fold: the last line of a report is its current state.
        let mut latest: HashMap<ReportId, usize> = HashMap::new();
        for (i, r) in all.iter().enumerate() {
            latest.insert(r.report_id, i);
        }
        let mut keep: Vec<usize> = latest.into_values().collect();
        keep.sort_unstable();
        let reports: Vec<Report> = keep.into_iter().map(|i| all[i].clone()).collect();
        rewrite(&path, &reports)?;
        for r in reports {
            index.insert(r);
        }
        index.log = Some(AppendLog::open(&path)?);
        Ok(index)
    }

    fn insert(&mut self, r: Report) {
        let bank = self.banks.entry(r.bank_id).or_default();
        bank.next_seq = bank.next_seq.max(r.seq + 1);
        bank.by_sha.insert(r.sha256, r.report_id);
        bank.by_id.insert(r.report_id, r);
    }

    fn persist(&mut self, r: &Report) -> Result<()> {
        match &mut self.log {
            // Final states are fsynced: they decide what is rebuilt after a crash.
            Some(log) => log.append(r, r.status.is_final()).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Registers a new report or returns the existing one with the same hash.
    pub fn register(&mut self, mut r: Report) -> Result<Registered> {
        let bank = self.banks.entry(r.bank_id).or_default();
        if let Some(existing) = bank.by_sha.get(&r.sha256).and_then(|id| bank.by_id.get(id)) {
            return Ok(Registered::Duplicate(existing.clone()));
        }
        r.seq = bank.next_seq.max(1);
        self.persist(&r)?;
        self.insert(r.clone());
        Ok(Registered::New(r))
    }

    /// Stores a new state of a registered report.
    pub fn update(&mut self, r: &Report) -> Result<()> {
        let Some(stored) = self.get(r.bank_id, r.report_id) else {
            return Err(Error::NotFound(format!("report {}", r.report_id)));
        };
        if stored.status.is_final() && stored.status != r.status {
            return Ok(());
        }
        self.persist(r)?;
        self.insert(r.clone());
        Ok(())
    }

    /// Queues a failed report again with `r`'s options; false when it is not failed.
    pub fn reopen(&mut self, r: &Report) -> Result<bool> {
        match self.get(r.bank_id, r.report_id) {
            None => Err(Error::NotFound(format!("report {}", r.report_id))),
            Some(stored) if stored.status != ReportStatus::Failed => Ok(false),
            Some(_) => {
                self.persist(r)?;
                self.insert(r.clone());
                Ok(true)
            }
        }
    }

    /// A report of `bank`.
    pub fn get(&self, bank: BankId, id: ReportId) -> Option<&Report> {
        self.banks.get(&bank)?.by_id.get(&id)
    }

    /// A page of `bank`'s reports, newest first. The cursor is the `seq` of the last report
    /// of the previous page.
    pub fn list(&self, bank: BankId, limit: usize, cursor: Option<&str>) -> Result<ReportPage> {
        let before = match cursor {
            None => u64::MAX,
            Some(c) => {
                c.parse::<u64>().map_err(|_| Error::invalid("invalid_request", "cursor is not valid"))?
            }
        };
        let mut reports: Vec<&Report> = self
            .banks
            .get(&bank)
            .map(|b| b.by_id.values().filter(|r| r.seq < before).collect())
            .unwrap_or_default();
        reports.sort_unstable_by_key(|r| std::cmp::Reverse(r.seq));
        let more = reports.len() > limit;
        reports.truncate(limit);
        let next_cursor = if more { reports.last().map(|r| r.seq.to_string()) } else { None };
        Ok(ReportPage { reports: reports.into_iter().cloned().collect(), next_cursor })
    }

    /// Every report in `status`, oldest first, across banks.
    pub fn with_status(&self, status: ReportStatus) -> Vec<Report> {
        let mut out: Vec<Report> = self
            .banks
            .values()
            .flat_map(|b| b.by_id.values())
            .filter(|r| r.status == status)
            .cloned()
            .collect();
        out.sort_by_key(|r| (r.data_version.unwrap_or(u64::MAX), r.seq, r.report_id));
        out
    }
}
