//! The auth attack suite: every way a token can be wrong gets exactly its 401 or 403, never
//! a 500 and never data. Plus each supported key type (RSA PKCS#8 and PKCS#1, EC P-256,
//! Ed25519) accepting its own algorithm only.

use base64::Engine as _;
use jsonwebtoken::Algorithm;
use payscope_core::bank::BankId;
use payscope_http::auth::{key_type, KeyType};
use payscope_http::Authenticator;
use serde_json::json;

use crate::support::{claims, key, now, Options, Server, Signer};

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

fn bank() -> BankId {
    "4d7f3c8e-1b2a-4e5f-9a0b-1c2d3e4f5a6b".parse().unwrap()
}

/// `GET /reports` with an Authorization header value (or none); returns status and code.
async fn attempt(server: &Server, authorization: Option<String>) -> (u16, String) {
    let mut request = server.get("/reports", None);
    if let Some(a) = authorization {
        request = request.header("authorization", a);
    }
    let (status, headers, body) = server.call("/reports", request).await;
    if status == 401 {
        assert_eq!(headers.get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    }
    (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
}

#[tokio::test]
async fn every_bad_token_is_refused_with_the_right_status() {
    let server = Server::start_with(Options {
        issuer: Some("https://idp.example"),
        audience: Some("payscope"),
        ..Options::default()
    })
    .await;
    let signer = Signer::rsa();
    let good = json!({"sub": "u", "bank_id": bank(), "roles": ["analyst"], "exp": now() + 600,
                      "iss": "https://idp.example", "aud": "payscope"});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let bearer = |t: String| Some(format!("Bearer {t}"));
    assert_eq!(attempt(&server, bearer(signer.sign(&good))).await.0, 200);

    // alg: none, with and without a signature part.
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(good.to_string().as_bytes());
    let hs256 = {
        // HS256 signed with the server's public key as the secret (the classic confusion).
        let key = jsonwebtoken::EncodingKey::from_secret(key("rsa_public.pem").as_bytes());
        jsonwebtoken::encode(&jsonwebtoken::Header::new(Algorithm::HS256), &good, &key).unwrap()
    };
    let tampered = {
        let t = signer.sign(&good);
        let parts: Vec<&str> = t.split('.').collect();
        let evil = b64(with("bank_id", json!("11111111-2222-3333-4444-555555555555")).to_string().as_bytes());
        format!("{}.{}.{}", parts[0], evil, parts[2])
    };
    let cases: Vec<(&str, Option<String>, u16, &str)> = vec![
        ("no header", None, 401, "missing_token"),
        ("empty bearer", Some("Bearer ".into()), 401, "invalid_token"),
        ("basic auth", Some("Basic dXNlcjpwYXNz".into()), 401, "invalid_token"),
        ("alg none", bearer(format!("{header}.{payload}.")), 401, "invalid_token"),
        ("alg none, no signature", bearer(format!("{header}.{payload}")), 401, "invalid_token"),
        ("HS256 with the public key", bearer(hs256), 401, "invalid_token"),
        ("wrong key", bearer(Signer::other_rsa().sign(&good)), 401, "invalid_token"),
        ("tampered payload", bearer(tampered), 401, "invalid_token"),
        ("expired", bearer(signer.sign(&with("exp", json!(now() - 3600)))), 401, "token_expired"),
        ("nbf in the future", bearer(signer.sign(&with("nbf", json!(now() + 3600)))), 401, "invalid_token"),
        ("no exp", bearer(signer.sign(&without("exp"))), 401, "invalid_token"),
        ("wrong iss", bearer(signer.sign(&with("iss", json!("https://evil.example")))), 401, "invalid_token"),
        ("no iss", bearer(signer.sign(&without("iss"))), 401, "invalid_token"),
        ("wrong aud", bearer(signer.sign(&with("aud", json!("other-api")))), 401, "invalid_token"),
        ("no bank_id", bearer(signer.sign(&without("bank_id"))), 401, "invalid_token"),
        ("non-UUID bank_id", bearer(signer.sign(&with("bank_id", json!("bank-1")))), 401, "invalid_token"),
        ("numeric bank_id", bearer(signer.sign(&with("bank_id", json!(42)))), 401, "invalid_token"),
        ("no sub", bearer(signer.sign(&without("sub"))), 401, "invalid_token"),
        ("ES256 header on an RSA key", bearer(Signer::ec().sign(&good)), 401, "invalid_token"),
        ("garbage", bearer("not.a.token".into()), 401, "invalid_token"),
        ("binary garbage", bearer(b64(&[0xff; 300])), 401, "invalid_token"),
        ("64 KiB token", bearer("a".repeat(64 * 1024)), 401, "invalid_token"),
        ("no roles", bearer(signer.sign(&without("roles"))), 403, "forbidden"),
    ];
    for (name, authorization, status, code) in cases {
        assert_eq!(attempt(&server, authorization).await, (status, code.to_owned()), "{name}");
    }
    // A verified token is remembered, but its expiry still holds: one inside the 30 s leeway
    // is accepted, then refused once the leeway has passed.
    let expiring = bearer(signer.sign(&with("exp", json!(now() - 28))));
    assert_eq!(attempt(&server, expiring.clone()).await.0, 200);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(attempt(&server, expiring).await, (401, "token_expired".to_owned()));
    // A PS256 token from the RSA key is one of the accepted RSA algorithms.
    assert_eq!(attempt(&server, bearer(Signer::rsa().with_alg(Algorithm::PS256).sign(&good))).await.0, 200);
    server.stop().await;
}

#[tokio::test]
async fn each_key_type_accepts_its_own_algorithm_only() {
    for (public, signer, other) in [
        ("ec_public.pem", Signer::ec(), Signer::rsa()),
        ("ed_public.pem", Signer::ed(), Signer::ec()),
        ("rsa_public_pkcs1.pem", Signer::rsa(), Signer::ed()),
    ] {
        let server = Server::start_with(Options { public_key: key(public), ..Options::default() }).await;
        let c = claims(bank(), &["analyst"]);
        assert_eq!(attempt(&server, Some(format!("Bearer {}", signer.sign(&c)))).await.0, 200, "{public}");
        assert_eq!(
            attempt(&server, Some(format!("Bearer {}", other.sign(&c)))).await,
            (401, "invalid_token".to_owned()),
            "{public}"
        );
        server.stop().await;
    }
}

#[test]
fn key_types_are_read_from_the_pem() {
    assert_eq!(key_type(&key("rsa_public.pem")), Ok(KeyType::Rsa));
    assert_eq!(key_type(&key("rsa_public_pkcs1.pem")), Ok(KeyType::Rsa));
    assert_eq!(key_type(&key("ec_public.pem")), Ok(KeyType::EcP256));
    assert_eq!(key_type(&key("ed_public.pem")), Ok(KeyType::Ed25519));
    assert!(key_type(&key("ec384_public.pem")).unwrap_err().contains("P-256"));
    assert!(key_type(&key("rsa_private.pem")).unwrap_err().contains("private key"));
    assert!(key_type("hello").unwrap_err().contains("not PEM"));
    assert!(Authenticator::from_pem(
        "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n",
        None,
        None
    )
    .is_err());
}

#[tokio::test]
async fn garbage_and_oversized_requests_never_reach_a_500() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = Server::start().await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    for raw in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET /reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        stream.write_all(raw).await.unwrap();
        let mut response = Vec::new();
        let _ =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut response)).await;
        let text = String::from_utf8_lossy(&response);
        let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        assert!(status == 0 || (400..500).contains(&status), "{raw:?} → {text}");
    }
    // Headers past the limit are refused by the HTTP layer (431), not by a crash.
    let big = "x".repeat(200 * 1024);
    let r = server.client.get(server.url("/health")).header("x-big", big).send().await;
    if let Ok(r) = r {
        assert_eq!(r.status().as_u16(), 431);
    }
    server.stop().await;
}

/// An identity provider's key set served over HTTP by the test: its body and status can be
/// changed mid-run, and it counts the reads.
struct KeySetServer {
    url: String,
    state: std::sync::Arc<std::sync::Mutex<(u16, String)>>,
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl KeySetServer {
    async fn start(body: String) -> KeySetServer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
        let state = std::sync::Arc::new(std::sync::Mutex::new((200, body)));
        let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (s, r) = (state.clone(), reads.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let mut buf = vec![0; 4096];
                let _ = socket.read(&mut buf).await;
                r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let (status, body) = s.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        KeySetServer { url, state, reads }
    }

    fn serve(&self, status: u16, body: String) {
        *self.state.lock().unwrap() = (status, body);
    }

    fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// The JWK of a test key: Ed25519 (`kty: OKP`) or EC P-256, from its SubjectPublicKeyInfo
/// (the raw key is at the end of the DER).
fn jwk(pem_file: &str, kid: &str) -> serde_json::Value {
    let pem = key(pem_file);
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    if pem_file.starts_with("ed") {
        json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&der[der.len() - 32..]), "kid": kid, "use": "sig"})
    } else {
        let point = &der[der.len() - 64..];
        json!({"kty": "EC", "crv": "P-256", "x": b64(&point[..32]), "y": b64(&point[32..]), "kid": kid, "alg": "ES256"})
    }
}

fn key_set(keys: &[serde_json::Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// Keys from a JWKS URL: each token's key chosen by `kid`; a key rotated in is found by reading
/// the set again (once, however many unknown key ids arrive); a key removed is refused once the
/// set is read again; a provider that fails keeps the keys it gave (stale if error); the
/// algorithm stays the key's. The same from a key set file.
#[tokio::test]
async fn keys_come_from_the_identity_providers_key_set_and_rotate() {
    let (ed, ec) = (jwk("ed_public.pem", "2026-ed"), jwk("ec_public.pem", "2026-ec"));
    // The provider also publishes an encryption key and a shared secret: both left out.
    let enc = json!({"kty": "EC", "crv": "P-256", "x": ec["x"], "y": ec["y"], "kid": "enc", "use": "enc"});
    let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
    let idp = KeySetServer::start(key_set(&[ed.clone(), enc, oct])).await;
    let refresh = std::time::Duration::from_millis(600);
    let auth = Authenticator::from_jwks(
        payscope_http::auth::JwksSource::Url(idp.url.clone()),
        refresh,
        Some("https://idp.example"),
        Some("payscope"),
    )
    .await
    .unwrap();
    let server = Server::start_with(Options { auth: Some(auth), ..Options::default() }).await;
    let claims = json!({"sub": "ana", "bank_id": bank(), "roles": ["analyst"], "iss": "https://idp.example", "aud": "payscope", "exp": now() + 600});
    let with = |signer: &Signer, kid: &str| Some(format!("Bearer {}", signer.sign_with_kid(&claims, kid)));
    let ok = (200, String::new());
    assert_eq!(attempt(&server, with(&Signer::ed(), "2026-ed")).await, ok);
    let unnamed = Some(format!("Bearer {}", Signer::ed().sign(&claims)));
    assert_eq!(attempt(&server, unnamed.clone()).await, ok, "no kid: the set's only signing key");
    // Not yet published: refused, whatever the key id.
    let (status, code) = attempt(&server, with(&Signer::ec(), "2026-ec")).await;
    assert_eq!((status, code.as_str()), (401, "invalid_token"));
    assert_eq!(attempt(&server, with(&Signer::ec(), "hmac")).await.0, 401);

    // Rotation: the provider adds the EC key; the unknown kid makes PayScope read the set.
    tokio::time::sleep(refresh).await;
    idp.serve(200, key_set(&[ed.clone(), ec.clone()]));
    assert_eq!(attempt(&server, with(&Signer::ec(), "2026-ec")).await, ok);
    assert_eq!(attempt(&server, unnamed).await.0, 401, "two keys: a token must name its key");
    // Made-up key ids do not make it read the set on every request.
    let before = idp.reads();
    for i in 0..20 {
        assert_eq!(attempt(&server, with(&Signer::ec(), &format!("made-up-{i}"))).await.0, 401);
    }
    assert!(idp.reads() - before <= 1, "{} reads for 20 unknown key ids", idp.reads() - before);
    // The algorithm is the key's: an Ed25519 signature under the EC key's id is refused.
    assert_eq!(attempt(&server, with(&Signer::ed(), "2026-ec")).await.0, 401);

    // The Ed25519 key is removed: once the set is read again, its tokens are refused, even
    // one verified a moment ago.
    idp.serve(200, key_set(std::slice::from_ref(&ec)));
    tokio::time::sleep(refresh + std::time::Duration::from_millis(100)).await;
    assert_eq!(attempt(&server, with(&Signer::ed(), "2026-ed")).await.0, 401);
    assert_eq!(attempt(&server, with(&Signer::ec(), "2026-ec")).await, ok);

    // The provider fails: the keys read before stay in use.
    idp.serve(500, "oops".into());
    tokio::time::sleep(refresh + std::time::Duration::from_millis(100)).await;
    assert_eq!(attempt(&server, with(&Signer::ec(), "2026-ec")).await, ok);
    server.stop().await;

    // A key set file, read again when it changes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, key_set(std::slice::from_ref(&ed))).unwrap();
    let auth =
        Authenticator::from_jwks(payscope_http::auth::JwksSource::File(file.clone()), refresh, None, None)
            .await
            .unwrap();
    let server = Server::start_with(Options { auth: Some(auth), ..Options::default() }).await;
    assert_eq!(attempt(&server, with(&Signer::ed(), "2026-ed")).await, ok);
    std::fs::write(&file, key_set(&[ec])).unwrap();
    tokio::time::sleep(refresh + std::time::Duration::from_millis(100)).await;
    assert_eq!(attempt(&server, with(&Signer::ec(), "2026-ec")).await, ok);
    assert_eq!(attempt(&server, with(&Signer::ed(), "2026-ed")).await.0, 401);
    server.stop().await;

    // A set that cannot be read, or has no usable key, is refused at start-up, naming the variable.
    idp.serve(200, key_set(&[json!({"kty": "oct", "k": "c2VjcmV0"})]));
    let e =
        Authenticator::from_jwks(payscope_http::auth::JwksSource::Url(idp.url.clone()), refresh, None, None)
            .await
            .unwrap_err();
    assert!(e.starts_with("JWT_JWKS_URL: ") && e.contains("no public signing key"), "{e}");
    let e = Authenticator::from_jwks(
        payscope_http::auth::JwksSource::File(dir.path().join("nope.json")),
        refresh,
        None,
        None,
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("JWT_JWKS_FILE: cannot read"), "{e}");
}
