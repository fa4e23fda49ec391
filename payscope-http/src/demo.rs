//! `payscope-http --demo`: embedded stores in a temporary data directory, an ephemeral
//! Ed25519 signing key, two demo banks with 90 days of generated multi-stage data ending
//! today (loaded through the real ingestion path), and ready-to-paste `curl` commands with
//! valid tokens for both banks.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use payscope_core::bank::{BankContext, BankId, Role};
use payscope_core::calendar::Timestamp;
use payscope_core::facts::{ReportOptions, ReportStatus, Stage};
use payscope_core::synth::files::{file_name, report_type, write_report, Layout};
use payscope_core::synth::{self, SynthConfig};
use payscope_core::{Engine, EngineOptions};
use ring::signature::KeyPair;

use crate::auth::Authenticator;

/// How long demo tokens stay valid.
const TOKEN_HOURS: i64 = 24;

/// A demo bank and a token for it.
#[derive(Debug, Clone)]
pub struct DemoBank {
    /// Display name.
    pub name: &'static str,
    /// The bank id.
    pub bank_id: BankId,
    /// A token with the analyst and auditor roles.
    pub token: String,
}

/// A ready demo: the engine, its authenticator and the banks.
pub struct Demo {
    /// The engine with both banks' data loaded.
    pub engine: Engine,
    /// Verifies the demo tokens.
    pub auth: Authenticator,
    /// The two banks.
    pub banks: Vec<DemoBank>,
    /// A report held back from Demo Bank A for the upload step of the tour.
    pub upload_file: PathBuf,
    /// The temporary data directory (deleted on drop).
    pub data_dir: tempfile::TempDir,
}

/// A fresh Ed25519 key pair: the PKCS#8 private key (DER) and the public key as PEM.
pub fn ed25519_key_pair() -> Result<(Vec<u8>, String), String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "key generation failed")?;
    let pair =
        ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "key generation failed")?;
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410): fixed prefix + the 32-byte key.
    let mut spki = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    spki.extend_from_slice(pair.public_key().as_ref());
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(spki)
    );
    Ok((pkcs8.as_ref().to_vec(), pem))
}

/// Signs a token for `bank_id` with `roles`, valid for `hours`.
pub fn mint_token(
    pkcs8: &[u8],
    sub: &str,
    bank_id: BankId,
    roles: &[&str],
    hours: i64,
) -> Result<String, String> {
    let now = Timestamp::now().0 / 1000;
    let claims = serde_json::json!({
        "sub": sub,
        "bank_id": bank_id,
        "roles": roles,
        "iat": now,
        "exp": now + hours * 3600,
    });
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &EncodingKey::from_ed_der(pkcs8))
        .map_err(|e| format!("cannot sign a demo token: {e}"))
}

/// Builds the demo: generates and ingests the data (a few seconds).
pub async fn prepare(options: EngineOptions) -> Result<Demo, String> {
    let started = Instant::now();
    let data_dir = tempfile::Builder::new().prefix("payscope-demo-").tempdir().map_err(|e| e.to_string())?;
    let engine = Engine::embedded(data_dir.path(), None, options).await.map_err(|e| e.to_string())?;
    let (pkcs8, public_pem) = ed25519_key_pair()?;
    let auth = Authenticator::from_pem(&public_pem, None, None)?;
    let today = Timestamp::now().date();
    let cfg = SynthConfig {
        seed: 2026,
        banks: 2,
        days: 90,
        end: today,
        auths_per_day: 2_000,
        merchants: 600,
        cards: 30_000,
        incident: true,
    };
    let generated = synth::generate(&cfg);
    let uploads = data_dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).map_err(|e| e.to_string())?;
    let mut upload_file = PathBuf::new();
    let mut banks = Vec::new();
    let mut facts = 0;
    for (bank, name) in generated.iter().zip(["Demo Bank A", "Demo Bank B"]) {
        let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
        let key = payscope_core::ingest::pan::PanKey::new([0; 32]); // only shapes card numbers in the files
        for stage in Stage::ALL {
            let mut bytes = Vec::new();
            write_report(bank, stage, Layout::NetworkCsv, &key, &mut bytes).map_err(|e| e.to_string())?;
            // Demo Bank A's refunds are left for the tour's upload step.
            if banks.is_empty() && stage == Stage::Refund {
                upload_file = uploads.join(file_name(stage, Layout::NetworkCsv));
                std::fs::write(&upload_file, &bytes).map_err(|e| e.to_string())?;
                continue;
            }
            let options = ReportOptions {
                report_type: report_type(stage),
                filename: Some(file_name(stage, Layout::NetworkCsv)),
                ..ReportOptions::default()
            };
            let report = engine.ingest(&ctx, bytes, options).await.map_err(|e| e.to_string())?;
            if report.status != ReportStatus::Completed {
                return Err(format!(
                    "the demo {stage} report of {name} did not load: {:?}",
                    report.errors.first()
                ));
            }
            facts += report.facts_loaded;
        }
        let token = mint_token(&pkcs8, "demo-analyst", bank.bank_id, &["analyst", "auditor"], TOKEN_HOURS)?;
        banks.push(DemoBank { name, bank_id: bank.bank_id, token });
    }
    tracing::info!(facts, seconds = started.elapsed().as_secs_f64(), "demo data loaded");
    Ok(Demo { engine, auth, banks, upload_file, data_dir })
}

impl Demo {
    /// The tour: exported tokens and curl commands, for a server on `addr`.
    pub fn instructions(&self, addr: SocketAddr) -> String {
        let host =
            if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
        let mut out = format!(
            "\nPayScope demo is running on http://{host} (embedded stores in {}; deleted on exit).\n\
             Two banks with 90 days of generated reports ending today. Tokens are valid for {TOKEN_HOURS} h.\n\n",
            self.data_dir.path().display()
        );
        out.push_str(&format!("export PAYSCOPE=http://{host}\n"));
        for (bank, var) in self.banks.iter().zip(["TOKEN_A", "TOKEN_B"]) {
            out.push_str(&format!("export {var}='{}'   # {} ({})\n", bank.token, bank.name, bank.bank_id));
        }
        let ask = |token: &str, q: &str| {
            format!(
                "curl -s $PAYSCOPE/chat/query -H \"Authorization: Bearer ${token}\" -H 'Content-Type: application/json' -d '{{\"query\": \"{q}\"}}'\n"
            )
        };
        out.push_str("\n# health\ncurl -s $PAYSCOPE/health/ready\n");
        out.push_str(&format!(
            "\n# upload Demo Bank A's refunds report and wait for it to load\n\
             curl -s -X POST \"$PAYSCOPE/reports?report_type=refund&wait=true\" -H \"Authorization: Bearer $TOKEN_A\" \
             -H 'Content-Type: text/csv' --data-binary @{}\n",
            self.upload_file.display()
        ));
        out.push_str("\n# ask questions\n");
        for q in [
            "What is the transaction volume?",
            "Approval rate for Visa last week",
            "Which merchants have the highest chargebacks?",
            "Why did settlement amounts drop last week?",
            "What is the forecast for next month?",
        ] {
            out.push_str(&ask("TOKEN_A", q));
        }
        out.push_str("\n# the same question for the other bank: its own numbers only\n");
        out.push_str(&ask("TOKEN_B", "What is the transaction volume?"));
        out.push_str(
            "\n# audit: verify Demo Bank A's answer hash chain, list its reports\n\
             curl -s $PAYSCOPE/audit/verify -H \"Authorization: Bearer $TOKEN_A\"\n\
             curl -s \"$PAYSCOPE/reports?limit=3\" -H \"Authorization: Bearer $TOKEN_A\"\n",
        );
        out
    }
}
