-- PayScope 005 (infra/postgres/004_query_paths.sql): indexes for the two reads every
-- rollup-served question makes. Applied after the Timescale step, so they also land on the
-- hypertables when the extension is there.

SET ROLE payscope_owner;

-- Rates and volumes name their stages: an index-only scan over one stage's days instead of
-- every stage's (the rollup cells are what the metric store sums).
CREATE INDEX IF NOT EXISTS rollup_daily_totals_by_stage ON payscope.rollup_daily_totals
    (bank_id, stage, day)
    INCLUDE (network, currency, approved, facts, amount_minor, fee_minor, fraud_count, fraud_amount_minor);

-- Coverage (days of a range with data) walks the distinct days of this index, one probe a day.
CREATE INDEX IF NOT EXISTS rollup_daily_totals_days ON payscope.rollup_daily_totals (bank_id, day)
    WHERE facts > 0;

RESET ROLE;
