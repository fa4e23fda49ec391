//! Real services for tests: each test gets its own freshly migrated Postgres database,
//! dropped afterwards. Without `PAYSCOPE_TEST_DATABASE_DSN` a test skips with a printed
//! reason — unless `PAYSCOPE_REQUIRE_SERVICES=1` (as `.ci/run` sets), which makes it fail.

use std::sync::Arc;

use payscope_core::backend::postgres::PgBackend;
use payscope_core::config::PostgresSettings;
use sqlx::ConnectOptions;

use crate::fixtures::unavailable;

/// A database created for one test and dropped with the last handle.
pub struct TestDb {
    admin: String,
    pub name: String,
    pub dsn: String,
}

impl TestDb {
    /// Creates and migrates a fresh database.
    pub async fn create() -> Option<Arc<TestDb>> {
        let db = TestDb::create_empty().await?;
        PgBackend::migrate(&db.dsn).await.unwrap();
        Some(db)
    }

    /// Creates a fresh, empty database.
    pub async fn create_empty() -> Option<Arc<TestDb>> {
        let Ok(admin) = std::env::var("PAYSCOPE_TEST_DATABASE_DSN") else {
            return unavailable("PAYSCOPE_TEST_DATABASE_DSN");
        };
        let name = format!("payscope_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin.parse::<sqlx::postgres::PgConnectOptions>().unwrap().connect().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap();
        let dsn = with_database(&admin, &name);
        Some(Arc::new(TestDb { admin, name, dsn }))
    }

    /// A direct connection as the DSN's login (a superuser in tests: it sees past RLS only
    /// while it has not dropped to the runtime role).
    pub async fn connect(&self) -> sqlx::PgConnection {
        self.dsn.parse::<sqlx::postgres::PgConnectOptions>().unwrap().connect().await.unwrap()
    }

    /// A backend on this database with a pool of `size`.
    pub async fn backend(&self, size: u32) -> PgBackend {
        let settings = PostgresSettings {
            dsn: self.dsn.clone().into(),
            pool_size: size,
            statement_timeout: std::time::Duration::from_secs(60),
            connect_timeout: std::time::Duration::from_secs(10),
        };
        PgBackend::connect(&settings).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("PAYSCOPE_KEEP_TEST_DB").is_some() {
            eprintln!("keeping test database {}", self.name);
            return;
        }
        let (admin, name) = (self.admin.clone(), self.name.clone());
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                if let Ok(mut conn) =
                    admin.parse::<sqlx::postgres::PgConnectOptions>().unwrap().connect().await
                {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            })
        })
        .join();
    }
}

impl TestDb {
    /// This database's DSN as `login` (trust authentication in tests).
    pub fn dsn_as(&self, login: &str) -> String {
        let mut url = url::Url::parse(&self.dsn).unwrap();
        url.set_username(login).unwrap();
        url.set_password(None).unwrap();
        url.to_string()
    }
}

/// Runs `sql` with `psql` as `dsn`'s login, the way an operator would: what it printed, or
/// its error output.
pub fn psql(dsn: &str, sql: &str) -> Result<String, String> {
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql])
        .output()
        .expect("psql is installed");
    match out.status.success() {
        true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
        false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
    }
}

/// `dsn` pointing at database `name`.
pub fn with_database(dsn: &str, name: &str) -> String {
    let mut url = url::Url::parse(dsn).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}
