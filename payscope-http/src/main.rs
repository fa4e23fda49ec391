//! `payscope-http`: the HTTP API on `PAYSCOPE_ADDR`; `--demo` for a self-contained demo;
//! `migrate` to apply the Postgres migrations (and the Neo4j schema). Configuration is the environment (docs/configuration.md).

use std::process::ExitCode;

use payscope_core::config::Settings;
use payscope_core::worker::Worker;
use payscope_core::{Engine, EngineOptions};
use payscope_http::auth::JwksSource;
use payscope_http::{demo, logging, serve, shutdown_signal, App, Authenticator};
use tokio::net::TcpListener;

/// mimalloc: glibc's allocator spent a tenth of a cached answer's instructions and made the
/// worker threads wait on its arena locks (`benches/http.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
usage: payscope-http            serve the API on PAYSCOPE_ADDR (default 0.0.0.0:8000)
       payscope-http --demo [--addr HOST:PORT]
                                serve it on embedded stores with generated data for two banks,
                                on 127.0.0.1 (the port of PAYSCOPE_ADDR) unless --addr says otherwise
       payscope-http migrate    apply the Postgres migrations to DATABASE_DSN (and the Neo4j schema
                                when NEO4J_URI is set), then exit
Configuration comes from environment variables (and ./.env); see the README.";

enum Command {
    Serve { demo: bool, addr: Option<std::net::SocketAddr> },
    Migrate,
    Help,
    Version,
}

fn command(args: &[String]) -> Result<Command, String> {
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Ok(Command::Serve { demo: false, addr: None }),
        ["--demo"] => Ok(Command::Serve { demo: true, addr: None }),
        ["--demo", "--addr", addr] | ["--addr", addr, "--demo"] => {
            let addr =
                addr.parse().map_err(|_| format!("--addr: `{addr}` is not HOST:PORT (e.g. 0.0.0.0:8000)"))?;
            Ok(Command::Serve { demo: true, addr: Some(addr) })
        }
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
                Command::Serve { demo, addr } => run(settings, demo, addr).await,
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

/// The token verifier the settings describe: one source of keys, and the issuer and audience
/// a deployment's tokens must carry (each error names its variable).
async fn authenticator(jwt: &payscope_core::config::JwtSettings) -> Result<Authenticator, String> {
    let issuer = jwt.issuer.as_deref().ok_or(
        "JWT_ISSUER: is required: the `iss` your identity provider writes into its tokens (tokens of any other issuer are refused), or run with --demo",
    )?;
    let audience = jwt.audience.as_deref().ok_or(
        "JWT_AUDIENCE: is required: the `aud` your identity provider gives PayScope's tokens, or run with --demo",
    )?;
    let (issuer, audience) = (Some(issuer), Some(audience));
    if let Some(pem) = &jwt.public_key_pem {
        return Authenticator::from_pem(pem, issuer, audience)
            .map_err(|e| format!("JWT_PUBLIC_KEY: the key {e}"));
    }
    let source = match (&jwt.jwks_url, &jwt.jwks_file) {
        (Some(url), _) => JwksSource::Url(url.clone()),
        (None, Some(path)) => JwksSource::File(path.clone()),
        (None, None) => {
            return Err("JWT_JWKS_URL: is required (your identity provider's jwks_uri), or JWT_JWKS_FILE, or JWT_PUBLIC_KEY (one PEM key); or run with --demo".into())
        }
    };
    Authenticator::from_jwks(source, jwt.jwks_refresh, issuer, audience).await
}

async fn run(settings: Settings, demo: bool, addr: Option<std::net::SocketAddr>) -> Result<(), String> {
    let (engine, auth, demo) = if demo {
        let demo = demo::prepare(EngineOptions::from_settings(&settings)).await?;
        (demo.engine.clone(), demo.auth.clone(), Some(demo))
    } else {
        let auth = authenticator(&settings.jwt).await?;
        let engine = Engine::from_settings(&settings).await.map_err(|e| e.to_string())?;
        (engine, auth, None)
    };
    let addr = match (&demo, addr) {
        (_, Some(addr)) => addr,
        // The demo prints valid tokens: it listens on this machine only unless told otherwise.
        (Some(_), None) => std::net::SocketAddr::from(([127, 0, 0, 1], settings.addr.port())),
        (None, None) => settings.addr,
    };
    let listener =
        TcpListener::bind(addr).await.map_err(|e| format!("PAYSCOPE_ADDR: cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // Health and metrics on a listener of their own: its accept loop is not the one a flood of
    // API connections keeps busy, and no connection cap applies to it.
    let (stop_ops, ops_stopped) = tokio::sync::oneshot::channel::<()>();
    let ops = match settings.ops_addr {
        Some(ops_addr) => {
            let ops_listener = TcpListener::bind(ops_addr)
                .await
                .map_err(|e| format!("PAYSCOPE_OPS_ADDR: cannot listen on {ops_addr}: {e}"))?;
            tracing::info!(addr = %ops_addr, "health and metrics listening");
            Some(tokio::spawn(serve(ops_listener, App::ops(engine.clone()), async {
                let _ = ops_stopped.await;
            })))
        }
        None => None,
    };
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
    }
    .with_limits(settings.limits);
    serve(listener, app, shutdown_signal()).await.map_err(|e| e.to_string())?;
    let _ = stop_worker.send(());
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    // Health stays answerable until the API has drained.
    let _ = stop_ops.send(());
    if let Some(ops) = ops {
        let _ = ops.await;
    }
    Ok(())
}
