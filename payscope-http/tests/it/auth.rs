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
