-- PayScope 002: the explainability audit — every answer with its question, plan, agent
-- traces, metric values, model/prompt/schema versions and confidence, hash-chained per bank:
-- hash = sha256(prev_hash || record), where `record` is kept as the exact canonical bytes
-- that were hashed. The runtime role may only insert and read (see 003), so the trail is
-- append-only; `GET /audit/verify` recomputes the chain.

SET ROLE payscope_owner;

CREATE TABLE IF NOT EXISTS payscope.answers (
    bank_id         uuid NOT NULL,
    answer_id       uuid NOT NULL,
    seq             bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    intent          text,
    confidence      double precision,
    model           text,
    prompt_version  text,
    schema_version  text,
    record          text NOT NULL,
    prev_hash       char(64) NOT NULL,
    hash            char(64) NOT NULL,
    PRIMARY KEY (bank_id, answer_id),
    UNIQUE (bank_id, seq)
);

-- One row per agent that ran for an answer (also inside `record`; here for querying).
CREATE TABLE IF NOT EXISTS payscope.agent_traces (
    bank_id      uuid NOT NULL,
    answer_id    uuid NOT NULL,
    agent        text NOT NULL,
    status       text NOT NULL,
    duration_ms  double precision,
    trace        jsonb NOT NULL,
    PRIMARY KEY (bank_id, answer_id, agent)
);

-- The head of each bank's chain. Appends lock this row, so a bank's chain is written by
-- one transaction at a time while other banks append in parallel.
CREATE TABLE IF NOT EXISTS payscope.audit_heads (
    bank_id  uuid PRIMARY KEY,
    seq      bigint NOT NULL,
    hash     char(64) NOT NULL
);

RESET ROLE;
