//! Prometheus metrics (docs/operations.md) shared by the engine and both binaries, and the log
//! field names. Labels never carry bank ids, user input or unbounded values.

use std::sync::Mutex;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A label value: static text (routes, methods, intents) without allocating per request.
pub type Label = std::borrow::Cow<'static, str>;

/// `method`, `route` (a template, never a raw path) and `status`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: Label,
    /// Route template (`/reports/{report_id}`).
    pub route: Label,
    /// Status code.
    pub status: u16,
}

/// `method` and `route`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: Label,
    /// Route template.
    pub route: Label,
}

/// `intent` and `status`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChatLabels {
    /// Question intent.
    pub intent: Label,
    /// `ok`, `cached`, `error`.
    pub status: Label,
}

/// `intent`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntentLabels {
    /// Question intent.
    pub intent: Label,
}

/// `agent` and `status`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentStatusLabels {
    /// Agent name.
    pub agent: String,
    /// `ok` or `error`.
    pub status: String,
}

/// `agent`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AgentLabels {
    /// Agent name.
    pub agent: String,
}

/// `kind` and `component`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// Error kind (`invalid_input`, `unavailable`, `internal`, ...).
    pub kind: String,
    /// Where it happened (`http`, `ingest`, `query`, `worker`, `graph`, ...).
    pub component: String,
}

/// `operation`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    /// Store operation (`metric_query`, `load_commit`, ...).
    pub operation: String,
}

/// `status`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// `completed` or `failed`.
    pub status: String,
}

/// `outcome`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `loaded`, `rejected` or `duplicate`.
    pub outcome: String,
}

fn latency_buckets() -> Histogram {
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

fn ingest_buckets() -> Histogram {
    Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0])
}

/// Every metric handle, and the registry that exposes them.
pub struct Telemetry {
    registry: Mutex<Registry>,
    /// `http_requests_total{method,route,status}`.
    pub http_requests: Family<HttpLabels, Counter>,
    /// `http_request_duration_seconds{method,route}`.
    pub http_duration: Family<RouteLabels, Histogram>,
    /// `chat_queries_total{intent,status}`.
    pub chat_queries: Family<ChatLabels, Counter>,
    /// `chat_query_duration_seconds{intent}`.
    pub chat_duration: Family<IntentLabels, Histogram>,
    /// `agent_executions_total{agent,status}`.
    pub agent_executions: Family<AgentStatusLabels, Counter>,
    /// `agent_execution_duration_seconds{agent}`.
    pub agent_duration: Family<AgentLabels, Histogram>,
    /// `errors_total{kind,component}`.
    pub errors: Family<ErrorLabels, Counter>,
    /// `db_query_duration_seconds{operation}`.
    pub db_duration: Family<OperationLabels, Histogram>,
    /// `ingest_reports_total{status}`.
    pub ingest_reports: Family<StatusLabels, Counter>,
    /// `ingest_rows_total{outcome}`.
    pub ingest_rows: Family<OutcomeLabels, Counter>,
    /// `ingest_duration_seconds`.
    pub ingest_duration: Histogram,
    /// `jobs_in_queue`.
    pub jobs_in_queue: Gauge,
    /// `workers_live`.
    pub workers_live: Gauge,
    /// `jobs_oldest_waiting_seconds`.
    pub jobs_oldest_waiting: Gauge,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Telemetry")
    }
}

impl Default for Telemetry {
    fn default() -> Self {
        Self::new()
    }
}

impl Telemetry {
    /// A registry with every metric of docs/operations.md registered.
    pub fn new() -> Self {
        let t = Telemetry {
            registry: Mutex::new(Registry::default()),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_buckets),
            chat_queries: Family::default(),
            chat_duration: Family::new_with_constructor(latency_buckets),
            agent_executions: Family::default(),
            agent_duration: Family::new_with_constructor(latency_buckets),
            errors: Family::default(),
            db_duration: Family::new_with_constructor(latency_buckets),
            ingest_reports: Family::default(),
            ingest_rows: Family::default(),
            ingest_duration: ingest_buckets(),
            jobs_in_queue: Gauge::default(),
            workers_live: Gauge::default(),
            jobs_oldest_waiting: Gauge::default(),
        };
        {
            let mut r = t.registry.lock().unwrap_or_else(|e| e.into_inner());
            r.register(
                "http_requests",
                "HTTP requests by method, route template and status",
                t.http_requests.clone(),
            );
            r.register("http_request_duration_seconds", "HTTP request latency", t.http_duration.clone());
            r.register("chat_queries", "Questions answered by intent and status", t.chat_queries.clone());
            r.register(
                "chat_query_duration_seconds",
                "Question answering latency by intent",
                t.chat_duration.clone(),
            );
            r.register("agent_executions", "Agent runs by agent and status", t.agent_executions.clone());
            r.register("agent_execution_duration_seconds", "Agent run time", t.agent_duration.clone());
            r.register("errors", "Errors by kind and component", t.errors.clone());
            r.register("db_query_duration_seconds", "Store operation latency", t.db_duration.clone());
            r.register("ingest_reports", "Reports processed by final status", t.ingest_reports.clone());
            r.register("ingest_rows", "Report rows by outcome", t.ingest_rows.clone());
            r.register("ingest_duration_seconds", "Time to process one report", t.ingest_duration.clone());
            r.register("jobs_in_queue", "Ingestion jobs waiting or in flight", t.jobs_in_queue.clone());
            r.register(
                "workers_live",
                "Ingestion workers heard from in the last 20 s (0 with jobs waiting: nothing loads them)",
                t.workers_live.clone(),
            );
            r.register(
                "jobs_oldest_waiting_seconds",
                "How long the oldest ingestion job not yet claimed has waited",
                t.jobs_oldest_waiting.clone(),
            );
        }
        t
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let r = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
            out.clear();
        }
        out
    }

    /// The classic Prometheus text format (0.0.4), for scrapers and tools that do not speak
    /// OpenMetrics (`promtool check metrics`, older Prometheus): counter families are named
    /// with their `_total` suffix, and OpenMetrics-only lines are dropped.
    pub fn encode_text(&self) -> String {
        let open_metrics = self.encode();
        let mut out = String::with_capacity(open_metrics.len());
        let mut help: Option<&str> = None;
        for line in open_metrics.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                help = Some(rest);
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
                let (name, kind) = match kind {
                    "counter" => (format!("{name}_total"), "counter"),
                    "unknown" => (name.to_owned(), "untyped"),
                    k => (name.to_owned(), k),
                };
                if let Some(h) = help.take() {
                    let text = h.split_once(' ').map_or("", |(_, t)| t);
                    out.push_str(&format!("# HELP {name} {text}\n"));
                }
                out.push_str(&format!("# TYPE {name} {kind}\n"));
                continue;
            }
            if line.starts_with("# UNIT ") || line == "# EOF" {
                continue;
            }
            out.push_str(line);
            out.push('\n');
        }
        out
    }

    /// Counts an error.
    pub fn error(&self, kind: crate::error::ErrorKind, component: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                kind: format!("{kind:?}").to_lowercase(),
                component: component.to_owned(),
            })
            .inc();
    }

    /// Records how long a store operation took.
    pub fn db_timer(&self, operation: &'static str) -> DbTimer<'_> {
        DbTimer { telemetry: self, operation, start: Instant::now() }
    }
}

/// Observes `db_query_duration_seconds` when dropped.
pub struct DbTimer<'a> {
    telemetry: &'a Telemetry,
    operation: &'static str,
    start: Instant,
}

impl Drop for DbTimer<'_> {
    fn drop(&mut self) {
        self.telemetry
            .db_duration
            .get_or_create(&OperationLabels { operation: self.operation.to_owned() })
            .observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_follow_the_contract() {
        let t = Telemetry::new();
        t.http_requests
            .get_or_create(&HttpLabels { method: "GET".into(), route: "/health".into(), status: 200 })
            .inc();
        t.ingest_duration.observe(0.2);
        drop(t.db_timer("metric_query"));
        let text = t.encode();
        for name in [
            "http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1",
            "# TYPE ingest_duration_seconds histogram",
            "db_query_duration_seconds_count{operation=\"metric_query\"} 1",
            "# TYPE jobs_in_queue gauge",
            "# TYPE workers_live gauge",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
