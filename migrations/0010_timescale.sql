-- PayScope 010: TimescaleDB, where the extension is available (the compose image has it);
-- without it this is a no-op with a NOTICE and plain Postgres 15 stays the baseline.
--
-- What Timescale does here, and why no more:
-- * The daily rollups become hypertables, chunked by `day`, so a period's question reads
--   only that period's chunks. Row-level security stays on the hypertables and filters
--   every query made through them.
-- * Chunks do not carry their hypertable's row-level security policies
--   (timescale/timescaledb#7830), yet they do receive its grants: a role that could name a
--   chunk would read every bank's rows. So the chunks live in `payscope_chunks`, a schema no
--   runtime role may use, instead of `_timescaledb_internal`, and `adopt_timescale` refuses
--   to finish when a runtime role could reach any chunk of a PayScope hypertable.
-- * No compression: TimescaleDB refuses it on a table under row-level security.
-- * No retention policy: facts are kept until their report is deleted, and rollups that
--   expired before their facts would answer old periods as zero.
--
-- A database that gains the extension later adopts it with, as an admin:
--   CREATE EXTENSION timescaledb; SET ROLE payscope_owner; SELECT payscope.adopt_timescale();

CREATE SCHEMA IF NOT EXISTS payscope_chunks AUTHORIZATION payscope_owner;
REVOKE ALL ON SCHEMA payscope_chunks FROM PUBLIC;

CREATE OR REPLACE FUNCTION payscope.adopt_timescale() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    reachable text;
BEGIN
    PERFORM create_hypertable('payscope.rollup_daily', 'day',
                              associated_schema_name => 'payscope_chunks',
                              chunk_time_interval => interval '30 days',
                              if_not_exists => true, migrate_data => true);
    PERFORM create_hypertable('payscope.rollup_daily_totals', 'day',
                              associated_schema_name => 'payscope_chunks',
                              chunk_time_interval => interval '90 days',
                              if_not_exists => true, migrate_data => true);
    -- Logins get their rights from these roles and PUBLIC.
    SELECT string_agg(format('%I.%I', c.chunk_schema, c.chunk_name), ', ') INTO reachable
      FROM timescaledb_information.chunks c
     WHERE c.hypertable_schema = 'payscope'
       AND (has_schema_privilege('payscope_app', c.chunk_schema, 'USAGE')
            OR has_schema_privilege('payscope_worker', c.chunk_schema, 'USAGE')
            OR has_schema_privilege('public', c.chunk_schema, 'USAGE'));
    IF reachable IS NOT NULL THEN
        RAISE EXCEPTION 'chunks outside row-level security are reachable: %', reachable
            USING HINT = 'REVOKE USAGE on the chunks'' schema from the runtime roles';
    END IF;
END
$$;
ALTER FUNCTION payscope.adopt_timescale() OWNER TO payscope_owner;
REVOKE ALL ON FUNCTION payscope.adopt_timescale() FROM PUBLIC;

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        RAISE NOTICE 'timescaledb is not available: the rollups stay plain tables';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'timescaledb') THEN
        CREATE EXTENSION timescaledb;
    END IF;
    SET LOCAL ROLE payscope_owner;
    PERFORM payscope.adopt_timescale();
END
$$;
