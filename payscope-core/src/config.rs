//! Every environment variable PayScope reads (docs/configuration.md), parsed once into typed [`Settings`].
//!
//! Nothing else in the workspace reads the environment: binaries call [`Settings::from_env`] at
//! start-up and pass the result in. A bad value yields one error naming the variable. Secrets are
//! wrapped in `secrecy` types so `Debug` never prints them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use secrecy::{ExposeSecret, SecretBox, SecretString};

use crate::error::{Error, Result};

/// Postgres connection string.
pub const DATABASE_DSN: &str = "DATABASE_DSN";
/// Redis URL (job queue and answer cache).
pub const REDIS_URL: &str = "REDIS_URL";
/// JWT verification key: PEM text or a path to a PEM file.
pub const JWT_PUBLIC_KEY: &str = "JWT_PUBLIC_KEY";
/// The identity provider's JSON Web Key Set URL (its `jwks_uri`).
pub const JWT_JWKS_URL: &str = "JWT_JWKS_URL";
/// A JSON Web Key Set in a file.
pub const JWT_JWKS_FILE: &str = "JWT_JWKS_FILE";
/// How often the key set is read again, in seconds.
pub const JWT_JWKS_REFRESH_SECS: &str = "JWT_JWKS_REFRESH_SECS";
/// Expected `iss` claim.
pub const JWT_ISSUER: &str = "JWT_ISSUER";
/// Expected `aud` claim.
pub const JWT_AUDIENCE: &str = "JWT_AUDIENCE";
/// Neo4j Bolt URI.
pub const NEO4J_URI: &str = "NEO4J_URI";
/// Neo4j user.
pub const NEO4J_USER: &str = "NEO4J_USER";
/// Neo4j password.
pub const NEO4J_PASSWORD: &str = "NEO4J_PASSWORD";
/// Pinecone API key.
pub const PINECONE_API_KEY: &str = "PINECONE_API_KEY";
/// Pinecone index name.
pub const PINECONE_INDEX_NAME: &str = "PINECONE_INDEX_NAME";
/// Pinecone data-plane host.
pub const PINECONE_HOST: &str = "PINECONE_HOST";
/// OpenAI-compatible API base URL.
pub const LLM_BASE_URL: &str = "LLM_BASE_URL";
/// LLM API key.
pub const LLM_API_KEY: &str = "LLM_API_KEY";
/// Chat model name.
pub const LLM_MODEL: &str = "LLM_MODEL";
/// Embedding model name.
pub const LLM_EMBEDDING_MODEL: &str = "LLM_EMBEDDING_MODEL";
/// S3-compatible endpoint.
pub const MINIO_ENDPOINT: &str = "MINIO_ENDPOINT";
/// S3 access key id.
pub const MINIO_ACCESS_KEY: &str = "MINIO_ACCESS_KEY";
/// S3 secret key.
pub const MINIO_SECRET_KEY: &str = "MINIO_SECRET_KEY";
/// Artifact bucket.
pub const MINIO_BUCKET: &str = "MINIO_BUCKET";
/// Bucket of audit-chain exports.
pub const MINIO_BACKUP_BUCKET: &str = "MINIO_BACKUP_BUCKET";
/// S3 region.
pub const MINIO_REGION: &str = "MINIO_REGION";
/// Embedded state directory.
pub const PAYSCOPE_DATA_DIR: &str = "PAYSCOPE_DATA_DIR";
/// Log filter.
pub const PAYSCOPE_LOG: &str = "PAYSCOPE_LOG";
/// Log format (`json` or `pretty`).
pub const PAYSCOPE_LOG_FORMAT: &str = "PAYSCOPE_LOG_FORMAT";
/// Largest accepted upload.
pub const PAYSCOPE_MAX_UPLOAD_BYTES: &str = "PAYSCOPE_MAX_UPLOAD_BYTES";
/// Card-token and artifact-encryption key.
pub const PAYSCOPE_PAN_KEY: &str = "PAYSCOPE_PAN_KEY";
/// API listen address.
pub const PAYSCOPE_ADDR: &str = "PAYSCOPE_ADDR";
/// Worker health/metrics listen address.
pub const PAYSCOPE_WORKER_ADDR: &str = "PAYSCOPE_WORKER_ADDR";
/// The API's own listener for health and metrics only, outside its connection cap.
pub const PAYSCOPE_OPS_ADDR: &str = "PAYSCOPE_OPS_ADDR";
/// Postgres pool size.
pub const PAYSCOPE_DB_POOL_SIZE: &str = "PAYSCOPE_DB_POOL_SIZE";
/// Postgres statement timeout in milliseconds.
pub const PAYSCOPE_DB_STATEMENT_TIMEOUT_MS: &str = "PAYSCOPE_DB_STATEMENT_TIMEOUT_MS";
/// Postgres connect timeout in milliseconds.
pub const PAYSCOPE_DB_CONNECT_TIMEOUT_MS: &str = "PAYSCOPE_DB_CONNECT_TIMEOUT_MS";
/// Concurrent ingestion jobs per worker.
pub const PAYSCOPE_WORKER_CONCURRENCY: &str = "PAYSCOPE_WORKER_CONCURRENCY";
/// Answer-cache time to live in seconds.
pub const PAYSCOPE_CACHE_TTL_SECS: &str = "PAYSCOPE_CACHE_TTL_SECS";
/// Timeout of one LLM request in milliseconds.
pub const PAYSCOPE_LLM_TIMEOUT_MS: &str = "PAYSCOPE_LLM_TIMEOUT_MS";
/// Seconds a claim lasts without renewal (how soon a dead worker's job is taken over).
pub const PAYSCOPE_JOB_LEASE_SECS: &str = "PAYSCOPE_JOB_LEASE_SECS";
/// Keys used before `PAYSCOPE_PAN_KEY` (comma-separated, same notation): artifacts sealed with
/// them stay readable after a rotation.
pub const PAYSCOPE_PAN_KEY_PREVIOUS: &str = "PAYSCOPE_PAN_KEY_PREVIOUS";
/// Questions (and typed queries) one token subject may ask per minute.
pub const PAYSCOPE_QUESTIONS_PER_MINUTE: &str = "PAYSCOPE_QUESTIONS_PER_MINUTE";
/// Questions one bank's users may ask per minute together.
pub const PAYSCOPE_BANK_QUESTIONS_PER_MINUTE: &str = "PAYSCOPE_BANK_QUESTIONS_PER_MINUTE";
/// Uploads and previews one token subject may send per minute.
pub const PAYSCOPE_UPLOADS_PER_MINUTE: &str = "PAYSCOPE_UPLOADS_PER_MINUTE";
/// Uploads and previews one bank's users may send per minute together.
pub const PAYSCOPE_BANK_UPLOADS_PER_MINUTE: &str = "PAYSCOPE_BANK_UPLOADS_PER_MINUTE";
/// Questions computed at once.
pub const PAYSCOPE_MAX_INFLIGHT: &str = "PAYSCOPE_MAX_INFLIGHT";
/// The longest a question or query is computed, in seconds.
pub const PAYSCOPE_QUERY_TIMEOUT_SECS: &str = "PAYSCOPE_QUERY_TIMEOUT_SECS";
/// Open connections served in full.
pub const PAYSCOPE_MAX_CONNECTIONS: &str = "PAYSCOPE_MAX_CONNECTIONS";

/// Every variable this module reads, for docs and tests.
pub const ALL_VARIABLES: &[&str] = &[
    DATABASE_DSN,
    REDIS_URL,
    JWT_PUBLIC_KEY,
    JWT_JWKS_URL,
    JWT_JWKS_FILE,
    JWT_JWKS_REFRESH_SECS,
    JWT_ISSUER,
    JWT_AUDIENCE,
    NEO4J_URI,
    NEO4J_USER,
    NEO4J_PASSWORD,
    PINECONE_API_KEY,
    PINECONE_INDEX_NAME,
    PINECONE_HOST,
    LLM_BASE_URL,
    LLM_API_KEY,
    LLM_MODEL,
    LLM_EMBEDDING_MODEL,
    MINIO_ENDPOINT,
    MINIO_ACCESS_KEY,
    MINIO_SECRET_KEY,
    MINIO_BUCKET,
    MINIO_BACKUP_BUCKET,
    MINIO_REGION,
    PAYSCOPE_DATA_DIR,
    PAYSCOPE_LOG,
    PAYSCOPE_LOG_FORMAT,
    PAYSCOPE_MAX_UPLOAD_BYTES,
    PAYSCOPE_PAN_KEY,
    PAYSCOPE_ADDR,
    PAYSCOPE_WORKER_ADDR,
    PAYSCOPE_OPS_ADDR,
    PAYSCOPE_DB_POOL_SIZE,
    PAYSCOPE_DB_STATEMENT_TIMEOUT_MS,
    PAYSCOPE_DB_CONNECT_TIMEOUT_MS,
    PAYSCOPE_WORKER_CONCURRENCY,
    PAYSCOPE_CACHE_TTL_SECS,
    PAYSCOPE_LLM_TIMEOUT_MS,
    PAYSCOPE_JOB_LEASE_SECS,
    PAYSCOPE_PAN_KEY_PREVIOUS,
    PAYSCOPE_QUESTIONS_PER_MINUTE,
    PAYSCOPE_BANK_QUESTIONS_PER_MINUTE,
    PAYSCOPE_UPLOADS_PER_MINUTE,
    PAYSCOPE_BANK_UPLOADS_PER_MINUTE,
    PAYSCOPE_MAX_INFLIGHT,
    PAYSCOPE_QUERY_TIMEOUT_SECS,
    PAYSCOPE_MAX_CONNECTIONS,
];

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (default).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Postgres settings.
#[derive(Debug)]
pub struct PostgresSettings {
    /// The connection string (may hold a password).
    pub dsn: SecretString,
    /// Connections in the pool.
    pub pool_size: u32,
    /// `statement_timeout` applied to every connection.
    pub statement_timeout: Duration,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
}

/// JWT verification settings; the key type is checked by the HTTP crate.
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    /// PEM text of the public key.
    pub public_key_pem: Option<String>,
    /// The identity provider's key set URL.
    pub jwks_url: Option<String>,
    /// A key set file.
    pub jwks_file: Option<PathBuf>,
    /// How often a key set is read again (an unknown `kid` also reads it, at most every 10 s).
    pub jwks_refresh: Duration,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
}

/// Neo4j settings.
#[derive(Debug)]
pub struct Neo4jSettings {
    /// Bolt URI (`bolt://host:7687`).
    pub uri: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: SecretString,
}

/// Pinecone data-plane settings.
#[derive(Debug)]
pub struct PineconeSettings {
    /// API key.
    pub api_key: SecretString,
    /// Index name.
    pub index_name: String,
    /// Data-plane host (`https://index-xxxx.svc.pinecone.io`).
    pub host: String,
}

/// OpenAI-compatible LLM settings.
#[derive(Debug)]
pub struct LlmSettings {
    /// Base URL (`https://api.openai.com`); `/v1/...` is appended.
    pub base_url: String,
    /// API key, when the endpoint needs one.
    pub api_key: Option<SecretString>,
    /// Chat model.
    pub model: String,
    /// Embedding model; unset keeps the hashing embedder.
    pub embedding_model: Option<String>,
    /// Timeout of one request (each of up to three attempts).
    pub timeout: Duration,
}

/// S3-compatible object storage settings.
#[derive(Debug)]
pub struct S3Settings {
    /// Endpoint URL (`http://minio:9000`).
    pub endpoint: String,
    /// Access key id.
    pub access_key: String,
    /// Secret key.
    pub secret_key: SecretString,
    /// Artifact bucket (default `payscope-artifacts`).
    pub bucket: String,
    /// Bucket of audit-chain exports (default `payscope-backups`).
    pub backup_bucket: String,
    /// Region (default `us-east-1`).
    pub region: String,
}

/// Everything the binaries and the engine are configured with.
#[derive(Debug)]
pub struct Settings {
    /// API listen address.
    pub addr: SocketAddr,
    /// Worker listen address.
    pub worker_addr: SocketAddr,
    /// The API's health-and-metrics listener, when configured: probes and scrapes there are
    /// never queued behind a flood of API connections.
    pub ops_addr: Option<SocketAddr>,
    /// Postgres, when configured.
    pub postgres: Option<PostgresSettings>,
    /// Redis URL, when configured.
    pub redis_url: Option<SecretString>,
    /// JWT verification.
    pub jwt: JwtSettings,
    /// Neo4j, when configured.
    pub neo4j: Option<Neo4jSettings>,
    /// Pinecone, when configured.
    pub pinecone: Option<PineconeSettings>,
    /// LLM, when configured.
    pub llm: Option<LlmSettings>,
    /// S3/MinIO, when configured.
    pub s3: Option<S3Settings>,
    /// Embedded state directory.
    pub data_dir: PathBuf,
    /// Log filter directive.
    pub log_filter: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest accepted upload.
    pub max_upload_bytes: u64,
    /// Card-token and artifact key, when configured.
    pub pan_key: Option<SecretBox<[u8; 32]>>,
    /// Keys used before `pan_key`, for reading artifacts sealed with them.
    pub pan_keys_previous: Vec<SecretBox<[u8; 32]>>,
    /// Concurrent ingestion jobs per worker.
    pub worker_concurrency: usize,
    /// Answer-cache TTL.
    pub cache_ttl: Duration,
    /// How long a claim lasts without renewal: workers renew every third of it, so this is
    /// how soon a dead worker's job is taken over.
    pub job_lease: Duration,
    /// Overload protection of the HTTP API.
    pub limits: Limits,
}

/// Overload protection of the HTTP API (0: no limit). [`Limits::default`] is a deployment's;
/// [`Limits::unlimited`] an embedded library's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Questions and typed queries per token subject per minute.
    pub questions_per_subject: u32,
    /// Questions and typed queries per bank per minute.
    pub questions_per_bank: u32,
    /// Uploads and previews per token subject per minute.
    pub uploads_per_subject: u32,
    /// Uploads and previews per bank per minute.
    pub uploads_per_bank: u32,
    /// Questions computed at once.
    pub max_inflight: usize,
    /// The longest a question is computed (zero: no deadline).
    pub deadline: Duration,
    /// Open connections served in full.
    pub max_connections: usize,
}

impl Limits {
    /// No limit at all.
    pub const fn unlimited() -> Limits {
        Limits {
            questions_per_subject: 0,
            questions_per_bank: 0,
            uploads_per_subject: 0,
            uploads_per_bank: 0,
            max_inflight: 0,
            deadline: Duration::ZERO,
            max_connections: 0,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            questions_per_subject: 120,
            questions_per_bank: 1_200,
            uploads_per_subject: 30,
            uploads_per_bank: 120,
            max_inflight: 64,
            deadline: Duration::from_secs(30),
            max_connections: 1_024,
        }
    }
}

impl Limits {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Limits> {
        let d = Limits::default();
        let num = |name: &str, default: u64, max: u64| parse_num(name, get(name), default, 0..=max);
        Ok(Limits {
            questions_per_subject: num(
                PAYSCOPE_QUESTIONS_PER_MINUTE,
                d.questions_per_subject.into(),
                1_000_000,
            )? as u32,
            questions_per_bank: num(
                PAYSCOPE_BANK_QUESTIONS_PER_MINUTE,
                d.questions_per_bank.into(),
                10_000_000,
            )? as u32,
            uploads_per_subject: num(PAYSCOPE_UPLOADS_PER_MINUTE, d.uploads_per_subject.into(), 100_000)?
                as u32,
            uploads_per_bank: num(PAYSCOPE_BANK_UPLOADS_PER_MINUTE, d.uploads_per_bank.into(), 1_000_000)?
                as u32,
            max_inflight: num(PAYSCOPE_MAX_INFLIGHT, d.max_inflight as u64, 100_000)? as usize,
            deadline: Duration::from_secs(num(PAYSCOPE_QUERY_TIMEOUT_SECS, d.deadline.as_secs(), 3_600)?),
            max_connections: num(PAYSCOPE_MAX_CONNECTIONS, d.max_connections as u64, 1_000_000)? as usize,
        })
    }
}

impl Settings {
    /// Reads the process environment, then `.env` in the working directory for variables the
    /// environment does not set.
    pub fn from_env() -> Result<Settings> {
        let dotenv = std::fs::read_to_string(".env").map(|t| parse_dotenv(&t)).unwrap_or_default();
        Settings::from_lookup(|name| {
            std::env::var(name)
                .ok()
                .or_else(|| dotenv.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        })
    }

    /// Parses settings from any lookup (tests pass a map). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let postgres = match get(DATABASE_DSN) {
            None => None,
            Some(dsn) => {
                check_url(DATABASE_DSN, &dsn, &["postgres", "postgresql"])?;
                Some(PostgresSettings {
                    dsn: SecretString::from(dsn),
                    pool_size: parse_num(PAYSCOPE_DB_POOL_SIZE, get(PAYSCOPE_DB_POOL_SIZE), 10, 1..=1000)?
                        as u32,
                    statement_timeout: Duration::from_millis(parse_num(
                        PAYSCOPE_DB_STATEMENT_TIMEOUT_MS,
                        get(PAYSCOPE_DB_STATEMENT_TIMEOUT_MS),
                        30_000,
                        1..=3_600_000,
                    )?),
                    connect_timeout: Duration::from_millis(parse_num(
                        PAYSCOPE_DB_CONNECT_TIMEOUT_MS,
                        get(PAYSCOPE_DB_CONNECT_TIMEOUT_MS),
                        5_000,
                        1..=600_000,
                    )?),
                })
            }
        };
        let redis_url = match get(REDIS_URL) {
            None => None,
            Some(url) => {
                check_url(REDIS_URL, &url, &["redis", "rediss"])?;
                Some(SecretString::from(url))
            }
        };
        let jwt = JwtSettings {
            public_key_pem: get(JWT_PUBLIC_KEY).map(|v| read_pem(&v)).transpose()?,
            jwks_url: get(JWT_JWKS_URL)
                .map(|u| check_url(JWT_JWKS_URL, &u, &["https", "http"]).map(|_| u))
                .transpose()?,
            jwks_file: get(JWT_JWKS_FILE).map(PathBuf::from),
            jwks_refresh: Duration::from_secs(parse_num(
                JWT_JWKS_REFRESH_SECS,
                get(JWT_JWKS_REFRESH_SECS),
                300,
                1..=86_400,
            )?),
            issuer: get(JWT_ISSUER),
            audience: get(JWT_AUDIENCE),
        };
        let sources = [
            (JWT_PUBLIC_KEY, jwt.public_key_pem.is_some()),
            (JWT_JWKS_URL, jwt.jwks_url.is_some()),
            (JWT_JWKS_FILE, jwt.jwks_file.is_some()),
        ];
        let given: Vec<&str> = sources.iter().filter(|(_, set)| *set).map(|(name, _)| *name).collect();
        if given.len() > 1 {
            return Err(config_error(
                given[1],
                &format!("is set as well as {}: configure one source of keys", given[0]),
            ));
        }
        let neo4j = match get(NEO4J_URI) {
            None => None,
            Some(uri) => {
                check_url(NEO4J_URI, &uri, &["bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"])?;
                Some(Neo4jSettings {
                    uri,
                    user: get(NEO4J_USER).unwrap_or_else(|| "neo4j".to_owned()),
                    password: SecretString::from(get(NEO4J_PASSWORD).unwrap_or_default()),
                })
            }
        };
        let pinecone = match (get(PINECONE_API_KEY), get(PINECONE_HOST)) {
            (None, None) => None,
            (Some(key), Some(host)) => {
                let host = if host.contains("://") { host } else { format!("https://{host}") };
                check_url(PINECONE_HOST, &host, &["http", "https"])?;
                Some(PineconeSettings {
                    api_key: SecretString::from(key),
                    index_name: get(PINECONE_INDEX_NAME).unwrap_or_else(|| "payscope".to_owned()),
                    host,
                })
            }
            (None, Some(_)) => {
                return Err(config_error(PINECONE_API_KEY, "is required when PINECONE_HOST is set"))
            }
            (Some(_), None) => {
                return Err(config_error(PINECONE_HOST, "is required when PINECONE_API_KEY is set"))
            }
        };
        let llm = match get(LLM_BASE_URL) {
            None => None,
            Some(base_url) => {
                check_url(LLM_BASE_URL, &base_url, &["http", "https"])?;
                Some(LlmSettings {
                    base_url: base_url.trim_end_matches('/').to_owned(),
                    api_key: get(LLM_API_KEY).map(SecretString::from),
                    model: get(LLM_MODEL).unwrap_or_else(|| "gpt-4o-mini".to_owned()),
                    embedding_model: get(LLM_EMBEDDING_MODEL),
                    timeout: Duration::from_millis(parse_num(
                        PAYSCOPE_LLM_TIMEOUT_MS,
                        get(PAYSCOPE_LLM_TIMEOUT_MS),
                        10_000,
                        100..=120_000,
                    )?),
                })
            }
        };
        let s3 = match get(MINIO_ENDPOINT) {
            None => None,
            Some(endpoint) => {
                check_url(MINIO_ENDPOINT, &endpoint, &["http", "https"])?;
                Some(S3Settings {
                    endpoint,
                    access_key: get(MINIO_ACCESS_KEY).ok_or_else(|| {
                        config_error(MINIO_ACCESS_KEY, "is required when MINIO_ENDPOINT is set")
                    })?,
                    secret_key: SecretString::from(get(MINIO_SECRET_KEY).ok_or_else(|| {
                        config_error(MINIO_SECRET_KEY, "is required when MINIO_ENDPOINT is set")
                    })?),
                    bucket: get(MINIO_BUCKET).unwrap_or_else(|| "payscope-artifacts".to_owned()),
                    backup_bucket: get(MINIO_BACKUP_BUCKET).unwrap_or_else(|| "payscope-backups".to_owned()),
                    region: get(MINIO_REGION).unwrap_or_else(|| "us-east-1".to_owned()),
                })
            }
        };
        let log_format = match get(PAYSCOPE_LOG_FORMAT).as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => {
                return Err(config_error(PAYSCOPE_LOG_FORMAT, &format!("`{other}` is not json or pretty")))
            }
        };
        Ok(Settings {
            addr: parse_addr(PAYSCOPE_ADDR, get(PAYSCOPE_ADDR), "0.0.0.0:8000")?,
            worker_addr: parse_addr(PAYSCOPE_WORKER_ADDR, get(PAYSCOPE_WORKER_ADDR), "0.0.0.0:8001")?,
            ops_addr: get(PAYSCOPE_OPS_ADDR)
                .map(|v| parse_addr(PAYSCOPE_OPS_ADDR, Some(v), ""))
                .transpose()?,
            postgres,
            redis_url,
            jwt,
            neo4j,
            pinecone,
            llm,
            s3,
            data_dir: PathBuf::from(get(PAYSCOPE_DATA_DIR).unwrap_or_else(|| "./payscope-data".to_owned())),
            log_filter: get(PAYSCOPE_LOG).unwrap_or_else(|| "info".to_owned()),
            log_format,
            max_upload_bytes: match get(PAYSCOPE_MAX_UPLOAD_BYTES) {
                None => 256 << 20,
                Some(v) => parse_size(&v).ok_or_else(|| {
                    config_error(
                        PAYSCOPE_MAX_UPLOAD_BYTES,
                        &format!("`{v}` is not a size (bytes, or a number with KiB/MiB/GiB)"),
                    )
                })?,
            },
            pan_key: get(PAYSCOPE_PAN_KEY).map(|v| parse_pan_key(&v)).transpose()?,
            pan_keys_previous: get(PAYSCOPE_PAN_KEY_PREVIOUS)
                .map(|v| {
                    v.split(',')
                        .map(|k| {
                            parse_pan_key(k).map_err(|_| {
                                config_error(PAYSCOPE_PAN_KEY_PREVIOUS, "must list 32-byte keys (64 hex characters or base64), separated by commas")
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default(),
            worker_concurrency: parse_num(
                PAYSCOPE_WORKER_CONCURRENCY,
                get(PAYSCOPE_WORKER_CONCURRENCY),
                2,
                1..=64,
            )? as usize,
            cache_ttl: Duration::from_secs(parse_num(
                PAYSCOPE_CACHE_TTL_SECS,
                get(PAYSCOPE_CACHE_TTL_SECS),
                300,
                0..=86_400 * 7,
            )?),
            job_lease: Duration::from_secs(parse_num(
                PAYSCOPE_JOB_LEASE_SECS,
                get(PAYSCOPE_JOB_LEASE_SECS),
                crate::store::jobs::DEFAULT_LEASE.as_secs(),
                1..=86_400,
            )?),
            limits: Limits::from_lookup(get)?,
        })
    }

    /// Settings for embedded use with everything at its default and state under `data_dir`.
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Settings {
        let mut s = Settings::from_lookup(|_| None).unwrap_or_else(|_| unreachable_defaults());
        s.data_dir = data_dir.into();
        s
    }

    /// Returns the PAN key bytes, when configured.
    pub fn pan_key_bytes(&self) -> Option<[u8; 32]> {
        self.pan_key.as_ref().map(|k| *k.expose_secret())
    }
}

// The defaults above always parse; this keeps `embedded` free of `expect`.
fn unreachable_defaults() -> Settings {
    Settings {
        addr: SocketAddr::from(([0, 0, 0, 0], 8000)),
        worker_addr: SocketAddr::from(([0, 0, 0, 0], 8001)),
        ops_addr: None,
        postgres: None,
        redis_url: None,
        jwt: JwtSettings::default(),
        neo4j: None,
        pinecone: None,
        llm: None,
        s3: None,
        data_dir: PathBuf::from("./payscope-data"),
        log_filter: "info".to_owned(),
        log_format: LogFormat::Json,
        max_upload_bytes: 256 << 20,
        pan_key: None,
        pan_keys_previous: Vec::new(),
        worker_concurrency: 2,
        cache_ttl: Duration::from_secs(300),
        job_lease: crate::store::jobs::DEFAULT_LEASE,
        limits: Limits::default(),
    }
}

fn config_error(variable: &str, problem: &str) -> Error {
    Error::invalid("invalid_config", format!("{variable} {problem}"))
}

fn check_url(variable: &str, value: &str, schemes: &[&str]) -> Result<()> {
    // Never echo the value: it may carry a password.
    let url =
        url::Url::parse(value).map_err(|e| config_error(variable, &format!("is not a valid URL ({e})")))?;
    if !schemes.contains(&url.scheme()) {
        return Err(config_error(
            variable,
            &format!("has scheme `{}`, expected one of {}", url.scheme(), schemes.join(", ")),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) && url.scheme() != "postgres" && url.scheme() != "postgresql"
    {
        return Err(config_error(variable, "has no host"));
    }
    Ok(())
}

fn parse_addr(variable: &str, value: Option<String>, default: &str) -> Result<SocketAddr> {
    let v = value.unwrap_or_else(|| default.to_owned());
    v.parse().map_err(|_| config_error(variable, &format!("`{v}` is not a socket address like 0.0.0.0:8000")))
}

fn parse_num(
    variable: &str,
    value: Option<String>,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64> {
    let Some(v) = value else { return Ok(default) };
    let n: u64 = v.parse().map_err(|_| config_error(variable, &format!("`{v}` is not a whole number")))?;
    if !range.contains(&n) {
        return Err(config_error(variable, &format!("{n} is outside {}..={}", range.start(), range.end())));
    }
    Ok(n)
}

/// Parses `268435456`, `256MiB`, `256M`, `1GiB`, `512KiB`.
pub fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&b| b > 0)
}

/// Parses a 32-byte key written as 64 hex characters or standard base64.
pub fn parse_pan_key(v: &str) -> Result<SecretBox<[u8; 32]>> {
    let v = v.trim();
    let mut key = [0u8; 32];
    if v.len() == 64 && hex::decode_to_slice(v, &mut key).is_ok() {
        return Ok(SecretBox::new(Box::new(key)));
    }
    match base64::engine::general_purpose::STANDARD.decode(v) {
        Ok(bytes) if bytes.len() == 32 => {
            key.copy_from_slice(&bytes);
            Ok(SecretBox::new(Box::new(key)))
        }
        _ => Err(config_error(PAYSCOPE_PAN_KEY, "must be 32 bytes written as 64 hex characters or base64")),
    }
}

fn read_pem(value: &str) -> Result<String> {
    let text = if value.contains("-----BEGIN") {
        value.replace("\\n", "\n")
    } else {
        std::fs::read_to_string(value).map_err(|e| {
            config_error(JWT_PUBLIC_KEY, &format!("is neither PEM text nor a readable file ({e})"))
        })?
    };
    if !text.contains("-----BEGIN") || !text.contains("-----END") {
        return Err(config_error(JWT_PUBLIC_KEY, "does not contain a PEM block"));
    }
    Ok(text)
}

/// Parses `.env` text: `KEY=value` lines, `#` comments, optional `export `, single or double quotes.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = if v.len() >= 2
                && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
            {
                v[1..v.len() - 1].to_owned()
            } else {
                v.split(" #").next().unwrap_or(v).trim().to_owned()
            };
            Some((k.trim().to_owned(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn one_source_of_keys_and_limits_that_parse() {
        let e = settings(&[(JWT_JWKS_URL, "https://idp.example/certs"), (JWT_JWKS_FILE, "/etc/jwks.json")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("JWT_JWKS_FILE is set as well as JWT_JWKS_URL"), "{e}");
        assert!(settings(&[(JWT_JWKS_URL, "ftp://idp")])
            .unwrap_err()
            .to_string()
            .starts_with("JWT_JWKS_URL"));
        let s =
            settings(&[(JWT_JWKS_URL, "https://idp.example/certs"), (PAYSCOPE_QUESTIONS_PER_MINUTE, "0")])
                .unwrap();
        assert_eq!((s.jwt.jwks_refresh.as_secs(), s.limits.questions_per_subject), (300, 0));
        assert_eq!(s.limits.max_connections, Limits::default().max_connections);
        let e = settings(&[(PAYSCOPE_QUERY_TIMEOUT_SECS, "soon")]).unwrap_err().to_string();
        assert!(e.starts_with("PAYSCOPE_QUERY_TIMEOUT_SECS"), "{e}");
    }

    #[test]
    fn defaults_are_embedded() {
        let s = settings(&[]).unwrap();
        assert!(s.postgres.is_none() && s.redis_url.is_none() && s.s3.is_none());
        assert_eq!(s.max_upload_bytes, 256 << 20);
        assert_eq!(s.addr.port(), 8000);
        assert_eq!(s.worker_addr.port(), 8001);
        assert_eq!(s.log_format, LogFormat::Json);
    }

    #[test]
    fn bad_values_name_the_variable_and_hide_secrets() {
        let e = settings(&[(DATABASE_DSN, "mysql://u:hunter2@h/db")]).unwrap_err().to_string();
        assert!(e.starts_with("DATABASE_DSN") && !e.contains("hunter2"), "{e}");
        let e = settings(&[(PAYSCOPE_MAX_UPLOAD_BYTES, "lots")]).unwrap_err().to_string();
        assert!(e.starts_with("PAYSCOPE_MAX_UPLOAD_BYTES"), "{e}");
        let e = settings(&[(PAYSCOPE_PAN_KEY, "short")]).unwrap_err().to_string();
        assert!(e.starts_with("PAYSCOPE_PAN_KEY"), "{e}");
        let e = settings(&[(JWT_PUBLIC_KEY, "/nonexistent/key.pem")]).unwrap_err().to_string();
        assert!(e.starts_with("JWT_PUBLIC_KEY"), "{e}");
        let e = settings(&[(MINIO_ENDPOINT, "http://minio:9000")]).unwrap_err().to_string();
        assert!(e.starts_with("MINIO_ACCESS_KEY"), "{e}");
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = settings(&[
            (DATABASE_DSN, "postgres://app:s3cr3t-pw@db:5432/payscope"),
            (LLM_BASE_URL, "http://llm:8080"),
            (LLM_API_KEY, "sk-topsecret"),
            (PAYSCOPE_PAN_KEY, &"ab".repeat(32)),
        ])
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("s3cr3t-pw") && !dbg.contains("sk-topsecret") && !dbg.contains("abab"),
            "{dbg}"
        );
        assert_eq!(s.pan_key_bytes(), Some([0xab; 32]));
    }

    #[test]
    fn sizes_and_dotenv() {
        assert_eq!(parse_size("256MiB"), Some(256 << 20));
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("0"), None);
        let env = parse_dotenv("# c\nexport A=1\nB=\"x y\"\nC=z # note\n\nbad line\n");
        assert_eq!(env, vec![("A".into(), "1".into()), ("B".into(), "x y".into()), ("C".into(), "z".into())]);
    }
}
