//! Bearer-token authentication: a JWT verified against the configured public key becomes a
//! [`BankContext`]. The algorithm is fixed by the key's type (read from the PEM's algorithm
//! identifier), so `alg: none`, HMAC and any algorithm not matching the key are rejected.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use payscope_core::bank::{BankContext, BankId, Caller, Role, Roles};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;
/// Longer `Authorization` headers are rejected before any parsing.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The family of the configured public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA: RS256, RS384, RS512, PS256.
    Rsa,
    /// EC P-256: ES256.
    EcP256,
    /// Ed25519: EdDSA.
    Ed25519,
}

impl KeyType {
    /// The algorithms a token may use with this key.
    pub fn algorithms(self) -> Vec<Algorithm> {
        match self {
            KeyType::Rsa => vec![Algorithm::RS256, Algorithm::RS384, Algorithm::RS512, Algorithm::PS256],
            KeyType::EcP256 => vec![Algorithm::ES256],
            KeyType::Ed25519 => vec![Algorithm::EdDSA],
        }
    }
}

// DER encodings of the algorithm identifiers in a SubjectPublicKeyInfo.
const OID_RSA: &[u8] = &[0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2B, 0x65, 0x70];

/// Reads the key type from PEM text: `RSA PUBLIC KEY` (PKCS#1) or a `PUBLIC KEY`
/// (SubjectPublicKeyInfo) whose algorithm identifier names RSA, EC P-256 or Ed25519.
pub fn key_type(pem: &str) -> Result<KeyType, String> {
    let begin = pem.find("-----BEGIN ").ok_or("is not PEM text (no -----BEGIN line)")?;
    let rest = &pem[begin + 11..];
    let label_end = rest.find("-----").ok_or("has a malformed -----BEGIN line")?;
    let label = &rest[..label_end];
    let body_and_end = &rest[label_end + 5..];
    let end = body_and_end.find("-----END").ok_or("has no -----END line")?;
    let body: String = body_and_end[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "has a body that is not valid base64".to_owned())?;
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    match label {
        "RSA PUBLIC KEY" => Ok(KeyType::Rsa),
        "PUBLIC KEY" if has(OID_RSA) => Ok(KeyType::Rsa),
        "PUBLIC KEY" if has(OID_EC_PUBLIC_KEY) && has(OID_P256) => Ok(KeyType::EcP256),
        "PUBLIC KEY" if has(OID_EC_PUBLIC_KEY) => {
            Err("is an EC key on a curve other than P-256 (only ES256 is supported)".into())
        }
        "PUBLIC KEY" if has(OID_ED25519) => Ok(KeyType::Ed25519),
        "PUBLIC KEY" => Err("is a public key of an unsupported type (use RSA, EC P-256 or Ed25519)".into()),
        l if l.contains("PRIVATE") => Err(format!("is a private key ({l}); configure the public key")),
        l => Err(format!("holds a {l}, not a public key")),
    }
}

/// Verifies tokens.
#[derive(Clone)]
pub struct Authenticator {
    key: DecodingKey,
    key_type: KeyType,
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
}

/// Remembered tokens; the map is simply cleared when full.
const VERIFIED_CAPACITY: usize = 10_000;

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("key_type", &self.key_type).finish_non_exhaustive()
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
    /// An authenticator for the PEM public key; `issuer`/`audience` are checked when given.
    /// The error says what is wrong with the key (the caller names the variable).
    pub fn from_pem(pem: &str, issuer: Option<&str>, audience: Option<&str>) -> Result<Self, String> {
        let key_type = key_type(pem)?;
        let bytes = pem.as_bytes();
        let key = match key_type {
            KeyType::Rsa => DecodingKey::from_rsa_pem(bytes),
            KeyType::EcP256 => DecodingKey::from_ec_pem(bytes),
            KeyType::Ed25519 => DecodingKey::from_ed_pem(bytes),
        }
        .map_err(|e| format!("cannot be read as a {key_type:?} public key: {e}"))?;
        let algorithms = key_type.algorithms();
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
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
        Ok(Authenticator { key, key_type, validation, verified: Arc::default() })
    }

    /// The configured key's type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The caller's context from the request headers, or the 401/403 to answer with.
    pub fn authenticate(&self, headers: &HeaderMap, request_id: &str) -> Result<BankContext, ApiError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "missing_token",
                "an `Authorization: Bearer <token>` header is required",
            ));
        };
        if value.len() > MAX_TOKEN_BYTES {
            return Err(invalid("the token is too long"));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("the Authorization header must be `Bearer <token>`"))?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = jsonwebtoken::get_current_timestamp();
        let remembered = self.verified.lock().unwrap_or_else(|e| e.into_inner()).get(&digest).cloned();
        let verified = match remembered {
            // The same rules, with the same leeway, as `jsonwebtoken`'s validation.
            Some(v) if now > v.exp.saturating_add(LEEWAY_SECS) => return Err(expired()),
            Some(v) if v.nbf > now.saturating_add(LEEWAY_SECS) => return Err(not_yet_valid()),
            Some(v) => v,
            None => {
                let v = self.verify(token)?;
                let mut map = self.verified.lock().unwrap_or_else(|e| e.into_inner());
                if map.len() >= VERIFIED_CAPACITY {
                    map.clear();
                }
                map.insert(digest, v.clone());
                v
            }
        };
        if let Some(asked) = headers.get("x-bank-id") {
            let same =
                asked.to_str().ok().and_then(|v| v.trim().parse::<BankId>().ok()) == Some(verified.bank_id);
            if !same {
                return Err(ApiError::new(
                    http::StatusCode::FORBIDDEN,
                    "bank_id_mismatch",
                    "X-Bank-Id does not match the bank of the token",
                ));
            }
        }
        let span = tracing::Span::current();
        span.record("bank_id", tracing::field::display(verified.bank_id));
        span.record("subject", verified.caller.subject.as_str());
        Ok(BankContext::from_verified_claims(verified.bank_id, verified.roles, Some(request_id.to_owned()))
            .with_caller(verified.caller))
    }

    /// Checks the signature and claims of a token.
    fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
                JwtErrorKind::ExpiredSignature => expired(),
                JwtErrorKind::ImmatureSignature => not_yet_valid(),
                JwtErrorKind::InvalidAlgorithm => invalid(format!(
                    "the token's algorithm does not match the server's {:?} key",
                    self.key_type
                )),
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
        Ok(Verified { bank_id, roles, caller, exp: claims.exp, nbf: claims.nbf })
    }
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
