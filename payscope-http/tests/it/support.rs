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

    /// A token whose header names the key id `kid`.
    pub fn sign_with_kid(&self, claims: &Value, kid: &str) -> String {
        let header = Header { kid: Some(kid.to_owned()), ..Header::new(self.alg) };
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
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
    engine: Engine,
    /// The server's database, when it runs on Postgres (dropped after the server).
    _db: Option<TestDb>,
}

/// A database created for one server, dropped with it.
pub struct TestDb {
    admin: String,
    name: String,
}

impl TestDb {
    /// Creates a fresh database and returns it with its DSN; `None` (skip, or a failure under
    /// `PAYSCOPE_REQUIRE_SERVICES=1`) without `PAYSCOPE_TEST_DATABASE_DSN`.
    async fn create() -> Option<(TestDb, String)> {
        use sqlx::ConnectOptions;
        let Ok(admin) = std::env::var("PAYSCOPE_TEST_DATABASE_DSN") else {
            assert!(
                std::env::var("PAYSCOPE_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "PAYSCOPE_TEST_DATABASE_DSN is not set and PAYSCOPE_REQUIRE_SERVICES=1"
            );
            eprintln!("skipping: PAYSCOPE_TEST_DATABASE_DSN is not set");
            return None;
        };
        let name = format!("payscope_http_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.parse::<sqlx::postgres::PgConnectOptions>().unwrap().connect().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some((TestDb { admin, name }, url.to_string()))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // No runtime is guaranteed in a destructor: a thread with its own.
        let _ = std::thread::spawn(move || {
            use sqlx::ConnectOptions;
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let Ok(mut conn) = admin.parse::<sqlx::postgres::PgConnectOptions>().unwrap().connect().await
                else {
                    return;
                };
                let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(drop)).execute(&mut conn).await;
            })
        })
        .join();
    }
}

pub struct Options {
    pub public_key: String,
    pub issuer: Option<&'static str>,
    pub audience: Option<&'static str>,
    pub max_upload_bytes: u64,
    /// Demo banks for the console's one-click sign-in (none: the API as deployed).
    pub demo: Vec<payscope_http::console::DemoSignIn>,
    /// The token verifier, when not the one of `public_key`, `issuer` and `audience`.
    pub auth: Option<Authenticator>,
    /// Overload protection (none by default).
    pub limits: payscope_http::overload::Limits,
    /// Whether an ingestion worker runs beside the API (it does by default).
    pub worker: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            public_key: key("rsa_public.pem"),
            issuer: None,
            audience: None,
            max_upload_bytes: 256 << 20,
            demo: vec![],
            auth: None,
            limits: payscope_http::overload::Limits::unlimited(),
            worker: true,
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
        let auth = match o.auth {
            Some(auth) => auth,
            None => Authenticator::from_pem(&o.public_key, o.issuer, o.audience).unwrap(),
        };
        let app = if o.demo.is_empty() {
            App::api(engine.clone(), auth)
        } else {
            App::demo(engine.clone(), auth, o.demo)
        }
        .with_limits(o.limits);
        Server::run(app, engine, dir, o.worker).await
    }

    /// The API on the Postgres backend, in a fresh migrated database (artifacts in a temp
    /// dir, the worker in-process on the Postgres queue); `None` when there is no database.
    pub async fn start_postgres() -> Option<Server> {
        Server::start_postgres_with(payscope_http::overload::Limits::unlimited())
            .await
            .map(|(server, _)| server)
    }

    /// [`Server::start_postgres`] under `limits`, with its database's DSN.
    pub async fn start_postgres_with(limits: payscope_http::overload::Limits) -> Option<(Server, String)> {
        let (db, dsn) = TestDb::create().await?;
        payscope_core::backend::postgres::PgBackend::migrate(&dsn).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().to_string_lossy().into_owned();
        let settings = payscope_core::config::Settings::from_lookup(|k| match k {
            "DATABASE_DSN" => Some(dsn.clone()),
            "PAYSCOPE_DATA_DIR" => Some(data_dir.clone()),
            "PAYSCOPE_PAN_KEY" => Some("42".repeat(32)),
            _ => None,
        })
        .unwrap();
        let engine = Engine::from_settings(&settings).await.unwrap();
        let auth = Authenticator::from_pem(&key("rsa_public.pem"), None, None).unwrap();
        let mut server =
            Server::run(App::api(engine.clone(), auth).with_limits(limits), engine, dir, true).await;
        server._db = Some(db);
        Some((server, dsn))
    }

    /// The worker's health/metrics surface.
    pub async fn start_ops() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
        Server::run(App::ops(engine.clone()), engine, dir, true).await
    }

    async fn run(app: App, engine: Engine, dir: tempfile::TempDir, with_worker: bool) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = Worker::new(engine.clone(), "test-worker", 2);
        let kept = engine.clone();
        let task = tokio::spawn(async move {
            let (worker_stop, worker_stopped) = oneshot::channel::<()>();
            let worker = tokio::spawn(async move {
                if with_worker {
                    worker
                        .run_until_stopped(async {
                            let _ = worker_stopped.await;
                        })
                        .await
                }
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
        Server {
            base,
            client,
            spec: Spec::load(),
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
            engine: kept,
            _db: None,
        }
    }

    /// The engine behind the server.
    pub fn engine(&self) -> &Engine {
        &self.engine
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

/// The sample banks' manifest (`samples/banks.json`).
pub fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(samples().join("banks.json")).unwrap()).unwrap()
}

/// The sample banks' ids and directories.
pub fn banks() -> Vec<(BankId, String)> {
    manifest()["banks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["bank_id"].as_str().unwrap().parse().unwrap(), b["dir"].as_str().unwrap().to_owned()))
        .collect()
}

/// Uploads a sample bank's authorizations and settlements and waits for them to load.
pub async fn load(server: &Server, token: &str, dir: &str) {
    for (file, report_type) in [("auth.csv", "authorization"), ("settlement.csv", "settlement")] {
        let bytes = std::fs::read(samples().join(dir).join(file)).unwrap();
        let path = format!("/reports?report_type={report_type}&wait=true");
        let request = server.post(&path, Some(token)).header("content-type", "text/csv").body(bytes);
        let (status, _, report) = server.call("/reports", request).await;
        assert_eq!((status, report["status"].as_str()), (200, Some("completed")), "{report}");
    }
}
