-- PayScope 009: the Postgres job queue belongs to the workers. A job names a bank and a
-- report, and workers claim across banks, so the queue and the workers' heartbeats are
-- readable only by `payscope_worker`, the group role of the worker's login. The runtime role
-- `payscope_app` (the API's login) may only add a job for the bank its transaction declared,
-- and learn the queue's health (counts and an age, no ids) from payscope.queue_health().
--
-- A worker's login is therefore a member of both roles:
--   CREATE ROLE payscope_ingest LOGIN PASSWORD '…' IN ROLE payscope_app, payscope_worker;
-- With REDIS_URL set the queue is in Redis and this table stays empty.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payscope_worker') THEN
        CREATE ROLE payscope_worker NOLOGIN NOBYPASSRLS;
    END IF;
END
$$;

SET ROLE payscope_owner;

REVOKE ALL ON payscope.jobs, payscope.workers FROM payscope_app;
GRANT INSERT ON payscope.jobs TO payscope_app;
GRANT USAGE ON SCHEMA payscope TO payscope_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON payscope.jobs, payscope.workers TO payscope_worker;

ALTER TABLE payscope.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE payscope.jobs FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS enqueue ON payscope.jobs;
CREATE POLICY enqueue ON payscope.jobs FOR INSERT TO payscope_app
    WITH CHECK (bank_id = NULLIF(current_setting('app.current_bank_id', true), '')::uuid);
-- The owner reads it too, for queue_health below.
DROP POLICY IF EXISTS consume ON payscope.jobs;
CREATE POLICY consume ON payscope.jobs TO payscope_worker, payscope_owner USING (true) WITH CHECK (true);

CREATE OR REPLACE FUNCTION payscope.queue_health(stale_secs float8,
    OUT depth bigint, OUT live_workers bigint, OUT oldest_waiting_secs float8)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
    SELECT (SELECT count(*) FROM payscope.jobs WHERE state <> 'dead'),
           (SELECT count(*) FROM payscope.workers WHERE seen_at > now() - make_interval(secs => stale_secs)),
           (SELECT extract(epoch FROM now() - min(enqueued_at))::float8 FROM payscope.jobs WHERE state = 'ready')
$$;
REVOKE ALL ON FUNCTION payscope.queue_health(float8) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION payscope.queue_health(float8) TO payscope_app, payscope_worker;

RESET ROLE;
