-- PayScope 003: tenant isolation enforced by the database. Every tenant table has row-level
-- security enabled and forced (so the owner is subject to it too), with one policy for reads
-- and writes: a row is visible and writable only when its bank_id equals the bank the
-- transaction declared with set_config('app.current_bank_id', …, true). No bank declared →
-- no rows, and inserts are refused. The application also runs SET LOCAL ROLE payscope_app in
-- every transaction, so this holds even on an owner or superuser connection.

SET ROLE payscope_owner;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['bank_state', 'reports', 'merchants', 'facts', 'rollup_daily',
                             'rollup_daily_totals', 'answers', 'agent_traces', 'audit_heads']
    LOOP
        EXECUTE format('ALTER TABLE payscope.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE payscope.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON payscope.%I', t);
        EXECUTE format(
            'CREATE POLICY tenant_isolation ON payscope.%I
                 USING (bank_id = NULLIF(current_setting(''app.current_bank_id'', true), '''')::uuid)
                 WITH CHECK (bank_id = NULLIF(current_setting(''app.current_bank_id'', true), '''')::uuid)',
            t);
    END LOOP;
END
$$;

-- What the runtime role may do: read and write tenant tables, only insert and read the
-- audit trail, and use the queue.
GRANT USAGE ON SCHEMA payscope TO payscope_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON payscope.bank_state, payscope.reports, payscope.merchants,
    payscope.facts, payscope.rollup_daily, payscope.rollup_daily_totals, payscope.jobs TO payscope_app;
GRANT SELECT, INSERT ON payscope.answers, payscope.agent_traces TO payscope_app;
GRANT SELECT, INSERT, UPDATE ON payscope.audit_heads TO payscope_app;

RESET ROLE;

-- Loads stage facts in a temporary table before merging them.
DO $$
BEGIN
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO payscope_app', current_database());
END
$$;
