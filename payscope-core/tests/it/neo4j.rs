//! The Neo4j adapter against Neo4j's own protocol stub, `boltstub` (PyPI `boltkit`, installed
//! by `.ci/run`): each test writes the exact Bolt 4.0 exchange it expects — the Cypher, its
//! parameters and the server's records — and the stub fails the test on any other message or
//! when the script is not played to the end. A live Neo4j check of the Cypher itself is still
//! owed (no Neo4j server can run here; see DEPLOYMENT.md).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payscope_core::backend::neo4j::{cypher, schema_statements, Neo4j, SCHEMA};
use payscope_core::bank::{BankContext, Role};
use payscope_core::calendar::Timestamp;
use payscope_core::config::{Neo4jSettings, Settings};
use payscope_core::engine::{Check, Probe};
use payscope_core::facts::CardToken;
use payscope_core::store::graph::{
    AcceptsEdge, CardNode, CppQuery, GraphBatch, GraphStore, MerchantNode, VisitEdge,
};
use payscope_core::{BankId, Engine};
use serde_json::{json, Value};

use crate::fixtures::tool;

/// A `boltstub` process playing one script.
struct BoltStub {
    child: Child,
    port: u16,
    log: Arc<Mutex<String>>,
    _script: tempfile::NamedTempFile,
}

impl BoltStub {
    fn start(exchanges: &str) -> Option<BoltStub> {
        let binary = tool("PAYSCOPE_TEST_BOLTSTUB", "boltstub")?;
        let script = tempfile::NamedTempFile::new().unwrap();
        let header = "!: BOLT 4\n!: AUTO HELLO\n!: AUTO RESET\n!: AUTO GOODBYE\n\n";
        std::fs::write(script.path(), format!("{header}{exchanges}")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(binary)
            .args(["-v", &port.to_string()])
            .arg(script.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        // The stub logs to stdout; it is listening once it says so. (Probing the port would
        // not do: a connection that sends nothing makes the stub stop.)
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        for _ in 0..200 {
            if log.lock().unwrap().contains("Listening") {
                return Some(BoltStub { child, port, log, _script: script });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("boltstub did not start on port {port}");
    }

    fn settings(&self) -> Neo4jSettings {
        Neo4jSettings {
            uri: format!("bolt://127.0.0.1:{}", self.port),
            user: "neo4j".into(),
            password: "payscope-test".to_owned().into(),
        }
    }

    async fn connect(&self) -> Neo4j {
        Neo4j::connect(&self.settings(), 1).await.unwrap()
    }

    /// Waits for the stub to exit and fails unless it played the whole script.
    fn finish(mut self) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        assert!(status.success(), "the Bolt exchange differed from the script:\n{log}");
    }
}

/// `RUN` of a write statement, answered, then its result discarded.
fn write(query: &str, params: Value) -> String {
    format!(
        "C: RUN {} {} {}\nS: SUCCESS {{\"fields\": []}}\nC: DISCARD {{\"n\": -1, \"qid\": -1}}\nS: SUCCESS {{}}\n\n",
        json!(query),
        params,
        json!({"db": "neo4j"})
    )
}

/// `RUN` of a read statement answered with `records` under `fields`.
fn read(query: &str, params: Value, fields: &[&str], records: &[Value]) -> String {
    let mut s = format!(
        "C: RUN {} {} {}\nS: SUCCESS {}\nC: PULL {{\"n\": 200, \"qid\": -1}}\n",
        json!(query),
        params,
        json!({"db": "neo4j"}),
        json!({"fields": fields})
    );
    for r in records {
        s += &format!("S: RECORD {r}\n");
    }
    s + "S: SUCCESS {}\n\n"
}

fn bank() -> BankContext {
    BankContext::embedded(BankId::from_uuid(uuid::Uuid::from_u128(0x42)), [Role::Analyst])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_file_and_readiness_pings() {
    let statements = schema_statements(SCHEMA);
    let mut script: String = statements.iter().map(|s| write(s, json!({}))).collect();
    script += &read(cypher::PING, json!({}), &["ok"], &[json!([1])]);
    let Some(stub) = BoltStub::start(&script) else { return };
    let graph = stub.connect().await;
    assert_eq!(graph.apply_schema().await.unwrap(), statements.len());
    graph.check().await.unwrap();
    drop(graph);
    stub.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_merged_with_one_unwind_per_kind_keyed_by_bank() {
    let ctx = bank();
    let b = ctx.bank_id().to_string();
    let card = CardToken([7; 16]);
    let token = card.to_string();
    let batch = GraphBatch {
        merchants: vec![MerchantNode {
            merchant_id: "M1".into(),
            name: Some("Corner Cafe".into()),
            mcc: Some("5814".into()),
            country: None,
        }],
        cards: vec![CardNode {
            card,
            issuer_bin: Some("411111".into()),
            network: Some("VISA".into()),
            first_fraud_at: Some(Timestamp(2_000)),
        }],
        visits: vec![VisitEdge {
            card,
            merchant_id: "M1".into(),
            first_at: Timestamp(1_000),
            last_at: Timestamp(1_500),
        }],
        accepts: vec![AcceptsEdge { merchant_id: "M1".into(), network: "VISA".into() }],
    };
    let mut script = write(cypher::BANK, json!({"bank": b}));
    script += &write(
        cypher::MERCHANTS,
        json!({"bank": b, "rows": [{"key": format!("{b}:M1"), "merchant_id": "M1", "name": "Corner Cafe", "mcc": "5814", "country": null}]}),
    );
    script += &write(
        cypher::CARDS,
        json!({"bank": b, "rows": [{"key": format!("{b}:{token}"), "token": token, "network": "VISA", "issuer_bin": "411111", "first_fraud_at": 2000}]}),
    );
    script += &write(
        cypher::VISITS,
        json!({"bank": b, "rows": [{"card_key": format!("{b}:{token}"), "card": token, "merchant_key": format!("{b}:M1"),
               "merchant_id": "M1", "first_at": 1000, "last_at": 1500}]}),
    );
    script += &write(
        cypher::ACCEPTS,
        json!({"bank": b, "rows": [{"merchant_key": format!("{b}:M1"), "merchant_id": "M1", "network_key": format!("{b}:VISA"), "network": "VISA"}]}),
    );
    let Some(stub) = BoltStub::start(&script) else { return };
    let graph = stub.connect().await;
    graph.upsert(&ctx, &batch).await.unwrap();
    graph.upsert(&ctx, &GraphBatch::default()).await.unwrap(); // nothing to send
    drop(graph);
    stub.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relationships_and_the_common_point_of_purchase_are_read_back() {
    let ctx = bank();
    let b = ctx.bank_id().to_string();
    let mut script = read(
        cypher::NETWORKS_OF,
        json!({"key": format!("{b}:M1"), "limit": 3}),
        &["network"],
        &[json!(["VISA"])],
    );
    script += &read(
        cypher::VISITORS_OF,
        json!({"key": format!("{b}:M1"), "limit": 3}),
        &["card", "first_at", "last_at"],
        &[json!(["0a0b", 10, 20]), json!(["0c0d", 5, 15])],
    );
    script += &read(
        cypher::CPP,
        json!({"bank": b, "since": 0, "min_fraud_cards": 2}),
        &["merchant_id", "merchant_name", "fraud_visited", "fraud_cards", "other_visited", "other_cards"],
        &[json!(["M2", null, 2, 4, 50, 100]), json!(["M1", "Corner Cafe", 3, 4, 1, 100])],
    );
    let Some(stub) = BoltStub::start(&script) else { return };
    let graph = stub.connect().await;
    let rel = graph.merchant_relationships(&ctx, "M1", 3).await.unwrap();
    let kinds: Vec<(&str, &str)> = rel.iter().map(|r| (r.kind.as_str(), r.other_id.as_str())).collect();
    assert_eq!(kinds, vec![("ACCEPTS", "VISA"), ("VISITED", "0a0b"), ("VISITED", "0c0d")]);
    assert_eq!((rel[1].first_at, rel[1].last_at), (Some(Timestamp(10)), Some(Timestamp(20))));

    let rows = graph
        .common_point_of_purchase(&ctx, &CppQuery { fraud_since: None, min_fraud_cards: 2, limit: 5 })
        .await
        .unwrap();
    // Ranked by lift: M1 (3 of 4 fraud cards, almost no clean ones) before M2.
    assert_eq!(rows.iter().map(|r| r.merchant_id.as_str()).collect::<Vec<_>>(), vec!["M1", "M2"]);
    assert_eq!(rows[0].merchant_name.as_deref(), Some("Corner Cafe"));
    assert_eq!(rows[1].merchant_name, None);
    assert!((rows[0].lift - (3.0 / 4.0) / (2.0 / 101.0)).abs() < 1e-9);
    drop(graph);
    stub.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_a_dependency_error_and_an_absent_server_shows_in_readiness() {
    let ctx = bank();
    let script = format!(
        "C: RUN {} {} {}\nS: FAILURE {}\n",
        json!(cypher::NETWORKS_OF),
        json!({"key": format!("{}:M1", ctx.bank_id()), "limit": 1}),
        json!({"db": "neo4j"}),
        json!({"code": "Neo.ClientError.Statement.SyntaxError", "message": "Invalid input"})
    );
    let Some(stub) = BoltStub::start(&script) else { return };
    let graph = stub.connect().await;
    let e = graph.merchant_relationships(&ctx, "M1", 1).await.unwrap_err();
    assert_eq!(e.kind(), payscope_core::ErrorKind::Unavailable);
    assert!(e.to_string().contains("neo4j") && e.to_string().contains("Invalid input"), "{e}");
    drop(graph);
    stub.finish();

    // An engine pointed at a Neo4j that is not there still starts; readiness says why, and
    // the instance stays ready: only relationship questions need the graph.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let settings = Settings::from_lookup(|name| match name {
        "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
        "NEO4J_URI" => Some(format!("bolt://127.0.0.1:{port}")),
        "NEO4J_PASSWORD" => Some("x".into()),
        _ => None,
    })
    .unwrap();
    let engine = Engine::from_settings(&settings).await.unwrap();
    let readiness = engine.readiness().await;
    assert!(matches!(&readiness.checks["neo4j"], Check::Error(_)), "{readiness:?}");
    assert!(readiness.ready);
}
