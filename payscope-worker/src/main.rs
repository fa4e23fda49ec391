//! `payscope-worker`: runs report-ingestion jobs from the shared queue (Redis Streams when
//! `REDIS_URL` is set, else the Postgres job table) with bounded concurrency, and serves `/health/*` and `/metrics` on
//! `PAYSCOPE_WORKER_ADDR`. On SIGTERM it stops claiming, finishes the jobs in progress (or
//! leaves them to expire and run elsewhere), and exits.

use std::process::ExitCode;

use payscope_core::config::Settings;
use payscope_core::worker::Worker;
use payscope_core::Engine;
use payscope_http::{logging, serve, shutdown_signal, App};
use tokio::net::TcpListener;

const USAGE: &str = "\
usage: payscope-worker     run ingestion jobs from the queue in Redis (REDIS_URL) or Postgres (DATABASE_DSN)
Health and metrics are served on PAYSCOPE_WORKER_ADDR (default 0.0.0.0:8001).";

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("-V" | "--version") => {
            println!("payscope-worker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("payscope-worker: unexpected argument `{other}`\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let result = Settings::from_env().map_err(|e| e.to_string()).and_then(|settings| {
        logging::init(&settings.log_filter, settings.log_format)?;
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?
            .block_on(run(settings))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payscope-worker: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: Settings) -> Result<(), String> {
    if settings.postgres.is_none() {
        return Err("DATABASE_DSN must be set: workers share the Postgres store (and its job queue, \
                    unless REDIS_URL moves the jobs to Redis Streams); with embedded stores, \
                    payscope-http runs the jobs itself"
            .into());
    }
    let engine = Engine::from_settings(&settings).await.map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(settings.worker_addr)
        .await
        .map_err(|e| format!("PAYSCOPE_WORKER_ADDR: cannot listen on {}: {e}", settings.worker_addr))?;
    let name = format!("worker-{}-{}", hostname(), std::process::id());
    let worker = Worker::new(engine.clone(), name, settings.worker_concurrency);
    worker.check_queue().await.map_err(|e| format!("cannot consume the job queue: {e}"))?;
    let (stop_ops, ops_stopped) = tokio::sync::oneshot::channel::<()>();
    let ops = tokio::spawn(serve(listener, App::ops(engine), async {
        let _ = ops_stopped.await;
    }));
    worker.run_until_stopped(shutdown_signal()).await;
    // Health and metrics stay up until the jobs in progress are done.
    let _ = stop_ops.send(());
    ops.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "local".into())
}
