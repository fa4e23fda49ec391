//! `POST /query` on both backends: typed queries answered with the samples' truth (computed
//! here from the generator's truth file, not by PayScope), the interpretation of a question in
//! words answered again as a typed query with the same numbers, clear errors for queries that
//! cannot be answered as given, and one bank's query never reading another's data.

use serde_json::{json, Value};

use crate::support::{banks, claims, load, samples, Server, Signer};

const AS_OF: &str = "2026-11-01T00:00:00Z";

/// October 2026 AUTH rows of a bank's truth file, as maps of column → value.
fn october_auths(dir: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(samples().join(dir).join("truth.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_owned).collect();
    lines
        .map(|l| header.iter().cloned().zip(l.split(',').map(str::to_owned)).collect())
        .filter(|r: &std::collections::HashMap<String, String>| {
            r["stage"] == "AUTH" && r["occurred_at"].starts_with("2026-10")
        })
        .collect()
}

fn value(answer: &Value, name: &str) -> f64 {
    answer["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name && m["dimensions"].as_object().is_none_or(|d| d.is_empty()))
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

async fn query(server: &Server, token: &str, body: &Value) -> (u16, Value) {
    let (s, _, b) = server.call("/query", server.post("/query", Some(token)).json(body)).await;
    (s, b)
}

async fn typed_queries_are_answered_exactly(server: Server) {
    let signer = Signer::rsa();
    let banks = banks();
    let tokens: Vec<String> = banks.iter().map(|(id, _)| signer.sign(&claims(*id, &["analyst"]))).collect();
    for ((_, dir), token) in banks.iter().zip(&tokens) {
        load(&server, token, dir).await;
    }
    let october = json!({"from": "2026-10-01", "to": "2026-10-31"});

    for ((_, dir), token) in banks.iter().zip(&tokens) {
        let rows = october_auths(dir);
        // Approval rate of authorizations not on Visa (those of no known network included).
        let not_visa: Vec<_> = rows.iter().filter(|r| r["network"] != "visa").collect();
        let approved = not_visa.iter().filter(|r| r["approved"] == "True").count();
        let body = json!({
            "analysis": "describe",
            "metrics": ["approval_rate", "transaction_count"],
            "where": [{"dimension": "network", "op": "ne", "value": "visa"}],
            "time": october,
            "as_of": AS_OF,
        });
        let (status, answer) = query(&server, token, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["intent"], "describe");
        assert_eq!(value(&answer, "transaction_count"), not_visa.len() as f64);
        assert!((value(&answer, "approval_rate") - approved as f64 / not_visa.len() as f64).abs() < 1e-6);
        assert_eq!(
            answer["interpretation"]["text"],
            "Approval rate, transaction count, where network is not visa, 2026-10-01 – 2026-10-31"
        );

        // Transactions above 100.00 USD (other currencies never match) and at most 20.00 USD.
        let above = rows
            .iter()
            .filter(|r| r["currency"] == "USD" && r["amount_minor"].parse::<i64>().unwrap() > 10_000)
            .count();
        let body = json!({
            "analysis": "describe",
            "metrics": ["transaction_count"],
            "amount": [{"op": "gt", "value": "100.00", "currency": "USD"}],
            "time": october,
            "as_of": AS_OF,
        });
        let (status, answer) = query(&server, token, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(value(&answer, "transaction_count"), above as f64, "{answer}");
        assert!(answer["summary"].as_str().unwrap().contains("above 100.00 USD"), "{answer}");

        // A ranking on any dimension, with a group condition.
        let body = json!({
            "analysis": "breakdown",
            "metrics": ["declined_count"],
            "group_by": ["issuer_bin"],
            "top_n": 1,
            "having": [{"metric": "transaction_count", "min": 2}],
            "time": october,
            "as_of": AS_OF,
        });
        let (status, answer) = query(&server, token, &body).await;
        assert_eq!(status, 200, "{answer}");
        let mut declines: std::collections::HashMap<&str, (u64, u64)> = Default::default();
        for r in &rows {
            let e = declines.entry(r["issuer_bin"].as_str()).or_default();
            e.0 += 1;
            e.1 += u64::from(r["approved"] == "False");
        }
        let most = declines.values().filter(|(n, _)| *n >= 2).map(|(_, d)| *d).max().unwrap();
        let top = &answer["metrics"].as_array().unwrap()[0];
        assert_eq!(
            (top["name"].as_str(), top["value"].as_f64()),
            (Some("declined_count"), Some(most as f64))
        );
        assert!(top["dimensions"]["issuer_bin"].is_string(), "{answer}");
    }

    // A forecast's total is marked as such, within the documented schema (every response of
    // these tests is checked against it).
    let body = json!({"analysis": "forecast", "metrics": ["fraud_rate"], "as_of": AS_OF});
    let (status, answer) = query(&server, &tokens[0], &body).await;
    assert_eq!(status, 200, "{answer}");
    let total = answer["metrics"].as_array().unwrap().iter().find(|m| m["name"] == "fraud_rate_forecast");
    assert_eq!(total.map(|m| &m["period"]), Some(&json!("forecast")), "{answer}");

    // A question in words, and its interpretation sent back as a typed query: the same numbers.
    for question in [
        "Approval rate excluding Visa in October 2026",
        "Top 5 merchants by approval rate with at least 20 transactions in October 2026",
        "Sales on 2026-10-16 vs the same day last week",
        "How many transactions above 100 USD in October 2026?",
    ] {
        let (status, asked) = server.ask(&tokens[0], json!({"query": question, "as_of": AS_OF})).await;
        assert_eq!(status, 200, "{asked}");
        let typed = asked["interpretation"]["query"].clone();
        assert!(typed.is_object(), "{question}: {asked}");
        let (status, answered) = query(&server, &tokens[0], &typed).await;
        assert_eq!(status, 200, "{question}: {answered}");
        assert_eq!(answered["metrics"], asked["metrics"], "{question}");
        assert_eq!(answered["interpretation"]["text"], asked["interpretation"]["text"], "{question}");
    }

    // The same query for two banks: each its own numbers.
    let body =
        json!({"analysis": "describe", "metrics": ["transaction_count"], "time": october, "as_of": AS_OF});
    let counts: Vec<f64> = {
        let mut out = Vec::new();
        for token in &tokens {
            out.push(value(&query(&server, token, &body).await.1, "transaction_count"));
        }
        out
    };
    for ((_, dir), count) in banks.iter().zip(&counts) {
        assert_eq!(*count, october_auths(dir).len() as f64);
    }

    // Queries that cannot be answered as given: 400, saying what is wrong and how to fix it.
    let refused = [
        (json!({"analysis": "describe", "metrics": ["approval_ratio"]}), "invalid_request", "approval_ratio"),
        (json!({"analysis": "describe"}), "invalid_request", "needs at least one metric"),
        (
            json!({"analysis": "anomaly", "metrics": ["settled_amount"]}),
            "invalid_request",
            "not settled_amount",
        ),
        (json!({"analysis": "breakdown", "metrics": ["chargeback_count"]}), "invalid_request", "group_by"),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"],
                   "amount": [{"op": "gt", "value": "100", "currency": "USD"}, {"op": "lt", "value": "5", "currency": "EUR"}]}),
            "invalid_request",
            "one currency",
        ),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"],
                   "amount": [{"op": "gt", "value": "1.005", "currency": "USD"}]}),
            "invalid_request",
            "1.005",
        ),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"],
                   "where": [{"dimension": "day_of_week", "op": "eq", "value": "caturday"}]}),
            "invalid_request",
            "caturday",
        ),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"],
                   "where": [{"dimension": "network", "op": "in", "value": "visa"}]}),
            "invalid_request",
            "`values`",
        ),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"], "time": {"from": "2026-10-31", "to": "2026-10-01"}}),
            "invalid_request",
            "before it starts",
        ),
        (json!({"analysis": "clarify", "metrics": ["transaction_count"]}), "invalid_request", "outcome"),
        (
            json!({"analysis": "describe", "metrics": ["transaction_count"], "top_n": 3}),
            "invalid_request",
            "group_by",
        ),
    ];
    for (body, code, says) in refused {
        let (status, error) = query(&server, &tokens[0], &body).await;
        assert_eq!(status, 400, "{body}: {error}");
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        assert!(error["error"]["message"].as_str().unwrap().contains(says), "{body}: {error}");
    }
    // Without a token: 401, as every bank-scoped route.
    let (status, _, _) = server.call("/query", server.post("/query", None).json(&body)).await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn typed_queries_on_the_embedded_backend() {
    typed_queries_are_answered_exactly(Server::start().await).await;
}

#[tokio::test]
async fn typed_queries_on_postgres() {
    let Some(server) = Server::start_postgres().await else { return };
    typed_queries_are_answered_exactly(server).await;
}
