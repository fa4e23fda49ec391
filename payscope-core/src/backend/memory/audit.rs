//! Embedded audit chains: one JSON-lines file per bank under `audit/`, verified from disk so
//! that tampering with the file at rest is detected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::persist::{read_lines, AppendLog};
use crate::bank::BankId;
use crate::error::Result;
use crate::store::audit::{verify_chain, AnswerId, AuditEntry, AuditRecord, ChainVerification};

#[derive(Debug, Default)]
struct Chain {
    entries: Vec<AuditEntry>,
    by_answer: HashMap<AnswerId, usize>,
    log: Option<AppendLog>,
}

/// Every bank's chain.
#[derive(Debug, Default)]
pub(crate) struct AuditChains {
    dir: Option<PathBuf>,
    chains: HashMap<BankId, Chain>,
}

impl AuditChains {
    /// Chains persisted under `dir` (loaded lazily per bank).
    pub fn open(dir: &Path) -> Result<AuditChains> {
        std::fs::create_dir_all(dir)?;
        Ok(AuditChains { dir: Some(dir.to_owned()), chains: HashMap::new() })
    }

    fn path(&self, bank: BankId) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{bank}.jsonl")))
    }

    fn chain(&mut self, bank: BankId) -> Result<&mut Chain> {
        if !self.chains.contains_key(&bank) {
            let mut chain = Chain::default();
            if let Some(path) = self.path(bank) {
                chain.entries = read_lines(&path)?;
                chain.by_answer =
                    chain.entries.iter().enumerate().map(|(i, e)| (e.record.answer_id, i)).collect();
                chain.log = Some(AppendLog::open(&path)?);
            }
            self.chains.insert(bank, chain);
        }
        Ok(self.chains.entry(bank).or_default())
    }

    /// Appends a record to `bank`'s chain.
    pub fn append(&mut self, bank: BankId, record: AuditRecord) -> Result<AuditEntry> {
        let chain = self.chain(bank)?;
        let entry = AuditEntry::next(chain.entries.last(), record);
        if let Some(log) = &mut chain.log {
            log.append(&entry, false)?;
        }
        chain.by_answer.insert(entry.record.answer_id, chain.entries.len());
        chain.entries.push(entry.clone());
        Ok(entry)
    }

    /// The entry for an answer of `bank`.
    pub fn get(&mut self, bank: BankId, answer: AnswerId) -> Result<Option<AuditEntry>> {
        let chain = self.chain(bank)?;
        Ok(chain.by_answer.get(&answer).map(|&i| chain.entries[i].clone()))
    }

    /// Verifies `bank`'s chain as stored (re-reading the file when persisted).
    pub fn verify(&mut self, bank: BankId) -> Result<ChainVerification> {
        match self.path(bank) {
            Some(path) => {
                let entries: Vec<AuditEntry> = read_lines(&path)?;
                Ok(verify_chain(&entries))
            }
            None => Ok(verify_chain(&self.chain(bank)?.entries)),
        }
    }
}
