//! A client for OpenAI-compatible APIs (`/v1/chat/completions`, `/v1/embeddings`): built
//! once, with timeouts and bounded retries on 429, 5xx and transport errors.

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::config::LlmSettings;
use crate::error::{Error, Result};
use crate::http_client::{post_json, Retries};

/// The first try and two retries, 200 ms then 600 ms apart.
const RETRIES: Retries = Retries { attempts: 3, first_wait: Duration::from_millis(200), growth: 3 };

/// An OpenAI-compatible endpoint.
#[derive(Clone)]
pub struct OpenAiClient {
    http: reqwest::Client,
    base: String,
    api_key: Option<String>,
    model: String,
    embedding_model: Option<String>,
    timeout: Duration,
}

impl std::fmt::Debug for OpenAiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("base", &self.base)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

const CLASSIFY_SYSTEM: &str = "You classify payments-analytics questions into a typed query (JSON). Reply with one JSON \
object only, no prose. Fields: \"analysis\": describe|trend|compare|breakdown|why|anomaly|forecast|what_if|reconcile|lookup|\
relationship, or unsupported when the question cannot be expressed; \"metrics\": [names from: transaction_count, approved_count, \
declined_count, approval_rate, decline_rate, transaction_amount, average_ticket, cleared_count, cleared_amount, settled_count, \
settled_amount, interchange_fees, net_settlement, refund_count, refund_amount, chargeback_count, chargeback_amount, \
chargeback_rate, fraud_count, fraud_amount, fraud_rate, cross_border_share, settlement_delay_hours, reconciliation_rate, \
unmatched_auth_count]; \"where\": [{\"dimension\": one of network, merchant_id, merchant_name, mcc, merchant_country, \
issuer_country, issuer_bin, entry_mode, response_code, reason_code, currency, hour_of_day, day_of_week, cross_border, \
\"op\": eq|ne|in|not_in, \"value\": text (eq, ne) or \"values\": [texts] (in, not_in)}]; \"amount\": [{\"op\": \
gt|gte|lt|lte, \"value\": \"100.00\", \"currency\": ISO code}]; \"time\": {\"range\": 7d|30d|90d|1y|mtd|qtd|ytd|all} \
or {\"from\": YYYY-MM-DD, \"to\": YYYY-MM-DD}; \"group_by\": [dimensions]; \"granularity\": hour|day|week|month; \
\"order\": {\"metric\": name, \"descending\": bool}; \"top_n\": integer; \"having\": [{\"metric\": count metric, \
\"min\": integer, \"max\": integer}]; \"scenario\": {\"metric\": name, \"percent\": number} or {\"metric\": rate, \
\"points\": number}. Leave out what the question does not say. If a word of the question cannot be expressed with these \
fields, answer {\"analysis\": \"unsupported\"}. Never invent numbers.";

const REPHRASE_SYSTEM: &str = "You rewrite a payments-analytics summary so that it reads like a senior analyst wrote it. \
Keep every number exactly as written (same digits, same rounding, same units and currencies), add no numbers, no dates \
and no claims that are not in the summary. Reply with the rewritten summary only.";

impl OpenAiClient {
    /// A client for the configured endpoint.
    pub fn new(settings: &LlmSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.timeout.min(Duration::from_secs(3)))
            .timeout(settings.timeout)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the LLM client: {e}")))?;
        Ok(OpenAiClient {
            http,
            base: settings.base_url.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            api_key: settings.api_key.as_ref().map(|k| k.expose_secret().to_owned()),
            model: settings.model.clone(),
            embedding_model: settings.embedding_model.clone(),
            timeout: settings.timeout,
        })
    }

    /// The chat model.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The embedding model, when configured.
    pub fn embedding_model(&self) -> Option<&str> {
        self.embedding_model.as_deref()
    }

    async fn post(&self, path: &str, body: &Value, timeout: Duration) -> Result<Value> {
        let url = format!("{}/v1/{path}", self.base);
        post_json("llm", path, RETRIES, || {
            let req = self.http.post(&url).json(body).timeout(timeout);
            match &self.api_key {
                Some(key) => req.bearer_auth(key),
                None => req,
            }
        })
        .await
    }

    async fn chat(&self, system: &str, user: &str, timeout: Duration) -> Result<String> {
        let body = json!({
            "model": self.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        });
        let v = self.post("chat/completions", &body, timeout).await?;
        v.pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::unavailable("llm", "response has no choices[0].message.content"))
    }

    /// Classifies a question; the reply must be one JSON object.
    pub async fn classify(&self, question: &str) -> Result<Value> {
        let text = self.chat(CLASSIFY_SYSTEM, question, self.timeout).await?;
        let trimmed = text
            .trim()
            .trim_start_matches("```json")
            .trim_start_matches("```")
            .trim_end_matches("```")
            .trim();
        serde_json::from_str(trimmed)
            .map_err(|_| Error::unavailable("llm", "classification is not a JSON object"))
    }

    /// Rephrases a summary.
    pub async fn rephrase(&self, question: &str, summary: &str) -> Result<String> {
        let user = format!("Question: {question}\nSummary: {summary}");
        let text = self.chat(REPHRASE_SYSTEM, &user, self.timeout).await?;
        let text = text.trim();
        if text.is_empty() || text.len() > 4000 {
            return Err(Error::unavailable("llm", "rephrasing is empty or too long"));
        }
        Ok(text.to_owned())
    }

    /// Embeds texts.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let model = self.embedding_model.as_deref().unwrap_or("text-embedding-3-small");
        let v = self
            .post("embeddings", &json!({"model": model, "input": texts}), Duration::from_secs(10))
            .await?;
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::unavailable("llm", "embeddings response has no data"))?;
        let mut out = vec![Vec::new(); texts.len()];
        for item in data {
            let index = item.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
            let vector: Vec<f32> = item
                .get("embedding")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_f64).map(|x| x as f32).collect())
                .unwrap_or_default();
            if let Some(slot) = out.get_mut(index) {
                *slot = vector;
            }
        }
        if out.iter().any(Vec::is_empty) {
            return Err(Error::unavailable("llm", "embeddings response is missing vectors"));
        }
        Ok(out)
    }

    /// Checks the endpoint answers (`GET /v1/models`).
    pub async fn check(&self) -> Result<()> {
        let mut req = self
            .http
            .get(format!("{}/v1/models", self.base))
            .timeout(self.timeout.min(Duration::from_secs(2)));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(Error::unavailable("llm", format!("HTTP {}", r.status().as_u16()))),
            Err(_) => Err(Error::unavailable("llm", "unreachable")),
        }
    }
}
