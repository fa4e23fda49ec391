#!/usr/bin/env bash
# The deployment smoke test, without Docker: starts Postgres (the machine's cluster, a fresh
# database), Redis (its own, append-only as in the compose file), an S3 server (s3s-fs, with
# the three buckets) and payscope-http + payscope-worker as separate processes, configured as
# docker-compose.yml configures the containers (Neo4j cannot run here: NEO4J_URI stays unset
# and its readiness check reads `not_configured`). Then it runs every verification step of
# DEPLOYMENT.md, including a real Prometheus scraping the API for 30 s.
#
# Usage: scripts/smoke.sh            (needs psql, redis-server, s3s-fs, promtool, prometheus,
#                                     openssl, curl, python3; .ci/run installs them)
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/payscope-smoke.XXXXXX)
pids=()
db="payscope_smoke_$(openssl rand -hex 4)"
pg_admin="postgres://postgres@127.0.0.1:5432"

. scripts/lib.sh
trap 'clean_up KEEP_SMOKE' EXIT

step "binaries"
cargo build -q -p payscope-http -p payscope-worker
http_bin=${CARGO_TARGET_DIR:-target}/debug/payscope-http
worker_bin=${CARGO_TARGET_DIR:-target}/debug/payscope-worker

step "secrets (what .env holds in a deployment)"
pan_key=$(openssl rand -hex 32)
db_password="smoke-$(openssl rand -hex 8)"
minio_user=payscope
minio_password="smoke-$(openssl rand -hex 12)"
# The identity provider's key and key set (what its jwks_uri serves), here as a file.
make_identity_provider https://idp.smoke.test

step "postgres: database $db, the runtime login (infra/postgres/init), migrations"
pg_isready -h 127.0.0.1 -p 5432 -q || fail "Postgres is not running on 127.0.0.1:5432"
psql -q "$pg_admin/postgres" -c "CREATE DATABASE $db" >/dev/null
PGHOST=127.0.0.1 POSTGRES_USER=postgres POSTGRES_DB=$db PAYSCOPE_DB_PASSWORD=$db_password \
  sh infra/postgres/init/000_runtime_login.sh >/dev/null
# As the compose file's `migrate` service: the superuser DSN, which may create roles.
DATABASE_DSN="$pg_admin/$db" PAYSCOPE_LOG=warn "$http_bin" migrate

step "redis (append-only, as in the compose file)"
redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --appendonly yes \
  --appendfsync everysec --save "" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p "$redis_port" ping >/dev/null || fail "redis did not start"

step "s3 (s3s-fs, signature checks on) with the buckets of the minio-buckets job"
s3_port=$(free_port)
mkdir -p "$work/s3/payscope-artifacts" "$work/s3/payscope-models" "$work/s3/payscope-backups"
s3s-fs --host 127.0.0.1 --port "$s3_port" --access-key "$minio_user" --secret-key "$minio_password" \
  "$work/s3" >"$work/s3.log" 2>&1 &
pids+=($!)

step "payscope-http and payscope-worker (the compose file's x-payscope-env, host addresses)"
api_port=$(free_port)
worker_port=$(free_port)
ops_port=$(free_port)
export DATABASE_DSN="postgres://payscope_api:$db_password@127.0.0.1:5432/$db"
export PAYSCOPE_PAN_KEY=$pan_key
export REDIS_URL="redis://127.0.0.1:$redis_port"
export MINIO_ENDPOINT="http://127.0.0.1:$s3_port" MINIO_ACCESS_KEY=$minio_user MINIO_SECRET_KEY=$minio_password
export MINIO_BUCKET=payscope-artifacts MINIO_BACKUP_BUCKET=payscope-backups MINIO_REGION=us-east-1
export JWT_JWKS_FILE="$work/jwks.json"
export PAYSCOPE_ADDR="127.0.0.1:$api_port" PAYSCOPE_WORKER_ADDR="127.0.0.1:$worker_port" PAYSCOPE_OPS_ADDR="127.0.0.1:$ops_port"
export PAYSCOPE_LOG=info PAYSCOPE_LOG_FORMAT=json
export PAYSCOPE_DATA_DIR="$work/data"
unset NEO4J_URI PINECONE_API_KEY PINECONE_HOST LLM_BASE_URL JWT_PUBLIC_KEY JWT_JWKS_URL
# Outside --demo the issuer and audience are required: start-up says which is missing.
unset JWT_ISSUER JWT_AUDIENCE
refused=$("$http_bin" 2>&1 >/dev/null) && fail "payscope-http started without JWT_ISSUER"
echo "$refused" | grep -q "JWT_ISSUER: is required" || fail "unexpected start-up error: $refused"
export JWT_ISSUER=https://idp.smoke.test JWT_AUDIENCE=payscope
"$http_bin" >"$work/api.log" 2>&1 &
api_pid=$!
pids+=($api_pid)
"$worker_bin" >"$work/worker.log" 2>&1 &
worker_pid=$!
pids+=($worker_pid)
api="http://127.0.0.1:$api_port"
wait_http "$api/health/live" api $api_pid
wait_http "http://127.0.0.1:$worker_port/health/live" worker $worker_pid

step "verify: readiness"
for target in "$api" "http://127.0.0.1:$ops_port" "http://127.0.0.1:$worker_port"; do
  ready=$(curl -sS "$target/health/ready")
  echo "$target/health/ready: $ready"
  python3 - "$ready" <<'PY' || fail "readiness of $target"
import json, sys
checks = json.loads(sys.argv[1])["checks"]
bad = {k: v for k, v in checks.items() if v not in ("ok", "not_configured")}
assert not bad, f"failing checks: {bad}"
for needed in ("postgres", "redis", "object_store"):
    assert checks[needed] == "ok", f"{needed} is {checks[needed]}"
PY
done

step "verify: /metrics passes promtool"
curl -sS "$api/metrics" >"$work/metrics.txt"
promtool check metrics <"$work/metrics.txt" || fail "promtool check metrics"
curl -sS "http://127.0.0.1:$worker_port/metrics" | promtool check metrics || fail "promtool (worker)"

step "verify: upload a sample report and ask a question with a freshly minted token"
bank_a=89fe99da-62c6-4ba7-836e-68010994802e   # the sample files' bank (payscope-core/tests/data/samples)
bank_b=$(python3 -c 'import uuid; print(uuid.uuid4())')
token_a=$(mint_token "$bank_a" '["analyst","auditor"]')
token_b=$(mint_token "$bank_b" '["analyst"]')
upload=$(curl -sS -X POST "$api/reports?report_type=settlement&filename=settlement.csv&wait=true" \
  -H "Authorization: Bearer $token_a" -H 'Content-Type: text/csv' \
  --data-binary @payscope-core/tests/data/samples/bank0/settlement.csv)
echo "upload: $upload" | cut -c1-300
report_id=$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["status"]=="completed", r; print(r["report_id"])' "$upload") \
  || fail "the upload was not processed by the worker"
answer=$(curl -sS "$api/chat/query" -H "Authorization: Bearer $token_a" -H 'Content-Type: application/json' \
  -d '{"query": "What was the total settled amount in October 2026?"}')
python3 - "$answer" <<'PY' || fail "the question was not answered: $answer"
import json, sys
a = json.loads(sys.argv[1])
assert a["metrics"] and a["answer_id"], a
print("answer:", a["summary"])
PY
curl -fsS "$api/audit/verify" -H "Authorization: Bearer $token_a" | grep -q '"ok":true' || fail "audit chain"
export_reply=$(curl -fsS -X POST "$api/audit/export" -H "Authorization: Bearer $token_a") || fail "audit export"
object=$(python3 -c 'import json,sys; e=json.loads(sys.argv[1]); assert e["chain_ok"] and e["records"] >= 1, e; print(e["object"])' "$export_reply") \
  || fail "audit export: $export_reply"
[ -s "$work/s3/payscope-backups/$object" ] || fail "the audit export is not in the payscope-backups bucket"
echo "audit chain exported to payscope-backups/$object"

step "verify: bank isolation"
status=$(curl -sS -o "$work/mismatch.json" -w '%{http_code}' "$api/reports" \
  -H "Authorization: Bearer $token_a" -H "X-Bank-Id: $bank_b")
[ "$status" = 403 ] && grep -q bank_id_mismatch "$work/mismatch.json" || fail "X-Bank-Id mismatch gave $status"
curl -sS "$api/reports" -H "Authorization: Bearer $token_b" | grep -q "$report_id" && fail "bank B sees bank A's report"
status=$(curl -sS -o /dev/null -w '%{http_code}' "$api/reports/$report_id" -H "Authorization: Bearer $token_b")
[ "$status" = 404 ] || fail "bank B reading bank A's report gave $status"
echo "403 bank_id_mismatch; bank B sees none of bank A's reports"

step "verify: Prometheus scrapes the API (30 s)"
prom_port=$(free_port)
mkdir -p "$work/prometheus"
sed -e "s/\"api:8001\"/\"127.0.0.1:$ops_port\"/" -e "s/\"worker:8001\"/\"127.0.0.1:$worker_port\"/" \
  -e 's/scrape_interval: 15s/scrape_interval: 2s/' infra/prometheus/prometheus.yml >"$work/prometheus/prometheus.yml"
cp infra/prometheus/alerts.yml "$work/prometheus/"
prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prom_pid=$!
pids+=($prom_pid)
prom="http://127.0.0.1:$prom_port"
wait_http "$prom/-/ready" prometheus $prom_pid
query() { curl -sS --get "$prom/api/v1/query" --data-urlencode "query=$1" \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")'; }
first=none
for second in $(seq 1 30); do
  curl -sS -o /dev/null "$api/health"
  sleep 1
  [ "$first" = none ] && [ "$second" -ge 5 ] && first=$(query 'sum(http_requests_total{job="payscope-api"})')
done
up=$(query 'up{job="payscope-api"}')
last=$(query 'sum(http_requests_total{job="payscope-api"})')
echo "up=$up http_requests_total: $first -> $last; worker up=$(query 'up{job="payscope-worker"}')"
[ "$up" = 1 ] || fail "up{job=\"payscope-api\"} is $up"
python3 -c 'import sys; a, b = sys.argv[1:]; assert a != "none" and float(b) > float(a)' "$first" "$last" \
  || fail "http_requests_total did not increase ($first -> $last)"

step "verify: logs are JSON lines without errors"
python3 - "$work/api.log" "$work/worker.log" "$token_a" <<'PY' || fail "logs"
import json, sys
*logs, token = sys.argv[1:]
for path in logs:
    lines = [l for l in open(path) if l.strip()]
    assert lines, f"{path} is empty"
    for n, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            raise SystemExit(f"{path}:{n} is not JSON: {line[:200]}")
        assert record.get("level") not in ("ERROR",), f"{path}:{n} logs an error: {line[:300]}"
        assert "panicked" not in line, f"{path}:{n}: {line[:300]}"
        assert token.split(".")[2] not in line, f"{path}:{n} logs a token"
    print(f"{path.rsplit('/', 1)[-1]}: {len(lines)} JSON lines, no errors")
PY

echo
echo "smoke: ok"
