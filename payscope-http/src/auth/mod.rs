//! Bearer-token authentication: a JWT verified against the configured keys becomes a
//! [`BankContext`]. Keys are one PEM public key (`JWT_PUBLIC_KEY`) or an identity provider's
//! key set (`JWT_JWKS_URL`, `JWT_JWKS_FILE`), a token's key chosen by its `kid`; the algorithm
//! is fixed by the key ([`keys`]), so `alg: none`, HMAC and any algorithm not matching the key
//! are rejected.

pub mod jwks;
pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::Validation;
use payscope_core::bank::{BankContext, BankId, Caller, Role, Roles};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
pub use jwks::{Jwks, JwksSource};
pub use keys::{key_type, Key, KeyType};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;
/// Longer `Authorization` headers are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Where the keys come from.
#[derive(Clone)]
enum Keys {
    /// One key for every token.
    Pem(Key),
    /// An identity provider's key set.
    Jwks(Arc<Jwks>),
}

/// Verifies tokens.
#[derive(Clone)]
pub struct Authenticator {
    keys: Keys,
    validation: Validation,
    verified: Arc<Mutex<HashMap<[u8; 32], Verified>>>,
}

/// A token that passed verification, remembered so the signature is not checked again on
/// every request (a signature check costs more than the rest of a cached answer). Keyed by
/// the SHA-256 of the exact token; `exp` and `nbf` are still checked on every use.
#[derive(Clone)]
struct Verified {
    bank_id: BankId,
    roles: Roles,
    caller: Arc<Caller>,
    exp: u64,
    nbf: u64,
    /// The generation of the keys it was verified with.
    generation: u64,
}

/// Remembered tokens; the map is simply cleared when full.
const VERIFIED_CAPACITY: usize = 10_000;

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys = match &self.keys {
            Keys::Pem(key) => format!("{:?} key", key.kind),
            Keys::Jwks(_) => "key set".to_owned(),
        };
        f.debug_struct("Authenticator").field("keys", &keys).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: u64,
    #[serde(default)]
    nbf: u64,
    bank_id: String,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    jti: Option<String>,
}

impl Authenticator {
    /// An authenticator for one PEM public key; `issuer`/`audience` are checked when given.
    /// The error says what is wrong with the key (the caller names the variable).
    pub fn from_pem(pem: &str, issuer: Option<&str>, audience: Option<&str>) -> Result<Self, String> {
        Ok(Authenticator::new(Keys::Pem(Key::from_pem(pem)?), issuer, audience))
    }

    /// An authenticator for an identity provider's key set, read now and again as
    /// [`jwks`] describes.
    pub async fn from_jwks(
        source: JwksSource,
        refresh: std::time::Duration,
        issuer: Option<&str>,
        audience: Option<&str>,
    ) -> Result<Self, String> {
        let set = Jwks::load(source, refresh).await?;
        Ok(Authenticator::new(Keys::Jwks(Arc::new(set)), issuer, audience))
    }

    fn new(keys: Keys, issuer: Option<&str>, audience: Option<&str>) -> Self {
        // The algorithms are the chosen key's, set for each token.
        let mut validation = Validation::default();
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // A configured issuer or audience must be present in the token, not just match if present.
        let mut required = vec!["exp", "sub"];
        match issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Authenticator { keys, validation, verified: Arc::default() }
    }

    /// The generation of the keys (a PEM key's never changes), after reading a key set again
    /// when that is due.
    async fn generation(&self) -> u64 {
        match &self.keys {
            Keys::Pem(_) => 0,
            Keys::Jwks(set) => set.current().await,
        }
    }

    /// The key for a token whose header names `kid`, and its generation.
    async fn key(&self, kid: Option<&str>) -> Result<(Key, u64), ApiError> {
        match &self.keys {
            Keys::Pem(key) => Ok((key.clone(), 0)),
            Keys::Jwks(set) => set.key(kid).await.map_err(invalid),
        }
    }

    /// The caller's context from the request headers, or the 401/403 to answer with.
    pub async fn authenticate(&self, headers: &HeaderMap, request_id: &str) -> Result<BankContext, ApiError> {
        let token = bearer(headers)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        let generation = self.generation().await;
        let remembered = self.verified.lock().unwrap_or_else(|e| e.into_inner()).get(&digest).cloned();
        let verified = match remembered {
            // The same rules, with the same leeway, as `jsonwebtoken`'s validation.
            Some(v) if now > v.exp.saturating_add(LEEWAY_SECS) => return Err(expired()),
            Some(v) if v.nbf > now.saturating_add(LEEWAY_SECS) => return Err(not_yet_valid()),
            // Verified with the keys as they are: a key removed since is not trusted.
            Some(v) if v.generation == generation => v,
            _ => {
                let v = self.verify(token).await?;
                let mut map = self.verified.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() >= VERIFIED_CAPACITY {
                    map.clear();
                }
                map.insert(digest, v.clone());
                v
            }
        };
        same_bank(headers, verified.bank_id)?;
        let span = tracing::Span::current();
        span.record("bank_id", tracing::field::display(verified.bank_id));
        span.record("subject", verified.caller.subject.as_str());
        Ok(BankContext::from_verified_claims(verified.bank_id, verified.roles, Some(request_id.to_owned()))
            .with_caller(verified.caller))
    }

    /// Checks the signature and claims of a token with the key its header names.
    async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("the token is malformed"))?;
        let (key, generation) = self.key(header.kid.as_deref()).await?;
        let mut validation = self.validation.clone();
        validation.algorithms = key.algorithms.clone();
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::ExpiredSignature => expired(),
                JwtErrorKind::ImmatureSignature => not_yet_valid(),
                JwtErrorKind::InvalidAlgorithm => {
                    invalid(format!("the token's algorithm does not match the server's {:?} key", key.kind))
                }
                JwtErrorKind::InvalidSignature => invalid("the token's signature does not verify"),
                JwtErrorKind::InvalidIssuer => invalid("the token's issuer (iss) is not accepted"),
                JwtErrorKind::InvalidAudience => invalid("the token's audience (aud) is not accepted"),
                JwtErrorKind::MissingRequiredClaim(c) => invalid(format!("the token has no `{c}` claim")),
                JwtErrorKind::Json(_) => {
                    invalid("the token's claims are malformed (`sub` and `bank_id` are required strings)")
                }
                _ => invalid("the token is malformed"),
            })?
            .claims;
        if claims.sub.is_empty() {
            return Err(invalid("the token's `sub` claim is empty"));
        }
        let bank_id: BankId =
            claims.bank_id.parse().map_err(|_| invalid("the token's `bank_id` claim is not a UUID"))?;
        let names = claims.roles.unwrap_or_default().into_iter().chain(claims.role);
        let roles = Roles::from_roles(names.filter_map(|r| Role::parse(&r)));
        let caller = Arc::new(Caller { subject: claims.sub, token_id: claims.jti });
        Ok(Verified { bank_id, roles, caller, exp: claims.exp, nbf: claims.nbf, generation })
    }
}

/// The bearer token of the request.
fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing_token",
            "an `Authorization: Bearer <token>` header is required",
        ));
    };
    if value.len() > MAX_TOKEN_BYTES {
        return Err(invalid("the token is too long"));
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("the Authorization header must be `Bearer <token>`"))
}

/// An `X-Bank-Id` header, when sent, must name the token's bank.
fn same_bank(headers: &HeaderMap, bank: BankId) -> Result<(), ApiError> {
    let Some(asked) = headers.get("x-bank-id") else { return Ok(()) };
    if asked.to_str().ok().and_then(|v| v.trim().parse::<BankId>().ok()) == Some(bank) {
        return Ok(());
    }
    Err(ApiError::new(
        http::StatusCode::FORBIDDEN,
        "bank_id_mismatch",
        "X-Bank-Id does not match the bank of the token",
    ))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::unauthorized("invalid_token", message)
}

fn expired() -> ApiError {
    ApiError::unauthorized("token_expired", "the token has expired")
}

fn not_yet_valid() -> ApiError {
    invalid("the token is not valid yet (nbf)")
}
