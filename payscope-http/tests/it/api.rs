//! The whole API for two banks over TCP: upload (raw and multipart, waiting), duplicates,
//! listing with pagination, questions checked against the samples' truth files, the audit
//! trail, and bank B never seeing anything of bank A's by any route.

use payscope_core::bank::BankId;
use serde_json::{json, Value};

use crate::support::{claims, samples, Server, Signer};

struct Bank {
    id: BankId,
    dir: String,
    files: Vec<(String, String)>,
}

fn sample_banks() -> Vec<Bank> {
    crate::support::manifest()["banks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| Bank {
            id: b["bank_id"].as_str().unwrap().parse().unwrap(),
            dir: b["dir"].as_str().unwrap().to_owned(),
            files: b["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (f["file"].as_str().unwrap().to_owned(), f["report_type"].as_str().unwrap().to_owned())
                })
                .collect(),
        })
        .collect()
}

/// (attempts, approved) of AUTH rows in October 2026, from the generator's truth file.
fn october_auths(bank: &Bank) -> (u64, u64) {
    let text = std::fs::read_to_string(samples().join(&bank.dir).join("truth.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (stage, at, approved) = (col("stage"), col("occurred_at"), col("approved"));
    let (mut attempts, mut ok) = (0, 0);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f[stage] == "AUTH" && f[at].starts_with("2026-10") {
            attempts += 1;
            ok += u64::from(f[approved] == "True");
        }
    }
    (attempts, ok)
}

fn metric<'a>(answer: &'a Value, name: &str) -> &'a Value {
    answer["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

#[tokio::test]
async fn two_banks_upload_ask_audit_and_never_see_each_other() {
    let server = Server::start().await;
    let signer = Signer::rsa();
    let banks = sample_banks();
    let tokens: Vec<String> =
        banks.iter().map(|b| signer.sign(&claims(b.id, &["analyst", "auditor"]))).collect();
    let mut report_ids: Vec<Vec<String>> = vec![Vec::new(); banks.len()];

    for (i, bank) in banks.iter().enumerate() {
        for (n, (file, report_type)) in bank.files.iter().enumerate() {
            let bytes = std::fs::read(samples().join(&bank.dir).join(file)).unwrap();
            let path = format!("/reports?report_type={report_type}&wait=true");
            // Alternate raw bodies and multipart uploads.
            let request = if n % 2 == 0 {
                server.post(&path, Some(&tokens[i])).header("content-type", "text/csv").body(bytes.clone())
            } else {
                let part = reqwest::multipart::Part::bytes(bytes.clone()).file_name(file.clone());
                server
                    .post(&path, Some(&tokens[i]))
                    .multipart(reqwest::multipart::Form::new().part("file", part))
            };
            let (status, _, report) = server.call("/reports", request).await;
            assert_eq!(status, 200, "{file}: {report}");
            assert_eq!(report["status"], "completed", "{file}: {report}");
            assert_eq!(report["duplicate"], false);
            assert!(report["facts_loaded"].as_u64().unwrap() > 0);
            if n % 2 == 1 {
                assert_eq!(report["filename"], file.as_str(), "multipart file name is kept");
            }
            report_ids[i].push(report["report_id"].as_str().unwrap().to_owned());
            // The same bytes again: the existing report, flagged as a duplicate.
            let again =
                server.post("/reports", Some(&tokens[i])).header("content-type", "text/csv").body(bytes);
            let (status, _, dup) = server.call("/reports", again).await;
            assert_eq!(status, 200);
            assert_eq!(
                (dup["duplicate"].as_bool(), dup["report_id"].as_str()),
                (Some(true), report["report_id"].as_str())
            );
        }
    }

    // Questions: each bank's numbers are exactly its own truth.
    let mut answer_ids = Vec::new();
    for (i, bank) in banks.iter().enumerate() {
        let (attempts, approved) = october_auths(bank);
        let (status, answer) = server
            .ask(&tokens[i], json!({"query": "What was the approval rate in October 2026?", "as_of": "2026-11-01T00:00:00Z"}))
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["intent"], "describe");
        assert_eq!(metric(&answer, "transaction_count")["value"].as_f64(), Some(attempts as f64));
        assert_eq!(metric(&answer, "approved_count")["value"].as_f64(), Some(approved as f64));
        let rate = metric(&answer, "approval_rate")["value"].as_f64().unwrap();
        assert!((rate - approved as f64 / attempts as f64).abs() < 1e-6);
        answer_ids.push(answer["answer_id"].as_str().unwrap().to_owned());
    }

    for (i, _) in banks.iter().enumerate() {
        let other = 1 - i;
        let token = &tokens[i];
        // Audit: own answers readable, the chain verifies; the other bank's answer is not found.
        let (s, _, entry) = server
            .call(
                "/audit/answers/{answer_id}",
                server.get(&format!("/audit/answers/{}", answer_ids[i]), Some(token)),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(entry["record"]["answer_id"], answer_ids[i].as_str());
        let (s, _, _) = server
            .call(
                "/audit/answers/{answer_id}",
                server.get(&format!("/audit/answers/{}", answer_ids[other]), Some(token)),
            )
            .await;
        assert_eq!(s, 404);
        let (s, _, verified) = server.call("/audit/verify", server.get("/audit/verify", Some(token))).await;
        assert_eq!((s, verified["ok"].as_bool(), verified["records"].as_u64()), (200, Some(true), Some(1)));
        // The export holds this bank's one entry, under its own prefix of the backups store.
        let (s, _, export) = server.call("/audit/export", server.post("/audit/export", Some(token))).await;
        assert_eq!((s, export["records"].as_u64(), export["chain_ok"].as_bool()), (200, Some(1), Some(true)));
        let object = export["object"].as_str().unwrap();
        assert!(object.starts_with(&format!("audit/{}/", banks[i].id)), "{object}");
        let exported =
            std::fs::read_to_string(server.data_dir().join("artifacts/backups").join(object)).unwrap();
        let entry: serde_json::Value = serde_json::from_str(exported.trim()).unwrap();
        assert_eq!(
            (entry["record"]["answer_id"].as_str(), entry["hash"].as_str()),
            (Some(answer_ids[i].as_str()), export["head_hash"].as_str())
        );

        // Reports: the other bank's ids are not found, and never listed.
        for id in &report_ids[other] {
            let (s, _, body) =
                server.call("/reports/{report_id}", server.get(&format!("/reports/{id}"), Some(token))).await;
            assert_eq!(s, 404, "{body}");
        }
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/reports?limit=2&cursor={c}"),
                None => "/reports?limit=2".to_owned(),
            };
            let (s, _, page) = server.call("/reports", server.get(&path, Some(token))).await;
            assert_eq!(s, 200, "{page}");
            let reports = page["reports"].as_array().unwrap();
            assert!(reports.len() <= 2);
            listed.extend(reports.iter().map(|r| r["report_id"].as_str().unwrap().to_owned()));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut own = report_ids[i].clone();
        own.reverse(); // newest first
        assert_eq!(listed, own);
        let (s, _, one) = server
            .call("/reports/{report_id}", server.get(&format!("/reports/{}", report_ids[i][0]), Some(token)))
            .await;
        assert_eq!(s, 200);
        assert!(one.get("bank_id").is_none(), "the wire form carries no bank id");

        // X-Bank-Id naming the other bank is refused.
        let mismatched = server.get("/reports", Some(token)).header("x-bank-id", banks[other].id.to_string());
        let (s, _, body) = server.call("/reports", mismatched).await;
        assert_eq!((s, body["error"]["code"].as_str()), (403, Some("bank_id_mismatch")));
        let matching = server.get("/reports", Some(token)).header("x-bank-id", banks[i].id.to_string());
        assert_eq!(server.call("/reports", matching).await.0, 200);
    }

    // The other bank's data never leaks into an answer: a merchant only bank 0 has.
    let (_, a0) = server
        .ask(
            &tokens[0],
            json!({"query": "Top 3 merchants by sales in October 2026", "as_of": "2026-11-01T00:00:00Z"}),
        )
        .await;
    let (_, a1) = server
        .ask(
            &tokens[1],
            json!({"query": "Top 3 merchants by sales in October 2026", "as_of": "2026-11-01T00:00:00Z"}),
        )
        .await;
    assert_ne!(a0["metrics"], a1["metrics"]);
    server.stop().await;
}

/// A network clearing file is sent as it is (`application/octet-stream`), previewed and
/// uploaded, and its report — format, trailer check and all — is as documented.
#[tokio::test]
async fn network_clearing_files_upload_as_they_are() {
    let server = Server::start().await;
    let token = Signer::rsa().sign(&claims(BankId::from_uuid(uuid::Uuid::new_v4()), &["analyst"]));
    let bad = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../payscope-core/tests/data/bad");
    for (file, format, facts) in
        [("ipm_trailer_mismatch.ipm", "ipm", 2), ("base2_trailer_mismatch.ctf", "base2", 1)]
    {
        let bytes = std::fs::read(bad.join(file)).unwrap();
        let raw = |path: &str| {
            server
                .post(path, Some(&token))
                .header("content-type", "application/octet-stream")
                .body(bytes.clone())
        };
        let (status, _, preview) = server.call("/reports/preview", raw("/reports/preview")).await;
        assert_eq!((status, preview["would_load"].as_bool()), (200, Some(true)), "{file}: {preview}");
        assert_eq!(preview["structure"]["format"], format);
        let (status, _, report) = server.call("/reports", raw("/reports?wait=true")).await;
        assert_eq!(status, 200, "{file}: {report}");
        assert_eq!(
            (report["status"].as_str(), report["facts_loaded"].as_u64()),
            (Some("completed"), Some(facts))
        );
        assert_eq!(
            (report["structure"]["format"].as_str(), report["controls"][0]["ok"].as_bool()),
            (Some(format), Some(false))
        );
        let id = report["report_id"].as_str().unwrap();
        let (status, _, again) =
            server.call("/reports/{report_id}", server.get(&format!("/reports/{id}"), Some(&token))).await;
        assert_eq!((status, &again["controls"]), (200, &report["controls"]));
    }
}

#[tokio::test]
async fn failed_report_with_wait_is_422_with_the_report() {
    let server = Server::start().await;
    let bank: BankId = "6f1c1a52-0c7e-4c39-9d0f-6a8f1c1b2f10".parse().unwrap();
    let token = Signer::rsa().sign(&claims(bank, &["analyst"]));
    let bad = "foo,bar\n1,2\n3,4\n";
    let (s, _, body) = server
        .call(
            "/reports",
            server.post("/reports?wait=true", Some(&token)).header("content-type", "text/csv").body(bad),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["error"]["code"], "unprocessable_report");
    assert_eq!(body["report"]["status"], "failed");
    assert!(body["error"]["message"].as_str().unwrap().contains("columns"), "{body}");
    // Without wait: 202 and the report fails in the background.
    let (s, _, queued) = server
        .call(
            "/reports",
            server.post("/reports", Some(&token)).header("content-type", "text/csv").body("x,y\n1,2\n"),
        )
        .await;
    assert_eq!(
        (s, queued["status"].as_str(), queued["duplicate"].as_bool()),
        (202, Some("queued"), Some(false))
    );
    let id = queued["report_id"].as_str().unwrap();
    let mut status = String::new();
    for _ in 0..100 {
        let (_, _, r) =
            server.call("/reports/{report_id}", server.get(&format!("/reports/{id}"), Some(&token))).await;
        status = r["status"].as_str().unwrap().to_owned();
        if status == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "failed");
    server.stop().await;
}

#[tokio::test]
async fn roles_limit_what_a_token_can_do() {
    let server = Server::start().await;
    let bank: BankId = "0b7d9f0e-3a52-4d1c-8c55-8f0d6a1d2e33".parse().unwrap();
    let signer = Signer::rsa();
    let system = signer.sign(&claims(bank, &["system"]));
    let analyst = signer.sign(&claims(bank, &["analyst"]));
    let auditor = signer
        .sign(&json!({"sub": "a", "bank_id": bank, "role": "auditor", "exp": crate::support::now() + 60}));
    let nobody = signer.sign(&claims(bank, &["janitor"]));
    let csv = std::fs::read(samples().join("bank0/refund.csv")).unwrap();
    let upload = |t: &str| {
        server
            .post("/reports?report_type=refund", Some(t))
            .header("content-type", "text/csv")
            .body(csv.clone())
    };
    // Uploads: system and analyst yes; auditor and an unknown role no.
    assert_eq!(server.call("/reports", upload(&system)).await.0, 202);
    assert_eq!(server.call("/reports", upload(&analyst)).await.0, 200);
    for t in [&auditor, &nobody] {
        let (s, _, b) = server.call("/reports", upload(t)).await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("forbidden")));
    }
    // Questions: not for system; audit: not for analyst.
    assert_eq!(server.ask(&system, json!({"query": "What is the transaction volume?"})).await.0, 403);
    assert_eq!(server.ask(&auditor, json!({"query": "What is the transaction volume?"})).await.0, 200);
    assert_eq!(server.call("/audit/verify", server.get("/audit/verify", Some(&analyst))).await.0, 403);
    assert_eq!(server.call("/audit/verify", server.get("/audit/verify", Some(&auditor))).await.0, 200);
    assert_eq!(server.call("/audit/export", server.post("/audit/export", Some(&analyst))).await.0, 403);
    assert_eq!(server.call("/audit/export", server.post("/audit/export", Some(&auditor))).await.0, 200);
    server.stop().await;
}

/// The trail names who asked (the token's `sub` and `jti`), what, how it was understood and
/// when, newest first, filtered by subject and never another bank's; uploads name their
/// uploader. On the embedded store and on Postgres.
#[tokio::test]
async fn the_audit_trail_says_who_asked_what() {
    the_trail_on(Server::start().await).await;
    if let Some(server) = Server::start_postgres().await {
        the_trail_on(server).await;
    }
}

async fn the_trail_on(server: Server) {
    let signer = Signer::rsa();
    let sample = &sample_banks()[0];
    let (bank, other) = (sample.id, BankId::from_uuid(uuid::Uuid::new_v4()));
    let token = |bank: BankId, sub: &str, jti: &str| {
        signer.sign(&json!({"sub": sub, "jti": jti, "bank_id": bank, "roles": ["analyst", "auditor"], "exp": crate::support::now() + 600}))
    };
    let (ana, bo, stranger) =
        (token(bank, "ana@bank", "t-1"), token(bank, "bo@bank", "t-2"), token(other, "ana@bank", "t-3"));
    let (name, report_type) = &sample.files[0];
    let file = std::fs::read(samples().join(&sample.dir).join(name)).unwrap();
    let path = format!("/reports?report_type={report_type}&wait=true");
    let upload = server.post(&path, Some(&ana)).header("content-type", "text/csv");
    let (s, _, report) = server.call("/reports", upload.body(file)).await;
    assert_eq!((s, report["uploaded_by"]["subject"].as_str()), (200, Some("ana@bank")), "{report}");
    let questions = [
        (&ana, "What was the approval rate last week?"),
        (&bo, "How many declines were there yesterday?"),
        (&ana, "Top 3 merchants by chargebacks in October 2026"),
        (&stranger, "What is the transaction volume?"),
    ];
    for (t, q) in questions {
        let (s, answer) = server.ask(t, json!({"query": q, "as_of": "2026-11-01T00:00:00Z"})).await;
        assert_eq!(s, 200, "{answer}");
    }
    let (s, _, all) = trail(&server, &ana, "").await;
    assert_eq!(s, 200, "{all}");
    let lines = all["answers"].as_array().unwrap();
    let asked: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| (l["asked_by"]["subject"].as_str().unwrap(), l["question"].as_str().unwrap()))
        .collect();
    assert_eq!(
        asked,
        [("ana@bank", questions[2].1), ("bo@bank", questions[1].1), ("ana@bank", questions[0].1)],
        "newest first, this bank's only"
    );
    assert_eq!(lines[1]["asked_by"]["token_id"], "t-2");
    assert!(lines.iter().all(|l| l["interpretation"].as_str().is_some_and(|i| !i.is_empty())), "{all}");
    assert!(lines.iter().all(|l| l["created_at"].is_string() && l["summary"].is_string()));
    // By subject, a page at a time.
    let (_, _, first) = trail(&server, &ana, "?subject=ana%40bank&limit=1").await;
    assert_eq!(first["answers"][0]["question"], questions[2].1);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, _, second) = trail(&server, &ana, &format!("?subject=ana%40bank&limit=1&cursor={cursor}")).await;
    assert_eq!(second["answers"][0]["question"], questions[0].1);
    let (_, _, nobody) = trail(&server, &ana, "?subject=carol").await;
    assert_eq!(nobody["answers"], json!([]));
    // The other bank's trail holds its own question only.
    let (_, _, theirs) = trail(&server, &stranger, "").await;
    assert_eq!(theirs["answers"].as_array().unwrap().len(), 1);
    assert_eq!(theirs["answers"][0]["question"], questions[3].1);
    // Bad parameters say what is wrong.
    for bad in ["?limit=0", "?cursor=x", "?subject=", "?who=ana"] {
        let (s, _, body) = trail(&server, &ana, bad).await;
        assert_eq!(s, 400, "{bad}: {body}");
    }
    server.stop().await;
}

async fn trail(server: &Server, token: &str, query: &str) -> (u16, http::HeaderMap, Value) {
    server.call("/audit/answers", server.get(&format!("/audit/answers{query}"), Some(token))).await
}
