//! `GET /health/ready` and `GET /metrics`.

use http::StatusCode;
use payscope_core::Engine;

use crate::reply::{ok_json, with_body, Handled};

/// Every configured dependency checked; 503 when one that requests need is failing.
pub async fn ready(engine: &Engine) -> Handled {
    let readiness = engine.readiness().await;
    let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    ok_json(status, &readiness)
}

/// The Prometheus exposition: OpenMetrics when the scraper asks for it (as Prometheus does),
/// else the classic text format.
pub async fn metrics(engine: &Engine, accept: Option<&str>) -> Handled {
    // The queue's gauges as of this scrape; a slow queue store does not hold the scrape up.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), engine.queue_liveness()).await;
    let telemetry = engine.telemetry();
    Ok(if accept.is_some_and(|a| a.contains("application/openmetrics-text")) {
        with_body(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            telemetry.encode(),
        )
    } else {
        with_body(StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", telemetry.encode_text())
    })
}
