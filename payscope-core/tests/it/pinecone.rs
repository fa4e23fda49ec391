//! The Pinecone adapter against an in-test server implementing the documented data-plane
//! endpoints (`/vectors/upsert`, `/query`, `/vectors/delete`, `/describe_index_stats`), which
//! checks the `Api-Key` header and every request's shape the way Pinecone does, and can be
//! told to answer 429/503 to test retries.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use payscope_core::backend::pinecone::{Pinecone, UPSERT_BATCH};
use payscope_core::bank::{BankContext, Role};
use payscope_core::config::{PineconeSettings, Settings};
use payscope_core::engine::Check;
use payscope_core::facts::{ReportOptions, Stage};
use payscope_core::query::Query;
use payscope_core::store::vector::{cosine, VectorDoc, VectorIndex};
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::{BankId, Engine, ErrorKind};
use serde_json::{json, Value};

const API_KEY: &str = "pc-test-key";

type Namespace = BTreeMap<String, (Vec<f32>, serde_json::Map<String, Value>)>;

#[derive(Default)]
struct Index {
    dimension: Option<usize>,
    namespaces: HashMap<String, Namespace>,
    /// Requests still to fail, with these statuses, before serving again.
    failures: Vec<u16>,
    /// Paths of the requests served, with the number of vectors of each upsert.
    log: Vec<(String, usize)>,
}

/// The fake index, served on a random local port.
#[derive(Clone)]
struct FakePinecone {
    index: Arc<Mutex<Index>>,
    host: String,
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn bad_request(message: &str) -> Response<Full<Bytes>> {
    reply(400, json!({"code": 3, "message": message, "details": []}))
}

impl FakePinecone {
    async fn start() -> FakePinecone {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let fake = FakePinecone {
            index: Arc::default(),
            host: format!("http://{}", listener.local_addr().unwrap()),
        };
        let served = fake.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let served = served.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let served = served.clone();
                        async move { Ok::<_, std::convert::Infallible>(served.handle(req).await) }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
                });
            }
        });
        fake
    }

    fn settings(&self, api_key: &str) -> PineconeSettings {
        PineconeSettings {
            api_key: api_key.to_owned().into(),
            index_name: "payscope".into(),
            host: self.host.clone(),
        }
    }

    /// An engine configured with `PINECONE_HOST` = this server.
    async fn engine(&self, data_dir: &std::path::Path, api_key: &str) -> Engine {
        let data_dir = data_dir.to_str().unwrap().to_owned();
        let settings = Settings::from_lookup(|name| match name {
            "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
            "PINECONE_HOST" => Some(self.host.clone()),
            "PINECONE_API_KEY" => Some(api_key.to_owned()),
            _ => None,
        })
        .unwrap();
        Engine::from_settings(&settings).await.unwrap()
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.index.lock().unwrap().failures = statuses.to_vec();
    }

    fn log(&self) -> Vec<(String, usize)> {
        self.index.lock().unwrap().log.clone()
    }

    fn count(&self, namespace: &str) -> usize {
        self.index.lock().unwrap().namespaces.get(namespace).map_or(0, |n| n.len())
    }

    async fn handle(&self, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        if req.headers().get("api-key").and_then(|v| v.to_str().ok()) != Some(API_KEY) {
            return reply(
                401,
                json!({"error": {"code": "UNAUTHENTICATED", "message": "Invalid API Key"}, "status": 401}),
            );
        }
        if req.method() != hyper::Method::POST {
            return reply(405, json!({"message": "method not allowed"}));
        }
        let json_body =
            req.headers().get("content-type").and_then(|v| v.to_str().ok()) == Some("application/json");
        let path = req.uri().path().to_owned();
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
            return bad_request("body is not JSON");
        };
        if !json_body {
            return reply(415, json!({"message": "content-type must be application/json"}));
        }
        let mut index = self.index.lock().unwrap();
        if !index.failures.is_empty() {
            let status = index.failures.remove(0);
            return reply(status, json!({"message": "try again"}));
        }
        let namespace = body.get("namespace").and_then(Value::as_str).unwrap_or_default().to_owned();
        match path.as_str() {
            "/vectors/upsert" => {
                let Some(vectors) = body["vectors"].as_array() else {
                    return bad_request("vectors is required");
                };
                if vectors.is_empty() || vectors.len() > 100 {
                    return bad_request("an upsert takes 1 to 100 vectors");
                }
                let mut parsed = Vec::new();
                for v in vectors {
                    let (Some(id), Some(values), Some(metadata)) =
                        (v["id"].as_str(), v["values"].as_array(), v["metadata"].as_object())
                    else {
                        return bad_request("each vector needs id, values and metadata");
                    };
                    let values: Option<Vec<f32>> =
                        values.iter().map(|x| x.as_f64().map(|f| f as f32)).collect();
                    let Some(values) = values else { return bad_request("values must be numbers") };
                    if *index.dimension.get_or_insert(values.len()) != values.len() {
                        return bad_request("vector dimension does not match the index");
                    }
                    let scalar = |x: &Value| x.is_string() || x.is_number() || x.is_boolean();
                    if !metadata.values().all(scalar) {
                        return bad_request("metadata values must be strings, numbers or booleans");
                    }
                    parsed.push((id.to_owned(), (values, metadata.clone())));
                }
                index.log.push((path, parsed.len()));
                let n = parsed.len();
                index.namespaces.entry(namespace).or_default().extend(parsed);
                reply(200, json!({"upsertedCount": n}))
            }
            "/query" => {
                let (Some(vector), Some(top_k)) = (body["vector"].as_array(), body["topK"].as_u64()) else {
                    return bad_request("vector and topK are required");
                };
                if !(1..=10_000).contains(&top_k) {
                    return bad_request("topK must be between 1 and 10000");
                }
                let vector: Vec<f32> = vector.iter().filter_map(Value::as_f64).map(|f| f as f32).collect();
                let with_metadata = body["includeMetadata"].as_bool() == Some(true);
                index.log.push((path, 0));
                let mut matches: Vec<(f32, &String, &serde_json::Map<String, Value>)> = index
                    .namespaces
                    .get(&namespace)
                    .into_iter()
                    .flatten()
                    .map(|(id, (values, metadata))| (cosine(&vector, values), id, metadata))
                    .collect();
                matches.sort_by(|a, b| b.0.total_cmp(&a.0));
                matches.truncate(top_k as usize);
                let matches: Vec<Value> = matches
                    .into_iter()
                    .map(|(score, id, metadata)| match with_metadata {
                        true => json!({"id": id, "score": score, "values": [], "metadata": metadata}),
                        false => json!({"id": id, "score": score, "values": []}),
                    })
                    .collect();
                reply(200, json!({"matches": matches, "namespace": namespace, "usage": {"readUnits": 1}}))
            }
            "/vectors/delete" => {
                let Some(ids) = body["ids"].as_array() else { return bad_request("ids is required") };
                index.log.push((path, 0));
                if let Some(ns) = index.namespaces.get_mut(&namespace) {
                    for id in ids.iter().filter_map(Value::as_str) {
                        ns.remove(id);
                    }
                }
                reply(200, json!({}))
            }
            "/describe_index_stats" => {
                let namespaces: serde_json::Map<String, Value> = index
                    .namespaces
                    .iter()
                    .map(|(name, ns)| (name.clone(), json!({"vectorCount": ns.len()})))
                    .collect();
                let total: usize = index.namespaces.values().map(|ns| ns.len()).sum();
                reply(
                    200,
                    json!({"namespaces": namespaces, "dimension": index.dimension.unwrap_or(0),
                           "indexFullness": 0.0, "totalVectorCount": total}),
                )
            }
            _ => reply(404, json!({"message": format!("no route {path}")})),
        }
    }
}

crate::vector_conformance!(vectors, async {
    let fake = FakePinecone::start().await;
    let index = Pinecone::new(&fake.settings(API_KEY)).unwrap();
    // The fake server lives as long as the runtime.
    Some(Arc::new(index))
});

fn bank() -> BankContext {
    BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upserts_go_in_batches_of_at_most_100_into_the_banks_namespace() {
    let fake = FakePinecone::start().await;
    let index = Pinecone::new(&fake.settings(API_KEY)).unwrap();
    let (a, b) = (bank(), bank());
    let docs: Vec<VectorDoc> = (0..250)
        .map(|i| VectorDoc {
            id: format!("doc-{i:03}"),
            vector: vec![1.0, i as f32 / 250.0],
            text: format!("document {i}"),
            metadata: [("kind".to_owned(), "test".to_owned())].into(),
        })
        .collect();
    index.upsert(&a, docs).await.unwrap();
    let upserts: Vec<usize> =
        fake.log().into_iter().filter(|(p, _)| p == "/vectors/upsert").map(|(_, n)| n).collect();
    assert_eq!(upserts, vec![UPSERT_BATCH, UPSERT_BATCH, 50]);
    assert_eq!(fake.count(&a.bank_id().to_string()), 250);

    let hits = index.query(&a, &[1.0, 0.0], 3).await.unwrap();
    assert_eq!(hits[0].id, "doc-000");
    assert_eq!((hits[0].text.as_str(), hits[0].metadata["kind"].as_str()), ("document 0", "test"));
    assert!(index.query(&b, &[1.0, 0.0], 3).await.unwrap().is_empty(), "bank B saw bank A's documents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_errors_are_retried_then_reported() {
    let fake = FakePinecone::start().await;
    let index = Pinecone::new(&fake.settings(API_KEY)).unwrap();
    let a = bank();
    let doc =
        VectorDoc { id: "x".into(), vector: vec![1.0, 0.0], text: "x".into(), metadata: BTreeMap::new() };
    fake.fail_next(&[429, 503]);
    index.upsert(&a, vec![doc.clone()]).await.unwrap();
    assert_eq!(fake.count(&a.bank_id().to_string()), 1);

    fake.fail_next(&[503; 10]);
    let e = index.query(&a, &[1.0, 0.0], 1).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("pinecone") && e.to_string().contains("HTTP 503"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_is_not_retried_and_shows_in_readiness() {
    let fake = FakePinecone::start().await;
    let wrong = Pinecone::new(&fake.settings("not-the-key")).unwrap();
    let e = wrong.query(&bank(), &[1.0], 1).await.unwrap_err();
    assert!(e.to_string().contains("HTTP 401"), "{e}");
    assert_eq!(fake.log().len(), 0);

    let dir = tempfile::tempdir().unwrap();
    let engine = fake.engine(dir.path(), "not-the-key").await;
    let readiness = engine.readiness().await;
    assert!(matches!(&readiness.checks["pinecone"], Check::Error(r) if r.contains("401")), "{readiness:?}");
    // Pinecone serves retrieval only: the instance stays ready and answers metric questions.
    assert!(readiness.ready);
    let answer = engine.ask(&bank(), Query::new("What is a chargeback?")).await.unwrap();
    assert!(!answer.summary.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_with_pinecone_indexes_report_summaries_per_bank() {
    let fake = FakePinecone::start().await;
    let dir = tempfile::tempdir().unwrap();
    let engine = fake.engine(dir.path(), API_KEY).await;
    assert_eq!(engine.readiness().await.checks["pinecone"], Check::Ok);

    let data = crate::fixtures::dataset();
    let bank = &data.banks[0];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let mut bytes = Vec::new();
    write_report(bank, Stage::Chargeback, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
    let options = ReportOptions {
        report_type: report_type(Stage::Chargeback),
        filename: Some("chargebacks-week.csv".into()),
        ..ReportOptions::default()
    };
    engine.ingest(&ctx, bytes, options).await.unwrap();
    assert_eq!(fake.count(&bank.bank_id.to_string()), 1, "the report summary is in the bank's namespace");
    let answer =
        engine.ask(&ctx, Query::new("Find the report chargebacks-week.csv").as_of(bank.as_of)).await.unwrap();
    let json = serde_json::to_string(&answer).unwrap();
    assert!(json.contains("chargebacks-week.csv"), "{json}");
}
