//! Embedded audit chains: one JSON-lines file per bank under `audit/`, verified from disk so
//! that tampering with the file at rest is detected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::persist::{read_line_at, read_lines, AppendLog};
use crate::bank::BankId;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::store::audit::{verify_chain, AnswerId, AuditEntry, AuditRecord, ChainVerification};

/// One bank's chain: its head, and where each answer's entry is. A persisted chain keeps only
/// byte offsets in memory and reads entries back from its file, so memory does not grow with
/// every answer served; an unpersisted one (tests) keeps the entries.
#[derive(Debug, Default)]
struct Chain {
    head: Option<(u64, Sha256)>,
    position: HashMap<AnswerId, u64>,
    entries: Vec<AuditEntry>,
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
            let chain = match self.path(bank) {
                Some(path) => load(&path)?,
                None => Chain::default(),
            };
            self.chains.insert(bank, chain);
        }
        Ok(self.chains.entry(bank).or_default())
    }

    /// Appends a record to `bank`'s chain.
    pub fn append(&mut self, bank: BankId, record: AuditRecord) -> Result<AuditEntry> {
        let chain = self.chain(bank)?;
        let prev_hash = chain.head.map_or(Sha256([0; 32]), |(_, hash)| hash);
        let canonical = record.canonical_bytes();
        let hash = AuditEntry::chain_hash_of(&prev_hash, &canonical);
        let seq = chain.head.map_or(1, |(seq, _)| seq + 1);
        let entry = AuditEntry { seq, record, prev_hash, hash };
        let position = match &mut chain.log {
            Some(log) => {
                log.append_line(&AuditEntry::json_line(seq, &canonical, &prev_hash, &hash), false)?
            }
            None => {
                chain.entries.push(entry.clone());
                chain.entries.len() as u64 - 1
            }
        };
        chain.head = Some((seq, hash));
        chain.position.insert(entry.record.answer_id, position);
        Ok(entry)
    }

    /// The entry for an answer of `bank`.
    pub fn get(&mut self, bank: BankId, answer: AnswerId) -> Result<Option<AuditEntry>> {
        let chain = self.chain(bank)?;
        let Some(&position) = chain.position.get(&answer) else { return Ok(None) };
        match &chain.log {
            Some(log) => read_line_at(log.path(), position).map(Some),
            None => Ok(chain.entries.get(position as usize).cloned()),
        }
    }

    /// Verifies `bank`'s chain as stored (re-reading the file when persisted).
    pub fn verify(&mut self, bank: BankId) -> Result<ChainVerification> {
        Ok(verify_chain(&self.entries(bank)?))
    }

    /// `bank`'s chain as stored.
    pub fn entries(&mut self, bank: BankId) -> Result<Vec<AuditEntry>> {
        match self.path(bank) {
            Some(path) => read_lines(&path),
            None => Ok(self.chain(bank)?.entries.clone()),
        }
    }
}

/// Reads a persisted chain's head and positions. A torn last line (a crash mid-write) is cut
/// off, so the next append does not leave it in the middle of the chain.
fn load(path: &Path) -> Result<Chain> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut chain = Chain::default();
    let mut offset = 0usize;
    while offset < bytes.len() {
        let end = bytes[offset..].iter().position(|&b| b == b'\n').map(|i| offset + i);
        let line = &bytes[offset..end.unwrap_or(bytes.len())];
        let last = end.is_none_or(|e| e + 1 == bytes.len());
        match serde_json::from_slice::<AuditEntry>(line) {
            Ok(entry) if end.is_some() => {
                chain.head = Some((entry.seq, entry.hash));
                chain.position.insert(entry.record.answer_id, offset as u64);
            }
            // Anything bad before the end is damage, reported as such.
            Err(e) if !last => {
                return Err(Error::internal(format!("{} at byte {offset} is not valid: {e}", path.display())))
            }
            // No newline, or a bad final line: a write that never completed (and so was
            // never acknowledged).
            _ => {
                truncate(path, offset)?;
                break;
            }
        }
        offset = end.map_or(bytes.len(), |e| e + 1);
    }
    chain.log = Some(AppendLog::open(path)?);
    Ok(chain)
}

fn truncate(path: &Path, len: usize) -> Result<()> {
    tracing::warn!(path = %path.display(), "cutting off a torn last audit line");
    std::fs::OpenOptions::new().write(true).open(path)?.set_len(len as u64)?;
    Ok(())
}
