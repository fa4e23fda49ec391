-- PayScope 006 (infra/postgres/005_mapping_profiles.sql): mapping profiles, a bank's saved
-- reading of a file layout, applied to every later table whose header has the profile's
-- fingerprint. A tenant table like the others: row-level security enabled and forced, one
-- policy for reads and writes by the transaction's declared bank.

SET ROLE payscope_owner;

CREATE TABLE IF NOT EXISTS payscope.mapping_profiles (
    bank_id     uuid        NOT NULL,
    profile_id  uuid        NOT NULL,
    name        text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    fingerprint text        NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    mapping     jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank_id, profile_id),
    UNIQUE (bank_id, fingerprint)
);

ALTER TABLE payscope.mapping_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE payscope.mapping_profiles FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_isolation ON payscope.mapping_profiles;
CREATE POLICY tenant_isolation ON payscope.mapping_profiles
    USING (bank_id = NULLIF(current_setting('app.current_bank_id', true), '')::uuid)
    WITH CHECK (bank_id = NULLIF(current_setting('app.current_bank_id', true), '')::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON payscope.mapping_profiles TO payscope_app;

RESET ROLE;
