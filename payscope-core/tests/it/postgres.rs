//! The conformance suites on Postgres, plus what only a database can show: row-level security
//! as the runtime role, migrations and the `psql -f` checklist, concurrent and failed loads.

use std::sync::Arc;
use std::time::Duration;

use payscope_core::backend::postgres::PgQueue;

use crate::conformance::Subject;
use crate::services::TestDb;

async fn subject() -> Option<Subject> {
    let db = TestDb::create().await?;
    let pg = db.backend(4).await;
    Some(Subject {
        reports: Arc::new(pg.clone()),
        facts: Arc::new(pg.clone()),
        metrics: Arc::new(pg.clone()),
        audit: Arc::new(pg),
        keep: vec![db],
    })
}

async fn queue() -> Option<Arc<PgQueue>> {
    let db = TestDb::create().await?;
    let pg = db.backend(2).await;
    // The database lives as long as the queue's pool needs it: leak the guard into the test.
    std::mem::forget(db);
    Some(Arc::new(PgQueue::new(pg, Duration::from_secs(60))))
}

crate::store_conformance!(stores, crate::postgres::subject());
crate::queue_conformance!(queue, crate::postgres::queue());
