//! Preview, upload overrides and mapping profiles over HTTP, on the embedded backend and on
//! Postgres: a layout inference cannot read is refused with a way forward, previewed with a
//! mapping (query parameter or multipart part), loaded with it, saved as a bank's profile
//! (bank admins only, audited, invisible to other banks) and then read on its own.

use payscope_core::bank::BankId;
use serde_json::{json, Value};

use crate::support::{claims, Server, Signer};

/// A Dutch acquirer export: neither its header nor its row types are in the vocabulary.
const MARCH: &str = "Kenmerk;Boekingsdatum;Bedrag;Munt;Soort\n\
NL-001;01-03-2026 10:00;12,50;EUR;Verkoop\n\
NL-002;02-03-2026 11:00;7,00;EUR;Terugbetaling\n\
NL-003;03-03-2026 12:00;1.009,00;EUR;Verkoop\n\
NL-004;04-03-2026 09:30;250,00;EUR;Uitbetaling\n\
NL-005;05-03-2026 18:45;3,99;EUR;Verkoop\n";
const APRIL: &str = "Kenmerk;Boekingsdatum;Bedrag;Munt;Soort\n\
NL-101;01-04-2026 08:00;20,00;EUR;Verkoop\n\
NL-102;12-04-2026 14:00;5,00;EUR;Terugbetaling\n\
NL-103;13-04-2026 15:00;300,00;EUR;Uitbetaling\n";

fn mapping() -> Value {
    json!({
        "columns": {"stage": "Soort", "transaction_id": "Kenmerk"},
        "kinds": {"Verkoop": "CLEARING", "Terugbetaling": "REFUND", "Uitbetaling": "skip"},
        "date_order": "dmy"
    })
}

fn query(mapping: &Value) -> String {
    url::form_urlencoded::Serializer::new(String::new()).append_pair("mapping", &mapping.to_string()).finish()
}

fn csv(server: &Server, path: &str, token: &str, body: &'static str) -> reqwest::RequestBuilder {
    server.post(path, Some(token)).header("content-type", "text/csv").body(body)
}

async fn workflow(server: &Server) {
    let bank = BankId::from_uuid(uuid::Uuid::new_v4());
    let signer = Signer::rsa();
    let analyst = signer.sign(&claims(bank, &["analyst"]));
    let admin = signer.sign(&claims(bank, &["bank_admin"]));
    let other = signer.sign(&claims(BankId::from_uuid(uuid::Uuid::new_v4()), &["bank_admin"]));

    // Refused, with the way forward.
    let (s, _, failed) = server.call("/reports", csv(server, "/reports?wait=true", &analyst, MARCH)).await;
    assert_eq!(s, 422, "{failed}");
    let why = failed["error"]["message"].as_str().unwrap();
    assert!(why.contains("POST /reports/preview") && why.contains("mapping="), "{why}");

    // A preview without a mapping: the same error, and the table's fingerprint.
    let (s, _, p) = server.call("/reports/preview", csv(server, "/reports/preview", &analyst, MARCH)).await;
    assert_eq!((s, &p["would_load"]), (200, &json!(false)), "{p}");
    assert_eq!(p["error"].as_str(), Some(why));
    let fingerprint = p["structure"]["sections"][0]["fingerprint"].as_str().unwrap().to_owned();

    // With the mapping as a query parameter, and as a multipart part before the file.
    let path = format!("/reports/preview?{}", query(&mapping()));
    let (s, _, p) = server.call("/reports/preview", csv(server, &path, &analyst, MARCH)).await;
    assert_eq!((s, &p["would_load"], &p["rows_skipped"]), (200, &json!(true), &json!(1)), "{p}");
    let facts: Vec<(&str, &str, i64)> = p["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["transaction_id"].as_str().unwrap(),
                f["stage"].as_str().unwrap(),
                f["amount"]["minor"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        facts,
        [
            ("NL-001", "CLEARING", 1250),
            ("NL-002", "REFUND", 700),
            ("NL-003", "CLEARING", 100_900),
            ("NL-005", "CLEARING", 399)
        ]
    );
    let form = reqwest::multipart::Form::new()
        .text("mapping", mapping().to_string())
        .part("file", reqwest::multipart::Part::bytes(MARCH.as_bytes()).file_name("march.csv"));
    let (s, _, multi) = server
        .call("/reports/preview", server.post("/reports/preview", Some(&analyst)).multipart(form))
        .await;
    assert_eq!((s, &multi["facts"]), (200, &p["facts"]));
    // A mapping that is not one is a 400 that says what is wrong.
    let bad = format!("/reports/preview?{}", query(&json!({"columns": {"amout": "Bedrag"}})));
    let (s, _, e) = server.call("/reports/preview", csv(server, &bad, &analyst, MARCH)).await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("`amout` is not a field"), "{e}");
    let (s, _, e) =
        server.call("/reports/preview", csv(server, "/reports/preview?mapping=%7B", &analyst, MARCH)).await;
    assert_eq!(s, 400);
    assert!(e["error"]["message"].as_str().unwrap().contains("mapping"), "{e}");
    // Nothing was stored by the previews.
    let (_, _, page) = server.call("/reports", server.get("/reports", Some(&analyst))).await;
    assert_eq!(page["reports"].as_array().unwrap().len(), 1);

    // The same bytes with the mapping: the failed report is read again and loads.
    let path = format!("/reports?wait=true&{}", query(&mapping()));
    let (s, _, loaded) = server.call("/reports", csv(server, &path, &analyst, MARCH)).await;
    assert_eq!(s, 200, "{loaded}");
    assert_eq!(loaded["report_id"], failed["report"]["report_id"]);
    assert_eq!(
        (&loaded["status"], &loaded["facts_loaded"], &loaded["duplicate"]),
        (&json!("completed"), &json!(4), &json!(true))
    );

    // Profiles: bank admins save them; analysts read them.
    let draft = json!({"name": "Dutch acquirer daily", "fingerprint": fingerprint, "mapping": mapping()});
    let create = |token: &str, body: &Value| server.post("/mapping-profiles", Some(token)).json(body);
    let (s, _, e) = server.call("/mapping-profiles", create(&analyst, &draft)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (403, Some("forbidden")));
    let (s, _, profile) = server.call("/mapping-profiles", create(&admin, &draft)).await;
    assert_eq!(s, 201, "{profile}");
    let id = profile["profile_id"].as_str().unwrap().to_owned();
    let (s, _, e) = server.call("/mapping-profiles", create(&admin, &draft)).await;
    assert_eq!((s, e["error"]["code"].as_str()), (409, Some("conflict")));
    let (s, _, e) =
        server.call("/mapping-profiles", create(&admin, &json!({"name": "x", "fingerprint": "nope"}))).await;
    assert_eq!(s, 400, "{e}");
    let (s, _, list) =
        server.call("/mapping-profiles", server.get("/mapping-profiles", Some(&analyst))).await;
    assert_eq!((s, list["profiles"].as_array().unwrap().len()), (200, 1));
    let item = format!("/mapping-profiles/{id}");
    let (s, _, got) = server.call("/mapping-profiles/{profile_id}", server.get(&item, Some(&analyst))).await;
    assert_eq!((s, &got), (200, &profile));

    // Another bank sees none of it.
    let (_, _, theirs) =
        server.call("/mapping-profiles", server.get("/mapping-profiles", Some(&other))).await;
    assert_eq!(theirs["profiles"], json!([]));
    for request in [
        server.get(&item, Some(&other)),
        server.client.delete(server.url(&item)).bearer_auth(&other),
        server.client.put(server.url(&item)).bearer_auth(&other).json(&draft),
    ] {
        let (s, _, _) = server.call("/mapping-profiles/{profile_id}", request).await;
        assert_eq!(s, 404);
    }

    // A later file of the layout loads on its own.
    let (s, _, april) = server.call("/reports", csv(server, "/reports?wait=true", &analyst, APRIL)).await;
    assert_eq!(s, 200, "{april}");
    assert_eq!((&april["facts_loaded"], &april["rows_skipped"]), (&json!(2), &json!(1)));
    assert_eq!(april["profiles_applied"][0]["profile_id"].as_str(), Some(id.as_str()));

    // Renamed, then deleted; every change is in the audit chain.
    let renamed = json!({"name": "Dutch acquirer", "fingerprint": fingerprint, "mapping": mapping()});
    let (s, _, updated) = server
        .call(
            "/mapping-profiles/{profile_id}",
            server.client.put(server.url(&item)).bearer_auth(&admin).json(&renamed),
        )
        .await;
    assert_eq!(
        (s, &updated["name"], &updated["created_at"]),
        (200, &json!("Dutch acquirer"), &profile["created_at"])
    );
    let (s, _, _) = server
        .call("/mapping-profiles/{profile_id}", server.client.delete(server.url(&item)).bearer_auth(&analyst))
        .await;
    assert_eq!(s, 403);
    let (s, _, _) = server
        .call("/mapping-profiles/{profile_id}", server.client.delete(server.url(&item)).bearer_auth(&admin))
        .await;
    assert_eq!(s, 204);
    let (s, _, _) = server.call("/mapping-profiles/{profile_id}", server.get(&item, Some(&admin))).await;
    assert_eq!(s, 404);
    let (s, _, chain) = server.call("/audit/verify", server.get("/audit/verify", Some(&admin))).await;
    assert_eq!((s, &chain["ok"], &chain["records"]), (200, &json!(true), &json!(3)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_overrides_and_profiles_on_the_embedded_backend() {
    let server = Server::start().await;
    workflow(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_overrides_and_profiles_on_postgres() {
    let Some(server) = Server::start_postgres().await else { return };
    workflow(&server).await;
    server.stop().await;
}
