//! [`Engine`]: the public entry point — ingest reports, read their status, answer questions,
//! check health. It owns the stores (as trait objects, so any backend fits), the artifact
//! store, the card-token key and the telemetry registry. Cloning is cheap.

mod ask;
mod backups;
mod health;
mod ingest;
mod mappings;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;
use tokio::sync::Notify;

pub use backups::AuditExport;
pub use health::{Check, Probe, Readiness, DEPENDENCIES};
pub use ingest::{JobOutcome, Submission};

use crate::backend::memory::{MemoryBackend, MemoryCache, MemoryGraph, MemoryQueue, MemoryVectors};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::ingest::pan::PanKey;
use crate::llm::{Embedder, Llm};
use crate::store::artifacts::Artifacts;
use crate::store::jobs::DEFAULT_LEASE;
pub use crate::store::Stores;
use crate::telemetry::Telemetry;

impl Stores {
    /// Every store on the embedded backend.
    pub fn memory(backend: &MemoryBackend) -> Stores {
        Stores {
            reports: Arc::new(backend.clone()),
            facts: Arc::new(backend.clone()),
            metrics: Arc::new(backend.clone()),
            audit: Arc::new(backend.clone()),
            graph: Arc::new(MemoryGraph::default()),
            vectors: Arc::new(MemoryVectors::default()),
            jobs: Arc::new(MemoryQueue::new(10_000, DEFAULT_LEASE)),
            cache: Arc::new(MemoryCache::new(10_000)),
            profiles: Arc::new(backend.clone()),
        }
    }
}

#[cfg(feature = "postgres")]
impl Stores {
    /// Reports, facts, metrics, audit and the job queue on Postgres; the graph, vector index
    /// and answer cache embedded (their scale-out adapters replace them when configured).
    /// A claimed job is taken over after `job_lease` without renewal.
    pub fn postgres(pg: &crate::backend::postgres::PgBackend, job_lease: Duration) -> Stores {
        Stores {
            reports: Arc::new(pg.clone()),
            facts: Arc::new(pg.clone()),
            metrics: Arc::new(pg.clone()),
            audit: Arc::new(pg.clone()),
            graph: Arc::new(MemoryGraph::default()),
            vectors: Arc::new(MemoryVectors::default()),
            jobs: Arc::new(crate::backend::postgres::PgQueue::new(pg.clone(), job_lease)),
            cache: Arc::new(MemoryCache::new(10_000)),
            profiles: Arc::new(pg.clone()),
        }
    }
}

/// Tunables of an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// How long answers are cached.
    pub cache_ttl: Duration,
    /// Keys used before the current one: artifacts sealed with them stay readable.
    pub previous_keys: Vec<Arc<PanKey>>,
}

impl EngineOptions {
    /// The options the settings describe.
    pub fn from_settings(settings: &Settings) -> EngineOptions {
        EngineOptions {
            max_upload_bytes: settings.max_upload_bytes,
            cache_ttl: settings.cache_ttl,
            previous_keys: settings
                .pan_keys_previous
                .iter()
                .map(|k| Arc::new(PanKey::new(*secrecy::ExposeSecret::expose_secret(k))))
                .collect(),
        }
    }
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            max_upload_bytes: 256 << 20,
            cache_ttl: Duration::from_secs(300),
            previous_keys: vec![],
        }
    }
}

struct Inner {
    stores: Stores,
    artifacts: Artifacts,
    backups: Arc<dyn ObjectStore>,
    key: PanKey,
    telemetry: Arc<Telemetry>,
    options: EngineOptions,
    completions: Notify,
    llm: Llm,
    embedder: Embedder,
    knowledge: tokio::sync::OnceCell<Arc<crate::agents::KnowledgeIndex>>,
    /// Each bank's lexicon for its latest data version seen, built once however many questions
    /// arrive while it is being built.
    lexicons: std::sync::Mutex<std::collections::HashMap<crate::bank::BankId, ask::LexiconCell>>,
    probes: Vec<Arc<dyn Probe>>,
}

/// The engine.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on the given stores and object store.
    pub fn new(stores: Stores, objects: Arc<dyn ObjectStore>, key: PanKey, options: EngineOptions) -> Engine {
        Engine::with_telemetry(stores, objects, key, options, Arc::new(Telemetry::new()))
    }

    /// An engine recording into `telemetry` (shared with the backends that time their queries).
    pub fn with_telemetry(
        stores: Stores,
        objects: Arc<dyn ObjectStore>,
        key: PanKey,
        options: EngineOptions,
        telemetry: Arc<Telemetry>,
    ) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                // By default, exports sit next to the artifacts, under `backups/`.
                backups: Arc::new(object_store::prefix::PrefixStore::new(objects.clone(), "backups")),
                artifacts: Artifacts::new(objects, &key)
                    .with_previous_keys(options.previous_keys.iter().map(|k| k.as_ref())),
                stores,
                key,
                telemetry,
                options,
                completions: Notify::new(),
                llm: Llm::Deterministic,
                embedder: Embedder::Hashing,
                knowledge: tokio::sync::OnceCell::new(),
                lexicons: Default::default(),
                probes: Vec::new(),
            }),
        }
    }

    /// Returns the engine with a language model and embedder (by default neither is used).
    /// Call before sharing the engine.
    pub fn with_models(self, llm: Llm, embedder: Embedder) -> Engine {
        self.modified(|inner| {
            inner.llm = llm;
            inner.embedder = embedder;
            inner.knowledge = tokio::sync::OnceCell::new();
        })
    }

    /// Returns the engine with a readiness probe for a backend it runs on.
    /// Call before sharing the engine.
    pub fn with_probe(self, probe: Arc<dyn Probe>) -> Engine {
        self.modified(|inner| inner.probes.push(probe))
    }

    /// Returns the engine with audit exports going to `backups`.
    /// Call before sharing the engine.
    pub fn with_backups(self, backups: Arc<dyn ObjectStore>) -> Engine {
        self.modified(|inner| inner.backups = backups)
    }

    fn modified(self, change: impl FnOnce(&mut Inner)) -> Engine {
        let mut inner = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Inner {
            stores: shared.stores.clone(),
            artifacts: shared.artifacts.clone(),
            backups: shared.backups.clone(),
            key: shared.key.clone(),
            telemetry: shared.telemetry.clone(),
            options: shared.options.clone(),
            completions: Notify::new(),
            llm: shared.llm.clone(),
            embedder: shared.embedder.clone(),
            knowledge: tokio::sync::OnceCell::new(),
            lexicons: Default::default(),
            probes: shared.probes.clone(),
        });
        change(&mut inner);
        Engine { inner: Arc::new(inner) }
    }

    /// An engine that keeps everything in memory (tests, benches, examples).
    pub fn in_memory() -> Engine {
        let backend = MemoryBackend::in_memory();
        Engine::new(
            Stores::memory(&backend),
            Arc::new(object_store::memory::InMemory::new()),
            PanKey::generate(),
            EngineOptions::default(),
        )
    }

    /// The embedded engine under `data_dir`: artifacts, report index, audit chains and the
    /// card-token key on disk; facts, rollups and the graph rebuilt from the artifacts of
    /// completed reports; queued reports queued again.
    pub async fn embedded(data_dir: &Path, key: Option<PanKey>, options: EngineOptions) -> Result<Engine> {
        Engine::embedded_with_objects(data_dir, local_objects(data_dir)?, key, options).await
    }

    /// The embedded engine under `data_dir` with its artifacts in `objects`.
    pub async fn embedded_with_objects(
        data_dir: &Path,
        objects: Arc<dyn ObjectStore>,
        key: Option<PanKey>,
        options: EngineOptions,
    ) -> Result<Engine> {
        let backend = MemoryBackend::open(data_dir)?;
        let key = match key {
            Some(k) => k,
            None => embedded_key(data_dir)?,
        };
        let engine = Engine::new(Stores::memory(&backend), objects, key, options);
        engine.recover(&backend).await?;
        Ok(engine)
    }

    /// The engine the settings describe (embedded stores for every unset service).
    pub async fn from_settings(settings: &Settings) -> Result<Engine> {
        let options = EngineOptions::from_settings(settings);
        let key = settings.pan_key_bytes().map(PanKey::new);
        let objects = artifact_objects(settings).await?;
        let engine = match &settings.postgres {
            None => Engine::embedded_with_objects(&settings.data_dir, objects, key, options).await?,
            Some(pg) => Engine::on_postgres(pg, objects, key, options, settings.job_lease).await?,
        };
        let engine = match &settings.s3 {
            None => engine,
            Some(s3) => engine.with_backups(s3_objects(s3, &s3.backup_bucket).await?),
        };
        let engine = match &settings.redis_url {
            None => engine,
            Some(url) => Engine::with_redis(engine, url, settings).await?,
        };
        let engine = match &settings.neo4j {
            None => engine,
            Some(neo4j) => Engine::with_neo4j(engine, neo4j).await?,
        };
        let engine = match &settings.pinecone {
            None => engine,
            Some(pinecone) => Engine::with_pinecone(engine, pinecone)?,
        };
        Ok(engine.with_models(
            Llm::from_settings(settings.llm.as_ref())?,
            Embedder::from_settings(settings.llm.as_ref())?,
        ))
    }

    #[cfg(feature = "postgres")]
    async fn on_postgres(
        pg: &crate::config::PostgresSettings,
        objects: Arc<dyn ObjectStore>,
        key: Option<PanKey>,
        options: EngineOptions,
        job_lease: Duration,
    ) -> Result<Engine> {
        // Every instance must tokenize card numbers and encrypt artifacts with the same key.
        let key = key.ok_or_else(|| {
            Error::invalid(
                "invalid_config",
                "PAYSCOPE_PAN_KEY: is required when DATABASE_DSN is set (every instance must share it)",
            )
        })?;
        let telemetry = Arc::new(Telemetry::new());
        let backend =
            crate::backend::postgres::PgBackend::connect(pg).await?.with_telemetry(telemetry.clone());
        let stores = Stores::postgres(&backend, job_lease);
        let engine = Engine::with_telemetry(stores, objects, key, options, telemetry);
        Ok(engine.with_probe(Arc::new(backend)))
    }

    /// The answer cache moves to Redis, so every API instance shares it; with Postgres as the
    /// shared store, the job queue moves too (Redis Streams). Without Postgres the jobs stay
    /// in-process: their artifacts are on this host only.
    #[cfg(feature = "redis")]
    async fn with_redis(engine: Engine, url: &secrecy::SecretString, settings: &Settings) -> Result<Engine> {
        use crate::backend::redis::{Redis, RedisCache, RedisQueue};
        use secrecy::ExposeSecret;
        let redis = Redis::connect(url.expose_secret(), Duration::from_secs(5)).await?;
        let queue = match settings.postgres {
            Some(_) => Some(RedisQueue::new(redis.clone(), "payscope:", settings.job_lease).await?),
            None => None,
        };
        Ok(engine.modified(|inner| {
            inner.stores.cache = Arc::new(RedisCache::new(redis.clone()));
            if let Some(queue) = queue {
                inner.stores.jobs = Arc::new(queue);
            }
            inner.probes.push(Arc::new(redis));
        }))
    }

    /// The entity graph moves to Neo4j.
    #[cfg(feature = "neo4j")]
    async fn with_neo4j(engine: Engine, settings: &crate::config::Neo4jSettings) -> Result<Engine> {
        let graph = crate::backend::neo4j::Neo4j::connect(settings, 16).await?;
        Ok(engine.modified(|inner| {
            inner.stores.graph = Arc::new(graph.clone());
            inner.probes.push(Arc::new(graph));
        }))
    }

    #[cfg(not(feature = "neo4j"))]
    async fn with_neo4j(_: Engine, _: &crate::config::Neo4jSettings) -> Result<Engine> {
        Err(Error::invalid("invalid_config", "NEO4J_URI: this build has no Neo4j support (feature `neo4j`)"))
    }

    /// Retrieval over the banks' own documents moves to Pinecone.
    #[cfg(feature = "pinecone")]
    fn with_pinecone(engine: Engine, settings: &crate::config::PineconeSettings) -> Result<Engine> {
        let index = crate::backend::pinecone::Pinecone::new(settings)?;
        Ok(engine.modified(|inner| {
            inner.stores.vectors = Arc::new(index.clone());
            inner.probes.push(Arc::new(index));
        }))
    }

    #[cfg(not(feature = "pinecone"))]
    fn with_pinecone(_: Engine, _: &crate::config::PineconeSettings) -> Result<Engine> {
        Err(Error::invalid(
            "invalid_config",
            "PINECONE_API_KEY: this build has no Pinecone support (feature `pinecone`)",
        ))
    }

    #[cfg(not(feature = "redis"))]
    async fn with_redis(_: Engine, _: &secrecy::SecretString, _: &Settings) -> Result<Engine> {
        Err(Error::invalid("invalid_config", "REDIS_URL: this build has no Redis support (feature `redis`)"))
    }

    #[cfg(not(feature = "postgres"))]
    async fn on_postgres(
        _: &crate::config::PostgresSettings,
        _: Arc<dyn ObjectStore>,
        _: Option<PanKey>,
        _: EngineOptions,
        _: Duration,
    ) -> Result<Engine> {
        Err(Error::invalid(
            "invalid_config",
            "DATABASE_DSN: this build has no Postgres support (feature `postgres`)",
        ))
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// The artifact store.
    pub fn artifacts(&self) -> &Artifacts {
        &self.inner.artifacts
    }

    /// The metrics registry.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.options
    }

    /// The audit record of one of the caller's bank's answers.
    pub async fn audit_entry(
        &self,
        ctx: &crate::bank::BankContext,
        id: crate::store::audit::AnswerId,
    ) -> Result<crate::store::audit::AuditEntry> {
        ctx.require(crate::bank::Permission::Audit)?;
        self.inner.stores.audit.get(ctx, id).await?.ok_or_else(|| Error::NotFound(format!("answer {id}")))
    }

    /// The caller's bank's audit trail, newest first (see [`crate::store::audit::AuditLog::recent`]).
    pub async fn audit_trail(
        &self,
        ctx: &crate::bank::BankContext,
        page: crate::store::audit::TrailPage<'_>,
    ) -> Result<crate::store::audit::AuditPage> {
        ctx.require(crate::bank::Permission::Audit)?;
        self.inner.stores.audit.recent(ctx, page).await
    }

    /// Verifies the caller's bank's audit chain.
    pub async fn verify_audit(
        &self,
        ctx: &crate::bank::BankContext,
    ) -> Result<crate::store::audit::ChainVerification> {
        ctx.require(crate::bank::Permission::Audit)?;
        self.inner.stores.audit.verify(ctx).await
    }

    /// The language model in use.
    pub fn llm(&self) -> &Llm {
        &self.inner.llm
    }
}

/// Where artifacts live: the S3 bucket when one is configured, else files under the data dir.
async fn artifact_objects(settings: &Settings) -> Result<Arc<dyn ObjectStore>> {
    match &settings.s3 {
        Some(s3) => s3_objects(s3, &s3.bucket).await,
        None => local_objects(&settings.data_dir),
    }
}

fn local_objects(data_dir: &Path) -> Result<Arc<dyn ObjectStore>> {
    let artifacts_dir = data_dir.join("artifacts");
    std::fs::create_dir_all(&artifacts_dir)?;
    let objects = object_store::local::LocalFileSystem::new_with_prefix(&artifacts_dir)
        .map_err(|e| Error::internal(format!("cannot use {} for artifacts: {e}", artifacts_dir.display())))?;
    Ok(Arc::new(objects))
}

/// `bucket` on the configured S3 endpoint, checked.
#[cfg(feature = "s3")]
async fn s3_objects(s3: &crate::config::S3Settings, bucket: &str) -> Result<Arc<dyn ObjectStore>> {
    let objects = crate::backend::s3::object_store(s3, bucket)?;
    crate::backend::s3::check_at_startup(objects.as_ref(), s3, bucket).await?;
    Ok(objects)
}

#[cfg(not(feature = "s3"))]
async fn s3_objects(_: &crate::config::S3Settings, _: &str) -> Result<Arc<dyn ObjectStore>> {
    Err(Error::invalid("invalid_config", "MINIO_ENDPOINT: this build has no S3 support (feature `s3`)"))
}

/// Loads the embedded card-token key from `data_dir/keys/pan.key`, generating it on first use.
fn embedded_key(data_dir: &Path) -> Result<PanKey> {
    let path = data_dir.join("keys").join("pan.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let mut bytes = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut bytes)
                .map_err(|_| Error::internal(format!("{} is not a 64-hex-character key", path.display())))?;
            Ok(PanKey::new(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = PanKey::generate();
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            write_private(&path, hex::encode(key.expose_bytes()).as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(data)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data)?;
    Ok(())
}
