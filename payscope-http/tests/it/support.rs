//! A real server on 127.0.0.1:0 (embedded engine in a temp dir, in-process worker), a real
//! HTTP client, and tokens signed in the test with real key pairs. Every JSON response that
//! goes through [`Server::call`] is checked against the OpenAPI document.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use payscope_core::bank::BankId;
use payscope_core::calendar::Timestamp;
use payscope_core::worker::Worker;
use payscope_core::{Engine, EngineOptions};
use payscope_http::{serve, App, Authenticator};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::spec::Spec;

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/keys")
}

pub fn key(name: &str) -> String {
    std::fs::read_to_string(keys_dir().join(name)).unwrap()
}

pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../payscope-core/tests/data/samples")
}

/// Signs tokens with one private key.
#[derive(Clone)]
pub struct Signer {
    key: EncodingKey,
    alg: Algorithm,
}

impl Signer {
    pub fn rsa() -> Signer {
        Signer {
            key: EncodingKey::from_rsa_pem(key("rsa_private.pem").as_bytes()).unwrap(),
            alg: Algorithm::RS256,
        }
    }
    pub fn other_rsa() -> Signer {
        Signer {
            key: EncodingKey::from_rsa_pem(key("other_rsa_private.pem").as_bytes()).unwrap(),
            alg: Algorithm::RS256,
        }
    }
    pub fn ec() -> Signer {
        Signer {
            key: EncodingKey::from_ec_pem(key("ec_private.pem").as_bytes()).unwrap(),
            alg: Algorithm::ES256,
        }
    }
    pub fn ed() -> Signer {
        Signer {
            key: EncodingKey::from_ed_pem(key("ed_private.pem").as_bytes()).unwrap(),
            alg: Algorithm::EdDSA,
        }
    }
    pub fn with_alg(mut self, alg: Algorithm) -> Signer {
        self.alg = alg;
        self
    }
    pub fn sign(&self, claims: &Value) -> String {
        jsonwebtoken::encode(&Header::new(self.alg), claims, &self.key).unwrap()
    }
}

pub fn now() -> i64 {
    Timestamp::now().0 / 1000
}

/// Standard claims for a bank with roles, valid for an hour.
pub fn claims(bank: BankId, roles: &[&str]) -> Value {
    json!({ "sub": "tester", "bank_id": bank, "roles": roles, "exp": now() + 3600, "iat": now() })
}

pub struct Server {
    pub base: String,
    pub client: reqwest::Client,
    pub spec: Spec,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

pub struct Options {
    pub public_key: String,
    pub issuer: Option<&'static str>,
    pub audience: Option<&'static str>,
    pub max_upload_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            public_key: key("rsa_public.pem"),
            issuer: None,
            audience: None,
            max_upload_bytes: 256 << 20,
        }
    }
}

impl Server {
    pub async fn start() -> Server {
        Server::start_with(Options::default()).await
    }

    pub async fn start_with(o: Options) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let options = EngineOptions { max_upload_bytes: o.max_upload_bytes, ..EngineOptions::default() };
        let engine = Engine::embedded(dir.path(), None, options).await.unwrap();
        let auth = Authenticator::from_pem(&o.public_key, o.issuer, o.audience).unwrap();
        Server::run(App::api(engine.clone(), auth), engine, dir).await
    }

    /// The worker's health/metrics surface.
    pub async fn start_ops() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
        Server::run(App::ops(engine.clone()), engine, dir).await
    }

    async fn run(app: App, engine: Engine, dir: tempfile::TempDir) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = Worker::new(engine.clone(), "test-worker", 2);
        let task = tokio::spawn(async move {
            let (worker_stop, worker_stopped) = oneshot::channel::<()>();
            let worker = tokio::spawn(async move {
                worker
                    .run_until_stopped(async {
                        let _ = worker_stopped.await;
                    })
                    .await
            });
            serve(listener, app, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
            let _ = worker_stop.send(());
            let _ = worker.await;
        });
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().unwrap();
        Server { base, client, spec: Spec::load(), stop: Some(stop), task: Some(task), _dir: dir }
    }

    /// The embedded engine's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a request and checks the response against the OpenAPI document. Returns the
    /// status, the headers and the body (JSON when it is JSON, else a string value).
    pub async fn call(
        &self,
        template: &str,
        request: reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let request = request.build().unwrap();
        let method = request.method().as_str().to_lowercase();
        let response = self.client.execute(request).await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        assert_ne!(status, 500, "{method} {template}: 500: {body}");
        assert!(headers.contains_key("x-request-id"), "{method} {template}: no x-request-id");
        self.spec.check(&method, template, status, &body);
        (status, headers, body)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.client.get(self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.client.post(self.url(path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// `POST /chat/query` with `body`; returns status and body.
    pub async fn ask(&self, token: &str, body: Value) -> (u16, Value) {
        let (s, _, b) = self.call("/chat/query", self.post("/chat/query", Some(token)).json(&body)).await;
        (s, b)
    }

    /// Stops accepting, drains, and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    /// Begins shutdown without waiting.
    pub fn begin_shutdown(&mut self) -> JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().unwrap()
    }
}
