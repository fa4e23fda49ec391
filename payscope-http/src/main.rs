//! `payscope-http`: the HTTP API on `PAYSCOPE_ADDR`; `--demo` for a self-contained demo;
//! `migrate` to apply the Postgres migrations (and the Neo4j schema). Configuration is the environment (docs/configuration.md).

use std::process::ExitCode;

use payscope_core::config::Settings;
use payscope_core::worker::Worker;
use payscope_core::{Engine, EngineOptions};
use payscope_http::{demo, logging, serve, shutdown_signal, App, Authenticator};
use tokio::net::TcpListener;

/// mimalloc: glibc's allocator spent a tenth of a cached answer's instructions and made the
/// worker threads wait on its arena locks (`benches/http.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage: payscope-http            serve the API on PAYSCOPE_ADDR (default 0.0.0.0:8000)
       payscope-http --demo     serve it on embedded stores with generated data for two banks
       payscope-http migrate    apply the Postgres migrations to DATABASE_DSN (and the Neo4j schema
                                when NEO4J_URI is set), then exit
Configuration comes from environment variables (and ./.env); see the README.";

enum Command {
    Serve { demo: bool },
    Migrate,
    Help,
    Version,
}

fn command(args: &[String]) -> Result<Command, String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Ok(Command::Serve { demo: false }),
        ["--demo"] => Ok(Command::Serve { demo: true }),
        ["migrate"] => Ok(Command::Migrate),
        ["-h" | "--help" | "help"] => Ok(Command::Help),
        ["-V" | "--version"] => Ok(Command::Version),
        other => Err(format!("unexpected arguments: {}", other.join(" "))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match command(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("payscope-http: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("payscope-http {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let result = Settings::from_env().map_err(|e| e.to_string()).and_then(|settings| {
        logging::init(&settings.log_filter, settings.log_format)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        runtime.block_on(async {
            match command {
                Command::Migrate => migrate(&settings).await,
                Command::Serve { demo } => run(settings, demo).await,
                Command::Help | Command::Version => Ok(()),
            }
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("payscope-http: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Applies the Postgres migrations and, when `NEO4J_URI` is set, the Neo4j schema.
async fn migrate(settings: &Settings) -> Result<(), String> {
    use payscope_core::backend::postgres::PgBackend;
    use secrecy::ExposeSecret;
    let pg = settings.postgres.as_ref().ok_or("DATABASE_DSN: is required for migrate")?;
    let applied = PgBackend::migrate(pg.dsn.expose_secret()).await.map_err(|e| e.to_string())?;
    for m in applied {
        println!("migration {m}: in place");
    }
    println!("roles payscope_owner (schema owner) and payscope_app (runtime) are in place; grant payscope_app to the server's login");
    if let Some(neo4j) = &settings.neo4j {
        let graph =
            payscope_core::backend::neo4j::Neo4j::connect(neo4j, 1).await.map_err(|e| e.to_string())?;
        let statements = graph.apply_schema().await.map_err(|e| e.to_string())?;
        println!("neo4j schema (infra/neo4j/001_schema.cypher): {statements} statements in place");
    }
    Ok(())
}

async fn run(settings: Settings, demo: bool) -> Result<(), String> {
    let (engine, auth, demo) = if demo {
        let demo = demo::prepare(EngineOptions::from_settings(&settings)).await?;
        (demo.engine.clone(), demo.auth.clone(), Some(demo))
    } else {
        let pem =
            settings.jwt.public_key_pem.as_deref().ok_or(
                "JWT_PUBLIC_KEY: is required (PEM text or a path to a PEM file), or run with --demo",
            )?;
        let auth =
            Authenticator::from_pem(pem, settings.jwt.issuer.as_deref(), settings.jwt.audience.as_deref())
                .map_err(|e| format!("JWT_PUBLIC_KEY: the key {e}"))?;
        let engine = Engine::from_settings(&settings).await.map_err(|e| e.to_string())?;
        (engine, auth, None)
    };
    let listener = TcpListener::bind(settings.addr)
        .await
        .map_err(|e| format!("PAYSCOPE_ADDR: cannot listen on {}: {e}", settings.addr))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // With an in-process queue nobody else can run the jobs: the worker loop runs here.
    let embedded_queue = settings.postgres.is_none();
    let (stop_worker, worker_stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = embedded_queue.then(|| {
        let worker =
            Worker::new(engine.clone(), format!("http-{}", std::process::id()), settings.worker_concurrency);
        tokio::spawn(async move {
            worker
                .run_until_stopped(async {
                    let _ = worker_stopped.await;
                })
                .await
        })
    });
    tracing::info!(addr = %local, demo = demo.is_some(), "payscope-http listening");
    if let Some(demo) = &demo {
        println!("{}", demo.instructions(local));
    }
    let app = match &demo {
        Some(demo) => App::demo(engine, auth, demo.sign_ins()),
        None => App::api(engine, auth),
    };
    serve(listener, app, shutdown_signal()).await.map_err(|e| e.to_string())?;
    let _ = stop_worker.send(());
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    Ok(())
}
