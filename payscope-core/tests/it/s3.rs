//! S3 artifacts on a real S3-compatible server: `s3s-fs` (`cargo install s3s-fs --version
//! 0.14.1 --features binary --locked`, as `.ci/run` does) started per test on a free port,
//! with signature verification on.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use payscope_core::bank::{BankContext, Role};
use payscope_core::config::{S3Settings, Settings};
use payscope_core::engine::Check;
use payscope_core::facts::{ReportOptions, Stage};
use payscope_core::ingest::pan::PanKey;
use payscope_core::query::Query;
use payscope_core::store::artifacts::{artifact_path, Artifacts};
use payscope_core::store::audit::{verify_chain, AuditEntry};
use payscope_core::synth::files::{report_type, write_report, Layout};
use payscope_core::Engine;

use crate::fixtures::{dataset, tool};

const ACCESS_KEY: &str = "payscope-test";
const SECRET_KEY: &str = "payscope-test-secret";
const BUCKET: &str = "payscope-artifacts";
const BACKUPS: &str = "payscope-backups";

/// An `s3s-fs` process serving a temporary directory; killed on drop.
struct S3Server {
    child: Child,
    root: tempfile::TempDir,
    endpoint: String,
}

impl S3Server {
    fn start() -> Option<S3Server> {
        let binary = tool("PAYSCOPE_TEST_S3S_FS", "s3s-fs")?;
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        std::fs::create_dir(root.path().join(BACKUPS)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(binary)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = S3Server { child, root, endpoint: format!("http://127.0.0.1:{port}") };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("s3s-fs did not start on port {port}");
    }

    fn settings(&self, secret: &str) -> S3Settings {
        S3Settings {
            endpoint: self.endpoint.clone(),
            access_key: ACCESS_KEY.into(),
            secret_key: secret.to_owned().into(),
            bucket: BUCKET.into(),
            backup_bucket: BACKUPS.into(),
            region: "us-east-1".into(),
        }
    }

    /// The engine settings with this server as `MINIO_*`.
    fn engine_settings(&self, data_dir: &str, secret: &str) -> Settings {
        Settings::from_lookup(|name| match name {
            "PAYSCOPE_DATA_DIR" => Some(data_dir.to_owned()),
            "MINIO_ENDPOINT" => Some(self.endpoint.clone()),
            "MINIO_ACCESS_KEY" => Some(ACCESS_KEY.into()),
            "MINIO_SECRET_KEY" => Some(secret.to_owned()),
            _ => None,
        })
        .unwrap()
    }

    /// Where the server keeps an object of the artifact bucket.
    fn file(&self, key: &str) -> PathBuf {
        self.root.path().join(BUCKET).join(key)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_on_s3_keeps_encrypted_artifacts_per_bank_and_recovers_from_them() {
    let Some(s3) = S3Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let settings = s3.engine_settings(dir.path().to_str().unwrap(), SECRET_KEY);
    let engine = Engine::from_settings(&settings).await.unwrap();
    assert_eq!(engine.readiness().await.checks["object_store"], Check::Ok);

    let data = dataset();
    let bank = &data.banks[0];
    let ctx = BankContext::embedded(bank.bank_id, [Role::Analyst]);
    let mut bytes = Vec::new();
    write_report(bank, Stage::Settlement, Layout::NetworkCsv, &data.key, &mut bytes).unwrap();
    let options = ReportOptions { report_type: report_type(Stage::Settlement), ..ReportOptions::default() };
    let report = engine.ingest(&ctx, bytes.clone(), options).await.unwrap();
    let question = Query::new("Total settlement last week").as_of(bank.as_of);
    let before = engine.ask(&ctx, question.clone()).await.unwrap();

    // The object is under the bank's prefix, encrypted: none of the file's text is in it.
    let stored = std::fs::read(s3.file(artifact_path(&ctx, &report.sha256).as_ref())).unwrap();
    assert!(stored.starts_with(b"PSA2"));
    let header = bytes.split(|b| *b == b'\n').next().unwrap();
    assert!(!stored.windows(header.len()).any(|w| w == header), "plaintext in the bucket");

    // The audit chain is exported to the backups bucket, where it verifies on its own.
    let auditor = BankContext::embedded(bank.bank_id, [Role::Auditor]);
    let export = engine.export_audit(&auditor).await.unwrap();
    assert_eq!((export.records, export.chain_ok), (1, true));
    let lines = std::fs::read_to_string(s3.root.path().join(BACKUPS).join(&export.object)).unwrap();
    let entries: Vec<AuditEntry> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(verify_chain(&entries).ok && entries[0].record.answer_id == before.answer_id);

    // A new instance on the same data dir rebuilds its facts from the bucket.
    drop(engine);
    let restarted = Engine::from_settings(&settings).await.unwrap();
    let after = restarted.ask(&ctx, question).await.unwrap();
    assert_eq!((&after.summary, &after.metrics), (&before.summary, &before.metrics));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_artifacts_go_up_in_parts_and_stream_back_whole() {
    let Some(s3) = S3Server::start() else { return };
    let objects = payscope_core::backend::s3::object_store(&s3.settings(SECRET_KEY), BUCKET).unwrap();
    let artifacts = Artifacts::new(objects, &PanKey::generate());
    let ctx = BankContext::embedded(payscope_core::BankId::from_uuid(uuid::Uuid::new_v4()), [Role::System]);
    // 20 MiB in 1 MiB chunks: three parts of the multipart upload.
    let chunks: Vec<Bytes> = (0..20u8).map(|i| Bytes::from(vec![i; 1 << 20])).collect();
    let body = futures::stream::iter(chunks.clone().into_iter().map(Ok::<Bytes, payscope_core::Error>));
    let stored = artifacts.store(&ctx, body, 64 << 20).await.unwrap();
    assert_eq!(stored.size, 20 << 20);

    let mut read = Box::pin(artifacts.read(&ctx, &stored.sha256).await.unwrap());
    let mut back = Vec::new();
    while let Some(part) = read.next().await {
        back.extend_from_slice(&part.unwrap());
    }
    assert!(back == chunks.concat(), "the artifact read back differs");
    // Nothing is left behind under the upload's temporary name.
    let incoming = s3.file(&format!("raw/{}/incoming", ctx.bank_id()));
    assert!(std::fs::read_dir(&incoming).map_or(true, |mut d| d.next().is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_a_stopped_server_fails_clearly() {
    let Some(mut s3) = S3Server::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();

    let wrong = s3.engine_settings(data_dir, "not-the-secret");
    let Err(e) = Engine::from_settings(&wrong).await else { panic!("a wrong secret was accepted") };
    let message = e.to_string();
    assert!(message.starts_with("object_store unavailable"), "{message}");
    assert!(message.contains("MINIO_SECRET_KEY") && message.contains(&s3.endpoint), "{message}");

    // A server that goes away after start-up shows in readiness and fails uploads with a
    // dependency error, while questions on stored facts are still answered.
    let engine = Arc::new(Engine::from_settings(&s3.engine_settings(data_dir, SECRET_KEY)).await.unwrap());
    s3.child.kill().unwrap();
    s3.child.wait().unwrap();
    let readiness = engine.readiness().await;
    assert!(!readiness.ready);
    assert!(matches!(&readiness.checks["object_store"], Check::Error(_)), "{readiness:?}");
    let ctx = BankContext::embedded(payscope_core::BankId::from_uuid(uuid::Uuid::new_v4()), [Role::Analyst]);
    let options = ReportOptions { report_type: report_type(Stage::Auth), ..ReportOptions::default() };
    let e = engine.ingest(&ctx, b"a,b\n1,2\n".to_vec(), options).await.unwrap_err();
    assert_eq!(e.kind(), payscope_core::error::ErrorKind::Unavailable, "{e}");
    engine.ask(&ctx, Query::new("Approval rate last week")).await.unwrap();
}
