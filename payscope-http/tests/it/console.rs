//! The console in a real browser: Debian's Chromium, headless, driven through chromedriver's W3C
//! WebDriver API (plain JSON over HTTP). The test signs in with a bank's token, checks that the
//! overview's figures equal what `POST /query` returns for the same query, that the charts are
//! drawn, that a question's answer and interpretation appear, that another bank's token sees
//! none of the first bank's data, and that the page logs no errors and no Content-Security-Policy
//! violations. Screenshots of each page are saved under `target/console/`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{banks, claims, load, Server, Signer};

/// Picks "All time" in the overview's period filter, as a user would.
const PICK_ALL: &str =
    "const s = document.getElementById('f-period'); s.value = 'all'; s.dispatchEvent(new Event('change', {bubbles: true}))";

/// A chromedriver process and one browser session.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// The chromedriver to use (`CHROMEDRIVER` overrides); `None` (skip, or a failure under
/// `PAYSCOPE_REQUIRE_SERVICES=1`) when there is none.
fn chromedriver() -> Option<String> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    if std::path::Path::new(&path).exists() {
        return Some(path);
    }
    assert!(
        std::env::var("PAYSCOPE_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{path} is missing and PAYSCOPE_REQUIRE_SERVICES=1 (install chromium and chromium-driver)"
    );
    eprintln!("skipping: no chromedriver at {path}");
    None
}

impl Browser {
    async fn start() -> Option<Browser> {
        let path = chromedriver()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1800"]},
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session =
            r["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {r}")).to_owned();
        Some(Browser { driver, base, session, http })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(b) = body {
            request = request.json(&b);
        }
        let r: Value = request.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "{path}: {r}");
        r["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// Runs a script in the page (its arguments as `arguments[i]`) and returns its value.
    async fn run(&self, script: &str, args: Value) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Waits until `script` returns a truthy value, and returns it.
    async fn until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.run(script, json!([])).await;
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types into the element `css` and submits its form, as a user would.
    async fn type_and_submit(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
        self.run("document.querySelector(arguments[0]).form.requestSubmit()", json!([css])).await;
    }

    /// Types into the element `css` as a user would (`\u{E007}` is the Enter key).
    async fn type_text(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    /// The WebDriver id of the element `css` selects.
    async fn find(&self, css: &str) -> String {
        let el = self
            .call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css})))
            .await;
        el.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).unwrap().to_owned()
    }

    /// Chooses a local file in a file input, as a user picking it would.
    async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let id = self.find(css).await;
        let text = path.canonicalize().unwrap().to_string_lossy().into_owned();
        self.call(reqwest::Method::POST, &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    async fn screenshot(&self, name: &str) {
        use base64::Engine as _;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }

    /// The browser's console messages at warning level or above (CSP violations included).
    async fn problems(&self) -> Vec<String> {
        let url = format!("{}/session/{}/se/log", self.base, self.session);
        let r: Value =
            self.http.post(url).json(&json!({"type": "browser"})).send().await.unwrap().json().await.unwrap();
        let entries = r["value"].as_array().unwrap_or_else(|| panic!("no browser log: {r}"));
        entries
            .iter()
            .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
            .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The value the API gives for the overview's first KPI query.
fn api_value(answer: &Value, name: &str) -> f64 {
    answer["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name && m["currency"].is_null())
        .and_then(|m| m["value"].as_f64())
        .unwrap_or_else(|| panic!("no {name} in {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_shows_the_apis_figures_and_answers_questions() {
    let Some(browser) = Browser::start().await else { return };
    let server = Server::start().await;
    let signer = Signer::rsa();
    let banks = banks();
    let tokens: Vec<String> = banks.iter().map(|(id, _)| signer.sign(&claims(*id, &["analyst"]))).collect();
    load(&server, &tokens[0], &banks[0].1).await;

    // The page and its assets: hashed, cached, compressed, under a strict policy.
    let page = server.get("/", None).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
    assert_eq!(page.headers()["cache-control"], "no-cache");
    let html = server.get("/", None).send().await.unwrap().text().await.unwrap();
    let js = html.split("src=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    assert!(js.starts_with("/console/console.") && js.ends_with(".js") && js.len() > 30, "{js}");
    let asset = server.get(&js, None).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(asset.headers()["content-encoding"], "gzip");
    assert_eq!(server.get("/console/console.js", None).send().await.unwrap().status(), 404);
    let demo: Value = server.get("/console/demo-banks", None).send().await.unwrap().json().await.unwrap();
    assert_eq!(demo, json!([]), "demo tokens only in --demo mode");

    // Sign in with the token, as an analyst pastes it.
    browser.goto(&server.url("/")).await;
    browser.type_and_submit("#token", &tokens[0]).await;
    browser.until("the overview", "return !document.getElementById('overview').hidden").await;
    let shown_period = "return document.getElementById('period-text').textContent";
    let first = browser.until("the first load", shown_period).await;
    // The whole history, whatever day the test runs; compared with the API's for the same query.
    browser.run(PICK_ALL, json!([])).await;
    browser
        .until("the KPI cards", &format!("const t = document.getElementById('period-text').textContent; return t !== {first} && document.querySelectorAll('#kpis .kpi').length >= 10"))
        .await;
    let kpi = |name: &str| {
        format!("const c = document.querySelector('#kpis .kpi[data-metric=\"{name}\"] .value'); return c && c.textContent")
    };
    let count_text = browser.until("the count card", &kpi("transaction_count")).await;
    let rate_text = browser.until("the rate card", &kpi("approval_rate")).await;
    let body = json!({"analysis": "describe", "metrics": ["transaction_count", "approval_rate"], "time": {"range": "all"}});
    let (status, _, api) = server.call("/query", server.post("/query", Some(&tokens[0])).json(&body)).await;
    assert_eq!(status, 200);
    let count = api_value(&api, "transaction_count");
    assert!(count > 1000.0, "the sample bank's authorizations are loaded: {api}");
    assert_eq!(count_text.as_str().unwrap().replace(',', "").parse::<f64>().unwrap(), count, "{count_text}");
    assert_eq!(rate_text.as_str().unwrap(), format!("{:.2}%", api_value(&api, "approval_rate") * 100.0));
    // The forecast is drawn with its interval band; the anomaly panel says what the API says.
    browser
        .until("the forecast band", "const b = document.querySelector('#chart-forecast svg path.band'); return b && b.getAttribute('d').length > 20")
        .await;
    let anomalies =
        browser.until("the anomaly panel", "return document.getElementById('anomalies').textContent").await;
    let body = json!({"analysis": "anomaly", "metrics": ["decline_rate"], "time": {"range": "30d"}});
    let (_, _, unusual) = server.call("/query", server.post("/query", Some(&tokens[0])).json(&body)).await;
    assert_eq!(anomalies, unusual["summary"]);
    // The charts are drawn.
    let drawn = browser.run("return document.querySelector('#chart-volume svg path.line').getAttribute('d').split('L').length", json!([])).await;
    assert!(drawn.as_u64().unwrap() > 20, "{drawn}");
    let codes =
        browser.run("return document.querySelectorAll('#chart-codes svg path.line').length", json!([])).await;
    assert_eq!(codes, json!(4), "the four codes with the most declines");
    browser.screenshot("overview").await;

    // A question: the answer and what it was understood as.
    browser.goto(&server.url("/#ask")).await;
    browser.until("the ask page", "return !document.getElementById('ask').hidden").await;
    browser.type_and_submit("#question", "What was the approval rate for Visa in October 2026?").await;
    let summary =
        browser.until("the answer", "return document.getElementById('answer-summary').textContent").await;
    assert!(summary.as_str().unwrap().contains("Approval rate for Visa"), "{summary}");
    let understood =
        browser.run("return document.getElementById('answer-interpretation').textContent", json!([])).await;
    assert!(understood.as_str().unwrap().starts_with("Understood as: Approval rate"), "{understood}");
    browser.until("the history", "return document.querySelectorAll('#history li').length === 1").await;
    browser
        .until("the evidence", "return document.querySelectorAll('#answer-evidence li').length >= 1")
        .await;
    browser.screenshot("ask").await;

    // Reports: the two loaded, then a third uploaded through the page.
    browser.goto(&server.url("/#reports")).await;
    browser
        .until("the report list", "return document.querySelectorAll('#report-list tbody tr').length === 2")
        .await;
    let refunds = crate::support::samples().join(&banks[0].1).join("refund.csv");
    browser.choose_file("#upload-file", &refunds).await;
    browser
        .until(
            "the preview",
            "return document.getElementById('preview-status').textContent.startsWith('Would load')",
        )
        .await;
    browser.run("document.getElementById('upload-type').value = 'refund'; document.getElementById('upload-form').requestSubmit()", json!([])).await;
    let result =
        browser.until("the upload", "return document.getElementById('upload-result').textContent").await;
    assert!(result.as_str().unwrap().starts_with("refund.csv: completed"), "{result}");
    let rows = browser.until("three reports", "const r = document.querySelectorAll('#report-list tbody tr'); return r.length === 3 && [...r].map(x => x.children[2].textContent).join(',')").await;
    assert_eq!(rows, "completed,completed,completed");
    let newest = browser
        .run("return document.querySelector('#report-list tbody tr').children[0].textContent", json!([]))
        .await;
    assert_eq!(newest, "refund.csv", "the uploaded file keeps its name");
    let (_, _, listed) = server.call("/reports", server.get("/reports", Some(&tokens[0]))).await;
    assert_eq!(listed["reports"].as_array().unwrap().len(), 3, "the page's list is the API's");
    browser.screenshot("reports").await;

    // Audit: an analyst without the auditor role is told so.
    browser.goto(&server.url("/#audit")).await;
    let denied =
        browser.until("the audit denial", "return document.getElementById('audit-error').textContent").await;
    assert!(denied.as_str().unwrap().contains("no auditor role"), "{denied}");

    // Another bank's token sees none of this bank's data.
    browser.run("sessionStorage.clear()", json!([])).await;
    browser.goto(&server.url("/")).await;
    browser.type_and_submit("#token", &tokens[1]).await;
    let first = browser.until("bank B's first load", shown_period).await;
    browser.run(PICK_ALL, json!([])).await;
    browser
        .until("bank B's cards", &format!("const t = document.getElementById('period-text').textContent; return t !== {first} && document.querySelectorAll('#kpis .kpi').length >= 10"))
        .await;
    let other = browser.until("bank B's count", &kpi("transaction_count")).await;
    assert_eq!(other.as_str().unwrap(), "0", "bank B sees none of bank A's authorizations");
    browser.screenshot("other-bank").await;
    browser.goto(&server.url("/#reports")).await;
    browser.until("bank B's reports page", "return !document.getElementById('reports').hidden").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let listed =
        browser.run("return document.querySelectorAll('#report-list tbody tr').length", json!([])).await;
    assert_eq!(listed, json!(0), "bank B sees none of bank A's reports");

    // An auditor of bank A sees the chain verify.
    let auditor = signer.sign(&claims(banks[0].0, &["analyst", "auditor"]));
    browser.run("sessionStorage.clear()", json!([])).await;
    browser.goto(&server.url("/")).await;
    browser.type_and_submit("#token", &auditor).await;
    browser.until("the auditor's overview", "return !document.getElementById('overview').hidden").await;
    browser.goto(&server.url("/#audit")).await;
    let status =
        browser.until("the chain status", "return document.getElementById('audit-status').textContent").await;
    assert!(status.as_str().unwrap().starts_with("The audit chain verifies"), "{status}");
    browser.screenshot("audit").await;

    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the console logged problems: {problems:?}");
}

/// In `--demo` mode the sign-in page offers each demo bank with one click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_signs_in_with_one_click() {
    let Some(browser) = Browser::start().await else { return };
    let (bank, _) = banks()[0].clone();
    let token = Signer::rsa().sign(&claims(bank, &["analyst"]));
    let demo = vec![payscope_http::console::DemoSignIn { name: "Demo Bank A".into(), token }];
    let server = Server::start_with(crate::support::Options { demo, ..Default::default() }).await;
    browser.goto(&server.url("/")).await;
    browser
        .until("the demo button", "return document.querySelectorAll('#demo-banks button').length === 1")
        .await;
    browser.run("document.querySelector('#demo-banks button').click()", json!([])).await;
    let who = browser.until("signed in", "return !document.getElementById('overview').hidden && document.getElementById('who').textContent").await;
    assert!(
        who.as_str().unwrap().starts_with("Demo Bank A · analyst"),
        "the bank's name and the roles: {who}"
    );
    let id = browser.run("return document.getElementById('who').title", json!([])).await;
    assert_eq!(id.as_str().unwrap(), format!("bank {bank}"));
    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the console logged problems: {problems:?}");
}

/// A file in a layout PayScope does not know, dropped on the page: the preview shows how each
/// column would be read and how sure the reading is; the person says which column is the
/// transaction id, previews again, saves that as the bank's profile and uploads. Then the
/// audit page lists the question asked with who asked it, and a question PayScope is unsure
/// of is asked back with the closest questions to pick from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_uploads_with_a_mapping_override_and_shows_the_trail() {
    let Some(browser) = Browser::start().await else { return };
    let server = Server::start().await;
    let (bank, _) = banks()[0].clone();
    let token = Signer::rsa().sign(&claims(bank, &["analyst", "bank_admin", "auditor"]));
    // Dutch headers: no language PayScope reads, so the id column is not recognised.
    let mut csv = String::from("Kenmerk,Datum,Bedrag,Valuta,Kaartmerk,Antwoordcode\n");
    for i in 0..40 {
        let network = if i % 3 == 0 { "Mastercard" } else { "Visa" };
        let code = if i % 5 == 0 { "05" } else { "00" };
        csv.push_str(&format!(
            "K{},2026-11-{:02} 10:{:02}:00,{}.{:02},EUR,{network},{code}\n",
            1000 + i,
            1 + i % 28,
            i,
            10 + i,
            i
        ));
    }
    browser.goto(&server.url("/")).await;
    browser.type_and_submit("#token", &token).await;
    browser.until("signed in", "return !document.getElementById('overview').hidden").await;
    browser.goto(&server.url("/#reports")).await;
    browser.until("the reports page", "return !document.getElementById('reports').hidden").await;
    // Dropped on the drop zone.
    browser
        .run(
            "const t = new DataTransfer(); t.items.add(new File([arguments[0]], 'dutch.csv', {type: 'text/csv'}));
             document.getElementById('drop-zone').dispatchEvent(new DragEvent('drop', {dataTransfer: t, bubbles: true, cancelable: true}))",
            json!([csv]),
        )
        .await;
    browser
        .until(
            "the preview",
            "return document.getElementById('preview-status').textContent.startsWith('Would load')",
        )
        .await;
    let kenmerk = "return [...document.querySelectorAll('#preview-columns tbody tr')].find(r => r.children[0].textContent === 'Kenmerk')";
    let read_as = browser.run(&format!("{kenmerk}.querySelector('select').value"), json!([])).await;
    assert_eq!(read_as, "", "the id column is not recognised by itself");
    let amount = browser
        .run("return [...document.querySelectorAll('#preview-columns tbody tr')].find(r => r.children[0].textContent === 'Bedrag').children[2].textContent", json!([]))
        .await;
    assert!(amount.as_str().unwrap().ends_with('%'), "a confidence for each read column: {amount}");
    let first_id =
        browser.run("return document.querySelector('#preview-facts tbody td').textContent", json!([])).await;
    assert_ne!(first_id, "K1000", "without the override, ids are generated");
    browser.screenshot("preview").await;
    // The override: Kenmerk is the transaction id.
    browser
        .run(
            &format!("const s = ({}).querySelector('select'); s.value = 'transaction_id'; s.dispatchEvent(new Event('change', {{bubbles: true}})); document.getElementById('preview-again').click()", kenmerk.trim_start_matches("return ")),
            json!([]),
        )
        .await;
    browser
        .until(
            "the preview with the override",
            "return document.querySelector('#preview-facts tbody td').textContent === 'K1000'",
        )
        .await;
    // Saved as the bank's profile for this header.
    // Enter in the name field saves the profile (it does not upload the file).
    browser.type_text("#profile-name", "Dutch acquirer\u{E007}").await;
    let saved =
        browser.until("the profile", "return document.getElementById('profile-result').textContent").await;
    assert!(saved.as_str().unwrap().starts_with("Saved “Dutch acquirer”"), "{saved}");
    let (_, _, profiles) =
        server.call("/mapping-profiles", server.get("/mapping-profiles", Some(&token))).await;
    assert_eq!(
        profiles["profiles"][0]["mapping"]["columns"],
        json!({"transaction_id": "Kenmerk"}),
        "{profiles}"
    );
    let (_, _, none) = server.call("/reports", server.get("/reports", Some(&token))).await;
    assert_eq!(none["reports"], json!([]), "saving the profile uploaded nothing");
    // Uploaded with the override.
    browser.run("document.getElementById('upload-form').requestSubmit()", json!([])).await;
    let result =
        browser.until("the upload", "return document.getElementById('upload-result').textContent").await;
    assert!(result.as_str().unwrap().starts_with("dutch.csv: completed, 40 facts loaded"), "{result}");
    let (_, _, listed) = server.call("/reports", server.get("/reports", Some(&token))).await;
    let report = &listed["reports"][0];
    assert_eq!(report["mapping_overrides"]["columns"]["transaction_id"], "Kenmerk", "{report}");
    assert!(report["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["column"] == "Kenmerk" && d["field"] == "transaction_id"));
    assert_eq!(report["uploaded_by"]["subject"], "tester");
    let by = browser
        .until("the list", "const r = document.querySelector('#report-list tbody tr'); return r && r.children[8].textContent")
        .await;
    assert_eq!(by, "tester");

    // A question PayScope is unsure of is asked back, with questions to pick from.
    browser.goto(&server.url("/#ask")).await;
    browser.until("the ask page", "return !document.getElementById('ask').hidden").await;
    browser
        .type_and_submit("#question", "What was the approval rate for our platinum tier in November 2026?")
        .await;
    browser.until("the clarification", "return !document.getElementById('clarify').hidden").await;
    let options = browser
        .run(
            "return [...document.querySelectorAll('#clarify-options button')].map(b => b.textContent)",
            json!([]),
        )
        .await;
    let first = options[0].as_str().unwrap_or_else(|| panic!("no option: {options}")).to_owned();
    assert_eq!(
        first, "What was the approval rate in November 2026?",
        "the question without what was not understood"
    );
    browser.screenshot("clarify").await;
    browser.run("document.querySelector('#clarify-options button').click()", json!([])).await;
    let understood = browser
        .until("the picked question's answer", "return document.getElementById('clarify').hidden && document.getElementById('answer-interpretation').textContent")
        .await;
    assert!(understood.as_str().unwrap().starts_with("Understood as: Approval rate"), "{understood}");

    // The audit trail: both questions, who asked, how each was understood.
    browser.goto(&server.url("/#audit")).await;
    let rows = browser
        .until("the trail", "const r = [...document.querySelectorAll('#audit-trail tbody tr[data-answer]')]; return r.length >= 3 && r.map(x => [...x.children].map(c => c.textContent))")
        .await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0][1], "tester");
    assert_eq!(rows[0][2], first.as_str(), "newest first: {rows:?}");
    assert!(rows[0][3].as_str().unwrap().starts_with("Approval rate"), "{rows:?}");
    assert!(rows
        .iter()
        .any(|r| r[2].as_str().unwrap().contains("platinum")
            && r[3].as_str().unwrap().starts_with("not answered")));
    assert!(
        rows.iter().any(|r| r[2] == "mapping_profile.created"),
        "profile changes are in the chain: {rows:?}"
    );
    browser.run("document.getElementById('audit-subject').value = 'someone-else'; document.getElementById('audit-filter').requestSubmit()", json!([])).await;
    browser
        .until("the filtered trail", "return document.querySelector('#audit-trail tbody td').textContent === 'Nothing asked by someone-else.'")
        .await;
    browser.screenshot("audit-trail").await;
    let problems = browser.problems().await;
    assert!(problems.is_empty(), "the console logged problems: {problems:?}");
}
