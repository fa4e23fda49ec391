//! An identity provider's JSON Web Key Set (`JWT_JWKS_URL`, or `JWT_JWKS_FILE`), kept in
//! memory and read again: every `refresh` interval, and when a token names a key id the set does
//! not hold (a key rotated in), at most once per [`MIN_GAP`] so that tokens with made-up key ids
//! cannot make PayScope hammer the provider. A read that fails keeps the keys it had (stale if
//! error); a key the provider removed is refused once the set is read again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;

use super::keys::Key;

/// The shortest time between two reads of the set (or the refresh interval, when shorter).
pub const MIN_GAP: Duration = Duration::from_secs(10);

/// How long a read of the set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest key set read.
const MAX_BYTES: usize = 1 << 20;

/// Where the key set comes from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// The provider's `jwks_uri`.
    Url(String),
    /// A file holding the set.
    File(PathBuf),
}

impl JwksSource {
    /// The variable that configures it, for messages.
    fn variable(&self) -> &'static str {
        match self {
            JwksSource::Url(_) => "JWT_JWKS_URL",
            JwksSource::File(_) => "JWT_JWKS_FILE",
        }
    }
}

/// The keys of one read of the set.
#[derive(Default)]
pub struct KeyRing {
    by_id: HashMap<String, Key>,
    /// Keys without a `kid`.
    unnamed: Vec<Key>,
}

impl KeyRing {
    /// The key a token's `kid` names; a token without one may use the set's only key.
    fn get(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            Some(kid) => self.by_id.get(kid),
            None if self.by_id.len() + self.unnamed.len() == 1 => {
                self.unnamed.first().or_else(|| self.by_id.values().next())
            }
            None => None,
        }
    }

    fn len(&self) -> usize {
        self.by_id.len() + self.unnamed.len()
    }
}

struct State {
    ring: Arc<KeyRing>,
    /// The set's text as last read, to tell a changed set from the same one.
    digest: [u8; 32],
    read_at: Instant,
    tried_at: Instant,
    /// Moves when the keys change: tokens verified with an older set are verified again.
    generation: u64,
}

/// A key set, read again as described in the module documentation.
pub struct Jwks {
    source: JwksSource,
    refresh: Duration,
    gap: Duration,
    http: reqwest::Client,
    state: RwLock<State>,
    reading: tokio::sync::Mutex<()>,
}

impl Jwks {
    /// Reads the set for the first time: a set that cannot be read, or holds no usable
    /// signing key, is an error naming the variable.
    pub async fn load(source: JwksSource, refresh: Duration) -> Result<Jwks, String> {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let (ring, digest) = read(&http, &source).await.map_err(|e| format!("{}: {e}", source.variable()))?;
        let now = Instant::now();
        let state = State { ring: Arc::new(ring), digest, read_at: now, tried_at: now, generation: 1 };
        let gap = MIN_GAP.min(refresh);
        Ok(Jwks {
            source,
            refresh,
            gap,
            http,
            state: RwLock::new(state),
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// The current generation of keys, after reading the set again if it is due.
    pub async fn current(&self) -> u64 {
        let (due, generation) = {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            (s.read_at.elapsed() >= self.refresh && s.tried_at.elapsed() >= self.gap, s.generation)
        };
        if due {
            self.read_again().await
        } else {
            generation
        }
    }

    /// The key `kid` names and the generation it belongs to; an unknown `kid` reads the set
    /// again first (unless it was read within [`MIN_GAP`]).
    pub async fn key(&self, kid: Option<&str>) -> Result<(Key, u64), String> {
        let found = |s: &State| s.ring.get(kid).cloned().map(|k| (k, s.generation));
        let (hit, may_read) = {
            let s = self.state.read().unwrap_or_else(|e| e.into_inner());
            (found(&s), s.tried_at.elapsed() >= self.gap)
        };
        if let Some(hit) = hit {
            return Ok(hit);
        }
        if may_read && kid.is_some() {
            self.read_again().await;
            if let Some(hit) = found(&self.state.read().unwrap_or_else(|e| e.into_inner())) {
                return Ok(hit);
            }
        }
        Err(match kid {
            Some(kid) => format!(
                "the token's key id `{}` is not one of the identity provider's keys",
                kid.chars().filter(|c| !c.is_control()).take(64).collect::<String>()
            ),
            None => {
                "the token names no key id (`kid`) and the identity provider publishes several keys".into()
            }
        })
    }

    /// Reads the set again (one reader at a time; the others go on with the keys there are)
    /// and returns the generation now current.
    async fn read_again(&self) -> u64 {
        let Ok(_reading) = self.reading.try_lock() else {
            return self.state.read().unwrap_or_else(|e| e.into_inner()).generation;
        };
        let result = read(&self.http, &self.source).await;
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.tried_at = Instant::now();
        match result {
            Ok((ring, digest)) => {
                s.read_at = s.tried_at;
                if digest != s.digest {
                    tracing::info!(keys = ring.len(), "the identity provider's key set changed");
                    s.ring = Arc::new(ring);
                    s.digest = digest;
                    s.generation += 1;
                }
            }
            // Stale if error: the keys already read stay in use.
            Err(e) => {
                tracing::warn!(error = %e, "{}: cannot read the key set again; keeping the keys read before", self.source.variable())
            }
        }
        s.generation
    }
}

/// One read of the set: its usable keys and the digest of its text.
async fn read(http: &reqwest::Client, source: &JwksSource) -> Result<(KeyRing, [u8; 32]), String> {
    let text = match source {
        JwksSource::Url(url) => {
            let response = http.get(url).send().await.map_err(|e| format!("cannot fetch {url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url} answered {}", response.status()));
            }
            let bytes = response.bytes().await.map_err(|e| format!("cannot read {url}: {e}"))?;
            if bytes.len() > MAX_BYTES {
                return Err(format!("{url} sent more than {MAX_BYTES} bytes"));
            }
            bytes.to_vec()
        }
        JwksSource::File(path) => {
            tokio::fs::read(path).await.map_err(|e| format!("cannot read {}: {e}", path.display()))?
        }
    };
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&text).into();
    Ok((ring(&text)?, digest))
}

/// The usable signing keys of a key set's text; keys that cannot verify tokens (encryption
/// keys, shared secrets, other curves) are left out with a warning.
pub fn ring(text: &[u8]) -> Result<KeyRing, String> {
    let set: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| format!("is not a JSON Web Key Set: {e}"))?;
    let keys =
        set.get("keys").and_then(|k| k.as_array()).ok_or("is not a JSON Web Key Set (no `keys` array)")?;
    let mut ring = KeyRing::default();
    for (i, value) in keys.iter().enumerate() {
        let kid = value.get("kid").and_then(|k| k.as_str()).map(str::to_owned);
        let key = serde_json::from_value::<Jwk>(value.clone())
            .map_err(|e| format!("is not a JSON Web Key: {e}"))
            .and_then(|jwk| Key::from_jwk(&jwk));
        match (key, kid) {
            (Ok(key), Some(kid)) => {
                ring.by_id.insert(kid, key);
            }
            (Ok(key), None) => ring.unnamed.push(key),
            (Err(e), kid) => tracing::warn!(
                key = i,
                kid = kid.as_deref().unwrap_or(""),
                "a key of the set is not used: it {e}"
            ),
        }
    }
    if ring.len() == 0 {
        return Err("holds no public signing key PayScope can use (RSA, EC P-256 or Ed25519)".into());
    }
    Ok(ring)
}
