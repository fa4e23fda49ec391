-- PayScope 008: the workers consuming the ingestion queue. Each live worker writes its name and
-- the time every few seconds; readiness, /metrics and `POST /reports?wait=true` read how many
-- were heard from recently. No tenant data.

SET ROLE payscope_owner;

CREATE TABLE IF NOT EXISTS payscope.workers (
    worker   text PRIMARY KEY CHECK (length(worker) BETWEEN 1 AND 200),
    seen_at  timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON payscope.workers TO payscope_app;

RESET ROLE;
