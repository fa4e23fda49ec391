//! `Engine::ask`: parse (with an LLM fallback when unsure), plan, run the agents concurrently,
//! compose and ground the summary, score confidence, audit, cache.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::Engine;
use crate::agents::plan::plan;
use crate::agents::{narrative, Agent, Input, KnowledgeIndex, MerchantNames, Output};
use crate::bank::{BankContext, Permission};
use crate::calendar::{TimeRange, Timestamp};
use crate::error::{Error, Result};
use crate::llm::{CLASSIFY_PROMPT_VERSION, REPHRASE_PROMPT_VERSION};
use crate::money::Currency;
use crate::query::answer::{Answer, Grounding, Interpretation};
use crate::query::parse::{parse, MerchantLexicon};
use crate::query::question::{Intent, Query, Question};
use crate::query::{TimeRangeSpec, TypedQuery};
use crate::store::audit::{AnswerId, AuditBody, AuditRecord};
use crate::store::cache::CacheKey;
use crate::store::metric::{Dimension, Metric, MetricQuery};
use crate::telemetry::{AgentLabels, AgentStatusLabels, ChatLabels, IntentLabels};

/// Version of the answer schema recorded in the audit trail.
pub const ANSWER_SCHEMA_VERSION: &str = "answer-v1";

/// What happened to one agent.
#[derive(Debug, Clone, serde::Serialize)]
struct Trace {
    agent: &'static str,
    status: &'static str,
    duration_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// A bank's data version and its lexicon, once built.
pub(super) type LexiconCell = (u64, Arc<tokio::sync::OnceCell<Arc<Lexicon>>>);

/// A bank's merchants as the parser and the labels need them, for one data version, and the
/// work already done for questions asked again: their parses, and cached answers ready to be
/// served (decoded, with their audit bodies built).
pub(super) struct Lexicon {
    parser: MerchantLexicon,
    names: MerchantNames,
    parsed: std::sync::Mutex<std::collections::HashMap<ParseKey, Arc<Reading>>>,
    /// By a hash of the cache key and the question's text (looked up without copying them).
    replays: std::sync::Mutex<std::collections::HashMap<u64, Arc<Replay>>>,
    /// A lock per question being computed (by the same hash as `replays`), see [`Lexicon::claim`].
    computing: std::sync::Mutex<std::collections::HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    hasher: std::collections::hash_map::RandomState,
}

/// What a parse depends on besides the lexicon: `as_of`, the request's time range and
/// filters, the question.
type ParseKey = (i64, TimeRangeSpec, std::collections::BTreeMap<String, String>, String);

/// Parsed questions (and, separately, replays) remembered per bank and data version.
const PARSED_QUESTIONS: usize = 1024;

/// A cached answer as it is served again: everything but its answer id is the same each time.
pub(super) struct Replay {
    /// The cache key and question text it serves.
    key: CacheKey,
    text: String,
    /// The cache's text it was decoded from (a replay is used only while the cache holds it).
    cached: String,
    answer: Answer,
    body: AuditBody,
}

impl Replay {
    /// The answer as JSON with the answer id `id`: the cached text with its id swapped
    /// (`answer_id` is the first field, a hyphenated UUID).
    fn json_with(&self, id: AnswerId) -> Result<Vec<u8>> {
        const PREFIX: &str = "{\"answer_id\":\"";
        let old = self.answer.answer_id.to_string();
        match self.cached.strip_prefix(PREFIX).and_then(|rest| rest.strip_prefix(old.as_str())) {
            Some(rest) => {
                let mut json = Vec::with_capacity(self.cached.len());
                json.extend_from_slice(PREFIX.as_bytes());
                json.extend_from_slice(
                    id.0.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes(),
                );
                json.extend_from_slice(rest.as_bytes());
                Ok(json)
            }
            None => Ok(serde_json::to_vec(&Answer { answer_id: id, ..self.answer.clone() })?),
        }
    }
}

/// A question as the agents receive it, with the interpretation its answer carries (worked
/// out once per reading, not per answer).
#[derive(Clone)]
struct Reading {
    question: Question,
    interpretation: Option<Interpretation>,
}

impl Reading {
    fn of(question: Question) -> Reading {
        let answerable = !matches!(question.intent, Intent::Unsupported | Intent::Clarify);
        let interpretation = answerable
            .then(|| Interpretation { text: question.restatement(), query: TypedQuery::of(&question) });
        Reading { question, interpretation }
    }
}

/// What was asked: a question in words, or a typed query (by its canonical JSON).
enum Request {
    Question { text: String, time_range: Option<TimeRangeSpec> },
    Query { key: String },
}

/// An answer just computed, or a cached one served again under a new id.
enum Asked {
    Fresh(Box<Answer>),
    Replayed(AnswerId, Arc<Replay>),
}

impl Lexicon {
    /// Reads a question as the agents will receive it — parsed, asked back when words are
    /// left unplaced, settled into its typed query — or returns the reading of the same inputs
    /// before.
    fn read(
        &self,
        request: &Query,
        text: &str,
        as_of: Timestamp,
        fallback: &TimeRangeSpec,
    ) -> Result<Reading> {
        let key: ParseKey = (as_of.0, fallback.clone(), request.filters.clone(), text.to_owned());
        let remembered = self.parsed.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        if let Some(reading) = remembered {
            return Ok(Reading::clone(&reading));
        }
        let question = settle(ask_back(parse(text, as_of, fallback, &request.filters, &self.parser)?));
        let reading = Reading::of(question);
        let mut parsed = self.parsed.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.len() >= PARSED_QUESTIONS {
            parsed.clear();
        }
        parsed.insert(key, Arc::new(reading.clone()));
        Ok(reading)
    }

    /// Claims computing the question `text` under `key`: the claim, held until its answer is
    /// cached, when no one else holds it; otherwise waits for the holder to finish and returns
    /// `None`. A waiter that then misses the cache (the holder failed) computes unclaimed, so
    /// failures are not repeated one after another.
    async fn claim(&self, key: &CacheKey, text: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        use std::hash::BuildHasher;
        let slot = self.hasher.hash_one((key, text));
        let lock = {
            let mut computing = self.computing.lock().unwrap_or_else(|e| e.into_inner());
            // Locks stay after use (an idle one costs nothing); a rare clear only lets a
            // question in flight be computed twice.
            if computing.len() >= PARSED_QUESTIONS && !computing.contains_key(&slot) {
                computing.clear();
            }
            computing.entry(slot).or_default().clone()
        };
        match lock.clone().try_lock_owned() {
            Ok(claim) => Some(claim),
            Err(_) => {
                drop(lock.lock_owned().await);
                None
            }
        }
    }

    /// The replay of `cached` for the question `text` under `key`, built on first use.
    fn replay(
        &self,
        key: &CacheKey,
        text: &str,
        cached: &str,
        build: impl FnOnce() -> Option<Replay>,
    ) -> Option<Arc<Replay>> {
        use std::hash::BuildHasher;
        let slot = self.hasher.hash_one((key, text));
        let known = self.replays.lock().unwrap_or_else(|e| e.into_inner()).get(&slot).cloned();
        if let Some(replay) = known.filter(|r| r.cached == cached && r.text == text && r.key == *key) {
            return Some(replay);
        }
        let replay = Arc::new(build()?);
        let mut replays = self.replays.lock().unwrap_or_else(|e| e.into_inner());
        if replays.len() >= PARSED_QUESTIONS {
            replays.clear();
        }
        replays.insert(slot, replay.clone());
        Some(replay)
    }
}

/// Confidence (documented in ARCHITECTURE.md): parse confidence × data coverage factor ×
/// sample-size factor × agent-failure factor, clamped to 0.05–0.99; unsupported ≤ 0.3.
fn confidence(q: &Question, out: &Output, failed: usize, total: usize) -> f64 {
    if matches!(q.intent, Intent::Unsupported | Intent::Clarify) {
        return q.confidence.min(0.3);
    }
    let coverage = 0.5 + 0.5 * out.coverage.unwrap_or(1.0);
    let sample = match (out.reliability, out.sample) {
        (Some(r), _) => r,
        (None, s) => match s {
            None => 1.0,
            Some((_, 0)) => 0.4,
            Some((k, n)) if k == n => (0.6 + 0.4 * ((n as f64 + 1.0).log10() / 3.0)).min(1.0),
            Some((k, n)) => {
                let p = k as f64 / n as f64;
                let half_width = 1.96 * (p * (1.0 - p) / n as f64).sqrt();
                1.0 - (2.0 * half_width).min(0.5)
            }
        },
    };
    let failures = if total == 0 { 1.0 } else { 1.0 - 0.5 * failed as f64 / total as f64 };
    ((q.confidence * coverage * sample * failures).clamp(0.05, 0.99) * 100.0).round() / 100.0
}

/// Now, to the minute: answers without an explicit `as_of` are as of the current minute (so
/// they can be cached).
fn this_minute() -> Timestamp {
    let now = Timestamp::now();
    Timestamp(now.0 - now.0.rem_euclid(60_000))
}

/// Never a different question: a question with words the parse could not place is not
/// answered with numbers (an answer that leaves them out may answer another question); it is
/// asked back.
fn ask_back(mut q: Question) -> Question {
    if q.intent != Intent::Unsupported && !q.not_understood.is_empty() {
        q.intent = Intent::Clarify;
        q.confidence = q.confidence.min(0.3);
    }
    q
}

/// The question as the agents receive it: its typed form, resolved — the same question a
/// client would ask with that query on `POST /query`. A reading the typed query refuses (a
/// anomaly of an amount) is not answered as another question: it is unsupported, with the reason.
fn settle(q: Question) -> Question {
    if matches!(q.intent, Intent::Clarify | Intent::Unsupported) {
        return q;
    }
    match TypedQuery::of(&q).resolve(q.as_of) {
        Ok(resolved) => Question {
            text: q.text,
            not_understood: q.not_understood,
            missing: q.missing,
            confidence: q.confidence,
            time: crate::query::time::TimeSpec {
                phrase: q.time.phrase,
                explicit: q.time.explicit,
                future: q.time.future,
                ..resolved.time
            },
            ..resolved
        },
        Err(e) => Question {
            refused: Some(format!(
                "I understood this as \"{}\", but {}",
                q.restatement(),
                e.public_message()
            )),
            intent: Intent::Unsupported,
            confidence: q.confidence.min(0.3),
            ..q
        },
    }
}

/// The question as a cache key: lowercase, whitespace collapsed.
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    // Questions are nearly always ASCII, lowercased in place; lowercasing char by char was
    // a tenth of a cached answer's instructions besides SHA-256.
    if out.is_ascii() {
        out.make_ascii_lowercase();
        return out;
    }
    out.chars().flat_map(char::to_lowercase).collect()
}

impl Engine {
    /// The bank's merchant lexicon, rebuilt when its data version moves.
    async fn lexicon(&self, ctx: &BankContext, version: u64) -> Result<Arc<Lexicon>> {
        let cell = {
            let mut lexicons = self.inner.lexicons.lock().unwrap_or_else(|e| e.into_inner());
            let slot = lexicons.entry(ctx.bank_id()).or_default();
            if slot.0 != version {
                *slot = (version, Default::default());
            }
            slot.1.clone()
        };
        let lexicon = cell
            .get_or_try_init(|| async {
                let values =
                    self.inner.stores.metrics.dimension_values(ctx, Dimension::MerchantId, 100_000).await?;
                let names: MerchantNames =
                    values.iter().filter_map(|v| v.label.clone().map(|l| (v.value.clone(), l))).collect();
                let parser = MerchantLexicon::new(values.into_iter().map(|v| (v.value, v.label)));
                Ok::<_, Error>(Arc::new(Lexicon {
                    parser,
                    names,
                    parsed: Default::default(),
                    replays: Default::default(),
                    computing: Default::default(),
                    hasher: Default::default(),
                }))
            })
            .await?;
        Ok(lexicon.clone())
    }

    async fn knowledge(&self) -> Result<Arc<KnowledgeIndex>> {
        self.inner
            .knowledge
            .get_or_try_init(|| async { KnowledgeIndex::build(&self.inner.embedder).await.map(Arc::new) })
            .await
            .cloned()
    }

    /// The currency with the most approved authorizations over `range`.
    async fn home_currency(&self, ctx: &BankContext, range: TimeRange) -> Result<Option<Currency>> {
        let q = MetricQuery::new([Metric::ApprovedCount], range).group_by(Dimension::Currency);
        let r = self.inner.stores.metrics.query(ctx, &q).await?;
        Ok(r.rows
            .iter()
            .max_by_key(|row| row.values[0].count().unwrap_or(0))
            .and_then(|row| row.group[0].as_deref())
            .and_then(Currency::from_code))
    }

    /// Answers a question (docs/questions.md) for the caller's bank.
    pub async fn ask(&self, ctx: &BankContext, request: Query) -> Result<Answer> {
        Ok(match self.answer(ctx, request).await? {
            Asked::Fresh(answer) => *answer,
            Asked::Replayed(answer_id, replay) => Answer { answer_id, ..replay.answer.clone() },
        })
    }

    /// [`Engine::ask`], with the answer as its JSON (what the HTTP API sends): a cached
    /// answer served again is not decoded and serialized again.
    pub async fn ask_json(&self, ctx: &BankContext, request: Query) -> Result<Vec<u8>> {
        match self.answer(ctx, request).await? {
            Asked::Fresh(answer) => Ok(serde_json::to_vec(&answer)?),
            Asked::Replayed(answer_id, replay) => replay.json_with(answer_id),
        }
    }

    async fn answer(&self, ctx: &BankContext, mut request: Query) -> Result<Asked> {
        let started = Instant::now();
        ctx.require(Permission::Ask)?;
        // A card number typed into a question goes no further: not into the parse, the cache,
        // the audit chain, a log line or a model's prompt.
        if let std::borrow::Cow::Owned(masked) = crate::ingest::pan::redact_cow(&request.query) {
            request.query = masked;
        }
        let text = request.query.trim();
        let chars = text.chars().count();
        if chars == 0 || chars > Query::MAX_CHARS {
            return Err(Error::invalid(
                "invalid_request",
                format!("query must be 1 to {} characters, got {chars}", Query::MAX_CHARS),
            ));
        }
        let as_of = request.as_of.unwrap_or_else(this_minute);
        let stats = self.inner.stores.facts.stats(ctx).await?;
        let lexicon = self.lexicon(ctx, stats.data_version).await?;
        let fallback = request.time_range.clone().unwrap_or_default();
        let mut reading = lexicon.read(&request, text, as_of, &fallback)?;
        // A question asked back may still be read by the language model (its proposal then
        // replaces the reading, checked like a typed query).
        let (warnings, prompts) = self.read_with_model(&mut reading.question, text).await;
        if !prompts.is_empty() {
            reading = Reading::of(reading.question);
        }
        let asked = Request::Question { text: text.to_owned(), time_range: request.time_range };
        self.respond(ctx, started, asked, reading, (stats, lexicon), warnings, prompts).await
    }

    /// Answers a typed query (docs/query.md) for the caller's bank: no language involved.
    pub async fn query(&self, ctx: &BankContext, query: &TypedQuery) -> Result<Answer> {
        Ok(match self.answer_typed(ctx, query).await? {
            Asked::Fresh(answer) => *answer,
            Asked::Replayed(answer_id, replay) => Answer { answer_id, ..replay.answer.clone() },
        })
    }

    /// [`Engine::query`], with the answer as its JSON.
    pub async fn query_json(&self, ctx: &BankContext, query: &TypedQuery) -> Result<Vec<u8>> {
        match self.answer_typed(ctx, query).await? {
            Asked::Fresh(answer) => Ok(serde_json::to_vec(&answer)?),
            Asked::Replayed(answer_id, replay) => replay.json_with(answer_id),
        }
    }

    async fn answer_typed(&self, ctx: &BankContext, query: &TypedQuery) -> Result<Asked> {
        let started = Instant::now();
        ctx.require(Permission::Ask)?;
        let mut question = query.resolve(this_minute())?;
        question.text = question.restatement();
        let stats = self.inner.stores.facts.stats(ctx).await?;
        let lexicon = self.lexicon(ctx, stats.data_version).await?;
        // The same query in any spelling is one cache entry: keyed by its resolved form.
        let asked = Request::Query { key: serde_json::to_string(&TypedQuery::of(&question))? };
        self.respond(ctx, started, asked, Reading::of(question), (stats, lexicon), vec![], vec![]).await
    }

    /// Reads a question the grammar was unsure of with the language model, when one is
    /// configured: the warnings to show and the prompts used.
    async fn read_with_model(&self, question: &mut Question, text: &str) -> (Vec<String>, Vec<&'static str>) {
        let mut warnings = Vec::new();
        let mut prompts = Vec::new();
        // A question the grammar placed whole needs no model; nor one about data the reports
        // do not hold (no reading can supply it).
        let placed = question.confidence >= 0.5 && question.not_understood.is_empty();
        if placed || !question.missing.is_empty() || question.refused.is_some() {
            return (warnings, prompts);
        }
        match self.inner.llm.classify(text).await {
            Ok(Some(v)) => match crate::query::parse::apply_proposal(question, &v) {
                Ok(reading) => {
                    prompts.push(CLASSIFY_PROMPT_VERSION);
                    // Its words were placed by the model, not the grammar: say so, and how.
                    warnings.push(format!(
                        "The question was read by the language model as \"{reading}\"; that reading was checked like any typed query."
                    ));
                }
                Err(e) => {
                    warnings.push(format!("The language model's reading of the question was discarded: {e}."))
                }
            },
            Ok(None) => {}
            Err(e) => {
                self.inner.telemetry.error(e.kind(), "llm");
                warnings.push("The language model was unavailable; the question was read without it.".into());
            }
        }
        (warnings, prompts)
    }

    /// Answers a resolved question: from the cache, or by running its agents.
    #[allow(clippy::too_many_arguments)]
    async fn respond(
        &self,
        ctx: &BankContext,
        started: Instant,
        asked: Request,
        reading: Reading,
        (stats, lexicon): (crate::store::FactStats, Arc<Lexicon>),
        mut warnings: Vec<String>,
        mut prompts: Vec<&'static str>,
    ) -> Result<Asked> {
        let Reading { mut question, mut interpretation } = reading;
        let as_of = question.as_of;
        // "all time" starts at the bank's first fact.
        if question.time.range.from == Timestamp(0) {
            if let Some(first) = stats.first {
                question.time.range.from = first.date().start();
                interpretation = Reading::of(question.clone()).interpretation;
            }
        }
        let (text, request_range) = match &asked {
            Request::Question { text, time_range } => (text.as_str(), time_range.clone()),
            Request::Query { key } => (key.as_str(), None),
        };
        let cache_key = CacheKey {
            question: normalize(text),
            // Times as milliseconds: formatting them as dates cost more than the rest of the key.
            scope: serde_json::to_string(&(
                (question.time.range.from.0, question.time.range.to.0),
                &question.filters,
                &request_range,
                as_of.0,
            ))?,
            data_version: stats.data_version,
        };
        let mut replay = self.cached(ctx, &lexicon, &cache_key, text, &question, &prompts).await;
        // Held until this function returns, after the answer is cached.
        let mut _claim = None;
        if replay.is_none() && !self.inner.options.cache_ttl.is_zero() {
            // Concurrent misses of one question (every dashboard at the turn of a minute)
            // compute it once: the others wait, then take its answer from the cache.
            match lexicon.claim(&cache_key, text).await {
                Some(claimed) => _claim = Some(claimed),
                None => replay = self.cached(ctx, &lexicon, &cache_key, text, &question, &prompts).await,
            }
        }
        if let Some(replay) = replay {
            let answer_id = AnswerId::new();
            self.audit(ctx, answer_id, replay.body.clone()).await?;
            self.record(ctx, &replay.answer, started, "cached");
            return Ok(Asked::Replayed(answer_id, replay));
        }
        let agents = plan(&question);
        let home_range = if question.time.future {
            TimeRange::new(Timestamp(as_of.0 - 30 * crate::calendar::MS_PER_DAY), as_of)
        } else {
            question.time.range
        };
        // Only money needs a main currency (to describe one of several).
        let money = question.metrics.iter().any(|m| m.unit() == crate::store::metric::Unit::Currency)
            || matches!(question.intent, Intent::Forecast | Intent::WhatIf);
        let home = if money { self.home_currency(ctx, home_range).await.unwrap_or(None) } else { None };
        let knowledge = self.knowledge().await?;
        let input = Input {
            stores: &self.inner.stores,
            ctx,
            q: &question,
            merchants: &lexicon.names,
            embedder: &self.inner.embedder,
            knowledge: &knowledge,
            home,
        };
        let runs = futures::future::join_all(agents.iter().map(|agent| self.run_agent(*agent, &input))).await;
        let mut output = Output::default();
        let mut traces = Vec::new();
        let mut failed = 0;
        for (trace, result) in runs {
            match result {
                Ok(o) => output.merge(o),
                Err(e) => {
                    failed += 1;
                    warnings.push(format!(
                        "The {} analysis failed ({}); the answer leaves it out.",
                        trace.agent,
                        e.public_message()
                    ));
                }
            }
            traces.push(trace);
        }
        output.warnings.splice(0..0, warnings);
        if let Some((_, n)) = output.sample {
            if n > 0 && n < 30 && !matches!(question.intent, Intent::Unsupported | Intent::Clarify) {
                output.warnings.push(format!("Low volume: only {n} records behind this answer."));
            }
        }
        if output.coverage.is_some_and(|c| c < 0.9) {
            output
                .warnings
                .push("Part of the period has no data; figures cover only the days with reports.".into());
        }
        let mut agents_invoked: Vec<String> = agents.iter().map(|a| a.name().to_owned()).collect();
        agents_invoked.push("narrative".into());
        let mut answer = Answer {
            answer_id: AnswerId::new(),
            summary: String::new(),
            intent: question.intent,
            interpretation,
            confidence: confidence(&question, &output, failed, agents.len()),
            agents_invoked,
            time_range: question.time.range,
            metrics: output.metrics.clone(),
            series: output.series.clone(),
            forecast: output.forecast.clone(),
            evidence: output.evidence.clone(),
            followups: if question.intent == Intent::Unsupported {
                narrative::EXAMPLES.iter().map(|e| (*e).to_owned()).collect()
            } else if question.intent == Intent::Clarify {
                narrative::closest_questions(&question)
            } else {
                output.followups.clone()
            },
            warnings: output.warnings.clone(),
        };
        // Grounding: a sentence quoting a number that is not a computed value is withheld.
        // The question's own numbers, and the thresholds as the restatement writes them, may be quoted.
        let asked_text = match &answer.interpretation {
            Some(i) => format!("{} {}", question.text, i.text),
            None => question.text.clone(),
        };
        let grounding = Grounding::of(&answer, &asked_text);
        let kept: Vec<String> =
            output.sentences.iter().filter(|s| grounding.ungrounded(s).is_empty()).cloned().collect();
        if kept.len() < output.sentences.len() {
            let bad: Vec<String> = output.sentences.iter().flat_map(|s| grounding.ungrounded(s)).collect();
            tracing::error!(intent = question.intent.as_str(), numbers = %bad.join(" "), "a template sentence quoted an uncomputed number and was withheld");
            answer.warnings.push("Part of the summary was withheld because it could not be checked against the computed values.".into());
        }
        answer.summary = narrative::summary(&question, &Output { sentences: kept, ..Output::default() });
        if !matches!(question.intent, Intent::Unsupported | Intent::Clarify) {
            match tokio::time::timeout(
                Duration::from_secs(20),
                self.inner.llm.rephrase(&question.text, &answer.summary),
            )
            .await
            {
                Ok(Ok(Some(rephrased))) => {
                    let bad = grounding.ungrounded(&rephrased);
                    if bad.is_empty() {
                        answer.summary = rephrased;
                        prompts.push(REPHRASE_PROMPT_VERSION);
                    } else {
                        answer.warnings.push(format!("The language model's wording was discarded: it quoted numbers that were not computed ({}).", bad.join(", ")));
                    }
                }
                Ok(Ok(None)) => {}
                Ok(Err(_)) | Err(_) => answer
                    .warnings
                    .push("The language model was unavailable; the summary is the deterministic one.".into()),
            }
        }
        self.audit(ctx, answer.answer_id, self.audit_body(&question, &answer, &traces, false, &prompts))
            .await?;
        if let Ok(text) = serde_json::to_string(&answer) {
            let _ = self.inner.stores.cache.put(ctx, &cache_key, text, self.inner.options.cache_ttl).await;
        }
        self.record(ctx, &answer, started, "ok");
        Ok(Asked::Fresh(Box::new(answer)))
    }

    /// The cache's answer to the question, ready to be served again.
    async fn cached(
        &self,
        ctx: &BankContext,
        lexicon: &Lexicon,
        key: &CacheKey,
        text: &str,
        question: &Question,
        prompts: &[&str],
    ) -> Option<Arc<Replay>> {
        let cached = self.inner.stores.cache.get(ctx, key).await.ok()??;
        let build = || {
            let answer = serde_json::from_str::<Answer>(&cached).ok()?;
            let body = self.audit_body(question, &answer, &[], true, prompts);
            Some(Replay { key: key.clone(), text: text.to_owned(), cached: cached.clone(), answer, body })
        };
        // A language model's reading of the question may differ from one asking to the next:
        // only questions read without one are replayed as they were.
        if prompts.is_empty() {
            lexicon.replay(key, text, &cached, build)
        } else {
            build().map(Arc::new)
        }
    }

    async fn run_agent(&self, agent: Agent, input: &Input<'_>) -> (Trace, Result<Output>) {
        let started = Instant::now();
        let result = agent.run(input).await;
        let elapsed = started.elapsed();
        let t = &self.inner.telemetry;
        let status = if result.is_ok() { "ok" } else { "error" };
        t.agent_executions
            .get_or_create(&AgentStatusLabels { agent: agent.name().into(), status: status.into() })
            .inc();
        t.agent_duration
            .get_or_create(&AgentLabels { agent: agent.name().into() })
            .observe(elapsed.as_secs_f64());
        if let Err(e) = &result {
            t.error(e.kind(), "agent");
            tracing::warn!(agent = agent.name(), error = %e, "agent failed");
        }
        let trace = Trace {
            agent: agent.name(),
            status,
            duration_ms: (elapsed.as_secs_f64() * 1e6).round() / 1e3,
            error: result.as_ref().err().map(|e| e.public_message()),
        };
        (trace, result)
    }

    /// What the audit trail records about an answer (everything but its id and time).
    fn audit_body(
        &self,
        q: &Question,
        a: &Answer,
        traces: &[Trace],
        cached: bool,
        prompts: &[&str],
    ) -> AuditBody {
        AuditBody::new(&json!({
            "question": q.text,
            "interpretation": a.interpretation,
            "parsed": q,
            "plan": a.agents_invoked,
            "agent_traces": traces,
            "intent": a.intent,
            "time_range": a.time_range,
            "metrics": a.metrics,
            "summary": a.summary,
            "confidence": a.confidence,
            "warnings": a.warnings,
            "model": self.inner.llm.model(),
            "embedder": self.inner.embedder.name(),
            "prompt_versions": prompts,
            "schema_version": ANSWER_SCHEMA_VERSION,
            "cached": cached,
        }))
    }

    async fn audit(&self, ctx: &BankContext, answer_id: AnswerId, body: AuditBody) -> Result<()> {
        let record =
            AuditRecord { answer_id, created_at: Timestamp::now(), asked_by: ctx.caller().cloned(), body };
        let _timer = self.inner.telemetry.db_timer("audit_append");
        self.inner.stores.audit.append(ctx, record).await?;
        Ok(())
    }

    fn record(&self, ctx: &BankContext, a: &Answer, started: Instant, status: &'static str) {
        let t = &self.inner.telemetry;
        let intent = a.intent.as_str();
        t.chat_queries.get_or_create(&ChatLabels { intent: intent.into(), status: status.into() }).inc();
        t.chat_duration
            .get_or_create(&IntentLabels { intent: intent.into() })
            .observe(started.elapsed().as_secs_f64());
        tracing::info!(
            bank_id = %ctx.bank_id(),
            intent = a.intent.as_str(),
            agents_invoked = %a.agents_invoked.join(","),
            duration_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            confidence = a.confidence,
            cached = status == "cached",
            "question answered"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn normalize_lowercases_and_collapses_whitespace() {
        assert_eq!(normalize("  What was\tthe APPROVAL\n rate? "), "what was the approval rate?");
        // Vertical tab is whitespace too (as `split_whitespace` sees it).
        assert_eq!(normalize("a\u{b}B"), "a b");
        // Outside ASCII, characters are lowercased one by one.
        assert_eq!(normalize("Umsatz  ÜBER  Straße ΣΑΣ"), "umsatz über straße σασ");
        assert_eq!(normalize(" \t "), "");
    }
}
