//! The explainability audit trail: every answer appended to a per-bank hash chain.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::bank::BankContext;
use crate::calendar::Timestamp;
use crate::error::{Error, Result};
use crate::facts::Sha256;

/// An answer's id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AnswerId(pub Uuid);

impl AnswerId {
    /// A fresh random id.
    pub fn new() -> Self {
        AnswerId(Uuid::new_v4())
    }
}

impl Default for AnswerId {
    fn default() -> Self {
        Self::new()
    }
}

impl std::str::FromStr for AnswerId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Uuid::parse_str(s).map(AnswerId).map_err(|_| Error::NotFound(format!("answer `{s}`")))
    }
}

impl fmt::Display for AnswerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for AnswerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnswerId({})", self.0)
    }
}

/// What is recorded about one answer. `body` holds the question, parsed plan, agent traces,
/// metric values, summary, model and prompt versions and confidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The answer.
    pub answer_id: AnswerId,
    /// When it was produced.
    pub created_at: Timestamp,
    /// Who asked (absent from records of contexts without a token, and from records written
    /// before it was recorded: they hash as they did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_by: Option<crate::bank::Caller>,
    /// The trace.
    pub body: AuditBody,
}

impl AuditRecord {
    /// The canonical bytes that are hashed: compact JSON, the body as its canonical text.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// An audit record's body: a JSON object kept as its canonical text (compact, object keys
/// sorted). Stored entries are read back as the exact text that was hashed, so verification
/// never depends on re-serializing parsed values; and an unchanged body (a cached answer
/// asked again) is written without being built again.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuditBody(Box<serde_json::value::RawValue>);

impl AuditBody {
    /// The canonical text of `value`.
    pub fn new(value: &serde_json::Value) -> AuditBody {
        // A `Value` displays as compact JSON, always valid; serde_json's Map is a BTreeMap
        // (no `preserve_order`), so keys come out sorted.
        AuditBody(serde_json::value::RawValue::from_string(value.to_string()).unwrap_or_default())
    }

    /// The body parsed (for reading fields).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.0.get()).unwrap_or_default()
    }

    /// The body's text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl From<serde_json::Value> for AuditBody {
    fn from(value: serde_json::Value) -> AuditBody {
        AuditBody::new(&value)
    }
}

impl PartialEq for AuditBody {
    fn eq(&self, other: &AuditBody) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for AuditBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the bank's chain, from 1.
    pub seq: u64,
    /// The record.
    pub record: AuditRecord,
    /// Hash of the previous entry (all zeros for the first).
    pub prev_hash: Sha256,
    /// `sha256(prev_hash || canonical_record)`.
    pub hash: Sha256,
}

impl AuditEntry {
    /// The hash an entry with `prev_hash` and `record` must have.
    pub fn chain_hash(prev_hash: &Sha256, record: &AuditRecord) -> Sha256 {
        Self::chain_hash_of(prev_hash, &record.canonical_bytes())
    }

    /// The hash over a record's canonical bytes, already serialized.
    pub fn chain_hash_of(prev_hash: &Sha256, canonical: &[u8]) -> Sha256 {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(prev_hash.0);
        h.update(canonical);
        Sha256(h.finalize().into())
    }

    /// The entry as one JSON line (newline included), embedding the record's canonical
    /// bytes as they were hashed, so the record is serialized once per append.
    pub fn json_line(seq: u64, canonical: &[u8], prev_hash: &Sha256, hash: &Sha256) -> Vec<u8> {
        let mut line = Vec::with_capacity(canonical.len() + 180);
        line.extend_from_slice(b"{\"seq\":");
        line.extend_from_slice(seq.to_string().as_bytes());
        line.extend_from_slice(b",\"record\":");
        line.extend_from_slice(canonical);
        line.extend_from_slice(b",\"prev_hash\":\"");
        line.extend_from_slice(&prev_hash.hex_digits());
        line.extend_from_slice(b"\",\"hash\":\"");
        line.extend_from_slice(&hash.hex_digits());
        line.extend_from_slice(b"\"}\n");
        line
    }

    /// Builds the entry that follows `prev` (or starts the chain).
    pub fn next(prev: Option<&AuditEntry>, record: AuditRecord) -> AuditEntry {
        let prev_hash = prev.map(|p| p.hash).unwrap_or(Sha256([0; 32]));
        let hash = Self::chain_hash(&prev_hash, &record);
        AuditEntry { seq: prev.map_or(1, |p| p.seq + 1), record, prev_hash, hash }
    }
}

/// The first place a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Sequence number of the bad entry.
    pub seq: u64,
    /// The answer it records.
    pub answer_id: Option<String>,
    /// What is wrong (`hash mismatch`, `missing entry`, ...).
    pub reason: String,
}

/// Result of verifying a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainVerification {
    /// True when every link holds.
    pub ok: bool,
    /// Entries checked.
    pub records: u64,
    /// The first broken link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_broken: Option<BrokenLink>,
}

/// Walks entries in stored order and reports the first broken link.
pub fn verify_chain<'a>(entries: impl IntoIterator<Item = &'a AuditEntry>) -> ChainVerification {
    let mut verifier = ChainVerifier::default();
    for e in entries {
        if let Some(broken) = verifier.check(e) {
            return broken;
        }
    }
    verifier.finish()
}

/// [`verify_chain`] one entry at a time, for a chain read as a stream: only the last link is
/// kept, so verifying a chain of millions of answers takes no more memory than one.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    prev: Option<(u64, Sha256)>,
    records: u64,
}

impl ChainVerifier {
    /// Checks the next entry; the verification's result if its link is broken.
    pub fn check(&mut self, e: &AuditEntry) -> Option<ChainVerification> {
        self.records += 1;
        let expected_seq = self.prev.map_or(1, |(seq, _)| seq + 1);
        let expected_prev = self.prev.map_or(Sha256([0; 32]), |(_, hash)| hash);
        let reason = if e.seq != expected_seq {
            Some(format!(
                "expected entry {expected_seq}, found {} (an entry was removed or reordered)",
                e.seq
            ))
        } else if e.prev_hash != expected_prev {
            Some("previous-hash link does not match the preceding entry".to_owned())
        } else if AuditEntry::chain_hash(&e.prev_hash, &e.record) != e.hash {
            Some("hash does not match the record (the record was changed)".to_owned())
        } else {
            None
        };
        self.prev = Some((e.seq, e.hash));
        reason.map(|reason| self.broken(e.seq, Some(e.record.answer_id), reason))
    }

    /// The result when the next entry cannot even be read (`reason` says where).
    pub fn unreadable(mut self, reason: String) -> ChainVerification {
        self.records += 1;
        let seq = self.prev.map_or(1, |(seq, _)| seq + 1);
        self.broken(seq, None, reason)
    }

    /// The result once every entry was checked.
    pub fn finish(self) -> ChainVerification {
        ChainVerification { ok: true, records: self.records, first_broken: None }
    }

    fn broken(&self, seq: u64, answer: Option<AnswerId>, reason: String) -> ChainVerification {
        ChainVerification {
            ok: false,
            records: self.records,
            first_broken: Some(BrokenLink { seq, answer_id: answer.map(|a| a.to_string()), reason }),
        }
    }
}

/// Append-only, hash-chained audit trail, one chain per bank.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends a record to the caller's chain.
    async fn append(&self, ctx: &BankContext, record: AuditRecord) -> Result<AuditEntry>;

    /// The entry recording `answer_id`, if it belongs to the caller's bank.
    async fn get(&self, ctx: &BankContext, answer_id: AnswerId) -> Result<Option<AuditEntry>>;

    /// Verifies the caller's chain.
    async fn verify(&self, ctx: &BankContext) -> Result<ChainVerification>;

    /// Up to `limit` entries of the caller's chain as stored, in order, from `from` (the
    /// previous page's [`AuditPage::next`]; `None` for the start): exports read a chain of any
    /// length a page at a time.
    async fn entries_page(&self, ctx: &BankContext, from: Option<u64>, limit: usize) -> Result<AuditPage>;

    /// The caller's chain from its newest entry back, for reading the trail: up to
    /// `page.limit` entries (those asked by `page.subject`, when given). A page may hold fewer
    /// entries than its limit while [`AuditPage::next`] still says where to go on (an embedded
    /// chain reads a bounded stretch of its file per page).
    async fn recent(&self, ctx: &BankContext, page: TrailPage<'_>) -> Result<AuditPage>;
}

/// A page of a chain's entries.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// The entries, in chain order ([`AuditLog::recent`]: newest first).
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts (a backend's own cursor), or `None` after the last entry.
    pub next: Option<u64>,
}

/// Which part of the trail [`AuditLog::recent`] reads.
#[derive(Debug, Clone, Copy)]
pub struct TrailPage<'a> {
    /// The previous page's [`AuditPage::next`]; `None` for the newest entries.
    pub before: Option<u64>,
    /// Most entries returned.
    pub limit: usize,
    /// Only entries asked by this subject.
    pub subject: Option<&'a str>,
}

impl TrailPage<'_> {
    /// Whether `entry` belongs on the page.
    pub fn keeps(&self, entry: &AuditEntry) -> bool {
        self.subject.is_none_or(|s| entry.record.asked_by.as_ref().is_some_and(|c| c.subject == s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored records are parsed and hashed again on verification: every float must come
    /// back bit for bit (serde_json's `float_roundtrip`), or honest chains would look tampered.
    #[test]
    fn records_survive_a_text_round_trip_exactly() {
        let values = [0.9541284403669724, 0.9310344827586208, 1e-7, 123456.789012345, 2.0 / 3.0];
        for (i, v) in values.iter().enumerate() {
            let record = AuditRecord {
                answer_id: AnswerId::new(),
                created_at: Timestamp(i as i64),
                asked_by: None,
                body: serde_json::json!({"confidence": v, "metrics": [{"value": v / 7.0}]}).into(),
            };
            let text = String::from_utf8(record.canonical_bytes()).unwrap();
            let back: AuditRecord = serde_json::from_str(&text).unwrap();
            assert_eq!(back.canonical_bytes(), record.canonical_bytes(), "{v}");
            let entry = AuditEntry::next(None, record);
            assert_eq!(AuditEntry::chain_hash(&entry.prev_hash, &back), entry.hash);
        }
    }

    #[test]
    fn the_hand_built_line_is_the_serialized_entry() {
        let record = AuditRecord {
            answer_id: AnswerId::new(),
            created_at: Timestamp(42),
            asked_by: None,
            body: serde_json::json!({"question": "a \"quoted\" question", "confidence": 0.93}).into(),
        };
        let entry = AuditEntry::next(None, record);
        let line =
            AuditEntry::json_line(entry.seq, &entry.record.canonical_bytes(), &entry.prev_hash, &entry.hash);
        let mut expected = serde_json::to_vec(&entry).unwrap();
        expected.push(b'\n');
        assert_eq!(String::from_utf8(line).unwrap(), String::from_utf8(expected).unwrap());
    }
}
