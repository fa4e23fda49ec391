//! Language models, optional. `Llm::Deterministic` (the default) does nothing and answers stay
//! template-built; `Llm::OpenAiCompatible` may (a) classify a question the parser was unsure of
//! into the `Question` schema and (b) rephrase a summary — whose numbers are then checked, and
//! the rephrasing discarded if any number is not a computed value. Models never produce numbers.
//! `Embedder` turns text into vectors for retrieval: feature hashing by default, or an
//! OpenAI-compatible embeddings endpoint.

mod hashing;
mod openai;

pub use hashing::hashing_embedding;
pub use openai::OpenAiClient;

use crate::config::LlmSettings;
use crate::error::Result;

/// Version of the classification prompt, recorded in the audit trail.
pub const CLASSIFY_PROMPT_VERSION: &str = "typed-query-v1";
/// Version of the rephrasing prompt, recorded in the audit trail.
pub const REPHRASE_PROMPT_VERSION: &str = "rephrase-v1";
/// Dimensions of the hashing embedder.
pub const HASHING_DIMS: usize = 256;

/// The chat model, if any.
#[derive(Debug, Clone, Default)]
pub enum Llm {
    /// No model: deterministic parsing and templates only.
    #[default]
    Deterministic,
    /// An OpenAI-compatible `/v1/chat/completions` endpoint.
    OpenAiCompatible(OpenAiClient),
}

impl Llm {
    /// The model the settings describe.
    pub fn from_settings(settings: Option<&LlmSettings>) -> Result<Llm> {
        Ok(match settings {
            None => Llm::Deterministic,
            Some(s) => Llm::OpenAiCompatible(OpenAiClient::new(s)?),
        })
    }

    /// The model name, when one is configured.
    pub fn model(&self) -> Option<&str> {
        match self {
            Llm::Deterministic => None,
            Llm::OpenAiCompatible(c) => Some(c.model()),
        }
    }

    /// Asks the model to classify a question into the `Question` JSON schema; `None` without a model.
    pub async fn classify(&self, question: &str) -> Result<Option<serde_json::Value>> {
        match self {
            Llm::Deterministic => Ok(None),
            Llm::OpenAiCompatible(c) => c.classify(question).await.map(Some),
        }
    }

    /// Asks the model to rephrase a summary, keeping every number; `None` without a model.
    pub async fn rephrase(&self, question: &str, summary: &str) -> Result<Option<String>> {
        match self {
            Llm::Deterministic => Ok(None),
            Llm::OpenAiCompatible(c) => c.rephrase(question, summary).await.map(Some),
        }
    }

    /// Checks the model endpoint answers (for readiness); `Ok(false)` when none is configured.
    pub async fn check(&self) -> Result<bool> {
        match self {
            Llm::Deterministic => Ok(false),
            Llm::OpenAiCompatible(c) => c.check().await.map(|_| true),
        }
    }
}

/// Turns text into vectors.
#[derive(Debug, Clone, Default)]
pub enum Embedder {
    /// Feature hashing of words and word pairs: deterministic, no network.
    #[default]
    Hashing,
    /// An OpenAI-compatible `/v1/embeddings` endpoint.
    OpenAiCompatible(OpenAiClient),
}

impl Embedder {
    /// The embedder the settings describe (hashing unless an embedding model is set).
    pub fn from_settings(settings: Option<&LlmSettings>) -> Result<Embedder> {
        Ok(match settings {
            Some(s) if s.embedding_model.is_some() => Embedder::OpenAiCompatible(OpenAiClient::new(s)?),
            _ => Embedder::Hashing,
        })
    }

    /// Embeds texts, one vector each.
    pub async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        match self {
            Embedder::Hashing => Ok(texts.iter().map(|t| hashing_embedding(t)).collect()),
            Embedder::OpenAiCompatible(c) => c.embed(texts).await,
        }
    }

    /// A name for the audit trail.
    pub fn name(&self) -> String {
        match self {
            Embedder::Hashing => format!("hashing-{HASHING_DIMS}"),
            Embedder::OpenAiCompatible(c) => c.embedding_model().unwrap_or("unknown").to_owned(),
        }
    }
}
