//! Bad requests of every shape get a clear 4xx in the error shape: oversize bodies (declared
//! and streamed), wrong content types, malformed JSON, unknown fields, bad query parameters,
//! empty and too-long questions, unknown paths and methods.

use bytes::Bytes;
use payscope_core::bank::BankId;
use serde_json::json;

use crate::support::{claims, Options, Server, Signer};

fn token() -> String {
    let bank: BankId = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d".parse().unwrap();
    Signer::rsa().sign(&claims(bank, &["analyst", "auditor"]))
}

fn code(body: &serde_json::Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn chat_bodies_are_checked() {
    let server = Server::start().await;
    let t = token();
    let post = || server.post("/chat/query", Some(&t));
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "2 MiB body",
            post().header("content-type", "application/json").body(vec![b' '; 2 << 20]),
            413,
            "payload_too_large",
        ),
        ("form body", post().form(&[("query", "volume")]), 415, "unsupported_media_type"),
        ("no content type", post().body(r#"{"query":"volume"}"#), 415, "unsupported_media_type"),
        (
            "malformed JSON",
            post().header("content-type", "application/json").body("{\"query\": "),
            400,
            "invalid_request",
        ),
        ("not an object", post().json(&json!(["volume"])), 400, "invalid_request"),
        (
            "unknown field",
            post().json(&json!({"query": "volume", "sql": "drop table"})),
            400,
            "invalid_request",
        ),
        ("empty query", post().json(&json!({"query": ""})), 400, "invalid_request"),
        ("blank query", post().json(&json!({"query": "   \n "})), 400, "invalid_request"),
        ("2,001 characters", post().json(&json!({"query": "a".repeat(2001)})), 400, "invalid_request"),
        ("query not a string", post().json(&json!({"query": 5})), 400, "invalid_request"),
        (
            "bad time_range",
            post().json(&json!({"query": "volume", "time_range": "fortnight"})),
            400,
            "invalid_request",
        ),
        ("bad as_of", post().json(&json!({"query": "volume", "as_of": "yesterday"})), 400, "invalid_request"),
    ];
    for (name, request, status, want) in cases {
        let (s, _, body) = server.call("/chat/query", request).await;
        assert_eq!((s, code(&body)), (status, want), "{name}: {body}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty(), "{name}");
    }
    // Exactly 2,000 characters is accepted.
    let (s, body) = server.ask(&t, json!({"query": format!("volume {}", "x".repeat(1993))})).await;
    assert_eq!(s, 200, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn uploads_are_limited_and_typed() {
    let server = Server::start_with(Options { max_upload_bytes: 64 * 1024, ..Options::default() }).await;
    let t = token();
    let big = vec![b'a'; 100 * 1024];
    // Declared too large: refused before reading.
    let (s, _, body) = server
        .call(
            "/reports",
            server.post("/reports", Some(&t)).header("content-type", "text/csv").body(big.clone()),
        )
        .await;
    assert_eq!((s, code(&body)), (413, "payload_too_large"), "{body}");
    // Streamed (chunked, no length): refused once the limit is crossed.
    let chunks = futures::stream::iter(
        big.chunks(8192).map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
    );
    let streamed = server
        .post("/reports", Some(&t))
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(chunks));
    let (s, _, body) = server.call("/reports", streamed).await;
    assert_eq!((s, code(&body)), (413, "payload_too_large"), "{body}");
    // Nothing was registered by either attempt.
    let (_, _, page) = server.call("/reports", server.get("/reports", Some(&t))).await;
    assert_eq!(page["reports"].as_array().unwrap().len(), 0);

    let csv =
        "transaction_id,timestamp,amount,currency,response_code\nT1,2026-10-01T10:00:00Z,12.50,USD,00\n";
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "json content type",
            server.post("/reports", Some(&t)).json(&json!({"a": 1})),
            415,
            "unsupported_media_type",
        ),
        (
            "image",
            server.post("/reports", Some(&t)).header("content-type", "image/png").body(csv),
            415,
            "unsupported_media_type",
        ),
        (
            "multipart without boundary",
            server.post("/reports", Some(&t)).header("content-type", "multipart/form-data").body(csv),
            400,
            "invalid_request",
        ),
        (
            "multipart without a file part",
            server.post("/reports", Some(&t)).multipart(reqwest::multipart::Form::new().text("note", "hi")),
            400,
            "invalid_request",
        ),
        (
            "unknown parameter",
            server.post("/reports?colour=red", Some(&t)).header("content-type", "text/csv").body(csv),
            400,
            "invalid_request",
        ),
        (
            "bad report_type",
            server.post("/reports?report_type=weekly", Some(&t)).header("content-type", "text/csv").body(csv),
            400,
            "invalid_request",
        ),
        (
            "bad currency",
            server.post("/reports?currency=XYZ", Some(&t)).header("content-type", "text/csv").body(csv),
            400,
            "invalid_request",
        ),
        (
            "bad timezone",
            server.post("/reports?timezone=Mars/Base", Some(&t)).header("content-type", "text/csv").body(csv),
            400,
            "invalid_request",
        ),
        (
            "bad wait",
            server.post("/reports?wait=maybe", Some(&t)).header("content-type", "text/csv").body(csv),
            400,
            "invalid_request",
        ),
    ];
    for (name, request, status, want) in cases {
        let (s, _, body) = server.call("/reports", request).await;
        assert_eq!((s, code(&body)), (status, want), "{name}: {body}");
    }
    let (s, _, body) = server.call("/reports", server.get("/reports?limit=0", Some(&t))).await;
    assert_eq!((s, code(&body)), (400, "invalid_request"));
    let (s, _, body) = server.call("/reports/{report_id}", server.get("/reports/not-a-uuid", Some(&t))).await;
    assert_eq!((s, code(&body)), (400, "invalid_request"));
    let (s, _, body) = server
        .call("/reports/{report_id}", server.get(&format!("/reports/{}", uuid::Uuid::new_v4()), Some(&t)))
        .await;
    assert_eq!((s, code(&body)), (404, "not_found"));
    let (s, _, body) =
        server.call("/audit/answers/{answer_id}", server.get("/audit/answers/42", Some(&t))).await;
    assert_eq!((s, code(&body)), (400, "invalid_request"));
    server.stop().await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let server = Server::start().await;
    let r = server.client.get(server.url("/admin")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(code(&body), "not_found");
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/reports", "GET, POST"),
        (reqwest::Method::GET, "/chat/query", "POST"),
        (reqwest::Method::PUT, "/health", "GET"),
        (reqwest::Method::POST, "/audit/verify", "GET"),
    ] {
        let r = server.client.request(method.clone(), server.url(path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 405, "{method} {path}");
        assert_eq!(r.headers()["allow"], allow, "{method} {path}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(code(&body), "method_not_allowed");
    }
    // The client's request id is echoed; an unusable one is replaced.
    let r = server.client.get(server.url("/health")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = server.client.get(server.url("/health")).header("x-request-id", "a b\"c").send().await.unwrap();
    assert!(uuid::Uuid::parse_str(r.headers()["x-request-id"].to_str().unwrap()).is_ok());
    server.stop().await;
}
