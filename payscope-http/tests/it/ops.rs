//! Operations: health, readiness, `/metrics` (valid for `promtool`, counters that move,
//! labels without bank ids or raw paths), the served OpenAPI document, the worker's
//! health-and-metrics-only surface, and graceful shutdown finishing in-flight requests.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use payscope_core::bank::BankId;
use serde_json::json;

use crate::support::{claims, samples, Server, Signer};

async fn metrics(server: &Server) -> String {
    let (s, headers, body) = server.call("/metrics", server.get("/metrics", None)).await;
    assert_eq!(s, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = body.as_str().unwrap().to_owned();
    // Prometheus itself asks for OpenMetrics and gets it.
    let open = server
        .get("/metrics", None)
        .header("accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
    let (s, headers, body) = server.call("/metrics", open).await;
    assert_eq!(s, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(body.as_str().unwrap().ends_with("# EOF\n"));
    text
}

/// The value of the sample line starting with `prefix` (0 when absent).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

fn promtool(text: &str) -> Option<(bool, String)> {
    let mut child = match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(_) if std::env::var("PAYSCOPE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => {
            panic!("promtool is required (Debian package `prometheus`)")
        }
        Err(_) => {
            eprintln!("skipping promtool check: promtool is not installed");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Some((
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    ))
}

#[tokio::test]
async fn health_metrics_and_the_served_document() {
    let server = Server::start().await;
    for path in ["/health", "/health/live"] {
        let (s, _, body) = server.call(path, server.get(path, None)).await;
        assert_eq!((s, body), (200, json!({"status": "ok"})));
    }
    let (s, _, ready) = server.call("/health/ready", server.get("/health/ready", None)).await;
    assert_eq!(s, 200);
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"]["object_store"], "ok");
    assert_eq!(ready["checks"]["postgres"], "not_configured");

    let (s, _, doc) = server.call("/openapi.json", server.get("/openapi.json", None)).await;
    assert_eq!((s, doc["openapi"].as_str()), (200, Some("3.1.0")));

    let bank: BankId = "5c4b3a29-1807-4f6e-9d5c-4b3a29180706".parse().unwrap();
    let token = Signer::rsa().sign(&claims(bank, &["analyst"]));
    let before = metrics(&server).await;
    let csv = std::fs::read(samples().join("bank1/auth.csv")).unwrap();
    let (s, _, _) = server
        .call(
            "/reports",
            server
                .post("/reports?report_type=authorization&wait=true", Some(&token))
                .header("content-type", "text/csv")
                .body(csv),
        )
        .await;
    assert_eq!(s, 200);
    for _ in 0..3 {
        assert_eq!(server.ask(&token, json!({"query": "What is the approval rate?"})).await.0, 200);
    }
    let _ = server
        .call("/reports/{report_id}", server.get(&format!("/reports/{}", uuid::Uuid::new_v4()), Some(&token)))
        .await;
    let _ = server.client.get(server.url("/no/such/path/4111111111111111")).send().await.unwrap();
    let after = metrics(&server).await;

    let chat = r#"http_requests_total{method="POST",route="/chat/query",status="200"}"#;
    assert_eq!(sample(&after, chat) - sample(&before, chat), 3.0, "{after}");
    let not_found = r#"http_requests_total{method="GET",route="/reports/{report_id}",status="404"}"#;
    assert_eq!(sample(&after, not_found), 1.0);
    assert_eq!(sample(&after, r#"http_requests_total{method="GET",route="unmatched",status="404"}"#), 1.0);
    assert!(sample(&after, r#"chat_queries_total{intent="describe""#) >= 1.0, "{after}");
    assert!(sample(&after, r#"ingest_reports_total{status="completed"}"#) >= 1.0, "{after}");
    assert!(sample(&after, r#"ingest_rows_total{outcome="loaded"}"#) > 0.0, "{after}");
    assert!(after.contains("http_request_duration_seconds_bucket"));
    // No bank id, raw path or card number in any label.
    assert!(!after.contains(&bank.to_string()));
    assert!(!after.contains("/no/such/path"));
    assert!(!after.contains("4111111111111111"));
    if let Some((ok, output)) = promtool(&after) {
        assert!(ok, "promtool check metrics failed:\n{output}\n{after}");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_worker_surface_serves_health_and_metrics_only() {
    let server = Server::start_ops().await;
    assert_eq!(server.call("/health/ready", server.get("/health/ready", None)).await.0, 200);
    assert!(metrics(&server).await.contains("jobs_in_queue"));
    for path in ["/reports", "/chat/query", "/openapi.json", "/audit/verify"] {
        let r = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut server = Server::start().await;
    let bank: BankId = "7e6d5c4b-3a29-4180-8f6e-5d4c3b2a1908".parse().unwrap();
    let token = Signer::rsa().sign(&claims(bank, &["analyst"]));
    // A slow upload: the body trickles in while shutdown begins.
    let csv = std::fs::read(samples().join("bank0/refund.csv")).unwrap();
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
        csv.chunks(csv.len() / 4 + 1).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    let slow = futures::StreamExt::then(futures::stream::iter(chunks), |c| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        c
    });
    let request = server
        .post("/reports?report_type=refund&wait=true", Some(&token))
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(slow))
        .send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let base = server.base.clone();
    let stopped = server.begin_shutdown();
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let report: serde_json::Value = response.json().await.unwrap();
    assert_eq!(report["status"], "completed");
    stopped.await.unwrap();
    // New connections are refused once shut down.
    assert!(reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/health"))
        .send()
        .await
        .is_err());
}

/// With no ingestion worker running, readiness and `/metrics` say so and an upload that asks
/// to wait is told at once (503, the queued report in the body) instead of waiting minutes;
/// nothing is lost: once a worker runs, the report loads.
#[tokio::test]
async fn no_worker_is_said_at_once() {
    let server = Server::start_with(crate::support::Options { worker: false, ..Default::default() }).await;
    let (s, _, ready) = server.call("/health/ready", server.get("/health/ready", None)).await;
    assert_eq!((s, ready["status"].as_str()), (200, Some("degraded")), "questions are still answered");
    assert!(ready["checks"]["workers"].as_str().unwrap().contains("no ingestion worker"), "{ready}");
    let bank: BankId = "5c4b3a29-1807-4f6e-9d5c-4b3a29180706".parse().unwrap();
    let token = Signer::rsa().sign(&claims(bank, &["analyst"]));
    let csv = std::fs::read(samples().join("bank1/auth.csv")).unwrap();
    let started = std::time::Instant::now();
    let upload = server
        .post("/reports?report_type=authorization&wait=true", Some(&token))
        .header("content-type", "text/csv")
        .body(csv.clone());
    let (s, headers, body) = server.call("/reports", upload).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "answered at once");
    assert_eq!((s, body["error"]["code"].as_str()), (503, Some("dependency_unavailable")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no ingestion worker"), "{body}");
    assert_eq!(body["report"]["status"], "queued");
    assert_eq!(headers["retry-after"], "30");
    let text = metrics(&server).await;
    assert!(text.contains("workers_live 0") && text.contains("jobs_in_queue 1"), "{text}");
    // A worker starts: the queued report loads.
    let worker = payscope_core::worker::Worker::new(server.engine().clone(), "late-worker", 1);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run_until_stopped(async {
                let _ = stopped.await;
            })
            .await
    });
    let id = body["report"]["report_id"].as_str().unwrap().to_owned();
    let report = server
        .engine()
        .wait_for_report(
            &payscope_core::bank::BankContext::embedded(bank, [payscope_core::bank::Role::Analyst]),
            id.parse().unwrap(),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(report.status.as_str(), "completed");
    assert!(metrics(&server).await.contains("workers_live 1"));
    let (_, _, ready) = server.call("/health/ready", server.get("/health/ready", None)).await;
    assert_eq!(ready["checks"]["workers"], "ok");
    let _ = stop.send(());
    let _ = running.await;
    server.stop().await;
}
