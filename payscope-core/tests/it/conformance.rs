//! The behaviour every backend must share, written once. `store_conformance!` and friends
//! instantiate these suites for a backend; see `memory.rs` and `postgres.rs`.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::calendar::{TimeRange, Timestamp};
use payscope_core::facts::{Fact, MappingOverrides, MappingProfile, ReportStatus, ReportType, Stage};
use payscope_core::money::{Currency, Money};
use payscope_core::store::audit::{AnswerId, AuditLog, AuditRecord, TrailPage};
use payscope_core::store::cache::{AnswerCache, CacheKey};
use payscope_core::store::graph::{CppQuery, GraphBatch, GraphStore};
use payscope_core::store::jobs::{FailOutcome, Job, JobQueue, MAX_ATTEMPTS};
use payscope_core::store::metric::{
    AmountCondition, AmountOp, Dimension, Filter, Granularity, Having, Limit, Metric, MetricQuery, Unit,
};
use payscope_core::store::reconcile::ReconcileQuery;
use payscope_core::store::vector::{VectorDoc, VectorIndex};
use payscope_core::store::{
    FactFilter, FactKey, FactStore, MetricStore, ProfileStore, Registered, ReportStore,
};

use crate::fixtures::{ctx, dataset, load, load_all, new_report};
use crate::naive;

/// The stores a backend provides for the fact/metric/report/audit suites.
pub struct Subject {
    pub reports: Arc<dyn ReportStore>,
    pub facts: Arc<dyn FactStore>,
    pub metrics: Arc<dyn MetricStore>,
    pub audit: Arc<dyn AuditLog>,
    pub profiles: Arc<dyn ProfileStore>,
    /// Whatever must live as long as the stores (a test database); only held, never read.
    #[allow(dead_code)]
    pub keep: Vec<Arc<dyn std::any::Any + Send + Sync>>,
}

/// Instantiates the store suites for a backend. `$make` is an async expression giving
/// `Option<Subject>` (`None` skips, after the factory printed why).
#[macro_export]
macro_rules! store_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::conformance as suite;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reports_register_dedupe_and_paginate() {
                if let Some(s) = $make.await {
                    suite::reports_register_dedupe_and_paginate(&s).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn loads_are_idempotent_and_atomic() {
                if let Some(s) = $make.await {
                    suite::loads_are_idempotent_and_atomic(&s).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn metric_table_matches_naive_computation() {
                if let Some(s) = $make.await {
                    suite::metric_table_matches_naive_computation(&s).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn audit_chain_per_bank() {
                if let Some(s) = $make.await {
                    suite::audit_chain_per_bank(&s).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn profiles_are_per_bank_and_one_per_fingerprint() {
                if let Some(s) = $make.await {
                    suite::profiles_are_per_bank_and_one_per_fingerprint(&s).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn only_a_failed_report_reopens() {
                if let Some(s) = $make.await {
                    suite::only_a_failed_report_reopens(&s).await
                }
            }
        }
    };
}

pub async fn reports_register_dedupe_and_paginate(s: &Subject) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let mut ids = Vec::new();
    for i in 0..5 {
        match s
            .reports
            .register(&a, new_report(&a, &format!("r{i}"), ReportType::Authorization))
            .await
            .unwrap()
        {
            Registered::New(r) => ids.push(r.report_id),
            Registered::Duplicate(_) => panic!("fresh report reported as duplicate"),
        }
    }
    // Same bytes again: the existing report comes back.
    match s.reports.register(&a, new_report(&a, "r2", ReportType::Authorization)).await.unwrap() {
        Registered::Duplicate(r) => assert_eq!(r.report_id, ids[2]),
        Registered::New(_) => panic!("duplicate upload not detected"),
    }
    // The same bytes from another bank are that bank's own new report.
    let mut same_bytes = new_report(&a, "r2", ReportType::Authorization);
    same_bytes.bank_id = b.bank_id();
    assert!(matches!(s.reports.register(&b, same_bytes).await.unwrap(), Registered::New(_)));
    // Newest first, paginated.
    let p1 = s.reports.list(&a, 2, None).await.unwrap();
    assert_eq!(p1.reports.iter().map(|r| r.report_id).collect::<Vec<_>>(), vec![ids[4], ids[3]]);
    let p2 = s.reports.list(&a, 2, p1.next_cursor.as_deref()).await.unwrap();
    assert_eq!(p2.reports.iter().map(|r| r.report_id).collect::<Vec<_>>(), vec![ids[2], ids[1]]);
    let p3 = s.reports.list(&a, 2, p2.next_cursor.as_deref()).await.unwrap();
    assert_eq!(p3.reports.iter().map(|r| r.report_id).collect::<Vec<_>>(), vec![ids[0]]);
    assert_eq!(p3.next_cursor, None);
    for bad in ["not-a-cursor", "-5", "99999999999999999999"] {
        assert!(s.reports.list(&a, 2, Some(bad)).await.is_err(), "cursor {bad:?}");
    }
    // Isolation.
    assert!(s.reports.get(&b, ids[0]).await.unwrap().is_none());
    assert_eq!(s.reports.list(&b, 10, None).await.unwrap().reports.len(), 1);
    // Status updates.
    let mut r = s.reports.get(&a, ids[0]).await.unwrap().unwrap();
    r.status = ReportStatus::Processing;
    s.reports.update(&a, &r).await.unwrap();
    assert_eq!(s.reports.get(&a, ids[0]).await.unwrap().unwrap().status, ReportStatus::Processing);
    assert!(s.reports.update(&b, &r).await.is_err(), "bank B updated bank A's report");
    // The first final outcome stands: a late `failed` or requeue does not undo it.
    r.status = ReportStatus::Completed;
    s.reports.update(&a, &r).await.unwrap();
    for late in [ReportStatus::Failed, ReportStatus::Queued, ReportStatus::Processing] {
        let mut stale = r.clone();
        stale.status = late;
        s.reports.update(&a, &stale).await.unwrap();
        assert_eq!(
            s.reports.get(&a, ids[0]).await.unwrap().unwrap().status,
            ReportStatus::Completed,
            "{late:?}"
        );
    }
    let mut missing = r.clone();
    missing.report_id = payscope_core::facts::ReportId::new();
    assert!(s.reports.update(&a, &missing).await.is_err(), "an unknown report was updated");
}

fn profile(name: &str, fingerprint: &str) -> MappingProfile {
    let mut mapping = MappingOverrides::default();
    mapping.columns.insert("transaction_id".into(), Some("Ref".into()));
    mapping.date_order = Some("dmy".into());
    let at = Timestamp::from_civil(2026, 3, 1, 12, 0, 0, 0).unwrap();
    MappingProfile {
        profile_id: uuid::Uuid::new_v4(),
        name: name.into(),
        fingerprint: fingerprint.into(),
        mapping,
        created_at: at,
        updated_at: at,
    }
}

pub async fn profiles_are_per_bank_and_one_per_fingerprint(s: &Subject) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::BankAdmin]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::BankAdmin]);
    let p = s.profiles.put(&a, profile("Acquirer daily", "0123456789abcdef")).await.unwrap();
    assert_eq!(s.profiles.get(&a, p.profile_id).await.unwrap().as_ref(), Some(&p));
    assert_eq!(s.profiles.list(&a).await.unwrap(), vec![p.clone()]);
    // Another bank sees nothing of it, and may use the same fingerprint.
    assert!(s.profiles.get(&b, p.profile_id).await.unwrap().is_none());
    assert!(s.profiles.list(&b).await.unwrap().is_empty());
    assert!(!s.profiles.delete(&b, p.profile_id).await.unwrap());
    s.profiles.put(&b, profile("Theirs", "0123456789abcdef")).await.unwrap();
    // A second profile for the same layout is a conflict naming the first.
    let e = s.profiles.put(&a, profile("Copy", "0123456789abcdef")).await.unwrap_err();
    assert_eq!(e.code(), "conflict");
    assert!(e.to_string().contains("Acquirer daily"), "{e}");
    // Replacing keeps the first creation time.
    let mut changed = p.clone();
    changed.name = "Acquirer daily v2".into();
    changed.created_at = Timestamp::now();
    changed.updated_at = Timestamp::from_civil(2026, 4, 1, 0, 0, 0, 0).unwrap();
    let saved = s.profiles.put(&a, changed.clone()).await.unwrap();
    assert_eq!(saved.created_at, p.created_at);
    assert_eq!((saved.name.as_str(), saved.updated_at), ("Acquirer daily v2", changed.updated_at));
    let other = s.profiles.put(&a, profile("Another layout", "fedcba9876543210")).await.unwrap();
    let names: Vec<String> = s.profiles.list(&a).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(names, ["Acquirer daily v2", "Another layout"]);
    assert!(s.profiles.delete(&a, p.profile_id).await.unwrap());
    assert!(!s.profiles.delete(&a, p.profile_id).await.unwrap());
    assert_eq!(s.profiles.list(&a).await.unwrap(), vec![other]);
    assert_eq!(s.profiles.list(&b).await.unwrap().len(), 1);
}

pub async fn only_a_failed_report_reopens(s: &Subject) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let Registered::New(mut r) =
        s.reports.register(&a, new_report(&a, "reopen", ReportType::Auto)).await.unwrap()
    else {
        panic!("fresh report reported as duplicate")
    };
    let mut options = r.options();
    options.currency = Some("EUR".into());
    // Queued, processing or completed: nothing changes.
    for status in [ReportStatus::Queued, ReportStatus::Completed] {
        r.status = status;
        s.reports.update(&a, &r).await.unwrap();
        assert!(!s.reports.reopen(&a, &r.reopened(&options)).await.unwrap(), "{status:?}");
    }
    let mut failed = new_report(&a, "reopen-failed", ReportType::Auto);
    let Registered::New(f) = s.reports.register(&a, failed.clone()).await.unwrap() else { panic!() };
    failed = f;
    failed.status = ReportStatus::Failed;
    s.reports.update(&a, &failed).await.unwrap();
    let reopened = failed.reopened(&options);
    assert!(s.reports.reopen(&b, &reopened).await.is_err(), "bank B reopened bank A's report");
    assert!(s.reports.reopen(&a, &reopened).await.unwrap());
    let stored = s.reports.get(&a, failed.report_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.status, stored.currency.as_deref(), stored.seq),
        (ReportStatus::Queued, Some("EUR"), failed.seq)
    );
    assert!(!s.reports.reopen(&a, &reopened).await.unwrap(), "a queued report reopened again");
}

pub async fn loads_are_idempotent_and_atomic(s: &Subject) {
    let data = dataset();
    let bank = &data.banks[0];
    // A fresh bank id so this test is independent of others sharing the backend.
    let ctx = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let nil = payscope_core::facts::ReportId(uuid::Uuid::nil());
    let auths: Vec<Fact> = bank.facts(Stage::Auth, nil, &data.key).take(3000).collect();
    let r1 = load(&*s.reports, &*s.facts, &ctx, "first", Stage::Auth, auths.clone()).await;
    assert_eq!((r1.facts_loaded, r1.duplicates_skipped), (3000, 0));
    let stored = s.reports.get(&ctx, r1.report_id).await.unwrap().unwrap();
    assert_eq!((stored.status, stored.facts_loaded), (ReportStatus::Completed, 3000));
    // A second worker committing the same report late (its job was taken over) changes
    // nothing: the first commit's report and counts stand.
    let mut late = s.facts.begin_load(&ctx, &stored).await.unwrap();
    late.append(s.facts.scan(&ctx, &FactFilter::default(), None, 100).await.unwrap()).await.unwrap();
    let (kept, outcome) = late.commit(stored.clone()).await.unwrap();
    assert_eq!((kept.facts_loaded, outcome.loaded), (3000, 0));
    assert_eq!(s.reports.get(&ctx, r1.report_id).await.unwrap().unwrap().facts_loaded, 3000);
    let range = TimeRange::new(Timestamp(0), Timestamp(i64::MAX / 2));
    let q = MetricQuery::new([Metric::TransactionCount, Metric::TransactionAmount], range);
    let before = s.metrics.query(&ctx, &q).await.unwrap();
    // The same facts in another report: nothing changes.
    let r2 = load(&*s.reports, &*s.facts, &ctx, "again", Stage::Auth, auths[1000..].to_vec()).await;
    assert_eq!((r2.facts_loaded, r2.duplicates_skipped), (0, 2000));
    assert_eq!(s.metrics.query(&ctx, &q).await.unwrap().rows, before.rows);
    // Rows repeated inside one file: the first wins.
    let more: Vec<Fact> = bank.facts(Stage::Auth, nil, &data.key).skip(3000).take(10).collect();
    let repeated: Vec<Fact> = more.iter().chain(more.iter()).cloned().collect();
    let r3 = load(&*s.reports, &*s.facts, &ctx, "repeats", Stage::Auth, repeated).await;
    assert_eq!((r3.facts_loaded, r3.duplicates_skipped), (10, 10));
    // A load that is never committed leaves nothing behind.
    let pending = match s
        .reports
        .register(&ctx, new_report(&ctx, "abandoned", ReportType::Authorization))
        .await
        .unwrap()
    {
        Registered::New(r) => r,
        Registered::Duplicate(_) => unreachable!(),
    };
    let mut l = s.facts.begin_load(&ctx, &pending).await.unwrap();
    let extra: Vec<Fact> = bank
        .facts(Stage::Auth, pending.report_id, &data.key)
        .skip(4000)
        .take(50)
        .map(|mut f| {
            f.lineage.sha256 = pending.sha256;
            f
        })
        .collect();
    l.append(extra).await.unwrap();
    drop(l);
    let stats = s.facts.stats(&ctx).await.unwrap();
    assert_eq!(stats.total, 3010);
    assert_eq!(s.reports.get(&ctx, pending.report_id).await.unwrap().unwrap().status, ReportStatus::Queued);
    // Facts come back exactly, lineage included.
    let mut expected: Vec<Fact> = auths
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, mut f)| {
            f.lineage.report_id = r1.report_id;
            f.lineage.sha256 = r1.sha256;
            f.lineage.row = i as u32 + 1;
            f
        })
        .collect();
    expected.sort_by(|a, b| (a.occurred_at, &a.transaction_id).cmp(&(b.occurred_at, &b.transaction_id)));
    let filter = FactFilter { report_id: Some(r1.report_id), ..Default::default() };
    let scanned = s.facts.scan(&ctx, &filter, None, usize::MAX).await.unwrap();
    assert_eq!(scanned.len(), expected.len());
    for (got, want) in scanned.iter().zip(&expected) {
        assert_eq!(got, want);
    }
    // Paging with the last key gives the same facts in the same order.
    let mut paged: Vec<Fact> = Vec::new();
    loop {
        let page = s.facts.scan(&ctx, &filter, paged.last().map(FactKey::of).as_ref(), 700).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 700);
        paged.extend(page);
    }
    assert_eq!(paged, scanned);
    let one = FactFilter { transaction_id: Some(auths[5].transaction_id.clone()), ..Default::default() };
    assert_eq!(s.facts.scan(&ctx, &one, None, 10).await.unwrap().len(), 1);

    // One file reporting a transaction's fraud twice (a flagged AUTH fact and a FRAUD fact)
    // counts it once; a flagged AUTH fact alone counts; a later FRAUD fact for it changes nothing.
    let fresh = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let mut flagged: Vec<Fact> = auths.iter().filter(|f| f.approved == Some(true)).take(2).cloned().collect();
    for f in &mut flagged {
        f.fraud_reported = true;
    }
    let fraud_of = |f: &Fact| Fact { stage: Stage::Fraud, approved: None, ..f.clone() };
    let mixed = vec![flagged[0].clone(), flagged[1].clone(), fraud_of(&flagged[0])];
    load(&*s.reports, &*s.facts, &fresh, "mixed fraud", Stage::Auth, mixed).await;
    let fraud = MetricQuery::new([Metric::FraudCount, Metric::FraudAmount], range);
    let counted = s.metrics.query(&fresh, &fraud).await.unwrap();
    assert_eq!(counted.rows[0].values[0].count(), Some(2), "{counted:?}");
    load(&*s.reports, &*s.facts, &fresh, "late fraud", Stage::Fraud, vec![fraud_of(&flagged[1])]).await;
    assert_eq!(s.metrics.query(&fresh, &fraud).await.unwrap().rows, counted.rows);
}

/// Queries covering every metric, dimension, filter, granularity, ordering and range shape.
fn queries(facts: &[Fact], as_of: Timestamp) -> Vec<MetricQuery> {
    let day = |d: i32| as_of.date().add_days(d).start();
    let full = TimeRange::new(day(-90), as_of);
    let unaligned = TimeRange::new(
        Timestamp(day(-40).0 + 5 * 3_600_000 + 17 * 60_000),
        Timestamp(day(-9).0 + 13 * 3_600_000 + 61_000),
    );
    let short = TimeRange::new(Timestamp(day(-12).0 + 7_200_000), Timestamp(day(-11).0 + 3_600_000));
    let empty = TimeRange::new(day(-400), day(-300));
    let mut qs = Vec::new();
    for m in Metric::ALL {
        for r in [full, unaligned, short, empty] {
            qs.push(MetricQuery::new([*m], r));
        }
    }
    let all: Vec<Metric> = Metric::ALL.to_vec();
    for d in Dimension::ALL {
        qs.push(MetricQuery::new(all.clone(), full).group_by(*d));
        qs.push(MetricQuery::new(all.clone(), unaligned).group_by(*d));
        // Group conditions, before ranking: "top 5 by approval rate with at least 20
        // transactions", "with at most 3 chargebacks" (a stage the metric does not read).
        let at_least = Having::counts(Metric::TransactionCount, Some(20), None);
        qs.push(
            MetricQuery::new([Metric::ApprovalRate, Metric::TransactionCount], unaligned)
                .group_by(*d)
                .having(at_least)
                .top(Metric::ApprovalRate, 5, true),
        );
        let at_most = Having::counts(Metric::ChargebackCount, None, Some(3));
        // Rates and hours, bounds kept or left out: "approval rate above 90%".
        let rate = Having {
            metric: Metric::ApprovalRate,
            min: Limit::parse("0.9"),
            max: Limit::parse("0.99"),
            exclusive: true,
        };
        qs.push(
            MetricQuery::new([Metric::TransactionCount, Metric::ApprovalRate], full)
                .group_by(*d)
                .having(rate)
                .top(Metric::TransactionCount, 5, true),
        );
        let slow = Having {
            metric: Metric::SettlementDelayHours,
            min: Limit::parse("30.5"),
            max: None,
            exclusive: false,
        };
        qs.push(MetricQuery::new([Metric::ChargebackRate], full).group_by(*d).having(slow));
        qs.push(MetricQuery::new([Metric::ApprovalRate], full).group_by(*d).having(at_most));
    }
    // Filter values taken from the data (the most common value of each dimension).
    let mut common: BTreeMap<Dimension, BTreeMap<String, usize>> = BTreeMap::new();
    for f in facts {
        for d in Dimension::ALL {
            if let Some(v) = naive::dim_value(f, *d) {
                *common.entry(*d).or_default().entry(v).or_default() += 1;
            }
        }
    }
    for (d, counts) in &common {
        let mut values: Vec<(&String, &usize)> = counts.iter().collect();
        values.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = values.iter().take(2).map(|(v, _)| (*v).clone()).collect();
        qs.push(MetricQuery::new(all.clone(), full).filter(Filter::one_of(*d, top.clone())));
        // "Excluding": facts without the value, those that lack the attribute included.
        qs.push(MetricQuery::new(all.clone(), full).filter(Filter::none_of(*d, vec![top[0].clone()])));
        qs.push(
            MetricQuery::new(all.clone(), unaligned)
                .filter(Filter::none_of(*d, top.clone()))
                .group_by(Dimension::Network),
        );
        qs.push(
            MetricQuery::new(all.clone(), unaligned)
                .filter(Filter::eq(*d, top[0].clone()))
                .group_by(Dimension::Network),
        );
    }
    qs.push(
        MetricQuery::new(all.clone(), full).filter(Filter::eq(Dimension::MerchantId, "no-such-merchant")),
    );
    // Amount thresholds, in the currency of the data and in one it lacks, with grouping.
    let money =
        facts.iter().map(|f| f.amount).max_by_key(|m| m.minor).unwrap_or(Money::new(0, Currency::USD));
    let threshold = |op, minor| AmountCondition { op, value: Money::new(minor, money.currency) };
    for (op, minor) in
        [(AmountOp::Gt, money.minor / 3), (AmountOp::Lte, money.minor / 5), (AmountOp::Gte, 10_000)]
    {
        qs.push(MetricQuery { amount: vec![threshold(op, minor)], ..MetricQuery::new(all.clone(), full) });
        qs.push(
            MetricQuery { amount: vec![threshold(op, minor)], ..MetricQuery::new(all.clone(), unaligned) }
                .group_by(Dimension::Network)
                .granularity(Granularity::Week),
        );
    }
    qs.push(MetricQuery {
        amount: vec![threshold(AmountOp::Gt, 1_000), threshold(AmountOp::Lt, 50_000)],
        ..MetricQuery::new(all.clone(), full).group_by(Dimension::MerchantId)
    });
    let other = if money.currency == Currency::JPY { Currency::USD } else { Currency::JPY };
    qs.push(MetricQuery {
        amount: vec![AmountCondition { op: AmountOp::Gt, value: Money::new(0, other) }],
        ..MetricQuery::new(all.clone(), full)
    });
    qs.push(
        MetricQuery::new(all.clone(), full)
            .filter(Filter::one_of(Dimension::HourOfDay, vec!["22".into(), "23".into()])),
    );
    qs.push(
        MetricQuery::new(all.clone(), full)
            .filter(Filter::one_of(Dimension::DayOfWeek, vec!["saturday".into(), "sunday".into()]))
            .group_by(Dimension::ResponseCode),
    );
    // Served by hourly cells: hour-of-day filters and groups, and coarse metrics over ranges
    // whose edges are partial days.
    let coarse = vec![
        Metric::TransactionCount,
        Metric::ApprovalRate,
        Metric::TransactionAmount,
        Metric::FraudCount,
        Metric::SettledAmount,
    ];
    qs.push(
        MetricQuery::new(coarse.clone(), unaligned)
            .filter(Filter::one_of(Dimension::HourOfDay, vec!["22".into(), "23".into(), "0".into()]))
            .group_by(Dimension::Network),
    );
    qs.push(MetricQuery::new(coarse.clone(), full).group_by(Dimension::HourOfDay));
    qs.push(
        MetricQuery::new(coarse.clone(), unaligned)
            .group_by(Dimension::Currency)
            .group_by(Dimension::DayOfWeek),
    );
    qs.push(
        MetricQuery::new(coarse.clone(), short).granularity(Granularity::Hour).group_by(Dimension::Network),
    );
    qs.push(MetricQuery::new(
        coarse,
        TimeRange::new(Timestamp(unaligned.from.0 - 17 * 60_000), unaligned.to),
    ));
    for g in Granularity::ALL {
        let r = if *g == Granularity::Hour { short } else { full };
        qs.push(MetricQuery::new(all.clone(), r).granularity(*g));
        qs.push(
            MetricQuery::new([Metric::ApprovalRate, Metric::SettledAmount], unaligned)
                .granularity(*g)
                .group_by(Dimension::Network),
        );
    }
    for m in Metric::ALL {
        for desc in [true, false] {
            qs.push(MetricQuery::new([*m], full).group_by(Dimension::MerchantId).top(*m, 5, desc));
        }
    }
    qs.push(MetricQuery::new([Metric::DeclinedCount], full).group_by(Dimension::ResponseCode).top(
        Metric::DeclinedCount,
        5,
        true,
    ));
    qs.push(
        MetricQuery::new([Metric::TransactionAmount], unaligned)
            .group_by(Dimension::Mcc)
            .granularity(Granularity::Week)
            .top(Metric::TransactionAmount, 3, true),
    );
    qs.push(
        MetricQuery::new([Metric::ChargebackCount, Metric::ChargebackRate], full)
            .group_by(Dimension::MerchantId)
            .group_by(Dimension::ReasonCode)
            .top(Metric::ChargebackCount, 10, true),
    );
    qs.push(
        MetricQuery::new([Metric::ApprovalRate], full)
            .group_by(Dimension::Network)
            .group_by(Dimension::EntryMode)
            .group_by(Dimension::CrossBorder)
            .group_by(Dimension::DayOfWeek),
    );
    qs
}

pub async fn metric_table_matches_naive_computation(s: &Subject) {
    let per_bank = load_all(&*s.reports, &*s.facts).await;
    let data = dataset();
    let mut checked = 0;
    for (bank, facts) in data.banks.iter().zip(&per_bank) {
        let ctx = ctx(bank);
        for q in queries(facts, bank.as_of) {
            let got = s.metrics.query(&ctx, &q).await.unwrap_or_else(|e| panic!("{q:?} failed: {e}"));
            let want = naive::evaluate(facts, &got.query);
            assert_eq!(got.rows, want, "query {q:?} (source {:?})", got.source);
            checked += 1;
        }
        // Reconciliation against the naive join.
        let range = TimeRange::new(bank.as_of.date().add_days(-60).start(), bank.as_of);
        let rec =
            s.metrics.reconcile(&ctx, &ReconcileQuery { range, filters: vec![], examples: 5 }).await.unwrap();
        let approved: Vec<&Fact> =
            facts.iter().filter(|f| f.is_approved_auth() && range.contains(f.occurred_at)).collect();
        let settled: BTreeMap<&str, &Fact> = facts
            .iter()
            .filter(|f| f.stage == Stage::Settlement)
            .map(|f| (f.transaction_id.as_str(), f))
            .collect();
        let cleared: HashSet<&str> =
            facts.iter().filter(|f| f.stage == Stage::Clearing).map(|f| f.transaction_id.as_str()).collect();
        assert_eq!(rec.approved_auths, approved.len() as u64);
        assert_eq!(
            rec.cleared,
            approved.iter().filter(|f| cleared.contains(f.transaction_id.as_str())).count() as u64
        );
        let matched: Vec<(&Fact, &Fact)> = approved
            .iter()
            .filter_map(|a| settled.get(a.transaction_id.as_str()).map(|s| (*a, *s)))
            .collect();
        assert_eq!(rec.settled, matched.len() as u64);
        assert_eq!(rec.unmatched, (approved.len() - matched.len()) as u64);
        assert_eq!(
            rec.amount_mismatches,
            matched.iter().filter(|(a, s)| a.amount != s.amount).count() as u64
        );
        assert_eq!(
            rec.delay_total_millis,
            matched.iter().map(|(a, s)| s.occurred_at.0 - a.occurred_at.0).sum::<i64>()
        );
        let mut unmatched_usd = 0;
        for a in &approved {
            if !settled.contains_key(a.transaction_id.as_str()) && a.amount.currency == Currency::USD {
                unmatched_usd += a.amount.minor;
            }
        }
        assert!(
            rec.unmatched_amount.contains(&Money::new(unmatched_usd, Currency::USD)),
            "{:?}",
            rec.unmatched_amount
        );
        assert_eq!(rec.unmatched_examples.len(), 5);
        // Coverage and dimension values come from this bank's data only.
        let cov = s
            .metrics
            .coverage(&ctx, TimeRange::new(bank.as_of.date().add_days(-100).start(), bank.as_of))
            .await
            .unwrap();
        assert_eq!(cov.days_in_range, 100);
        assert!((75..=76).contains(&cov.days_with_data), "{cov:?}");
        let merchants = s.metrics.dimension_values(&ctx, Dimension::MerchantId, 1000).await.unwrap();
        let own: HashSet<&str> = bank.merchants.iter().map(|m| m.id.as_str()).collect();
        assert!(!merchants.is_empty() && merchants.iter().all(|v| own.contains(v.value.as_str())));
        assert!(merchants[0].label.is_some());
        assert!(merchants.windows(2).all(|w| w[0].facts >= w[1].facts));
    }
    assert!(checked > 300, "{checked}");
    // Bank isolation: nothing of bank 0 is visible to bank 1 through scans.
    let b1 = ctx(&data.banks[1]);
    let ids0: HashSet<&str> = per_bank[0].iter().map(|f| f.transaction_id.as_str()).collect();
    let all1 = s.facts.scan(&b1, &FactFilter::default(), None, usize::MAX).await.unwrap();
    assert_eq!(all1.len(), per_bank[1].len());
    assert!(all1.iter().all(|f| !ids0.contains(f.transaction_id.as_str())));
    let probe =
        FactFilter { transaction_id: Some(per_bank[0][0].transaction_id.clone()), ..Default::default() };
    assert!(s.facts.scan(&b1, &probe, None, 10).await.unwrap().is_empty());
    let stranger = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
    let q = MetricQuery::new(
        [Metric::TransactionCount, Metric::SettledAmount],
        TimeRange::new(Timestamp(0), Timestamp(i64::MAX / 2)),
    );
    let r = s.metrics.query(&stranger, &q).await.unwrap();
    assert_eq!(r.rows[0].values[0].count(), Some(0));
    assert_eq!(r.rows[0].values[1].money(), vec![]);
    // A money-ordered breakdown ranks within each currency.
    let q =
        MetricQuery::new([Metric::TransactionAmount], TimeRange::new(Timestamp(0), Timestamp(i64::MAX / 2)))
            .group_by(Dimension::MerchantId)
            .top(Metric::TransactionAmount, 3, true);
    let r = s.metrics.query(&b1, &q).await.unwrap();
    assert_eq!(r.query.group_by, vec![Dimension::MerchantId, Dimension::Currency]);
    assert!(Metric::TransactionAmount.unit() == Unit::Currency && r.rows.len() >= 6);
}

fn record(n: u32) -> AuditRecord {
    AuditRecord {
        answer_id: AnswerId::new(),
        created_at: Timestamp(1_790_000_000_000 + n as i64),
        // Every third record has no caller (an embedded program's), the others two subjects.
        asked_by: ["ana", "bo"]
            .get(n as usize % 3)
            .map(|s| payscope_core::bank::Caller { subject: s.to_string(), token_id: Some(format!("t{n}")) }),
        body: serde_json::json!({"question": format!("q{n}"), "confidence": 0.9, "metrics": [{"name": "approval_rate", "value": 0.93}]}).into(),
    }
}

pub async fn audit_chain_per_bank(s: &Subject) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Auditor]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Auditor]);
    let mut entries = Vec::new();
    for i in 0..10 {
        entries.push(s.audit.append(&a, record(i)).await.unwrap());
    }
    for i in 0..3 {
        s.audit.append(&b, record(100 + i)).await.unwrap();
    }
    assert_eq!(entries.iter().map(|e| e.seq).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert!(entries.windows(2).all(|w| w[1].prev_hash == w[0].hash));
    let got = s.audit.get(&a, entries[4].record.answer_id).await.unwrap().unwrap();
    assert_eq!(got, entries[4]);
    assert!(s.audit.get(&b, entries[4].record.answer_id).await.unwrap().is_none());
    let va = s.audit.verify(&a).await.unwrap();
    assert!(va.ok && va.records == 10, "{va:?}");
    let vb = s.audit.verify(&b).await.unwrap();
    assert!(vb.ok && vb.records == 3, "{vb:?}");
    // Read a page at a time, the chain is whole and in order; the other bank's is its own.
    for limit in [3, 10] {
        let (mut read, mut from) = (Vec::new(), None);
        loop {
            let page = s.audit.entries_page(&a, from, limit).await.unwrap();
            assert!(page.entries.len() <= limit);
            read.extend(page.entries);
            let Some(next) = page.next else { break };
            from = Some(next);
        }
        assert_eq!(read, entries, "pages of {limit}");
    }
    let page = s.audit.entries_page(&b, None, 100).await.unwrap();
    assert_eq!((page.entries.len(), page.next), (3, None));
    // The trail reads newest first, whole or by subject, a page at a time.
    for subject in [None, Some("ana"), Some("bo"), Some("nobody")] {
        let expected: Vec<_> = entries
            .iter()
            .rev()
            .filter(|e| subject.is_none_or(|s| e.record.asked_by.as_ref().is_some_and(|c| c.subject == s)))
            .cloned()
            .collect();
        for limit in [2, 50] {
            let (mut read, mut before) = (Vec::new(), None);
            loop {
                let page = s.audit.recent(&a, TrailPage { before, limit, subject }).await.unwrap();
                assert!(page.entries.len() <= limit);
                read.extend(page.entries);
                let Some(next) = page.next else { break };
                before = Some(next);
            }
            assert_eq!(read, expected, "{subject:?}, pages of {limit}");
        }
    }
    let trail =
        s.audit.recent(&b, TrailPage { before: None, limit: 50, subject: Some("ana") }).await.unwrap();
    assert!(trail.entries.iter().all(|e| e.record.answer_id != entries[0].record.answer_id));
    assert_eq!(trail.entries.len(), 1);
}

/// Instantiates the queue suite.
#[macro_export]
macro_rules! queue_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn queue_delivers_retries_and_dead_letters() {
                if let Some(q) = $make.await {
                    $crate::conformance::queue_delivers_retries_and_dead_letters(&*q).await
                }
            }
        }
    };
}

pub async fn queue_delivers_retries_and_dead_letters(q: &dyn JobQueue) {
    let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::System]);
    let report = payscope_core::facts::ReportId::new();
    assert!(q.claim("w1", Duration::from_millis(50)).await.unwrap().is_none());
    let idle = q.liveness().await.unwrap();
    assert_eq!((idle.live_workers, idle.oldest_waiting), (0, None), "no worker has said it is alive");
    q.enqueue(Job::new(&bank, report)).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 1);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    q.heartbeat("w1").await.unwrap();
    q.heartbeat("w2").await.unwrap();
    q.heartbeat("w1").await.unwrap();
    let waiting = q.liveness().await.unwrap();
    assert_eq!(waiting.live_workers, 2);
    let age = waiting.oldest_waiting.expect("a job waits");
    assert!(age >= Duration::from_secs(1) && age < Duration::from_secs(30), "{age:?}");
    let c = q.claim("w1", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(q.liveness().await.unwrap().oldest_waiting, None, "the job is claimed");
    assert_eq!((c.job.report_id, c.job.bank_id, c.job.attempt), (report, bank.bank_id(), 1));
    // A claimed job is not handed out twice, also after its worker renews the claim.
    q.extend(&c).await.unwrap();
    assert!(q.claim("w2", Duration::from_millis(50)).await.unwrap().is_none());
    // Released (graceful shutdown): back at once, the attempt not counted.
    q.release(&c).await.unwrap();
    let c = q.claim("w2", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(c.job.attempt, 1);
    // Failed: retried after a backoff, with the attempt counted.
    let FailOutcome::Retry { after } = q.fail(&c, "boom").await.unwrap() else {
        panic!("first failure dead-lettered")
    };
    assert!(after > Duration::ZERO);
    let c = q.claim("w1", after + Duration::from_secs(3)).await.unwrap().expect("retried job");
    assert_eq!(c.job.attempt, 2);
    q.complete(&c).await.unwrap();
    assert_eq!(q.depth().await.unwrap(), 0);
    // The last attempt goes to the dead letter.
    let mut job = Job::new(&bank, report);
    job.attempt = MAX_ATTEMPTS - 1;
    q.enqueue(job).await.unwrap();
    let c = q.claim("w1", Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(c.job.attempt, MAX_ATTEMPTS);
    assert_eq!(q.fail(&c, "still broken").await.unwrap(), FailOutcome::DeadLettered);
    assert!(q.claim("w1", Duration::from_millis(100)).await.unwrap().is_none());
}

/// Instantiates the cache suite.
#[macro_export]
macro_rules! cache_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cache_is_per_bank_versioned_and_expires() {
                if let Some(c) = $make.await {
                    $crate::conformance::cache_is_per_bank_versioned_and_expires(&*c).await
                }
            }
        }
    };
}

pub async fn cache_is_per_bank_versioned_and_expires(c: &dyn AnswerCache) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let key = CacheKey { question: "approval rate".into(), scope: "30d".into(), data_version: 3 };
    c.put(&a, &key, "answer-a".into(), Duration::from_secs(60)).await.unwrap();
    assert_eq!(c.get(&a, &key).await.unwrap().as_deref(), Some("answer-a"));
    assert_eq!(c.get(&b, &key).await.unwrap(), None, "another bank hit the cache");
    let newer = CacheKey { data_version: 4, ..key.clone() };
    assert_eq!(c.get(&a, &newer).await.unwrap(), None, "new data hit a stale answer");
    let short = CacheKey { question: "short".into(), ..key.clone() };
    c.put(&a, &short, "x".into(), Duration::from_millis(1100)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(c.get(&a, &short).await.unwrap(), None, "expired answer returned");
}

/// Instantiates the graph suite.
#[macro_export]
macro_rules! graph_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn graph_finds_the_common_point_of_purchase() {
                if let Some(g) = $make.await {
                    $crate::conformance::graph_finds_the_common_point_of_purchase(&*g).await
                }
            }
        }
    };
}

pub async fn graph_finds_the_common_point_of_purchase(g: &dyn GraphStore) {
    let data = dataset();
    for bank in &data.banks {
        let ctx = ctx(bank);
        let nil = payscope_core::facts::ReportId(uuid::Uuid::nil());
        let facts: Vec<Fact> =
            [Stage::Auth, Stage::Fraud].iter().flat_map(|s| bank.facts(*s, nil, &data.key)).collect();
        for chunk in facts.chunks(4000) {
            g.upsert(&ctx, &GraphBatch::from_facts(chunk)).await.unwrap();
        }
        let q = CppQuery { fraud_since: None, min_fraud_cards: 2, limit: 5 };
        let first = g.common_point_of_purchase(&ctx, &q).await.unwrap();
        assert_eq!(first[0].merchant_id, bank.compromised_merchant, "{first:?}");
        assert!(first[0].lift > 3.0 && first[0].fraud_cards_visited >= 2, "{first:?}");
        // Upserting again changes nothing.
        g.upsert(&ctx, &GraphBatch::from_facts(&facts)).await.unwrap();
        assert_eq!(g.common_point_of_purchase(&ctx, &q).await.unwrap(), first);
        let rel = g.merchant_relationships(&ctx, &bank.compromised_merchant, 50).await.unwrap();
        assert!(rel.iter().any(|r| r.kind == "ACCEPTS") && rel.iter().any(|r| r.kind == "VISITED"));
    }
    // Isolation: bank 1's merchants are unknown to bank 0.
    let b0 = ctx(&data.banks[0]);
    assert!(g.merchant_relationships(&b0, &data.banks[1].compromised_merchant, 10).await.unwrap().is_empty());
}

/// Instantiates the vector suite.
#[macro_export]
macro_rules! vector_conformance {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn vectors_rank_exactly_per_bank() {
                if let Some(v) = $make.await {
                    $crate::conformance::vectors_rank_exactly_per_bank(&*v).await
                }
            }
        }
    };
}

pub async fn vectors_rank_exactly_per_bank(v: &dyn VectorIndex) {
    let a = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let b = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let doc = |id: &str, vector: Vec<f32>| VectorDoc {
        id: id.into(),
        vector,
        text: format!("doc {id}"),
        metadata: [("kind".to_string(), "test".to_string())].into(),
    };
    v.upsert(
        &a,
        vec![doc("x", vec![1.0, 0.0, 0.0]), doc("y", vec![0.7, 0.7, 0.0]), doc("z", vec![0.0, 0.0, 1.0])],
    )
    .await
    .unwrap();
    v.upsert(&b, vec![doc("secret", vec![1.0, 0.0, 0.0])]).await.unwrap();
    let hits = v.query(&a, &[1.0, 0.1, 0.0], 2).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), vec!["x", "y"]);
    assert!(hits[0].score > 0.99 && hits[0].metadata["kind"] == "test");
    v.upsert(&a, vec![doc("x", vec![0.0, 0.0, 1.0])]).await.unwrap();
    assert_eq!(v.query(&a, &[1.0, 0.1, 0.0], 1).await.unwrap()[0].id, "y");
    v.delete(&a, &["y".to_string()]).await.unwrap();
    let ids: Vec<String> =
        v.query(&a, &[1.0, 0.0, 0.0], 10).await.unwrap().into_iter().map(|h| h.id).collect();
    assert!(!ids.contains(&"y".to_string()) && !ids.contains(&"secret".to_string()));
}
