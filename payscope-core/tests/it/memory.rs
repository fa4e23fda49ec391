//! The conformance suites on the embedded backend.

use std::sync::Arc;
use std::time::Duration;

use payscope_core::backend::memory::{MemoryBackend, MemoryCache, MemoryGraph, MemoryQueue, MemoryVectors};

use crate::conformance::Subject;

async fn subject() -> Option<Subject> {
    let m = MemoryBackend::in_memory();
    Some(Subject {
        reports: Arc::new(m.clone()),
        facts: Arc::new(m.clone()),
        metrics: Arc::new(m.clone()),
        audit: Arc::new(m.clone()),
        profiles: Arc::new(m),
        keep: vec![],
    })
}

crate::store_conformance!(stores, crate::memory::subject());
crate::queue_conformance!(queue, async { Some(Arc::new(MemoryQueue::new(100, Duration::from_secs(60)))) });
crate::cache_conformance!(cache, async { Some(Arc::new(MemoryCache::new(100))) });
crate::graph_conformance!(graph, async { Some(Arc::new(MemoryGraph::default())) });
crate::vector_conformance!(vectors, async { Some(Arc::new(MemoryVectors::default())) });

#[tokio::test]
async fn persisted_state_survives_reopening_and_tampering_is_detected() {
    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::store::audit::{AnswerId, AuditLog, AuditRecord};
    use payscope_core::store::ReportStore;

    let dir = tempfile::tempdir().unwrap();
    let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let report = {
        let m = MemoryBackend::open(dir.path()).unwrap();
        let r = crate::fixtures::new_report(&bank, "persisted", payscope_core::facts::ReportType::Clearing);
        let payscope_core::store::Registered::New(r) = m.register(&bank, r).await.unwrap() else { panic!() };
        for i in 0..4 {
            let rec = AuditRecord {
                answer_id: AnswerId::new(),
                created_at: payscope_core::calendar::Timestamp(i),
                asked_by: None,
                body: serde_json::json!({"summary": format!("answer {i}")}).into(),
            };
            m.append(&bank, rec).await.unwrap();
        }
        r
    };
    let m = MemoryBackend::open(dir.path()).unwrap();
    let stored = ReportStore::get(&m, &bank, report.report_id).await.unwrap().unwrap();
    assert_eq!(stored.report_id, report.report_id);
    let v = m.verify(&bank).await.unwrap();
    assert!(v.ok && v.records == 4, "{v:?}");
    // Change one record's text at rest.
    let path = dir.path().join("audit").join(format!("{}.jsonl", bank.bank_id()));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("answer 2", "answer 9")).unwrap();
    let v = m.verify(&bank).await.unwrap();
    assert!(!v.ok && v.first_broken.as_ref().unwrap().seq == 3, "{v:?}");
    // Remove a record.
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n{}\n{}\n", lines[0], lines[2], lines[3])).unwrap();
    let v = m.verify(&bank).await.unwrap();
    assert!(!v.ok && v.first_broken.as_ref().unwrap().reason.contains("removed"), "{v:?}");
    // Reorder two records.
    std::fs::write(&path, format!("{}\n{}\n{}\n{}\n", lines[0], lines[2], lines[1], lines[3])).unwrap();
    assert!(!m.verify(&bank).await.unwrap().ok);
    // A line that is not an entry at all is a broken link too, not a failure of the check.
    std::fs::write(&path, format!("{}\n{}\ngarbage\n{}\n", lines[0], lines[1], lines[3])).unwrap();
    let v = m.verify(&bank).await.unwrap();
    let broken = v.first_broken.as_ref().unwrap();
    assert!(!v.ok && broken.seq == 3 && broken.reason.contains("not an entry"), "{v:?}");
    // A last line still being written (no newline yet) is not part of the chain yet.
    std::fs::write(&path, format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..40])).unwrap();
    let v = m.verify(&bank).await.unwrap();
    assert!(v.ok && v.records == 2, "{v:?}");
}

#[tokio::test]
async fn a_reopened_audit_chain_serves_old_answers_continues_and_cuts_a_torn_line() {
    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::store::audit::{AnswerId, AuditLog, AuditRecord};

    let dir = tempfile::tempdir().unwrap();
    let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let record = |i: i64| AuditRecord {
        answer_id: AnswerId::new(),
        created_at: payscope_core::calendar::Timestamp(i),
        asked_by: None,
        body: serde_json::json!({"summary": format!("answer {i}")}).into(),
    };
    let first = record(1);
    {
        let m = MemoryBackend::open(dir.path()).unwrap();
        m.append(&bank, first.clone()).await.unwrap();
        m.append(&bank, record(2)).await.unwrap();
    }
    // A crash in the middle of the third write.
    let path = dir.path().join("audit").join(format!("{}.jsonl", bank.bank_id()));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(br#"{"seq":3,"record":{"answer_id":"#);
    std::fs::write(&path, &bytes).unwrap();

    let m = MemoryBackend::open(dir.path()).unwrap();
    let old = m.get(&bank, first.answer_id).await.unwrap().expect("an answer from before the restart");
    assert_eq!((old.seq, &old.record.body), (1, &first.body));
    let third = m.append(&bank, record(3)).await.unwrap();
    assert_eq!(third.seq, 3);
    assert_eq!(m.get(&bank, third.record.answer_id).await.unwrap().unwrap().hash, third.hash);
    let v = m.verify(&bank).await.unwrap();
    assert!(v.ok && v.records == 3, "{v:?}");
}

/// Concurrent answers share writes of the chain's file (group commit): every append is in
/// the file, in chain order, when it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_to_a_persisted_chain_land_in_order() {
    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::store::audit::{AnswerId, AuditLog, AuditRecord};

    /// Appends answers `answers` concurrently, each checking it is readable at once (written
    /// before the append returned); their sequence numbers, sorted.
    async fn append_all(m: &MemoryBackend, bank: &BankContext, answers: std::ops::Range<i64>) -> Vec<u64> {
        let appends = answers.map(|i| {
            let (m, bank) = (m.clone(), bank.clone());
            tokio::spawn(async move {
                let record = AuditRecord {
                    answer_id: AnswerId::new(),
                    created_at: payscope_core::calendar::Timestamp(i),
                    asked_by: None,
                    body: serde_json::json!({"summary": format!("answer {i}")}).into(),
                };
                let entry = m.append(&bank, record).await.unwrap();
                let stored = m.get(&bank, entry.record.answer_id).await.unwrap().unwrap();
                assert_eq!((stored.seq, stored.hash), (entry.seq, entry.hash));
                entry.seq
            })
        });
        let mut seqs: Vec<u64> =
            futures::future::join_all(appends).await.into_iter().map(Result::unwrap).collect();
        seqs.sort_unstable();
        seqs
    }

    let dir = tempfile::tempdir().unwrap();
    let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let m = MemoryBackend::open(dir.path()).unwrap();
    assert_eq!(append_all(&m, &bank, 0..400).await, (1..=400).collect::<Vec<u64>>());
    let v = m.verify(&bank).await.unwrap();
    assert!(v.ok && v.records == 400, "{v:?}");
    drop(m);
    // Reopened, answers arriving together as the chain's first use all link after what the
    // file holds (the chain is read before any of them, and no append lands meanwhile).
    let reopened = MemoryBackend::open(dir.path()).unwrap();
    assert_eq!(append_all(&reopened, &bank, 400..450).await, (401..=450).collect::<Vec<u64>>());
    let v = reopened.verify(&bank).await.unwrap();
    assert!(v.ok && v.records == 450, "{v:?}");
}

/// An export reads the chain a page at a time and writes exactly the entries it counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_export_longer_than_a_page_is_whole_and_verifies() {
    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::store::audit::{verify_chain, AnswerId, AuditEntry, AuditRecord};
    use payscope_core::{Engine, EngineOptions};

    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
    let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    for i in 0..2_345 {
        let body = serde_json::json!({"summary": format!("answer {i}")}).into();
        let record = AuditRecord {
            answer_id: AnswerId::new(),
            created_at: payscope_core::calendar::Timestamp(i),
            asked_by: None,
            body,
        };
        engine.stores().audit.append(&bank, record).await.unwrap();
    }
    let export = engine.export_audit(&bank).await.unwrap();
    assert_eq!((export.records, export.chain_ok), (2_345, true));
    assert!(export.object.ends_with("-2345.jsonl"), "{}", export.object);
    let text = std::fs::read_to_string(dir.path().join("artifacts/backups").join(&export.object)).unwrap();
    let entries: Vec<AuditEntry> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 2_345);
    assert!(verify_chain(&entries).ok);
    assert_eq!(export.head_hash, entries.last().map(|e| e.hash));
}
