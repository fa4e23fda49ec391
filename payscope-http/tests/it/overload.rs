//! Overload protection as a client meets it: rates per subject and per bank (429 with
//! `Retry-After`), the cap on questions computed at once and the deadline (503 `overloaded` and
//! `timeout`, a question held up for real by a lock in Postgres), the connection cap (health
//! still served), and health and metrics never shed.

use std::time::{Duration, Instant};

use payscope_core::bank::BankId;
use payscope_http::overload::Limits;
use serde_json::json;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{now, Options, Server, Signer};

fn token(bank: BankId, sub: &str) -> String {
    Signer::rsa().sign(&json!({"sub": sub, "bank_id": bank, "roles": ["analyst"], "exp": now() + 600}))
}

async fn ask(server: &Server, token: &str, n: usize) -> (u16, Option<u64>, String) {
    let body = json!({"query": format!("How many transactions were there in the last {} days?", n + 2)});
    let (status, headers, body) =
        server.call("/chat/query", server.post("/chat/query", Some(token)).json(&body)).await;
    let retry = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, retry, body["error"]["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn rates_are_per_subject_and_per_bank() {
    // 8 a minute: 2 at once, then one every 7.5 s; a bank's users 12 a minute: 3 at once.
    let limits = Limits {
        questions_per_subject: 8,
        questions_per_bank: 12,
        uploads_per_subject: 4,
        ..Limits::unlimited()
    };
    let server = Server::start_with(Options { limits, ..Options::default() }).await;
    let (bank, other) = (BankId::from_uuid(uuid::Uuid::new_v4()), BankId::from_uuid(uuid::Uuid::new_v4()));
    let (ana, bo, cy) = (token(bank, "ana"), token(bank, "bo"), token(bank, "cy"));
    assert_eq!(ask(&server, &ana, 1).await.0, 200);
    assert_eq!(ask(&server, &ana, 2).await.0, 200);
    let (status, retry, code) = ask(&server, &ana, 3).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"));
    assert!(retry.is_some_and(|s| (1..=8).contains(&s)), "{retry:?}");
    // Another subject has its own bucket, until the bank's is empty.
    assert_eq!(ask(&server, &bo, 4).await.0, 200);
    let (status, _, code) = ask(&server, &cy, 5).await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"), "the bank's three are used");
    // Another bank is not affected.
    assert_eq!(ask(&server, &token(other, "ana"), 6).await.0, 200);
    // Uploads have their own rate: one at once for 4 a minute.
    let preview =
        || server.post("/reports/preview", Some(&bo)).header("content-type", "text/csv").body("a,b\n1,2\n");
    assert_eq!(server.call("/reports/preview", preview()).await.0, 200);
    let (status, headers, _) = server.call("/reports/preview", preview()).await;
    assert_eq!((status, headers.contains_key("retry-after")), (429, true));
    // Health and metrics are never limited.
    for _ in 0..20 {
        assert_eq!(server.get("/health", None).send().await.unwrap().status(), 200);
    }
    assert_eq!(server.get("/metrics", None).send().await.unwrap().status(), 200);
    server.stop().await;
}

/// A question held up by a lock on the tables it reads runs into the deadline; while it holds
/// the only room for computations, another question is shed at once; health is answered; once
/// the lock is gone questions are answered again.
#[tokio::test]
async fn a_slow_question_times_out_and_the_others_are_shed() {
    let limits = Limits { max_inflight: 1, deadline: Duration::from_secs(2), ..Limits::unlimited() };
    let Some((server, dsn)) = Server::start_postgres_with(limits).await else { return };
    let bank = BankId::from_uuid(uuid::Uuid::new_v4());
    let t = token(bank, "ana");
    assert_eq!(ask(&server, &t, 1).await.0, 200);
    let mut lock = sqlx::PgConnection::connect(&dsn).await.unwrap();
    sqlx::raw_sql(
        "BEGIN; LOCK TABLE payscope.facts, payscope.rollup_daily, payscope.rollup_daily_totals, payscope.reports IN ACCESS EXCLUSIVE MODE",
    )
    .execute(&mut lock)
    .await
    .unwrap();
    let slow = {
        let (server, t) = (&server, t.clone());
        async move {
            let started = Instant::now();
            (ask(server, &t, 2).await, started.elapsed())
        }
    };
    let others = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let shed = ask(&server, &t, 3).await;
        let health = server.get("/health/ready", None).send().await.unwrap().status().as_u16();
        (shed, health)
    };
    let (((status, retry, code), took), ((shed_status, shed_retry, shed_code), health)) =
        tokio::join!(slow, others);
    assert_eq!((status, code.as_str(), retry), (503, "timeout", Some(1)));
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "{took:?}");
    assert_eq!((shed_status, shed_code.as_str(), shed_retry), (503, "overloaded", Some(1)));
    assert_eq!(health, 200, "health is never shed");
    sqlx::raw_sql("ROLLBACK").execute(&mut lock).await.unwrap();
    assert_eq!(ask(&server, &t, 4).await.0, 200, "answered again once the lock is gone");
    server.stop().await;
}

/// Past the connection cap a connection is served health and metrics only, and told to close.
#[tokio::test]
async fn connections_past_the_cap_get_health_only() {
    let limits = Limits { max_connections: 1, ..Limits::unlimited() };
    let server = Server::start_with(Options { limits, ..Options::default() }).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let t = token(BankId::from_uuid(uuid::Uuid::new_v4()), "ana");
    // The first connection, kept open.
    let mut first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let get = |path: &str| format!("GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {t}\r\n\r\n");
    first.write_all(get("/health").as_bytes()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = first.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    for (path, expected) in [("/reports", "HTTP/1.1 503"), ("/health/live", "HTTP/1.1 200")] {
        let mut second = tokio::net::TcpStream::connect(&addr).await.unwrap();
        second.write_all(get(path).as_bytes()).await.unwrap();
        let mut response = Vec::new();
        second.read_to_end(&mut response).await.unwrap();
        let text = String::from_utf8_lossy(&response).to_lowercase();
        assert!(text.starts_with(&expected.to_lowercase()), "{path}: {text}");
        assert!(text.contains("connection: close"), "{text}");
        if path == "/reports" {
            assert!(text.contains("retry-after: 1") && text.contains("\"overloaded\""), "{text}");
        }
    }
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, _) = server.call("/reports", server.get("/reports", Some(&t))).await;
    assert_eq!(status, 200, "served in full once the first connection closed");
    server.stop().await;
}

/// A port free at the time of asking.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The binary as deployed, with `PAYSCOPE_OPS_ADDR`: while the API's connections are past
/// twice the cap (new ones closed at once), the health-and-metrics listener still answers,
/// and it serves nothing else.
#[tokio::test]
async fn health_has_a_listener_of_its_own() {
    let (api, ops) = (free_port(), free_port());
    let data = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_payscope-http"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PAYSCOPE_ADDR", format!("127.0.0.1:{api}"))
        .env("PAYSCOPE_OPS_ADDR", format!("127.0.0.1:{ops}"))
        .env("PAYSCOPE_MAX_CONNECTIONS", "1")
        .env("PAYSCOPE_DATA_DIR", data.path())
        .env("JWT_PUBLIC_KEY", crate::support::keys_dir().join("rsa_public.pem"))
        .env("JWT_ISSUER", "https://idp.example")
        .env("JWT_AUDIENCE", "payscope")
        .env("PAYSCOPE_LOG", "warn")
        .spawn()
        .unwrap();
    let _child = KillOnDrop(child);
    let client = reqwest::Client::new();
    let live = |port: u16| client.get(format!("http://127.0.0.1:{port}/health/live")).send();
    let mut up = false;
    for _ in 0..300 {
        if live(ops).await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the ops listener did not come up");
    // Fill the API port to twice its cap with connections that send nothing yet (a slow
    // client, or a flood): a new one is then closed at once.
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(tokio::net::TcpStream::connect(("127.0.0.1", api)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut refused = tokio::net::TcpStream::connect(("127.0.0.1", api)).await.unwrap();
    let _ = refused.write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut rest = Vec::new();
    let _ = refused.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "past twice the cap the API port closes new connections");
    // The ops listener answers health and metrics regardless, and nothing else.
    for path in ["/health/live", "/health/ready", "/metrics"] {
        let r = client.get(format!("http://127.0.0.1:{ops}{path}")).send().await.unwrap();
        assert!(r.status() == 200 || path == "/health/ready", "{path}: {}", r.status());
    }
    let r = client.get(format!("http://127.0.0.1:{ops}/reports")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    drop(held);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
