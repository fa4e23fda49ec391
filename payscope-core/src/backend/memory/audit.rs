//! Embedded audit chains: one JSON-lines file per bank under `audit/`, verified from disk so
//! that tampering with the file at rest is detected.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::persist::{read_line_at, AppendLog};
use crate::bank::BankId;
use crate::error::{Error, Result};
use crate::facts::Sha256;
use crate::store::audit::{
    AnswerId, AuditEntry, AuditPage, AuditRecord, ChainVerification, ChainVerifier, TrailPage,
};

/// One bank's chain: its head, and where each answer's entry is. A persisted chain keeps only
/// byte offsets in memory and reads entries back from its file, so memory does not grow with
/// every answer served; an unpersisted one (tests) keeps the entries.
#[derive(Debug, Default)]
pub(crate) struct Chain {
    head: Option<(u64, Sha256)>,
    position: Positions,
    entries: Vec<AuditEntry>,
    file: Option<Arc<ChainFile>>,
}

/// Where each answer's entry is, in maps of at most [`Positions::SEGMENT`] answers. One map
/// for every answer ever served would, each time it doubled, rehash all of them while every
/// append waited for the chains' lock (requests stalled 50–120 ms at about one and two million
/// answers under `benches/http.sh`); a segment's last rehash moves a quarter of a million.
#[derive(Debug, Default)]
struct Positions(Vec<HashMap<AnswerId, u64>>);

impl Positions {
    const SEGMENT: usize = 1 << 18;

    fn insert(&mut self, answer: AnswerId, position: u64) {
        match self.0.last_mut() {
            Some(segment) if segment.len() < Self::SEGMENT => {
                segment.insert(answer, position);
            }
            _ => self.0.push(HashMap::from([(answer, position)])),
        }
    }

    /// The latest position recorded for `answer`.
    fn get(&self, answer: &AnswerId) -> Option<u64> {
        self.0.iter().rev().find_map(|segment| segment.get(answer).copied())
    }
}

/// A persisted chain's file, written outside the chains' lock (group commit): an append
/// links its entry and queues its line under that lock, then — with the lock released —
/// whoever takes the file writes every queued line in one `write`. Concurrent answers share
/// a system call instead of queueing behind each other's writes, and the file keeps the
/// chain's order because lines are queued in it.
#[derive(Debug)]
pub(crate) struct ChainFile {
    path: PathBuf,
    /// Lines linked but not yet written, and the file length once they are.
    queued: Mutex<(Vec<u8>, u64)>,
    /// Held across the `write`: an async lock, so appends waiting for it (whose lines the
    /// holder is usually writing) free their worker thread for other requests.
    log: tokio::sync::Mutex<AppendLog>,
    /// A write failed: the chain in memory is ahead of its file, so it takes no more appends;
    /// the next answer reads the chain from its file again ([`AuditChains::needs_load`]).
    failed: AtomicBool,
}

/// A line queued by [`AuditChains::append`]: written once the file reaches `end` bytes.
pub(crate) struct Queued {
    file: Arc<ChainFile>,
    end: u64,
}

impl Queued {
    /// Returns once the line is in the file (written by this call or an earlier one).
    pub async fn write(self) -> Result<()> {
        let file = &self.file;
        let mut log = file.log.lock().await;
        if log.len() >= self.end {
            return Ok(());
        }
        if file.failed.load(Ordering::SeqCst) {
            return Err(failed(&file.path));
        }
        let lines = std::mem::take(&mut file.queued.lock().unwrap_or_else(|e| e.into_inner()).0);
        log.append_line(&lines, false).inspect_err(|_| file.failed.store(true, Ordering::SeqCst))?;
        Ok(())
    }
}

fn failed(path: &Path) -> Error {
    Error::internal(format!(
        "an earlier write to {} failed; the audit chain is read from its file again before the next answer",
        path.display()
    ))
}

impl Chain {
    /// A write of this chain's file failed, so the chain must be read from the file again.
    fn failed(&self) -> bool {
        self.file.as_ref().is_some_and(|f| f.failed.load(Ordering::SeqCst))
    }
}

/// Every bank's chain. Persisted chains are read from their files by [`load`] before their
/// first use ([`AuditChains::needs_load`], [`AuditChains::insert`]), so that no file is read
/// while the chains are locked; entries are read back the same way ([`AuditChains::path`]).
#[derive(Debug, Default)]
pub(crate) struct AuditChains {
    dir: Option<PathBuf>,
    chains: HashMap<BankId, Chain>,
}

impl AuditChains {
    /// Chains persisted under `dir`.
    pub fn open(dir: &Path) -> Result<AuditChains> {
        std::fs::create_dir_all(dir)?;
        Ok(AuditChains { dir: Some(dir.to_owned()), chains: HashMap::new() })
    }

    /// The file of `bank`'s chain, when chains are persisted.
    pub fn path(&self, bank: BankId) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{bank}.jsonl")))
    }

    /// The file `bank`'s chain must be read from before it is used: it has not been, or a
    /// write failed (a full disk, say) and the file holds less than the chain in memory.
    pub fn needs_load(&self, bank: BankId) -> Option<PathBuf> {
        // Checked before building the path: this runs twice for every answer.
        match self.chains.get(&bank) {
            Some(chain) if !chain.failed() => None,
            _ => self.path(bank),
        }
    }

    /// Adds `bank`'s chain as [`load`] read it (unless a usable one is there already).
    pub fn insert(&mut self, bank: BankId, chain: Chain) {
        match self.chains.get(&bank) {
            Some(usable) if !usable.failed() => {}
            _ => {
                self.chains.insert(bank, chain);
            }
        }
    }

    fn chain(&mut self, bank: BankId) -> Result<&mut Chain> {
        if self.needs_load(bank).is_some() {
            return Err(Error::internal(format!(
                "the audit chain of bank {bank} was used before it was loaded"
            )));
        }
        Ok(self.chains.entry(bank).or_default())
    }

    /// Links a record into `bank`'s chain; `canonical` is its
    /// [`AuditRecord::canonical_bytes`], serialized by the caller before taking the lock. A
    /// persisted chain returns its line queued: the append is done once [`Queued::write`]
    /// returns, which the caller calls after releasing the lock.
    pub fn append(
        &mut self,
        bank: BankId,
        record: AuditRecord,
        canonical: &[u8],
    ) -> Result<(AuditEntry, Option<Queued>)> {
        let chain = self.chain(bank)?;
        let prev_hash = chain.head.map_or(Sha256([0; 32]), |(_, hash)| hash);
        let hash = AuditEntry::chain_hash_of(&prev_hash, canonical);
        let seq = chain.head.map_or(1, |(seq, _)| seq + 1);
        let entry = AuditEntry { seq, record, prev_hash, hash };
        let (position, queued) = match &chain.file {
            Some(file) => {
                if file.failed.load(Ordering::SeqCst) {
                    return Err(failed(&file.path));
                }
                let line = AuditEntry::json_line(seq, canonical, &prev_hash, &hash);
                let mut queue = file.queued.lock().unwrap_or_else(|e| e.into_inner());
                let position = queue.1;
                queue.0.extend_from_slice(&line);
                queue.1 += line.len() as u64;
                (position, Some(Queued { file: file.clone(), end: queue.1 }))
            }
            None => {
                chain.entries.push(entry.clone());
                (chain.entries.len() as u64 - 1, None)
            }
        };
        chain.head = Some((seq, hash));
        chain.position.insert(entry.record.answer_id, position);
        Ok((entry, queued))
    }

    /// Where an answer of `bank` is: a byte offset in the chain's file when persisted (read
    /// with [`Located::read`] after releasing the lock), otherwise the entry itself.
    pub fn locate(&mut self, bank: BankId, answer: AnswerId) -> Result<Option<Located>> {
        let path = self.path(bank);
        let chain = self.chain(bank)?;
        let Some(position) = chain.position.get(&answer) else { return Ok(None) };
        Ok(match path {
            Some(path) => Some(Located::InFile(path, position)),
            None => chain.entries.get(position as usize).cloned().map(Located::Entry),
        })
    }

    /// Up to `limit` of an unpersisted chain's entries from index `from` (a persisted one is
    /// read from [`AuditChains::path`] by [`read_page`]).
    pub fn page_in_memory(&mut self, bank: BankId, from: u64, limit: usize) -> Result<AuditPage> {
        let entries = &self.chain(bank)?.entries;
        let from = (from as usize).min(entries.len());
        let page: Vec<AuditEntry> = entries[from..].iter().take(limit).cloned().collect();
        let end = from + page.len();
        Ok(AuditPage { next: (end < entries.len()).then_some(end as u64), entries: page })
    }

    /// An unpersisted chain's trail from its newest entry back (the cursor is the index the
    /// next page ends before).
    pub fn trail_in_memory(&mut self, bank: BankId, page: TrailPage<'_>) -> Result<AuditPage> {
        let entries = &self.chain(bank)?.entries;
        let end = page.before.map_or(entries.len(), |b| (b as usize).min(entries.len()));
        let mut kept = Vec::new();
        let mut at = end;
        while at > 0 && kept.len() < page.limit {
            at -= 1;
            if page.keeps(&entries[at]) {
                kept.push(entries[at].clone());
            }
        }
        Ok(AuditPage { next: (at > 0).then_some(at as u64), entries: kept })
    }
}

/// Where [`AuditChains::locate`] found an answer.
pub(crate) enum Located {
    InFile(PathBuf, u64),
    Entry(AuditEntry),
}

impl Located {
    /// The entry, read from its file if it is there.
    pub fn read(self) -> Result<AuditEntry> {
        match self {
            Located::InFile(path, position) => read_line_at(&path, position),
            Located::Entry(entry) => Ok(entry),
        }
    }
}

/// Reads a persisted chain's head and positions, a line at a time (a chain of millions of
/// answers is not held in memory). A torn last line (a crash mid-write) is cut off, so the
/// next append does not leave it in the middle of the chain.
pub(crate) fn load(path: &Path) -> Result<Chain> {
    let mut chain = Chain::default();
    if let Some(mut lines) = ChainLines::open(path, 0)? {
        let mut valid = 0;
        while let Some((offset, line)) = lines.next_line()? {
            match serde_json::from_slice::<AuditEntry>(line) {
                Ok(entry) => {
                    chain.head = Some((entry.seq, entry.hash));
                    chain.position.insert(entry.record.answer_id, offset);
                    valid = lines.offset;
                }
                // Anything bad before the end is damage, reported as such.
                Err(e) if !lines.at_end()? => {
                    return Err(Error::internal(format!(
                        "{} at byte {offset} is not valid: {e}",
                        path.display()
                    )))
                }
                Err(_) => break,
            }
        }
        // A bad final line, or one without its newline: a write that never completed (and so
        // was never acknowledged).
        if valid < std::fs::metadata(path)?.len() {
            truncate(path, valid)?;
        }
    }
    let log = AppendLog::open(path)?;
    chain.file = Some(Arc::new(ChainFile {
        path: path.to_owned(),
        queued: Mutex::new((Vec::new(), log.len())),
        log: tokio::sync::Mutex::new(log),
        failed: AtomicBool::new(false),
    }));
    Ok(chain)
}

/// A chain file's complete lines from a byte offset, read through one reused buffer. A last
/// line without its newline is an append still being written (or one a crash cut short, so
/// never acknowledged) and is not returned.
struct ChainLines {
    reader: BufReader<std::fs::File>,
    offset: u64,
    line: Vec<u8>,
}

impl ChainLines {
    /// The lines of `path` from byte `from`; `None` when the chain has no file yet.
    fn open(path: &Path, from: u64) -> Result<Option<ChainLines>> {
        use std::io::{Seek, SeekFrom};
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        file.seek(SeekFrom::Start(from))?;
        Ok(Some(ChainLines {
            reader: BufReader::with_capacity(1 << 16, file),
            offset: from,
            line: Vec::new(),
        }))
    }

    /// Whether nothing follows the lines read so far.
    fn at_end(&mut self) -> Result<bool> {
        Ok(self.reader.fill_buf()?.is_empty())
    }

    /// The next complete line and the offset it starts at.
    fn next_line(&mut self) -> Result<Option<(u64, &[u8])>> {
        self.line.clear();
        let read = self.reader.read_until(b'\n', &mut self.line)?;
        if read == 0 || self.line.last() != Some(&b'\n') {
            return Ok(None);
        }
        let start = self.offset;
        self.offset += read as u64;
        Ok(Some((start, &self.line)))
    }
}

/// Verifies a persisted chain from its file a line at a time, so memory does not grow with
/// the chain. A line that is not an entry is a broken link.
pub(crate) fn verify_file(path: &Path) -> Result<ChainVerification> {
    let mut verifier = ChainVerifier::default();
    let Some(mut lines) = ChainLines::open(path, 0)? else { return Ok(verifier.finish()) };
    while let Some((offset, line)) = lines.next_line()? {
        match serde_json::from_slice::<AuditEntry>(line) {
            Ok(entry) => {
                if let Some(broken) = verifier.check(&entry) {
                    return Ok(broken);
                }
            }
            Err(e) => {
                return Ok(verifier.unreadable(format!("the line at byte {offset} is not an entry: {e}")))
            }
        }
    }
    Ok(verifier.finish())
}

/// Up to `limit` entries of a persisted chain's file from byte `from`, and the offset the next
/// page starts at.
pub(crate) fn read_page(path: &Path, from: u64, limit: usize) -> Result<AuditPage> {
    let mut entries = Vec::new();
    let Some(mut lines) = ChainLines::open(path, from)? else { return Ok(AuditPage { entries, next: None }) };
    while entries.len() < limit {
        let Some((offset, line)) = lines.next_line()? else { return Ok(AuditPage { entries, next: None }) };
        entries.push(serde_json::from_slice(line).map_err(|e| {
            Error::internal(format!("{} at byte {offset} is not valid: {e}", path.display()))
        })?);
    }
    Ok(AuditPage { entries, next: Some(lines.offset) })
}

/// Entries a trail page reads at most when it filters (a rare subject does not make one page
/// read a whole chain: the page comes back short, with where to go on).
const TRAIL_SCAN: usize = 10_000;

/// A persisted chain's trail from its newest complete line back; the cursor is the byte offset
/// the next page ends at. The file is read backwards in blocks.
pub(crate) fn read_trail(path: &Path, page: TrailPage<'_>) -> Result<AuditPage> {
    let mut entries = Vec::new();
    let Some(mut lines) = LinesBack::open(path, page.before)? else {
        return Ok(AuditPage { entries, next: None });
    };
    let mut scanned = 0;
    while entries.len() < page.limit && scanned < TRAIL_SCAN {
        let Some((offset, line)) = lines.previous()? else { return Ok(AuditPage { entries, next: None }) };
        let entry: AuditEntry = serde_json::from_slice(&line)
            .map_err(|e| Error::internal(format!("{} at byte {offset} is not valid: {e}", path.display())))?;
        scanned += 1;
        if page.keeps(&entry) {
            entries.push(entry);
        }
    }
    Ok(AuditPage { entries, next: Some(lines.unread_end()).filter(|&end| end > 0) })
}

/// A file's complete lines from the end (or a byte offset) back. A last line without its
/// newline (an append being written) is left out.
struct LinesBack {
    file: std::fs::File,
    /// The bytes from `start` to the end of the region not yet returned.
    buffer: Vec<u8>,
    start: u64,
}

impl LinesBack {
    const BLOCK: u64 = 1 << 16;

    fn open(path: &Path, before: Option<u64>) -> Result<Option<LinesBack>> {
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        let end = before.map_or(len, |b| b.min(len));
        let mut lines = LinesBack { file, buffer: Vec::new(), start: end };
        // A cursor from a client must be where a line begins, as the trail's own cursors are.
        if before.is_some() && end > 0 {
            lines.read_block()?;
            if lines.buffer.last() != Some(&b'\n') {
                return Err(Error::invalid(
                    "invalid_request",
                    "`cursor` is not one this trail gave: pass the `next_cursor` of an earlier page",
                ));
            }
        }
        if before.is_none() {
            // Drop a torn or unfinished last line.
            while lines.start > 0 && !lines.buffer.contains(&b'\n') {
                lines.read_block()?;
            }
            let keep = lines.buffer.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            lines.buffer.truncate(keep);
        }
        Ok(Some(lines))
    }

    /// Where the lines not yet returned end: the next page's cursor.
    fn unread_end(&self) -> u64 {
        self.start + self.buffer.len() as u64
    }

    fn read_block(&mut self) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let n = Self::BLOCK.min(self.start);
        self.start -= n;
        self.file.seek(SeekFrom::Start(self.start))?;
        let mut block = vec![0; n as usize];
        self.file.read_exact(&mut block)?;
        block.extend_from_slice(&self.buffer);
        self.buffer = block;
        Ok(())
    }

    /// The line before those returned so far, with the offset it starts at.
    fn previous(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            if self.buffer.is_empty() && self.start == 0 {
                return Ok(None);
            }
            let body = &self.buffer[..self.buffer.len().saturating_sub(1)];
            let begin = match body.iter().rposition(|&b| b == b'\n') {
                Some(p) => p + 1,
                None if self.start == 0 => 0,
                None => {
                    self.read_block()?;
                    continue;
                }
            };
            let line = self.buffer.split_off(begin);
            return Ok(Some((self.start + begin as u64, line)));
        }
    }
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    tracing::warn!(path = %path.display(), "cutting off a torn last audit line");
    std::fs::OpenOptions::new().write(true).open(path)?.set_len(len)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{load, read_trail, Positions};
    use crate::calendar::Timestamp;
    use crate::facts::Sha256;
    use crate::store::audit::{AnswerId, AuditEntry, AuditRecord, TrailPage};

    /// A file of `n` linked entries, as lines.
    fn chain_lines(n: u64) -> Vec<Vec<u8>> {
        let mut prev = Sha256([0; 32]);
        (1..=n)
            .map(|seq| {
                let body = serde_json::json!({"summary": format!("answer {seq}")}).into();
                let record = AuditRecord {
                    answer_id: AnswerId::new(),
                    created_at: Timestamp(seq as i64),
                    asked_by: None,
                    body,
                };
                let canonical = record.canonical_bytes();
                let hash = AuditEntry::chain_hash_of(&prev, &canonical);
                let line = AuditEntry::json_line(seq, &canonical, &prev, &hash);
                prev = hash;
                line
            })
            .collect()
    }

    /// A write that failed (a full disk) leaves the chain in memory ahead of its file: it
    /// refuses answers until read again from the file, which the next answer does, and the
    /// chain then continues from the last entry the file holds.
    #[tokio::test]
    async fn a_chain_whose_write_failed_is_read_again_from_its_file() {
        use super::AuditChains;
        use crate::bank::BankId;
        use std::sync::atomic::Ordering;
        let dir = tempfile::tempdir().unwrap();
        let mut chains = AuditChains::open(dir.path()).unwrap();
        let bank = BankId::from_uuid(uuid::Uuid::new_v4());
        let record = |n: i64| AuditRecord {
            answer_id: AnswerId::new(),
            created_at: Timestamp(n),
            asked_by: None,
            body: serde_json::json!({"summary": format!("answer {n}")}).into(),
        };
        let append = |chains: &mut AuditChains, n| {
            let r = record(n);
            let canonical = r.canonical_bytes();
            chains.append(bank, r, &canonical)
        };
        let path = chains.needs_load(bank).unwrap();
        chains.insert(bank, load(&path).unwrap());
        let (first, queued) = append(&mut chains, 1).unwrap();
        queued.unwrap().write().await.unwrap();
        assert!(chains.needs_load(bank).is_none());
        // The second answer's write fails.
        let (_, queued) = append(&mut chains, 2).unwrap();
        queued.as_ref().unwrap().file.failed.store(true, Ordering::SeqCst);
        assert!(queued.unwrap().write().await.is_err());
        assert!(append(&mut chains, 3).is_err(), "no answer is linked after an unwritten one");
        let path = chains.needs_load(bank).expect("read again from the file");
        chains.insert(bank, load(&path).unwrap());
        let (third, queued) = append(&mut chains, 3).unwrap();
        queued.unwrap().write().await.unwrap();
        assert_eq!((third.seq, third.prev_hash), (2, first.hash));
        assert_eq!(load(&path).unwrap().head, Some((2, third.hash)));
    }

    #[test]
    fn load_cuts_a_bad_last_line_and_refuses_damage_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.jsonl");
        let lines = chain_lines(3);
        let good: Vec<u8> = lines.concat();
        // A complete but unreadable last line, and a last line without its newline: both cut.
        for tail in [&b"{\"seq\":4,\"rec\n"[..], &lines[0][..20]] {
            std::fs::write(&path, [&good[..], tail].concat()).unwrap();
            let chain = load(&path).unwrap();
            assert_eq!(chain.head.map(|(seq, _)| seq), Some(3));
            assert_eq!(std::fs::read(&path).unwrap(), good);
        }
        // Something unreadable with entries after it is damage: an error naming the byte.
        std::fs::write(&path, [&lines[0][..], b"garbage\n", &lines[1][..]].concat()).unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("at byte {}", lines[0].len())), "{err}");
        // No file yet: an empty chain.
        assert!(load(&dir.path().join("new.jsonl")).unwrap().head.is_none());
    }

    /// Read back in pages across the reader's 64 KiB blocks, the trail is every entry newest
    /// first; an unfinished last line is not part of it.
    #[test]
    fn the_trail_reads_the_file_backwards_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chain.jsonl");
        let lines = chain_lines(2_000);
        assert!(lines.concat().len() > 3 * (1 << 16));
        std::fs::write(&path, [lines.concat(), lines[0][..30].to_vec()].concat()).unwrap();
        for limit in [1, 7, 500, 5_000] {
            let (mut seqs, mut before) = (Vec::new(), None);
            loop {
                let page = read_trail(&path, TrailPage { before, limit, subject: None }).unwrap();
                seqs.extend(page.entries.iter().map(|e| e.seq));
                let Some(next) = page.next else { break };
                before = Some(next);
            }
            assert_eq!(seqs, (1..=2_000).rev().collect::<Vec<u64>>(), "pages of {limit}");
        }
        let none =
            read_trail(&dir.path().join("new.jsonl"), TrailPage { before: None, limit: 5, subject: None });
        // A cursor inside a line (made up by a client) is refused, not read as a torn line.
        let e = read_trail(&path, TrailPage { before: Some(9), limit: 5, subject: None }).unwrap_err();
        assert_eq!(e.kind(), crate::error::ErrorKind::InvalidInput, "{e}");
        assert_eq!(none.unwrap().entries.len(), 0);
    }

    #[test]
    fn positions_span_segments_and_keep_the_latest() {
        let mut positions = Positions::default();
        let answers: Vec<AnswerId> = (0..Positions::SEGMENT + 10).map(|_| AnswerId::new()).collect();
        for (i, answer) in answers.iter().enumerate() {
            positions.insert(*answer, i as u64);
        }
        assert_eq!(positions.0.len(), 2, "a second map once the first is full");
        assert_eq!(positions.0[0].len(), Positions::SEGMENT);
        assert_eq!(positions.get(&answers[0]), Some(0));
        assert_eq!(positions.get(&answers[Positions::SEGMENT + 9]), Some(Positions::SEGMENT as u64 + 9));
        assert_eq!(positions.get(&AnswerId::new()), None);
        // An answer recorded again resolves to its latest line, as with one map.
        positions.insert(answers[0], 7);
        assert_eq!(positions.get(&answers[0]), Some(7));
    }
}
