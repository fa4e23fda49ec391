-- PayScope 004 (infra/timescale/001_metrics_timeseries.sql): when the timescaledb extension
-- is available, the daily rollups become hypertables (30-day chunks) with compression after
-- 90 days and retention of 3 years. Row-level security stays in force: a hypertable is a
-- table, unlike a continuous aggregate. Without the extension this is a no-op with a NOTICE
-- and the rollups stay a plain table — plain Postgres 15 is the baseline.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not available: payscope.rollup_daily stays a plain table (no compression or retention policy)';
        RETURN;
    END IF;
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    SET LOCAL ROLE payscope_owner;
    PERFORM create_hypertable('payscope.rollup_daily', 'day',
                              chunk_time_interval => interval '30 days',
                              if_not_exists => true, migrate_data => true);
    ALTER TABLE payscope.rollup_daily
        SET (timescaledb.compress, timescaledb.compress_segmentby = 'bank_id, stage');
    PERFORM add_compression_policy('payscope.rollup_daily', interval '90 days', if_not_exists => true);
    PERFORM add_retention_policy('payscope.rollup_daily', interval '3 years', if_not_exists => true);
    PERFORM create_hypertable('payscope.rollup_daily_totals', 'day',
                              chunk_time_interval => interval '90 days',
                              if_not_exists => true, migrate_data => true);
    PERFORM add_retention_policy('payscope.rollup_daily_totals', interval '3 years', if_not_exists => true);
END
$$;
