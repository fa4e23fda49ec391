//! The optional language model against an in-test server speaking `/v1/chat/completions`,
//! `/v1/embeddings` and `/v1/models`: good, ungrounded, slow, failing and malformed replies.
//! In every case an answer comes back, deterministic when the model cannot be used.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use payscope_core::config::LlmSettings;
use payscope_core::llm::{hashing_embedding, Embedder, Llm, OpenAiClient};
use payscope_core::query::{Intent, Query};
use payscope_core::Engine;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::ask::analyst;

/// A distinct `as_of` per model behaviour, so no test reads another's cached answer.
fn as_of_for(mode: Mode) -> payscope_core::calendar::Timestamp {
    payscope_core::calendar::Timestamp(crate::ask::as_of().0 - 60_000 * (mode as i64 + 1))
}

/// How the fake model behaves.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(i64)]
enum Mode {
    /// Classifies sensibly and rephrases faithfully.
    Good,
    /// Rephrases with an invented number.
    Inventive,
    /// Answers after the client's timeout.
    Slow,
    /// Always HTTP 500.
    Failing,
    /// HTTP 200 with a body that is not what the API returns.
    Malformed,
    /// Proposes a typed query that cannot be answered (anomalies of an amount).
    Overreaching,
}

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
    last_auth: Arc<Mutex<Option<String>>>,
}

async fn serve(mode: Mode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let last_auth = Arc::new(Mutex::new(None));
    let (count, auth) = (requests.clone(), last_auth.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (count, auth) = (count.clone(), auth.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head, body) = loop {
                    let n = sock.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_string();
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        while buf.len() < i + 4 + len {
                            let n = sock.read(&mut chunk).await.unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            buf.extend_from_slice(&chunk[..n]);
                        }
                        break (head, buf[i + 4..].to_vec());
                    }
                };
                count.fetch_add(1, Ordering::SeqCst);
                *auth.lock().unwrap() = head.lines().find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or_else(|| l.strip_prefix("Authorization: "))
                        .map(str::to_owned)
                });
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let (status, reply) = respond(mode, &path, &request).await;
                let text = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}", reply.len());
                let _ = sock.write_all(text.as_bytes()).await;
            });
        }
    });
    Server { url, requests, last_auth }
}

async fn respond(mode: Mode, path: &str, request: &Value) -> (&'static str, String) {
    match mode {
        Mode::Failing => return ("500 Internal Server Error", "{\"error\":\"boom\"}".into()),
        Mode::Malformed => return ("200 OK", "{\"unexpected\": true".into()),
        Mode::Slow => tokio::time::sleep(Duration::from_millis(800)).await,
        _ => {}
    }
    match path {
        "/v1/models" => ("200 OK", json!({"data": [{"id": "test-model"}]}).to_string()),
        "/v1/embeddings" => {
            let inputs: Vec<String> = request["input"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, t)| json!({"index": i, "embedding": hashing_embedding(t)}))
                .collect();
            ("200 OK", json!({"data": data}).to_string())
        }
        "/v1/chat/completions" => {
            let system = request["messages"][0]["content"].as_str().unwrap_or("");
            let user = request["messages"][1]["content"].as_str().unwrap_or("");
            let content = if system.contains("classify") && mode == Mode::Overreaching {
                json!({"analysis": "anomaly", "metrics": ["settled_amount"]}).to_string()
            } else if system.contains("classify") {
                json!({"analysis": "describe", "metrics": ["transaction_count", "approval_rate"],
                       "where": [{"dimension": "network", "op": "eq", "value": "visa"}]})
                .to_string()
            } else {
                let summary = user.split("Summary: ").nth(1).unwrap_or("");
                match mode {
                    Mode::Inventive => format!("In short: {summary} That is roughly 42 million customers."),
                    _ => format!("In short: {summary}"),
                }
            };
            (
                "200 OK",
                json!({"choices": [{"message": {"role": "assistant", "content": content}}]}).to_string(),
            )
        }
        _ => ("404 Not Found", "{}".into()),
    }
}

async fn engine_with(mode: Mode, embeddings: bool) -> (Engine, Server) {
    let server = serve(mode).await;
    let settings = LlmSettings {
        base_url: server.url.clone(),
        api_key: Some("sk-test-key".to_owned().into()),
        model: "test-model".into(),
        embedding_model: embeddings.then(|| "test-embed".to_owned()),
        timeout: Duration::from_millis(300),
    };
    let base = crate::ask::engine().await.clone();
    let client = OpenAiClient::new(&settings).unwrap();
    let embedder = if embeddings { Embedder::OpenAiCompatible(client.clone()) } else { Embedder::Hashing };
    (base.with_models(Llm::OpenAiCompatible(client), embedder), server)
}

const VAGUE: &str = "how did we do wrt the plastic thingy lately";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_model_classifies_and_rephrases_with_every_number_checked() {
    let (engine, server) = engine_with(Mode::Good, true).await;
    let ctx = analyst(0);
    let as_of = || as_of_for(Mode::Good);
    let a = engine.ask(&ctx, Query::new("Approval rate for Visa last week").as_of(as_of())).await.unwrap();
    assert!(a.summary.starts_with("In short: "), "{}", a.summary);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
    // The unsure parse goes to the model, whose classification is validated and used.
    let a = engine.ask(&ctx, Query::new(VAGUE).as_of(as_of())).await.unwrap();
    assert_eq!(a.intent, Intent::Describe, "{}", a.summary);
    assert!(a.metrics.iter().any(|m| m.name == "approval_rate"));
    // The answer says how the model read it, in the typed query's own words.
    assert!(
        a.warnings.iter().any(|w| w.contains("language model") && w.contains("where network is visa")),
        "{:?}",
        a.warnings
    );
    assert!(a.interpretation.as_ref().is_some_and(|i| i.text.contains("where network is visa")), "{a:?}");
    let entry = engine.audit_entry(&ctx, a.answer_id).await.unwrap();
    let body = entry.record.body.value();
    assert_eq!(body["model"], "test-model");
    let prompts = body["prompt_versions"].as_array().unwrap();
    assert!(
        prompts.iter().any(|p| p == "typed-query-v1") && prompts.iter().any(|p| p == "rephrase-v1"),
        "{prompts:?}"
    );
    // Free-text lookups use the model's embeddings.
    let a = engine.ask(&ctx, Query::new("what does interchange mean").as_of(as_of())).await.unwrap();
    assert_eq!(a.intent, Intent::Lookup);
    assert!(server.requests.load(Ordering::SeqCst) >= 5);
    assert_eq!(server.last_auth.lock().unwrap().as_deref(), Some("Bearer sk-test-key"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invented_number_discards_the_rephrasing() {
    let (engine, _server) = engine_with(Mode::Inventive, false).await;
    let as_of = || as_of_for(Mode::Inventive);
    let a =
        engine.ask(&analyst(0), Query::new("What is the transaction volume?").as_of(as_of())).await.unwrap();
    assert!(!a.summary.contains("42 million") && !a.summary.starts_with("In short"), "{}", a.summary);
    assert!(a.warnings.iter().any(|w| w.contains("discarded") && w.contains("42")), "{:?}", a.warnings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_failing_or_malformed_models_leave_a_deterministic_answer() {
    for mode in [Mode::Slow, Mode::Failing, Mode::Malformed] {
        let (engine, server) = engine_with(mode, false).await;
        let as_of = || as_of_for(mode);
        let started = std::time::Instant::now();
        let a = engine
            .ask(&analyst(0), Query::new("Approval rate for Visa last week").as_of(as_of()))
            .await
            .unwrap();
        assert_eq!(a.intent, Intent::Describe, "{mode:?}");
        assert!(a.summary.starts_with("Approval rate for Visa was"), "{mode:?}: {}", a.summary);
        assert!(a.warnings.iter().any(|w| w.contains("unavailable")), "{mode:?}: {:?}", a.warnings);
        assert!(started.elapsed() < Duration::from_secs(10), "{mode:?} took {:?}", started.elapsed());
        if mode == Mode::Failing {
            assert_eq!(server.requests.load(Ordering::SeqCst), 3, "two retries after the first failure");
        }
        // The vague question still gets an answer: unsupported, without numbers.
        let a = engine.ask(&analyst(0), Query::new(VAGUE).as_of(as_of())).await.unwrap();
        assert_eq!(a.intent, Intent::Unsupported, "{mode:?}");
        assert!(a.metrics.is_empty() && a.confidence <= 0.3);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_askers_of_one_uncached_question_share_one_computation() {
    // The slow model holds the first answer back for its 300 ms timeout, while the others arrive.
    let (engine, server) = engine_with(Mode::Slow, false).await;
    let ctx = analyst(0);
    let as_of = payscope_core::calendar::Timestamp(crate::ask::as_of().0 - 60_000 * 30);
    // What one answer costs the model (its rephrasing, with retries).
    engine.ask(&ctx, Query::new("What was the refund volume last week?").as_of(as_of)).await.unwrap();
    let one = server.requests.swap(0, Ordering::SeqCst);
    assert!(one >= 1);
    let question = Query::new("What was the refund volume last month?").as_of(as_of);
    let asks: Vec<_> = (0..6)
        .map(|_| {
            let (engine, ctx, question) = (engine.clone(), ctx.clone(), question.clone());
            tokio::spawn(async move { engine.ask(&ctx, question).await.unwrap() })
        })
        .collect();
    let mut computed = 0;
    for ask in asks {
        let answer = ask.await.unwrap();
        let entry = engine.audit_entry(&ctx, answer.answer_id).await.unwrap();
        computed += usize::from(entry.record.body.value()["cached"] == false);
    }
    assert_eq!(computed, 1, "one asker computes; the others are served its cached answer");
    assert_eq!(server.requests.load(Ordering::SeqCst), one, "the model was asked to rephrase once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposal_the_typed_query_refuses_is_discarded_and_the_question_asked_back() {
    let (engine, _server) = engine_with(Mode::Overreaching, false).await;
    let a = engine.ask(&analyst(0), Query::new(VAGUE).as_of(as_of_for(Mode::Overreaching))).await.unwrap();
    assert!(matches!(a.intent, Intent::Unsupported | Intent::Clarify), "{}", a.summary);
    assert!(a.metrics.is_empty() && a.interpretation.is_none());
    assert!(
        a.warnings.iter().any(|w| w.contains("discarded") && w.contains("settled_amount")),
        "{:?}",
        a.warnings
    );
}
