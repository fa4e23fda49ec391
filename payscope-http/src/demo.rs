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
use payscope_core::synth::files::{file_name, report_type, write_report_where, Layout};
use payscope_core::synth::network::{in_network_file, write_base2, write_ipm};
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
    /// A token with the analyst, auditor and bank_admin roles.
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
    /// A file in a layout PayScope cannot read on its own, for the mapping step of the tour.
    pub foreign_file: PathBuf,
    /// Demo Bank B's Mastercard clearing file (IPM), held back for the tour.
    pub network_file: PathBuf,
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

/// The issuer and audience of demo tokens: the demo checks them as a deployment does.
pub const DEMO_ISSUER: &str = "payscope-demo";
/// See [`DEMO_ISSUER`].
pub const DEMO_AUDIENCE: &str = "payscope";

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
        "iss": DEMO_ISSUER,
        "aud": DEMO_AUDIENCE,
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
    let auth = Authenticator::from_pem(&public_pem, Some(DEMO_ISSUER), Some(DEMO_AUDIENCE))?;
    let today = Timestamp::now().date();
    let cfg = SynthConfig {
        seed: 2026,
        banks: 2,
        days: 90,
        end: today,
        auths_per_day: 2_000,
        merchants: 600,
        cards: 30_000,
        incidents: vec![synth::Incident::last_week_outage(today)],
    };
    let generated = synth::generate(&cfg);
    let uploads = data_dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).map_err(|e| e.to_string())?;
    let mut upload_file = PathBuf::new();
    let network_file = uploads.join("clearing.ipm");
    let mut banks = Vec::new();
    let mut facts = 0;
    for (bank, name) in generated.iter().zip(["Demo Bank A", "Demo Bank B"]) {
        let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
        let key = payscope_core::ingest::pan::PanKey::new([0; 32]); // only shapes card numbers in the files
        for stage in Stage::ALL {
            let mut bytes = Vec::new();
            // The stages the networks' clearing files carry are loaded from those below.
            write_report_where(bank, stage, Layout::NetworkCsv, &key, &mut bytes, |tx| {
                !in_network_file(bank, tx, stage)
            })
            .map_err(|e| e.to_string())?;
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
            facts += load(&engine, &ctx, bytes, options, name).await?;
        }
        // A Mastercard IPM and a Visa Base II clearing file; Demo Bank B's IPM file is held
        // back for the tour's upload step (Demo Bank A, the console's first bank, is whole).
        let (mut ipm, mut base2) = (Vec::new(), Vec::new());
        write_ipm(bank, &mut ipm).map_err(|e| e.to_string())?;
        write_base2(bank, &mut base2).map_err(|e| e.to_string())?;
        let named = |name: &str| ReportOptions { filename: Some(name.into()), ..ReportOptions::default() };
        facts += load(&engine, &ctx, base2, named("clearing.ctf"), name).await?;
        if banks.len() == 1 {
            std::fs::write(&network_file, &ipm).map_err(|e| e.to_string())?;
        } else {
            facts += load(&engine, &ctx, ipm, named("clearing.ipm"), name).await?;
        }
        let roles = ["analyst", "auditor", "bank_admin"];
        let token = mint_token(&pkcs8, "demo-analyst", bank.bank_id, &roles, TOKEN_HOURS)?;
        banks.push(DemoBank { name, bank_id: bank.bank_id, token });
    }
    tracing::info!(facts, seconds = started.elapsed().as_secs_f64(), "demo data loaded");
    let foreign_file = uploads.join("acquirer-nl.csv");
    std::fs::write(&foreign_file, foreign_layout(today)).map_err(|e| e.to_string())?;
    Ok(Demo { engine, auth, banks, upload_file, foreign_file, network_file, data_dir })
}

/// Loads one demo report; the facts it loaded.
async fn load(
    engine: &Engine,
    ctx: &BankContext,
    bytes: Vec<u8>,
    options: ReportOptions,
    bank: &str,
) -> Result<u64, String> {
    let file = options.filename.clone().unwrap_or_default();
    let report = engine.ingest(ctx, bytes, options).await.map_err(|e| e.to_string())?;
    if report.status != ReportStatus::Completed {
        return Err(format!("the demo report {file} of {bank} did not load: {:?}", report.errors.first()));
    }
    Ok(report.facts_loaded)
}

/// The header of [`foreign_layout`].
const FOREIGN_HEADER: &str = "Kenmerk;Boekingsdatum;Bedrag;Munt;Soort";

/// The mapping that reads [`foreign_layout`].
const FOREIGN_MAPPING: &str = r#"{"columns":{"transaction_id":"Kenmerk","stage":"Soort"},"kinds":{"Verkoop":"CLEARING","Terugbetaling":"REFUND","Uitbetaling":"skip"},"date_order":"dmy"}"#;

/// A Dutch acquirer's daily export, dated yesterday: neither its header nor its row types are
/// in PayScope's vocabulary, so it is the tour's file that needs a mapping.
fn foreign_layout(today: payscope_core::calendar::Date) -> String {
    let (y, m, d) = today.add_days(-1).ymd();
    let rows = [
        ("NL-0001", "09:12", "12,50", "Verkoop"),
        ("NL-0002", "10:40", "1.009,00", "Verkoop"),
        ("NL-0003", "11:05", "7,00", "Terugbetaling"),
        ("NL-0004", "16:30", "250,00", "Uitbetaling"),
        ("NL-0005", "18:45", "3,99", "Verkoop"),
    ];
    let mut out = format!("{FOREIGN_HEADER}\n");
    for (id, time, amount, kind) in rows {
        out.push_str(&format!("{id};{d:02}-{m:02}-{y} {time};{amount};EUR;{kind}\n"));
    }
    out
}

impl Demo {
    /// The banks for the console's one-click sign-in.
    pub fn sign_ins(&self) -> Vec<crate::console::DemoSignIn> {
        self.banks
            .iter()
            .map(|b| crate::console::DemoSignIn { name: b.name.to_owned(), token: b.token.clone() })
            .collect()
    }

    /// The tour: exported tokens and curl commands, for a server on `addr`.
    pub fn instructions(&self, addr: SocketAddr) -> String {
        let host =
            if addr.ip().is_unspecified() { format!("127.0.0.1:{}", addr.port()) } else { addr.to_string() };
        let mut out = format!(
            "\nPayScope demo is running on http://{host} (embedded stores in {}; deleted on exit).\n\
             Two banks with 90 days of generated reports ending today. Tokens are valid for {TOKEN_HOURS} h.\n\n",
            self.data_dir.path().display()
        );
        out.push_str(&format!(
            "# the console: open http://{host}/ in a browser and sign in as a demo bank\n"
        ));
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
        out.push_str(&format!(
            "\n# upload Demo Bank B's Mastercard clearing file (IPM: EBCDIC, 1014-byte blocks), no parameters needed\n\
             curl -s -X POST \"$PAYSCOPE/reports?wait=true\" -H \"Authorization: Bearer $TOKEN_B\" \
             -H 'Content-Type: application/octet-stream' --data-binary @{}\n",
            self.network_file.display()
        ));
        out.push_str("\n# ask questions\n");
        for q in [
            "What is the transaction volume?",
            "Approval rate for Visa last week",
            "Which merchants have the highest chargebacks?",
            "Why did the approval rate drop last week?",
            "What is the forecast for the next 30 days?",
            "Any unusual days in the decline rate last week?",
        ] {
            out.push_str(&ask("TOKEN_A", q));
        }
        out.push_str(&format!(
            "\n# a layout PayScope cannot read on its own: the preview says why (nothing is stored)\n\
             curl -s -X POST $PAYSCOPE/reports/preview -H \"Authorization: Bearer $TOKEN_A\" -H 'Content-Type: text/csv' --data-binary @{file}\n\
             # the same preview with a mapping, then the upload with it, then the mapping saved for later files\n\
             MAPPING='{FOREIGN_MAPPING}'\n\
             curl -s $PAYSCOPE/reports/preview -H \"Authorization: Bearer $TOKEN_A\" -F \"mapping=$MAPPING\" -F file=@{file}\n\
             curl -s \"$PAYSCOPE/reports?wait=true\" -H \"Authorization: Bearer $TOKEN_A\" -F \"mapping=$MAPPING\" -F file=@{file}\n\
             curl -s $PAYSCOPE/mapping-profiles -H \"Authorization: Bearer $TOKEN_A\" -H 'Content-Type: application/json' \
             -d \"{{\\\"name\\\": \\\"Dutch acquirer daily\\\", \\\"fingerprint\\\": \\\"{fingerprint}\\\", \\\"mapping\\\": $MAPPING}}\"\n",
            file = self.foreign_file.display(),
            fingerprint = payscope_core::ingest::fingerprint(&FOREIGN_HEADER.split(';').collect()),
        ));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The tour's mapping step works as printed: the file does not load on its own, the
    /// mapping reads it, and the printed fingerprint is the preview's.
    #[tokio::test]
    async fn the_tours_foreign_file_needs_and_takes_its_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::embedded(dir.path(), None, EngineOptions::default()).await.unwrap();
        let ctx = BankContext::embedded(BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
        let file = foreign_layout(Timestamp::now().date());
        let body =
            || futures::stream::iter([Ok::<_, payscope_core::Error>(bytes::Bytes::from(file.clone()))]);
        let alone = engine.preview(&ctx, body(), ReportOptions::default()).await.unwrap();
        assert!(!alone.would_load);
        let fingerprint = payscope_core::ingest::fingerprint(&FOREIGN_HEADER.split(';').collect());
        assert_eq!(alone.structure.unwrap().sections[0].fingerprint, fingerprint);
        let options = ReportOptions {
            mapping: Some(serde_json::from_str(FOREIGN_MAPPING).unwrap()),
            ..Default::default()
        };
        let mapped = engine.preview(&ctx, body(), options).await.unwrap();
        assert!(mapped.would_load, "{:?}", mapped.error);
        assert_eq!((mapped.facts.len(), mapped.rows_skipped), (4, 1));
    }
}
