//! The services the scale-out tests run against: a fresh Postgres database, a private Redis
//! server with an append-only file (so a restart keeps the queue, as a production Redis
//! does), and `payscope-worker` processes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn required() -> bool {
    std::env::var("PAYSCOPE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn skip<T>(why: &str) -> Option<T> {
    assert!(!required(), "{why} and PAYSCOPE_REQUIRE_SERVICES=1");
    eprintln!("skipping: {why}");
    None
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn psql(dsn: &str, sql: &str) {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql])
        .output()
        .unwrap();
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A migrated database of its own, dropped at the end.
pub struct Database {
    admin: String,
    name: String,
    pub dsn: String,
}

impl Database {
    pub async fn create() -> Option<Database> {
        let Ok(admin) = std::env::var("PAYSCOPE_TEST_DATABASE_DSN") else {
            return skip("PAYSCOPE_TEST_DATABASE_DSN is not set");
        };
        let name = format!("payscope_test_{}", uuid::Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        let dsn = url.to_string();
        payscope_core::backend::postgres::PgBackend::migrate(&dsn).await.unwrap();
        Some(Database { admin, name, dsn })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if std::env::var("PAYSCOPE_KEEP_TEST_DB").is_err() {
            psql(&self.admin, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A private `redis-server` persisting to an append-only file in `dir`.
pub struct RedisServer {
    pub port: u16,
    dir: PathBuf,
    process: Option<Child>,
}

impl RedisServer {
    pub fn start(dir: &Path) -> Option<RedisServer> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            return skip("redis-server is not installed");
        }
        let mut server = RedisServer { port: free_port(), dir: dir.to_owned(), process: None };
        server.run();
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn run(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", ""])
            .args(["--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir.to_str().unwrap()])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        self.process = Some(child);
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Stops the server (SIGTERM: it finishes its append-only file) and starts it again.
    pub fn restart(&mut self) {
        self.stop();
        std::thread::sleep(Duration::from_millis(500));
        self.run();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.process.take() {
            terminate(&child);
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn terminate(child: &Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
}

/// A `payscope-worker` process with health and metrics on its own port.
pub struct WorkerProcess {
    pub port: u16,
    child: Child,
}

impl WorkerProcess {
    pub fn start(env: &[(&str, String)]) -> WorkerProcess {
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_payscope-worker"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PAYSCOPE_WORKER_ADDR", format!("127.0.0.1:{port}"))
            .env("PAYSCOPE_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        WorkerProcess { port, child }
    }

    /// The worker's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port)).await.unwrap().text().await.unwrap()
    }

    /// `kill -9`: no chance to finish or release its job.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, then the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        terminate(&self.child);
        self.child.wait().unwrap()
    }
}

impl Drop for WorkerProcess {
    /// A failed test leaves no worker behind.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
