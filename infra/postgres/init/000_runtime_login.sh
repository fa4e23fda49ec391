#!/bin/sh
# Creates the API/worker login at first start of the database container (docker-entrypoint-initdb.d):
# `payscope_api`, a member of the runtime role `payscope_app` (no BYPASSRLS, owns nothing).
# `payscope-http migrate` finds the role in place and grants it the table privileges. The
# compose file queues jobs in Redis, so the worker uses this login too; with the queue in
# Postgres the workers need their own login in payscope_worker (DEPLOYMENT.md, Database roles).
# Outside docker compose, scripts/smoke.sh runs the same statements with psql.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v login_password="$PAYSCOPE_DB_PASSWORD" <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payscope_app') THEN
    CREATE ROLE payscope_app NOLOGIN NOBYPASSRLS;
  END IF;
END $$;
SELECT format('CREATE ROLE payscope_api LOGIN NOBYPASSRLS IN ROLE payscope_app PASSWORD %L', :'login_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'payscope_api') \gexec
SQL
