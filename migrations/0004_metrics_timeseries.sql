-- PayScope 004: superseded by 010, which is what to read for TimescaleDB.
--
-- This migration used to turn the rollups into hypertables with compression and a
-- three-year retention when the timescaledb extension was available. TimescaleDB refuses
-- compression on a table under row-level security, so on TimescaleDB it failed (and rolled
-- back); on plain Postgres it was a no-op. It is now a no-op everywhere, and `migrate`
-- accepts the checksum of the earlier text for version 4 (see `SUPERSEDED` in
-- payscope-core/src/backend/postgres/mod.rs): no database can hold anything it created.

DO $$ BEGIN NULL; END $$;
