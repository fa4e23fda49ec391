-- PayScope 001: roles, schema and the canonical facts — banks' counters, reports, merchants,
-- facts (money as bigint minor units + char(3) currency, with lineage and confidence), the
-- daily rollups the metric engine reads, and the ingestion job queue.
--
-- The single source for `payscope-http migrate` (sqlx, one transaction per file) and for the
-- deployment checklist's `psql -f infra/postgres/001_canonical_facts.sql` (a symlink to this
-- file). Every statement is idempotent, so re-running is safe.

-- Two roles: payscope_owner owns the schema (migrations run as it); payscope_app is the
-- runtime group role deployments grant to their login user. It owns nothing and never
-- bypasses row-level security.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payscope_owner') THEN
        CREATE ROLE payscope_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payscope_app') THEN
        CREATE ROLE payscope_app NOLOGIN NOBYPASSRLS;
    END IF;
    IF current_user <> 'payscope_owner' AND NOT pg_has_role(current_user, 'payscope_owner', 'MEMBER') THEN
        EXECUTE format('GRANT payscope_owner TO %I', current_user);
    END IF;
END
$$;

CREATE SCHEMA IF NOT EXISTS payscope AUTHORIZATION payscope_owner;

SET ROLE payscope_owner;

-- Per-bank counters: report sequence (orders listings), data version (bumped by every
-- completed load; answer-cache keys include it) and fact statistics kept by the loads, so
-- answering a question never counts a bank's facts.
CREATE TABLE IF NOT EXISTS payscope.bank_state (
    bank_id         uuid PRIMARY KEY,
    report_seq      bigint NOT NULL DEFAULT 0,
    data_version    bigint NOT NULL DEFAULT 0,
    facts_by_stage  bigint[] NOT NULL DEFAULT '{0,0,0,0,0,0}',
    first_at        timestamptz,
    last_at         timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Uploaded reports and their status document (CONTRACT §4). The same bytes from the same
-- bank are one report.
CREATE TABLE IF NOT EXISTS payscope.reports (
    bank_id       uuid NOT NULL,
    report_id     uuid NOT NULL,
    seq           bigint NOT NULL,
    sha256        char(64) NOT NULL,
    status        text NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed')),
    report_type   text NOT NULL,
    created_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    document      jsonb NOT NULL,
    PRIMARY KEY (bank_id, report_id),
    UNIQUE (bank_id, sha256),
    UNIQUE (bank_id, seq)
);

-- Merchants as last seen in a loaded report.
CREATE TABLE IF NOT EXISTS payscope.merchants (
    bank_id        uuid NOT NULL,
    merchant_id    text NOT NULL,
    merchant_name  text,
    mcc            char(4),
    country        char(2),
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    PRIMARY KEY (bank_id, merchant_id)
);

-- Canonical facts. (bank_id, stage, transaction_id) is the idempotency key.
CREATE TABLE IF NOT EXISTS payscope.facts (
    bank_id                uuid NOT NULL,
    stage                  text NOT NULL
        CHECK (stage IN ('AUTH', 'CLEARING', 'SETTLEMENT', 'REFUND', 'CHARGEBACK', 'FRAUD')),
    transaction_id         text NOT NULL,
    occurred_at            timestamptz NOT NULL,
    amount_minor           bigint NOT NULL,
    currency               char(3) NOT NULL,
    network                text,
    response_code          text,
    approved               boolean,
    merchant_id            text,
    merchant_name          text,
    mcc                    char(4),
    merchant_country       char(2),
    issuer_country         char(2),
    issuer_bin             text,
    card_token             text,
    entry_mode             text,
    interchange_fee_minor  bigint,
    reason_code            text,
    fraud_reported         boolean NOT NULL DEFAULT false,
    -- Counts towards fraud_count: every FRAUD fact, and a fraud-reported AUTH fact of a
    -- transaction that has no FRAUD fact (so each transaction counts once).
    fraud_counted          boolean NOT NULL DEFAULT false,
    report_id              uuid NOT NULL,
    artifact_sha256        char(64) NOT NULL,
    source_row             integer NOT NULL,
    confidence             real NOT NULL,
    PRIMARY KEY (bank_id, stage, transaction_id)
);
CREATE INDEX IF NOT EXISTS facts_by_time ON payscope.facts (bank_id, stage, occurred_at);
CREATE INDEX IF NOT EXISTS facts_by_report ON payscope.facts (bank_id, report_id);

-- Daily rollups over the low-cardinality dimensions, updated in the same transaction as
-- every load (a plain table, so row-level security applies; TimescaleDB
-- continuous aggregates would not). `code` is the response code of AUTH rows and the reason
-- code of CHARGEBACK rows.
CREATE TABLE IF NOT EXISTS payscope.rollup_daily (
    bank_id             uuid NOT NULL,
    day                 date NOT NULL,
    stage               text NOT NULL,
    network             text,
    currency            char(3) NOT NULL,
    approved            boolean,
    entry_mode          text,
    code                text,
    merchant_country    char(2),
    issuer_country      char(2),
    facts               bigint NOT NULL,
    amount_minor        numeric NOT NULL,
    fee_minor           numeric NOT NULL,
    fraud_count         bigint NOT NULL,
    fraud_amount_minor  numeric NOT NULL
);
-- One row per cell: loads add to cells in place (ON CONFLICT … DO UPDATE).
CREATE UNIQUE INDEX IF NOT EXISTS rollup_daily_cell ON payscope.rollup_daily
    (bank_id, day, stage, network, currency, approved, entry_mode, code, merchant_country, issuer_country)
    NULLS NOT DISTINCT;

-- The same, summed over everything but network, currency and approval: what the most common
-- questions (rates and volumes, by network or currency) read.
CREATE TABLE IF NOT EXISTS payscope.rollup_daily_totals (
    bank_id             uuid NOT NULL,
    day                 date NOT NULL,
    stage               text NOT NULL,
    network             text,
    currency            char(3) NOT NULL,
    approved            boolean,
    facts               bigint NOT NULL,
    amount_minor        numeric NOT NULL,
    fee_minor           numeric NOT NULL,
    fraud_count         bigint NOT NULL,
    fraud_amount_minor  numeric NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS rollup_daily_totals_cell ON payscope.rollup_daily_totals
    (bank_id, day, stage, network, currency, approved) NULLS NOT DISTINCT;

-- The ingestion job queue (used when no Redis is configured). It holds only ids and
-- delivery state — no tenant data — and workers claim across banks, so it has no row-level
-- security; everything a job then reads or writes does.
CREATE TABLE IF NOT EXISTS payscope.jobs (
    job_id        uuid PRIMARY KEY,
    bank_id       uuid NOT NULL,
    report_id     uuid NOT NULL,
    attempt       integer NOT NULL DEFAULT 0,
    state         text NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'claimed', 'dead')),
    available_at  timestamptz NOT NULL DEFAULT now(),
    claimed_by    text,
    lease_until   timestamptz,
    last_error    text,
    enqueued_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jobs_ready ON payscope.jobs (available_at) WHERE state = 'ready';
CREATE INDEX IF NOT EXISTS jobs_leases ON payscope.jobs (lease_until) WHERE state = 'claimed';

RESET ROLE;
