//! Readiness: each dependency the engine is configured with, checked concurrently with a
//! short timeout (`GET /health/ready`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Serialize, Serializer};

use super::Engine;
use crate::error::Result;
pub use crate::store::Probe;

/// The dependencies readiness always reports, configured or not.
pub const DEPENDENCIES: [&str; 7] =
    ["postgres", "redis", "neo4j", "pinecone", "object_store", "llm", "workers"];

/// How long one check may take before it counts as failed.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// One dependency's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Configured and answering.
    Ok,
    /// Not configured: the embedded default is used.
    NotConfigured,
    /// Configured and failing, with a short reason.
    Error(String),
}

impl Serialize for Check {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Check::Ok => s.serialize_str("ok"),
            Check::NotConfigured => s.serialize_str("not_configured"),
            Check::Error(reason) => s.serialize_str(&format!("error: {reason}")),
        }
    }
}

/// The readiness report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// `ok` when every configured dependency answers, else `degraded`.
    pub status: &'static str,
    /// Every dependency of [`DEPENDENCIES`].
    pub checks: BTreeMap<&'static str, Check>,
    /// False when a required dependency fails: the instance should get no traffic.
    #[serde(skip)]
    pub ready: bool,
}

struct ObjectStoreProbe(Engine);

#[async_trait]
impl Probe for ObjectStoreProbe {
    fn dependency(&self) -> &'static str {
        "object_store"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<()> {
        self.0.artifacts().check().await
    }
}

/// Whether anything consumes the ingestion queue: not required (questions are answered
/// without workers), but uploads wait until one runs.
struct WorkersProbe(Engine);

#[async_trait]
impl Probe for WorkersProbe {
    fn dependency(&self) -> &'static str {
        "workers"
    }
    fn required(&self) -> bool {
        false
    }
    async fn check(&self) -> Result<()> {
        let liveness = self.0.queue_liveness().await?;
        if liveness.live_workers > 0 {
            return Ok(());
        }
        Err(crate::error::Error::unavailable(
            "workers",
            format!(
                "no ingestion worker heard from in {} s: uploaded reports wait in the queue until one runs",
                crate::store::jobs::STALE.as_secs()
            ),
        ))
    }
}

struct LlmProbe(Engine);

#[async_trait]
impl Probe for LlmProbe {
    fn dependency(&self) -> &'static str {
        "llm"
    }
    fn required(&self) -> bool {
        // Questions are still answered (deterministically) when the model is down.
        false
    }
    async fn check(&self) -> Result<()> {
        self.0.llm().check().await.map(|_| ())
    }
}

impl Engine {
    /// Checks every configured dependency, concurrently, each within a short timeout.
    pub async fn readiness(&self) -> Readiness {
        let mut probes: Vec<Arc<dyn Probe>> = self.inner.probes.clone();
        probes.push(Arc::new(ObjectStoreProbe(self.clone())));
        probes.push(Arc::new(WorkersProbe(self.clone())));
        if self.llm().model().is_some() {
            probes.push(Arc::new(LlmProbe(self.clone())));
        }
        let results = futures::future::join_all(probes.iter().map(|p| async move {
            let check = match tokio::time::timeout(CHECK_TIMEOUT, p.check()).await {
                Ok(Ok(())) => Check::Ok,
                Ok(Err(e)) => Check::Error(short_reason(&e.to_string())),
                Err(_) => Check::Error(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            };
            (p.dependency(), p.required(), check)
        }))
        .await;
        let mut checks: BTreeMap<&'static str, Check> =
            DEPENDENCIES.iter().map(|d| (*d, Check::NotConfigured)).collect();
        let mut ready = true;
        let mut degraded = false;
        for (dependency, required, check) in results {
            if let Check::Error(reason) = &check {
                tracing::warn!(dependency, %reason, "readiness check failed");
                self.telemetry().error(crate::error::ErrorKind::Unavailable, "readiness");
                degraded = true;
                ready &= !required;
            }
            checks.insert(dependency, check);
        }
        Readiness { status: if degraded { "degraded" } else { "ok" }, checks, ready }
    }
}

/// The first line of a reason, at most 120 characters.
fn short_reason(reason: &str) -> String {
    let line = reason.lines().next().unwrap_or_default();
    match line.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}
