//! payscope-worker's integration tests: real `payscope-worker` processes sharing a real
//! Postgres database and a Redis server of their own (so it can be restarted and killed).
//! Needs `PAYSCOPE_TEST_DATABASE_DSN` and `redis-server` on the PATH; without them the tests
//! skip, or fail under `PAYSCOPE_REQUIRE_SERVICES=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod scale_out;
mod services;
