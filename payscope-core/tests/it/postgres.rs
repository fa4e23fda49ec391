//! The conformance suites on Postgres, plus what only a database can show: row-level security
//! as the runtime role, migrations and the `psql -f` checklist, concurrent and failed loads.

use std::sync::Arc;
use std::time::Duration;

use payscope_core::backend::postgres::PgQueue;
use payscope_core::facts::ReportId;

use crate::conformance::Subject;
use crate::services::TestDb;

async fn subject() -> Option<Subject> {
    let db = TestDb::create().await?;
    let pg = db.backend(4).await;
    Some(Subject {
        reports: Arc::new(pg.clone()),
        facts: Arc::new(pg.clone()),
        metrics: Arc::new(pg.clone()),
        audit: Arc::new(pg.clone()),
        profiles: Arc::new(pg),
        keep: vec![db],
    })
}

/// How many facts `report` stored, and the one confidence they all carry.
async fn carrying(pg: &payscope_core::backend::postgres::PgBackend, report: ReportId) -> (i64, f32) {
    sqlx::query_as(
        "SELECT count(*), coalesce(max(confidence), 'NaN') FROM payscope.facts
          WHERE report_id = $1 HAVING count(DISTINCT confidence) <= 1",
    )
    .bind(report.0)
    .fetch_one(pg.pool())
    .await
    .unwrap()
}

/// A queue with its database, dropped together when the test ends.
struct QueueOnDb {
    queue: PgQueue,
    _db: Arc<TestDb>,
}

impl std::ops::Deref for QueueOnDb {
    type Target = PgQueue;
    fn deref(&self) -> &PgQueue {
        &self.queue
    }
}

async fn queue() -> Option<QueueOnDb> {
    let db = TestDb::create().await?;
    let pg = db.backend(2).await;
    Some(QueueOnDb { queue: PgQueue::new(pg, Duration::from_secs(60)), _db: db })
}

crate::store_conformance!(stores, crate::postgres::subject());
crate::queue_conformance!(queue, crate::postgres::queue());

mod isolation {
    use std::sync::Arc;

    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::calendar::{TimeRange, Timestamp};
    use payscope_core::facts::{Fact, ReportId, Stage};
    use payscope_core::store::metric::{Metric, MetricQuery};
    use payscope_core::store::{FactStore, MetricStore, ReportStore};
    use sqlx::{Connection, Executor, Row};

    use crate::fixtures::{dataset, load};
    use crate::services::TestDb;

    const TENANT_TABLES: [&str; 10] = [
        "bank_state",
        "reports",
        "merchants",
        "facts",
        "rollup_daily",
        "rollup_daily_totals",
        "answers",
        "agent_traces",
        "audit_heads",
        "mapping_profiles",
    ];

    fn all_time() -> TimeRange {
        TimeRange::new(Timestamp(0), Timestamp(4_102_444_800_000))
    }

    /// Two fresh banks with `n_a` and `n_b` authorizations loaded, and an audit record each.
    pub(super) async fn two_banks(
        db: &TestDb,
        n_a: usize,
        n_b: usize,
    ) -> (payscope_core::backend::postgres::PgBackend, [BankContext; 2]) {
        let pg = db.backend(4).await;
        let data = dataset();
        let nil = ReportId(uuid::Uuid::nil());
        let banks = [BankId::from_uuid(uuid::Uuid::new_v4()), BankId::from_uuid(uuid::Uuid::new_v4())]
            .map(|b| BankContext::embedded(b, [Role::Admin]));
        for (ctx, n) in banks.iter().zip([n_a, n_b]) {
            let facts: Vec<Fact> = data.banks[0].facts(Stage::Auth, nil, &data.key).take(n).collect();
            load(&pg, &pg, ctx, "auth", Stage::Auth, facts).await;
            let record = payscope_core::store::audit::AuditRecord {
                answer_id: payscope_core::store::audit::AnswerId::new(),
                created_at: Timestamp(1),
                asked_by: None,
                body: serde_json::json!({"summary": "x", "agent_traces": [{"agent": "metrics", "status": "ok"}]}).into(),
            };
            payscope_core::store::audit::AuditLog::append(&pg, ctx, record).await.unwrap();
            let now = Timestamp::now();
            let profile = payscope_core::facts::MappingProfile {
                profile_id: uuid::Uuid::new_v4(),
                name: "layout".into(),
                fingerprint: "00112233445566ff".into(),
                mapping: Default::default(),
                created_at: now,
                updated_at: now,
            };
            payscope_core::store::ProfileStore::put(&pg, ctx, profile).await.unwrap();
        }
        (pg, banks)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn row_level_security_holds_for_the_runtime_role() {
        let Some(db) = TestDb::create().await else { return };
        let (_pg, [a, b]) = two_banks(&db, 500, 300).await;
        let mut conn = db.connect().await;
        // The login (a superuser here) sees both banks until it drops to the runtime role.
        let n: i64 = sqlx::query_scalar("SELECT count(DISTINCT bank_id) FROM payscope.facts")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 2);

        // No bank declared: nothing visible, nothing insertable.
        let mut tx = conn.begin().await.unwrap();
        tx.execute("SELECT set_config('role', 'payscope_app', true)").await.unwrap();
        for t in TENANT_TABLES {
            let n: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM payscope.{t}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            assert_eq!(n, 0, "{t} visible without a bank");
        }
        let refused =
            tx.execute("INSERT INTO payscope.bank_state (bank_id) VALUES (gen_random_uuid())").await;
        assert!(refused.unwrap_err().to_string().contains("row-level security"));
        tx.rollback().await.unwrap();

        // Bank A declared: bank B's rows are invisible and untouchable in every table.
        let (ida, idb) = (a.bank_id().to_string(), b.bank_id().to_string());
        for t in TENANT_TABLES {
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SELECT set_config('app.current_bank_id', $1, true), set_config('role', 'payscope_app', true)")
                .bind(&ida)
                .execute(&mut *tx)
                .await
                .unwrap();
            let q = |sql: String| sqlx::query(sqlx::AssertSqlSafe(sql)).bind(&idb);
            let seen = q(format!("SELECT count(*) FROM payscope.{t} WHERE bank_id = $1::uuid"))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert_eq!(seen.get::<i64, _>(0), 0, "{t}: bank B visible to bank A");
            let own: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM payscope.{t}")))
                    .fetch_one(&mut *tx)
                    .await
                    .unwrap();
            if !matches!(t, "answers" | "agent_traces" | "audit_heads" | "bank_state" | "reports") {
                assert!(own > 0, "{t}: bank A sees none of its own rows");
            }
            // (The audit tables are not deletable by the runtime role at all.)
            if !matches!(t, "answers" | "agent_traces" | "audit_heads") {
                let deleted = q(format!("DELETE FROM payscope.{t} WHERE bank_id = $1::uuid"))
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                assert_eq!(deleted.rows_affected(), 0, "{t}: bank A deleted bank B's rows");
            }
            tx.rollback().await.unwrap();
        }
        // Writing a row for bank B while declared as bank A is refused.
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(
            "SELECT set_config('app.current_bank_id', $1, true), set_config('role', 'payscope_app', true)",
        )
        .bind(&ida)
        .execute(&mut *tx)
        .await
        .unwrap();
        let err = sqlx::query("INSERT INTO payscope.bank_state (bank_id) VALUES ($1::uuid)")
            .bind(&idb)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{err}");
        tx.rollback().await.unwrap();
        // The audit trail is append-only for the runtime role.
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(
            "SELECT set_config('app.current_bank_id', $1, true), set_config('role', 'payscope_app', true)",
        )
        .bind(&ida)
        .execute(&mut *tx)
        .await
        .unwrap();
        let err = tx.execute("UPDATE payscope.answers SET record = '{}'").await.unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
        tx.rollback().await.unwrap();
        // Settings end with the transaction: the pooled connection is clean again.
        let role: String =
            sqlx::query_scalar("SELECT current_user::text").fetch_one(&mut conn).await.unwrap();
        assert_ne!(role, "payscope_app");
    }

    /// Verification recomputes every link from the stored bytes: a record changed at rest (by
    /// someone who can bypass the runtime role) is found, and an unreadable one is a broken
    /// link, not an error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tampering_with_stored_answers_is_detected() {
        use payscope_core::store::audit::{AnswerId, AuditLog, AuditRecord};
        let Some(db) = TestDb::create().await else { return };
        let (pg, [a, b]) = two_banks(&db, 10, 10).await;
        for i in 2..=5 {
            let body = serde_json::json!({"summary": format!("answer {i}")}).into();
            pg.append(
                &a,
                AuditRecord { answer_id: AnswerId::new(), created_at: Timestamp(i), asked_by: None, body },
            )
            .await
            .unwrap();
        }
        let v = pg.verify(&a).await.unwrap();
        assert!(v.ok && v.records == 5, "{v:?}");
        let mut conn = db.connect().await;
        let tamper = |sql: &'static str| sqlx::query(sql).bind(*a.bank_id().as_uuid());
        tamper("UPDATE payscope.answers SET record = replace(record, 'answer 3', 'answer 9') WHERE bank_id = $1 AND seq = 3")
            .execute(&mut conn)
            .await
            .unwrap();
        let v = pg.verify(&a).await.unwrap();
        let broken = v.first_broken.as_ref().unwrap();
        assert!(!v.ok && broken.seq == 3 && broken.reason.contains("changed"), "{v:?}");
        tamper("UPDATE payscope.answers SET record = 'not json' WHERE bank_id = $1 AND seq = 2")
            .execute(&mut conn)
            .await
            .unwrap();
        let v = pg.verify(&a).await.unwrap();
        let broken = v.first_broken.as_ref().unwrap();
        assert!(!v.ok && (v.records, broken.seq) == (2, 2) && broken.reason.contains("unreadable"), "{v:?}");
        // The other bank's chain is untouched.
        let v = pg.verify(&b).await.unwrap();
        assert!(v.ok && v.records == 1, "{v:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn interleaved_requests_on_two_connections_never_cross() {
        let Some(db) = TestDb::create().await else { return };
        let (_, banks) = two_banks(&db, 700, 400).await;
        let pg = Arc::new(db.backend(2).await);
        let q = MetricQuery::new([Metric::TransactionCount], all_time());
        let results = futures::future::join_all((0..1000).map(|i| {
            let (pg, ctx, q) = (pg.clone(), banks[i % 2].clone(), q.clone());
            async move {
                let n = if i % 3 == 0 {
                    pg.stats(&ctx).await.unwrap().total
                } else {
                    pg.query(&ctx, &q).await.unwrap().rows[0].values[0].count().unwrap()
                };
                (i % 2, n)
            }
        }))
        .await;
        for (bank, n) in results {
            assert_eq!(n, [700, 400][bank], "a request of bank {bank} saw another bank's facts");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_loads_store_one_set_and_failed_loads_nothing() {
        let Some(db) = TestDb::create().await else { return };
        let pg = db.backend(4).await;
        let data = dataset();
        let ctx = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
        let nil = ReportId(uuid::Uuid::nil());
        let facts: Vec<Fact> = data.banks[1].facts(Stage::Auth, nil, &data.key).take(4000).collect();
        // The same report loaded twice at once.
        let (r1, r2) = tokio::join!(
            load(&pg, &pg, &ctx, "same", Stage::Auth, facts.clone()),
            load(&pg, &pg, &ctx, "same", Stage::Auth, facts.clone())
        );
        assert_eq!(r1.report_id, r2.report_id);
        // The second commit finds the report final and keeps the first outcome.
        assert_eq!((r1.facts_loaded, r2.facts_loaded), (4000, 4000), "{r1:?} {r2:?}");
        assert_eq!(pg.stats(&ctx).await.unwrap().total, 4000);
        let q = MetricQuery::new([Metric::TransactionCount], all_time());
        assert_eq!(pg.query(&ctx, &q).await.unwrap().rows[0].values[0].count(), Some(4000));

        // A load abandoned half-way (dropped before commit) leaves nothing behind.
        let before = pg.stats(&ctx).await.unwrap();
        let more: Vec<Fact> = data.banks[1].facts(Stage::Clearing, nil, &data.key).take(3000).collect();
        let report = match pg
            .register(
                &ctx,
                crate::fixtures::new_report(&ctx, "abandoned", payscope_core::facts::ReportType::Clearing),
            )
            .await
            .unwrap()
        {
            payscope_core::store::Registered::New(r) => r,
            payscope_core::store::Registered::Duplicate(r) => r,
        };
        let mut open = pg.begin_load(&ctx, &report).await.unwrap();
        open.append(more[..1500].to_vec()).await.unwrap();
        drop(open);
        // And one whose commit fails (the report is not the one being loaded).
        let mut failing = pg.begin_load(&ctx, &report).await.unwrap();
        failing.append(more.clone()).await.unwrap();
        let mut other = report.clone();
        other.report_id = ReportId::new();
        assert!(failing.commit(other).await.is_err());
        let after = pg.stats(&ctx).await.unwrap();
        assert_eq!((after.total, after.data_version), (before.total, before.data_version));
        let q = MetricQuery::new([Metric::ClearedCount], all_time());
        assert_eq!(pg.query(&ctx, &q).await.unwrap().rows[0].values[0].count(), Some(0));

        // A report committed with another confidence than it began with: its facts carry
        // the committed one.
        let mut retyped = pg.begin_load(&ctx, &report).await.unwrap();
        let own = more.iter().map(|f| {
            let mut f = f.clone();
            (f.lineage.report_id, f.lineage.sha256) = (report.report_id, report.sha256);
            f
        });
        retyped.append(own.collect()).await.unwrap();
        let mut done = report.clone();
        (done.status, done.confidence) = (payscope_core::facts::ReportStatus::Completed, 0.75);
        retyped.commit(done).await.unwrap();
        assert_eq!(super::carrying(&pg, report.report_id).await, (3000, 0.75));
    }

    #[tokio::test]
    async fn migrations_rerun_and_the_psql_checklist_order_build_the_same_schema() {
        let Some(db) = TestDb::create().await else { return };
        // Re-running is a no-op.
        payscope_core::backend::postgres::PgBackend::migrate(&db.dsn).await.unwrap();
        // The deployment checklist on an empty database: psql -f in order.
        let Some(empty) = TestDb::create_empty().await else { return };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for file in [
            "infra/postgres/001_canonical_facts.sql",
            "infra/postgres/002_explainability_audit.sql",
            "infra/postgres/003_rls_tenant.sql",
            "infra/postgres/004_query_paths.sql",
            "infra/postgres/005_mapping_profiles.sql",
            "infra/postgres/006_audit_subject.sql",
            "infra/postgres/007_workers.sql",
            "infra/postgres/008_queue_isolation.sql",
            "infra/timescale/001_timescale.sql",
        ] {
            let out = std::process::Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &empty.dsn, "-f"])
                .arg(root.join(file))
                .output()
                .expect("psql is installed");
            assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
            if file.contains("timescale") {
                assert!(String::from_utf8_lossy(&out.stderr).contains("timescaledb is not available"));
            }
        }
        let schema = |dsn: String| async move {
            let options = dsn.parse::<sqlx::postgres::PgConnectOptions>().unwrap();
            let mut conn = sqlx::ConnectOptions::connect(&options).await.unwrap();
            sqlx::query(
                "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner)::text,
                        (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
                        (SELECT string_agg(a.attname::text, ',' ORDER BY a.attname) FROM pg_attribute a
                          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
                   FROM pg_class c WHERE c.relnamespace = 'payscope'::regnamespace AND c.relkind = 'r' ORDER BY 1",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                let columns = r.get::<String, _>(5);
                (r.get::<String, _>(0), r.get::<bool, _>(1), r.get::<bool, _>(2), r.get::<String, _>(3), r.get::<i64, _>(4), columns)
            })
            .collect::<Vec<_>>()
        };
        let migrated = schema(db.dsn.clone()).await;
        assert_eq!(migrated, schema(empty.dsn.clone()).await);
        for (table, rls, forced, owner, policies, _) in &migrated {
            assert_eq!(owner, "payscope_owner", "{table}");
            // The queue has a policy for the API (enqueue) and one for workers; heartbeats are
            // the workers' alone.
            match table.as_str() {
                "jobs" => assert!(*rls && *forced && *policies == 2, "jobs: RLS not enabled and forced"),
                "workers" => {}
                _ => assert!(*rls && *forced && *policies == 1, "{table}: RLS not enabled and forced"),
            }
        }
        // The runtime role owns nothing and cannot bypass RLS.
        let mut conn = db.connect().await;
        let (bypass, owned): (bool, i64) = sqlx::query_as(
            "SELECT rolbypassrls, (SELECT count(*) FROM pg_class WHERE relowner = r.oid) FROM pg_roles r WHERE rolname = 'payscope_app'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(!bypass && owned == 0);
        // The application works on the checklist-built database too.
        let pg = empty.backend(2).await;
        let ctx = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
        let nil = ReportId(uuid::Uuid::nil());
        let facts: Vec<Fact> = dataset().banks[0].facts(Stage::Auth, nil, &dataset().key).take(100).collect();
        assert_eq!(load(&pg, &pg, &ctx, "checklist", Stage::Auth, facts).await.facts_loaded, 100);
    }
}

mod engine {
    use std::sync::Arc;
    use std::time::Duration;

    use payscope_core::config::PostgresSettings;
    use payscope_core::facts::{ReportOptions, ReportType, Stage};
    use payscope_core::ingest::pan::PanKey;
    use payscope_core::query::Query;
    use payscope_core::store::metric::{Metric, MetricQuery};
    use payscope_core::store::MetricStore;
    use payscope_core::synth::files::{write_report, Layout};
    use payscope_core::{Engine, EngineOptions, ErrorKind, Stores};
    use tokio::net::TcpListener;

    use crate::ask::{analyst, as_of};
    use crate::fixtures::dataset;
    use crate::services::{with_database, TestDb};

    /// Every evaluation question gets the same answer from an engine on Postgres as from the
    /// embedded engine, and Postgres timings reach `db_query_duration_seconds`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_evaluation_set_answers_the_same_on_postgres() {
        let Some(db) = TestDb::create().await else { return };
        let telemetry = Arc::new(payscope_core::telemetry::Telemetry::new());
        let pg = db.backend(4).await.with_telemetry(telemetry.clone());
        let engine = Engine::with_telemetry(
            Stores::postgres(&pg, payscope_core::store::jobs::DEFAULT_LEASE),
            Arc::new(object_store::memory::InMemory::new()),
            PanKey::generate(),
            EngineOptions::default(),
            telemetry,
        )
        .with_probe(Arc::new(pg.clone()));
        let data = dataset();
        for bank in &data.banks {
            let ctx = payscope_core::bank::BankContext::embedded(
                bank.bank_id,
                [payscope_core::bank::Role::Analyst],
            );
            for stage in Stage::ALL {
                let mut bytes = Vec::new();
                write_report(bank, stage, Layout::Jsonl, &data.key, &mut bytes).unwrap();
                let options = ReportOptions { report_type: ReportType::Auto, ..Default::default() };
                let r = engine.ingest(&ctx, bytes, options).await.unwrap();
                assert_eq!((r.status.as_str(), r.rows_rejected), ("completed", 0));
                // Facts are stored as they are parsed, carrying the mapping's confidence.
                let (n, at) = super::carrying(&pg, r.report_id).await;
                assert!(r.confidence > 0.5 && n == r.facts_loaded as i64, "{r:?}: {n}");
                assert_eq!(at, r.confidence as f32);
            }
        }
        let memory = crate::ask::engine().await;
        let ctx = analyst(0);
        let mut differences = Vec::new();
        let questions = crate::eval::questions();
        for text in &questions {
            let q = Query::new(text.clone()).as_of(as_of());
            let (m, p) = (memory.ask(&ctx, q.clone()).await.unwrap(), engine.ask(&ctx, q).await.unwrap());
            let view = |a: &payscope_core::query::answer::Answer| {
                serde_json::json!([
                    a.intent,
                    a.summary,
                    a.metrics,
                    a.series,
                    a.forecast,
                    a.warnings,
                    a.agents_invoked
                ])
            };
            let (vm, vp) = (view(&m), view(&p));
            if vm != vp {
                let parts = vm.as_array().unwrap().iter().zip(vp.as_array().unwrap()).filter(|(a, b)| a != b);
                let diff: Vec<String> =
                    parts.map(|(a, b)| format!("\n  memory:   {a}\n  postgres: {b}")).collect();
                differences.push(format!("{text}{}", diff.join("")));
            }
        }
        assert!(
            differences.is_empty(),
            "{} of {}:\n{}",
            differences.len(),
            questions.len(),
            differences.join("\n")
        );
        let metrics = engine.telemetry().encode();
        assert!(
            metrics.contains(r#"db_query_duration_seconds_count{operation="metric_query"}"#),
            "{metrics}"
        );
        assert!(metrics.contains(r#"operation="load_commit""#));
        assert_eq!(engine.readiness().await.checks["postgres"], payscope_core::engine::Check::Ok);
    }

    /// A TCP relay to Postgres that the test can cut and restore.
    struct Relay {
        port: u16,
        task: tokio::task::JoinHandle<()>,
    }

    impl Relay {
        async fn start(port: u16) -> Relay {
            let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let task = tokio::spawn(async move {
                let mut conns = tokio::task::JoinSet::new();
                while let Ok((mut inbound, _)) = listener.accept().await {
                    conns.spawn(async move {
                        if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await {
                            let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                }
            });
            Relay { port, task }
        }

        /// Cuts every connection (aborting the task drops the listener and the relayed streams).
        async fn cut(self) -> u16 {
            self.task.abort();
            let _ = self.task.await;
            self.port
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_outage_is_unavailable_and_recovers_by_itself() {
        let Some(db) = TestDb::create().await else { return };
        let relay = Relay::start(0).await;
        let name = db.name.clone();
        let dsn = with_database(&format!("postgres://postgres@127.0.0.1:{}/postgres", relay.port), &name);
        let settings = PostgresSettings {
            dsn: dsn.into(),
            pool_size: 2,
            statement_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
        };
        let pg = payscope_core::backend::postgres::PgBackend::connect(&settings).await.unwrap();
        let ctx = payscope_core::bank::BankContext::embedded(
            payscope_core::bank::BankId::from_uuid(uuid::Uuid::new_v4()),
            [payscope_core::bank::Role::Analyst],
        );
        let q = MetricQuery::new(
            [Metric::TransactionCount],
            payscope_core::calendar::TimeRange::new(
                payscope_core::calendar::Timestamp(0),
                payscope_core::calendar::Timestamp(1_800_000_000_000),
            ),
        );
        pg.query(&ctx, &q).await.unwrap();
        let port = relay.cut().await;
        let err = pg.query(&ctx, &q).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
        assert_eq!(err.code(), "dependency_unavailable");
        let engine_probe: &dyn payscope_core::engine::Probe = &pg;
        assert!(engine_probe.check().await.is_err());
        let _relay = Relay::start(port).await;
        let mut recovered = false;
        for _ in 0..20 {
            if pg.query(&ctx, &q).await.is_ok() {
                recovered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(recovered, "the pool did not reconnect after Postgres came back");
    }
}

/// What a deployment's database holds beyond the tables: the queue's roles, the Timescale
/// branch of the migrations, and migrations amended after release.
mod deployment {
    use std::time::Duration;

    use payscope_core::backend::postgres::{PgBackend, PgQueue, MIGRATOR};
    use payscope_core::bank::{BankContext, BankId, Role};
    use payscope_core::config::PostgresSettings;
    use payscope_core::facts::ReportId;
    use payscope_core::store::jobs::{Job, JobQueue};
    use sqlx::Executor;

    use crate::services::{psql, TestDb};

    async fn backend_as(db: &TestDb, login: &str) -> PgBackend {
        let settings = PostgresSettings {
            dsn: db.dsn_as(login).into(),
            pool_size: 2,
            statement_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
        };
        PgBackend::connect(&settings).await.unwrap()
    }

    /// The API's login and a worker's login, made as DEPLOYMENT.md says, dropped at the end.
    struct Logins {
        api: String,
        ingest: String,
        admin: String,
    }

    impl Logins {
        async fn create(db: &TestDb) -> Logins {
            let tag = &uuid::Uuid::new_v4().simple().to_string()[..12];
            let (api, ingest) = (format!("payscope_t_api_{tag}"), format!("payscope_t_ingest_{tag}"));
            let mut admin = db.connect().await;
            admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "CREATE ROLE {api} LOGIN IN ROLE payscope_app;
                     CREATE ROLE {ingest} LOGIN IN ROLE payscope_app, payscope_worker"
                )))
                .await
                .unwrap();
            Logins { api, ingest, admin: db.dsn.clone() }
        }
    }

    impl Drop for Logins {
        fn drop(&mut self) {
            let _ = psql(&self.admin, &format!("DROP ROLE IF EXISTS {}, {}", self.api, self.ingest));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_job_queue_is_readable_by_workers_only() {
        let Some(db) = TestDb::create().await else { return };
        let logins = Logins::create(&db).await;
        let (api_dsn, ingest_dsn) = (db.dsn_as(&logins.api), db.dsn_as(&logins.ingest));
        let bank = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Admin]);
        let report = ReportId(uuid::Uuid::new_v4());

        // The API adds a job for its bank and reads the queue's health, nothing more.
        let api_pg = backend_as(&db, &logins.api).await;
        let api = PgQueue::new(api_pg.clone(), Duration::from_secs(60));
        api.enqueue(Job::new(&bank, report)).await.unwrap();
        assert_eq!(api.depth().await.unwrap(), 1);
        let refused = api.claim("api", Duration::ZERO).await.unwrap_err().to_string();
        assert!(refused.contains("GRANT payscope_worker TO"), "{refused}");

        // From psql, as the API's login: the queue and the heartbeats are not readable, the
        // worker role cannot be taken, and a job without a declared bank is refused.
        for sql in ["SELECT count(*) FROM payscope.jobs", "SELECT count(*) FROM payscope.workers"] {
            let err = psql(&api_dsn, sql).unwrap_err();
            assert!(err.contains("permission denied for table"), "{sql}: {err}");
        }
        let err = psql(&api_dsn, "SET ROLE payscope_worker").unwrap_err();
        assert!(err.contains("permission denied to set role"), "{err}");
        let err = psql(
            &api_dsn,
            "INSERT INTO payscope.jobs (job_id, bank_id, report_id) VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid())",
        )
        .unwrap_err();
        assert!(err.contains("row-level security"), "{err}");
        assert_eq!(psql(&api_dsn, "SELECT depth FROM payscope.queue_health(20)").unwrap(), "1");

        // The worker's login consumes it.
        let worker_pg = backend_as(&db, &logins.ingest).await;
        let worker = PgQueue::new(worker_pg.clone(), Duration::from_secs(60));
        worker.heartbeat("w1").await.unwrap();
        assert_eq!(api.liveness().await.unwrap().live_workers, 1);
        let claimed = worker.claim("w1", Duration::from_secs(1)).await.unwrap().expect("the job");
        assert_eq!((claimed.job.bank_id, claimed.job.report_id), (bank.bank_id(), report));
        let seen = psql(&ingest_dsn, "SET ROLE payscope_worker; SELECT count(*) FROM payscope.jobs").unwrap();
        assert_eq!(seen, "1");
        worker.complete(&claimed).await.unwrap();
        assert_eq!(api.depth().await.unwrap(), 0);
        api_pg.pool().close().await;
        worker_pg.pool().close().await;
    }

    /// TimescaleDB cannot be installed here, so its calls are stubbed in a schema placed
    /// before `pg_catalog` on the search path: `migrations/0010` runs its Timescale branch
    /// for real (parsed, planned, executed) against stubs that record each call and, like
    /// Timescale, make chunks as inheritance children that receive the parent's grants but
    /// not its row-level security policies.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_timescale_branch_keeps_chunks_out_of_the_runtime_roles_reach() {
        let Some(db) = TestDb::create().await else { return };
        let (pg, [a, b]) = super::isolation::two_banks(&db, 300, 200).await;
        let admin = db.dsn.clone();
        psql(&admin, TIMESCALE_STUBS).unwrap();
        let sum_as = |bank: &BankContext| {
            format!(
                "SET app.current_bank_id = '{}'; SET ROLE payscope_app; SELECT coalesce(sum(facts), 0) FROM payscope.rollup_daily",
                bank.bank_id()
            )
        };
        let before = [psql(&admin, &sum_as(&a)).unwrap(), psql(&admin, &sum_as(&b)).unwrap()];
        assert_eq!(before, ["300", "200"]);

        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let out = std::process::Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &admin, "-f"])
            .arg(root.join("infra/timescale/001_timescale.sql"))
            .env("PGOPTIONS", "-c search_path=ts_stub,pg_catalog,public")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && !stderr.contains("not available"), "{stderr}");
        let calls = psql(&admin, "SELECT string_agg(format('%s %s %s %s %s %s', rel, time_col, chunk_schema, chunk_interval, if_missing, migrate), '; ' ORDER BY rel) FROM ts_stub.calls").unwrap();
        assert_eq!(
            calls,
            "payscope.rollup_daily day payscope_chunks 30 days t t; payscope.rollup_daily_totals day payscope_chunks 90 days t t"
        );
        // Every row moved into a chunk; through the hypertable each bank still sees its own.
        assert_eq!(psql(&admin, "SELECT count(*) FROM ONLY payscope.rollup_daily").unwrap(), "0");
        assert_eq!([psql(&admin, &sum_as(&a)).unwrap(), psql(&admin, &sum_as(&b)).unwrap()], before);
        // The chunk itself is out of reach of the runtime role…
        let chunk_as_a = format!(
            "SET app.current_bank_id = '{}'; SET ROLE payscope_app; SELECT count(DISTINCT bank_id) FROM payscope_chunks._hyper_1_chunk",
            a.bank_id()
        );
        let err = psql(&admin, &chunk_as_a).unwrap_err();
        assert!(err.contains("permission denied for schema payscope_chunks"), "{err}");
        // …which matters: where it could name the chunk, it would read both banks' rows, and
        // adopt_timescale refuses to finish.
        psql(&admin, "GRANT USAGE ON SCHEMA payscope_chunks TO payscope_app").unwrap();
        assert_eq!(psql(&admin, &chunk_as_a).unwrap(), "2");
        let err = psql(&admin, "SET search_path = ts_stub, pg_catalog, public; SET ROLE payscope_owner; SELECT payscope.adopt_timescale()")
            .unwrap_err();
        assert!(
            err.contains("chunks outside row-level security are reachable: payscope_chunks._hyper_1_chunk"),
            "{err}"
        );
        pg.pool().close().await;
    }

    /// Stand-ins for the TimescaleDB calls `migrations/0010` makes.
    const TIMESCALE_STUBS: &str = r#"
        CREATE SCHEMA ts_stub;
        CREATE VIEW ts_stub.pg_available_extensions AS SELECT 'timescaledb'::name AS name;
        CREATE VIEW ts_stub.pg_extension AS SELECT 'timescaledb'::name AS extname;
        CREATE TABLE ts_stub.calls (rel text, time_col name, chunk_schema name, chunk_interval interval,
                                    if_missing boolean, migrate boolean);
        CREATE FUNCTION ts_stub.create_hypertable(relation regclass, time_column_name name,
            associated_schema_name name DEFAULT '_timescaledb_internal', chunk_time_interval interval DEFAULT NULL,
            if_not_exists boolean DEFAULT false, migrate_data boolean DEFAULT false)
        RETURNS TABLE (hypertable_id integer, schema_name name, table_name name, created boolean)
        LANGUAGE plpgsql SECURITY DEFINER AS $f$
        DECLARE
            n integer;
            chunk text;
        BEGIN
            IF EXISTS (SELECT FROM ts_stub.calls WHERE rel = relation::text) THEN
                RETURN;
            END IF;
            INSERT INTO ts_stub.calls VALUES (relation::text, time_column_name, associated_schema_name,
                                              chunk_time_interval, if_not_exists, migrate_data);
            SELECT count(*) INTO n FROM ts_stub.calls;
            chunk := format('%I._hyper_%s_chunk', associated_schema_name, n);
            EXECUTE format('CREATE TABLE %s () INHERITS (%s)', chunk, relation);
            EXECUTE format('ALTER TABLE %s OWNER TO payscope_owner', chunk);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO payscope_app', chunk);
            IF migrate_data THEN
                EXECUTE format('WITH moved AS (DELETE FROM ONLY %s RETURNING *) INSERT INTO %s SELECT * FROM moved',
                               relation, chunk);
            END IF;
            RETURN QUERY SELECT n, associated_schema_name, relation::text::name, true;
        END
        $f$;
        CREATE SCHEMA timescaledb_information;
        CREATE VIEW timescaledb_information.chunks AS
            SELECT pn.nspname AS hypertable_schema, p.relname AS hypertable_name,
                   cn.nspname AS chunk_schema, c.relname AS chunk_name
              FROM pg_inherits i
              JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace
              JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace;
        GRANT USAGE ON SCHEMA ts_stub, timescaledb_information TO payscope_owner;
        GRANT SELECT ON ALL TABLES IN SCHEMA ts_stub, timescaledb_information TO payscope_owner;
    "#;

    #[tokio::test]
    async fn a_migration_amended_after_release_is_accepted_only_under_its_earlier_text() {
        let Some(db) = TestDb::create().await else { return };
        let today = MIGRATOR.iter().find(|m| m.version == 4).unwrap().checksum.to_vec();
        let checksum =
            || psql(&db.dsn, "SELECT encode(checksum, 'hex') FROM _sqlx_migrations WHERE version = 4");
        // As a database that applied 0004's first text (sha384sum of that file).
        let earlier = "86336628e6ee012c8f272ff5854374f58b8a503d0723ad2ea85a100d08e8f15c255ee60dfc31036244a96ed20ad61e64";
        psql(
            &db.dsn,
            &format!("UPDATE _sqlx_migrations SET checksum = decode('{earlier}', 'hex') WHERE version = 4"),
        )
        .unwrap();
        PgBackend::migrate(&db.dsn).await.unwrap();
        assert_eq!(checksum().unwrap(), hex::encode(today));
        // Any other text is still refused.
        psql(&db.dsn, "UPDATE _sqlx_migrations SET checksum = '\\x00' WHERE version = 4").unwrap();
        let err = PgBackend::migrate(&db.dsn).await.unwrap_err().to_string();
        assert!(err.contains("4"), "{err}");
    }
}
