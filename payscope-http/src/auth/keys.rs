//! Verification keys: a PEM public key, or a JSON Web Key from an identity provider's key set.
//! The algorithms a token may use are fixed by the key (its type, narrowed by a JWK's `alg`),
//! never by the token: `alg: none`, HMAC and any algorithm not matching the key are refused.

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

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

/// A key tokens are verified with.
#[derive(Clone)]
pub struct Key {
    pub(super) decoding: DecodingKey,
    /// Its family.
    pub kind: KeyType,
    /// The algorithms a token may use with it.
    pub algorithms: Vec<Algorithm>,
}

impl Key {
    /// The key of PEM text; the error says what is wrong with it.
    pub fn from_pem(pem: &str) -> Result<Key, String> {
        let kind = key_type(pem)?;
        let bytes = pem.as_bytes();
        let decoding = match kind {
            KeyType::Rsa => DecodingKey::from_rsa_pem(bytes),
            KeyType::EcP256 => DecodingKey::from_ec_pem(bytes),
            KeyType::Ed25519 => DecodingKey::from_ed_pem(bytes),
        }
        .map_err(|e| format!("cannot be read as a {kind:?} public key: {e}"))?;
        Ok(Key { decoding, kind, algorithms: kind.algorithms() })
    }

    /// The key of a JSON Web Key: a public signing key (RSA, EC P-256 or Ed25519); its `alg`,
    /// when given, is the only algorithm accepted with it.
    pub fn from_jwk(jwk: &Jwk) -> Result<Key, String> {
        if jwk.common.public_key_use == Some(PublicKeyUse::Encryption) {
            return Err("is an encryption key (`use: enc`)".into());
        }
        let kind = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => KeyType::Rsa,
            AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => KeyType::EcP256,
            AlgorithmParameters::EllipticCurve(p) => {
                return Err(format!("is an EC key on {:?} (only P-256, ES256, is supported)", p.curve))
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => KeyType::Ed25519,
            AlgorithmParameters::OctetKeyPair(p) => {
                return Err(format!("is an OKP key on {:?} (only Ed25519)", p.curve))
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err("is a shared secret (`kty: oct`); only public keys verify tokens here".into())
            }
        };
        let mut algorithms = kind.algorithms();
        if let Some(alg) = jwk.common.key_algorithm {
            let named = algorithm(alg).filter(|a| algorithms.contains(a));
            let named = named.ok_or_else(|| {
                format!("names `alg` {alg:?}, which a {kind:?} key does not sign with here")
            })?;
            algorithms = vec![named];
        }
        let decoding =
            DecodingKey::from_jwk(jwk).map_err(|e| format!("cannot be read as a {kind:?} key: {e}"))?;
        Ok(Key { decoding, kind, algorithms })
    }
}

/// The signing algorithm a JWK's `alg` names, if it is one.
fn algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
