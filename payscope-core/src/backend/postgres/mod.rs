//! The Postgres backend (feature `postgres`): reports, facts with their daily rollups,
//! metrics, the audit chain and the job queue, with tenant isolation enforced by row-level
//! security.
//!
//! Every unit of work is one transaction that first declares its bank and drops to the
//! runtime role — `set_config('app.current_bank_id', …, true)` and
//! `set_config('role', 'payscope_app', true)` — so the policies of `migrations/0003` apply
//! even on an owner or superuser connection, and nothing leaks between pooled requests
//! (both settings end with the transaction).

mod audit;
mod copy;
mod facts;
mod jobs;
mod metrics;
mod nodelay;
mod profiles;
mod reports;
mod tally;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool, Postgres, Transaction};

pub use jobs::PgQueue;
use metrics::Params;

use crate::bank::BankId;
use crate::config::PostgresSettings;
use crate::error::{Error, Result};
use crate::store::Probe;
use crate::telemetry::Telemetry;

/// The migrations of `migrations/`, embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The runtime role every transaction runs as.
pub const APP_ROLE: &str = "payscope_app";

/// The role the job queue's consumers run as (`migrations/0009`): a worker's login is a
/// member of it and of [`APP_ROLE`]; the API's login is not.
pub const WORKER_ROLE: &str = "payscope_worker";

/// Migrations whose text changed after release, with the SHA-384 of each earlier text that
/// is accepted in place of today's. Only a change that leaves every database the earlier
/// text ran on as today's would is listed: 0004 failed on TimescaleDB and did nothing on
/// plain Postgres, and is now a no-op (its work moved to 0010).
const SUPERSEDED: &[(i64, &str)] = &[(
    4,
    "86336628e6ee012c8f272ff5854374f58b8a503d0723ad2ea85a100d08e8f15c255ee60dfc31036244a96ed20ad61e64",
)];

/// Postgres-backed stores. Cloning is cheap (one pool).
#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
    telemetry: Option<Arc<Telemetry>>,
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend").field("pool_size", &self.pool.options().get_max_connections()).finish()
    }
}

/// A statement assembled at run time. Only static fragments and `$n` placeholders are ever
/// interpolated; every value is a bound parameter.
pub(crate) fn dynamic(sql: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(sql)
}

/// Maps a database error: connection trouble is `postgres unavailable` (503), anything else
/// internal (500, logged, never shown).
pub(crate) fn db_error(e: sqlx::Error) -> Error {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Error::unavailable("postgres", short(&e)),
        sqlx::Error::Database(ref d) if is_transient(d.code().as_deref()) => {
            Error::unavailable("postgres", short(&e))
        }
        other => Error::internal(format!("postgres: {other}")),
    }
}

/// Errors that are not the request's fault: [`passing`] ones, too many connections, statement
/// timeout.
fn is_transient(code: Option<&str>) -> bool {
    passing(code) || matches!(code, Some("53300" | "57014"))
}

/// Failures a second attempt a moment later usually does not meet: a serialization failure
/// or deadlock, a server shutting down or failing over, a connection lost.
fn passing(code: Option<&str>) -> bool {
    matches!(code, Some("40001" | "40P01" | "57P01" | "57P02" | "57P03" | "08006" | "08003"))
}

/// What [`retrying`] tries again: [`passing`] failures and connections lost mid-request. Not
/// pool timeouts (an outage: the caller already waited the connect timeout) nor statement
/// timeouts (a second attempt would take as long).
fn worth_retrying(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => passing(d.code().as_deref()),
        _ => false,
    }
}

/// Waits before the second and third attempts of a read.
const READ_RETRY_WAITS: [Duration; 2] = [Duration::from_millis(20), Duration::from_millis(100)];

/// Runs `read` (work that is safe to repeat) up to three times while it fails in a way
/// [`worth_retrying`].
pub(crate) async fn retrying<T, F, Fut>(mut read: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
{
    let mut waits = READ_RETRY_WAITS.iter();
    loop {
        match read().await {
            Ok(v) => return Ok(v),
            Err(e) if worth_retrying(&e) => match waits.next() {
                Some(wait) => {
                    tracing::warn!(error = %short(&e), "transient postgres failure; retrying");
                    tokio::time::sleep(*wait).await;
                }
                None => return Err(db_error(e)),
            },
            Err(e) => return Err(db_error(e)),
        }
    }
}

/// Records today's checksum for a migration applied under a [`SUPERSEDED`] text, so the
/// migrator's check (which refuses a changed migration) passes.
async fn accept_superseded(conn: &mut sqlx::PgConnection) -> Result<()> {
    let applied: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
    if !applied {
        return Ok(());
    }
    for (version, earlier) in SUPERSEDED {
        let today = MIGRATOR.iter().find(|m| m.version == *version).map(|m| m.checksum.to_vec());
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = decode($3, 'hex')",
        )
        .bind(today)
        .bind(version)
        .bind(earlier)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    }
    Ok(())
}

fn short(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().chars().take(160).collect()
}

impl PgBackend {
    /// Connects a pool with the settings' size and timeouts. The database must be migrated
    /// (`payscope-http migrate`); the login must be a member of `payscope_app`.
    pub async fn connect(settings: &PostgresSettings) -> Result<PgBackend> {
        use secrecy::ExposeSecret;
        let options: PgConnectOptions = settings
            .dsn
            .expose_secret()
            .parse()
            .map_err(|e| Error::invalid("invalid_config", format!("DATABASE_DSN: {}", short(&e))))?;
        let timeout_ms = settings.statement_timeout.as_millis().to_string();
        let options = options
            .application_name("payscope")
            .options([("statement_timeout", timeout_ms.as_str())])
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(5));
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .acquire_timeout(settings.connect_timeout)
            .after_connect(|conn, _| Box::pin(nodelay::enable(conn)))
            .connect_lazy_with(options);
        Ok(PgBackend { pool, telemetry: None })
    }

    /// A backend on a pool the embedding application built. As with [`PgBackend::connect`],
    /// the database must be migrated and the login a member of `payscope_app`; the pool's
    /// connections do not get `connect`'s `statement_timeout` or `TCP_NODELAY` unless the
    /// application sets them (bulk loads are markedly slower without `TCP_NODELAY`).
    pub fn from_pool(pool: PgPool) -> PgBackend {
        PgBackend { pool, telemetry: None }
    }

    /// Records `db_query_duration_seconds` into `telemetry`.
    pub fn with_telemetry(mut self, telemetry: Arc<Telemetry>) -> PgBackend {
        self.telemetry = Some(telemetry);
        self
    }

    /// The pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations (creating the `payscope_owner` and `payscope_app` roles when
    /// missing). Needs a login allowed to create roles and schemas.
    pub async fn migrate(dsn: &str) -> Result<Vec<String>> {
        let options: PgConnectOptions = dsn
            .parse()
            .map_err(|e| Error::invalid("invalid_config", format!("DATABASE_DSN: {}", short(&e))))?;
        let mut conn = options.connect().await.map_err(db_error)?;
        accept_superseded(&mut conn).await?;
        // Roles are the cluster's, not the database's: two databases migrated at once (two
        // services, or tests) can collide on creating or granting them. Each migration is its
        // own transaction, so running again continues where the collision stopped it.
        let mut attempt = 0;
        while let Err(e) = MIGRATOR.run(&mut conn).await {
            let text = e.to_string();
            let collision =
                ["concurrently", "duplicate key", "already exists"].iter().any(|s| text.contains(s));
            attempt += 1;
            if !collision || attempt == 3 {
                return Err(Error::internal(format!("migration failed: {text}")));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
        }
        Ok(MIGRATOR.iter().map(|m| format!("{:04} {}", m.version, m.description)).collect())
    }

    /// A transaction scoped to `bank`, as the runtime role.
    pub(crate) async fn bank_tx(&self, bank: BankId) -> Result<Transaction<'static, Postgres>> {
        self.begin(bank, Planner::Default).await.map_err(db_error)
    }

    /// A transaction scoped to `bank`, as the runtime role, with `planner`'s settings (the
    /// driver's error, for [`retrying`]).
    async fn begin(&self, bank: BankId, planner: Planner) -> sqlx::Result<Transaction<'static, Postgres>> {
        // One round trip for BEGIN and the settings: the bank id is inlined, which is safe
        // because it is a typed UUID (its text is hex digits and dashes only).
        let begin = format!(
            "BEGIN; SELECT set_config('app.current_bank_id', '{}', true), set_config('role', '{APP_ROLE}', true){}",
            bank.as_uuid().hyphenated(),
            planner.settings()
        );
        self.pool.begin_with(sqlx::AssertSqlSafe(begin)).await
    }

    /// A transaction with no bank as `role` ([`APP_ROLE`] or [`WORKER_ROLE`]).
    pub(crate) async fn role_tx(&self, role: &'static str) -> Result<Transaction<'static, Postgres>> {
        // Two round trips, unlike `begin`: a statement failing inside `begin_with` would leave
        // the pooled connection in an aborted transaction, and a login outside `role` fails here.
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        let set = sqlx::query("SELECT set_config('role', $1, true)").bind(role).execute(&mut *tx).await;
        set.map(|_| tx).map_err(|e| match e.as_database_error() {
            Some(d) if d.code().as_deref() == Some("42501") => Error::invalid(
                "invalid_config",
                format!(
                    "the database login may not act as {role}: {}; grant it with GRANT {role} TO <login>",
                    d.message()
                ),
            ),
            _ => db_error(e),
        })
    }

    /// Times one store operation into `db_query_duration_seconds{operation}`.
    pub(crate) fn timer(&self, operation: &'static str) -> OpTimer {
        OpTimer { telemetry: self.telemetry.clone(), operation, started: Instant::now() }
    }

    /// The rows of one read-only statement, in a transaction with `planner`'s settings,
    /// retried on transient failures.
    pub(crate) async fn read(
        &self,
        bank: BankId,
        planner: Planner,
        query: impl Fn() -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        retrying(|| async {
            let mut tx = self.begin(bank, planner).await?;
            let rows = query().fetch_all(&mut *tx).await?;
            // A read has nothing to commit: dropped, the transaction's ROLLBACK goes out as
            // the pool takes the connection back, not on a round trip the caller waits for.
            drop(tx);
            Ok(rows)
        })
        .await
    }

    /// The rows of one read assembled at run time ([`Params`] bound), with `planner`'s
    /// settings, retried on transient failures.
    async fn fetch(
        &self,
        bank: BankId,
        sql: String,
        p: Params,
        planner: Planner,
    ) -> Result<Vec<sqlx::postgres::PgRow>> {
        self.read(bank, planner, || p.clone().bind_all(sqlx::query(dynamic(sql.clone())))).await
    }
}

/// Planner settings a transaction asks for (local to it, like the bank and role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Planner {
    /// Postgres's defaults.
    Default,
    /// Reuse the prepared statement's generic plan: rollup reads are small and alike, and
    /// planning them afresh each time (Postgres's default for parameterized statements)
    /// costs about as much as running them.
    Generic,
    /// Room to aggregate facts in memory: the planner, estimating one group per row for
    /// the multi-column grouping (the real count is a few percent of that), otherwise sorts
    /// the rows on disk, up to three times slower than the hash aggregate it picks with this
    /// room (64 MB, local to the transaction).
    Aggregate,
    /// No nested loops, for the AUTH ↔ SETTLEMENT joins: right after a large load (before
    /// autovacuum has analyzed the table) the planner would otherwise estimate one row per
    /// side and probe the whole settlement set once per authorization.
    HashJoins,
}

impl Planner {
    fn settings(self) -> &'static str {
        match self {
            Planner::Default => "",
            Planner::Generic => ", set_config('plan_cache_mode', 'force_generic_plan', true)",
            Planner::Aggregate => ", set_config('work_mem', '64MB', true)",
            Planner::HashJoins => ", set_config('enable_nestloop', 'off', true)",
        }
    }
}

/// Observes the elapsed time when dropped.
pub(crate) struct OpTimer {
    telemetry: Option<Arc<Telemetry>>,
    operation: &'static str,
    started: Instant,
}

impl Drop for OpTimer {
    fn drop(&mut self) {
        if let Some(t) = &self.telemetry {
            t.db_duration
                .get_or_create(&crate::telemetry::OperationLabels { operation: self.operation.to_owned() })
                .observe(self.started.elapsed().as_secs_f64());
        }
    }
}

#[async_trait]
impl Probe for PgBackend {
    fn dependency(&self) -> &'static str {
        "postgres"
    }
    fn required(&self) -> bool {
        true
    }
    async fn check(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn reset() -> sqlx::Error {
        sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
    }

    #[tokio::test]
    async fn reads_are_retried_through_transient_failures_only() {
        let calls = AtomicU32::new(0);
        let flaky = || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(reset()),
                n => Ok(n),
            }
        };
        assert_eq!(retrying(flaky).await.unwrap(), 2);

        calls.store(0, Ordering::SeqCst);
        let down = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(reset())
        };
        assert_eq!(retrying(down).await.unwrap_err().kind(), crate::error::ErrorKind::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 3, "three attempts in all");

        calls.store(0, Ordering::SeqCst);
        let outage = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(sqlx::Error::PoolTimedOut)
        };
        assert_eq!(retrying(outage).await.unwrap_err().kind(), crate::error::ErrorKind::Unavailable);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "an outage already waited the connect timeout");

        calls.store(0, Ordering::SeqCst);
        let bug = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(sqlx::Error::RowNotFound)
        };
        assert_eq!(retrying(bug).await.unwrap_err().kind(), crate::error::ErrorKind::Internal);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
