#!/usr/bin/env bash
# Fault injection, with real processes on loopback: payscope-http and payscope-worker against a
# Postgres cluster and a Redis of this script's own (so they can be stopped and killed), and the
# faults a deployment meets:
#   1. Postgres stopped and restarted while a report loads (job queue in Postgres)
#   2. Redis killed and restarted while three workers consume (job queue in Redis)
#   3. the API killed during an upload
#   4. the data directory's disk full (embedded stores on a 24 MiB tmpfs; needs root to mount)
# Every file is written here with its truth (rows, approvals, approved cents) computed by the
# generator, not by PayScope. Each scenario must end with exactly those totals through the API,
# every report completed once, no partial report and no duplicate fact; where the user has to
# act, the error must say so. The results table is DEPLOYMENT.md's "Faults".
#
# Usage: scripts/faults.sh [1 2 3 4]   (every scenario, or those named; needs the Postgres
#        server binaries, redis-server, psql, curl, openssl, python3; run as root: Postgres runs
#        as user postgres, and scenario 4 mounts a tmpfs)
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d /tmp/payscope-faults.XXXXXX)
chmod 755 "$work"
pids=()
. scripts/lib.sh

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pgbin/initdb" ] || { echo "faults: no Postgres server binaries under /usr/lib/postgresql" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_ctl_() { as_pg "$pgbin/pg_ctl" -D "$work/pg" -l "$work/postgres.log" "$@" >/dev/null; }

cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$work/pg/postmaster.pid" ] && pg_ctl_ -m immediate stop || true
  mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
  [ -n "${KEEP_FAULTS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

step "binaries"
cargo build -q -p payscope-http -p payscope-worker
http_bin=$(realpath "${CARGO_TARGET_DIR:-target}/debug/payscope-http")
worker_bin=$(realpath "${CARGO_TARGET_DIR:-target}/debug/payscope-worker")

# gen FILE ROWS PREFIX: an authorization report; FILE.truth holds "rows approved approved_cents".
gen() {
  python3 - "$@" <<'PY'
import random, sys
path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(prefix)
def luhn(body):
    total = 0
    for i, d in enumerate(int(c) for c in reversed(body)):
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)
approved = cents = 0
with open(path, "w") as f:
    f.write("Transaction ID,Transaction Date,Transaction Time,Card Number,Card Network,Merchant ID,"
            "Merchant Name,MCC,Merchant Country,Issuer Country,POS Entry Mode,Transaction Amount,"
            "Currency Code,Response Code,Fraud Flag\n")
    for i in range(n):
        c = rng.randint(100, 99999)
        code = "00" if rng.random() < 0.85 else "05"
        if code == "00":
            approved, cents = approved + 1, cents + c
        pan = luhn("4" + "".join(rng.choice("0123456789") for _ in range(14)))
        f.write(f"{prefix}{i:09d},2026-11-{1 + i % 28:02d},{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00,"
                f"{pan},VISA,M{rng.randint(1, 400):06d},Merchant {i % 400},5812,US,US,05,"
                f"{c // 100}.{c % 100:02d},USD,{code},0\n")
open(path + ".truth", "w").write(f"{n} {approved} {cents}\n")
PY
}

# The generator's totals of FILES... as "rows approved cents".
truth_of() { cat "${@/%/.truth}" | awk '{r += $1; a += $2; c += $3} END {printf "%d %d %d\n", r, a, c}'; }

# The API's totals for TOKEN's bank over November 2026, as "rows approved cents".
api_totals() {
  curl -sS "$api/query" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -d '{
    "analysis": "describe", "metrics": ["transaction_count", "approved_count", "transaction_amount"],
    "time": {"from": "2026-11-01", "to": "2026-11-30"}}' | python3 -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)["metrics"]}
print(int(m["transaction_count"]["value"]), int(m["approved_count"]["value"]), m["transaction_amount"]["minor_units"])'
}

upload() { # token file [query]: sets $code and $reply
  code=$(curl -sS -o "$work/reply.json" -w '%{http_code}' -X POST \
    "$api/reports?report_type=authorization&filename=$(basename "$2")${3:-}" \
    -H "Authorization: Bearer $1" -H 'Content-Type: text/csv' --data-binary @"$2")
  reply=$(cat "$work/reply.json")
}
field() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

# wait_status token report_id status seconds: polls until the report has the status.
wait_status() {
  local s=""
  for _ in $(seq 1 $(($4 * 10))); do
    s=$(curl -sS "$api/reports/$2" -H "Authorization: Bearer $1" 2>/dev/null | python3 -c 'import json, sys
try: print(json.load(sys.stdin)["status"])
except Exception: print("unreachable")' || true)
    [ "$s" = "$3" ] && return 0
    [ "$s" = failed ] && [ "$3" != failed ] && return 1
    sleep 0.1
  done
  echo "report $2 is $s after $4 s, not $3" >&2
  return 1
}

# The bank's reports as "<in-status> <others>" (status: completed unless given).
report_states() {
  curl -sS "$api/reports?limit=100" -H "Authorization: Bearer $1" | python3 -c '
import json, sys
items = json.load(sys.stdin)["reports"]
n = sum(r["status"] == sys.argv[1] for r in items)
print(n, len(items) - n)' "${2:-completed}"
}

results=()
record() { results+=("| $1 | $2 | $3 | $4 |"); echo "result: $1 | $2 | $3 | $4"; }
check_exact() { # label token files...: the API's totals equal the generator's
  local label=$1 token=$2 want got
  shift 2
  want=$(truth_of "$@")
  got=$(api_totals "$token")
  [ "$want" = "$got" ] || fail "$label: the API's totals (rows approved cents) are $got, the files' $want"
  echo "$label: exact totals $got"
}

make_identity_provider https://idp.faults.test
export JWT_JWKS_FILE="$work/jwks.json" JWT_ISSUER=$issuer JWT_AUDIENCE=payscope
export PAYSCOPE_PAN_KEY=$(openssl rand -hex 32) PAYSCOPE_LOG=info PAYSCOPE_LOG_FORMAT=json
# A job whose worker lost it is taken over after 5 s instead of 15 minutes.
export PAYSCOPE_JOB_LEASE_SECS=5
unset REDIS_URL DATABASE_DSN MINIO_ENDPOINT NEO4J_URI PINECONE_API_KEY LLM_BASE_URL JWT_PUBLIC_KEY JWT_JWKS_URL PAYSCOPE_OPS_ADDR
new_bank() { python3 -c 'import uuid; print(uuid.uuid4())'; }

step "postgres: a cluster of this script's own, migrated, with the API's and the workers' logins"
pg_port=$(free_port)
mkdir -m 700 "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg" && touch "$work/postgres.log" && chown postgres: "$work/postgres.log"
as_pg "$pgbin/initdb" -D "$work/pg" -A trust -U postgres >"$work/initdb.log"
pg_up() { pg_ctl_ -w -o "-p $pg_port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''" start; }
pg_up
pg="postgres://postgres@127.0.0.1:$pg_port"
psql -X -q "$pg/postgres" -c "CREATE DATABASE payscope"
DATABASE_DSN="$pg/payscope" PAYSCOPE_LOG=warn "$http_bin" migrate >/dev/null
psql -X -q "$pg/payscope" -c "CREATE ROLE payscope_api LOGIN IN ROLE payscope_app" \
  -c "CREATE ROLE payscope_ingest LOGIN IN ROLE payscope_app, payscope_worker"
api_dsn="postgres://payscope_api@127.0.0.1:$pg_port/payscope"
ingest_dsn="postgres://payscope_ingest@127.0.0.1:$pg_port/payscope"
# Facts stored for a bank, and how many distinct (stage, transaction) they are.
db_facts() { psql -X -q -t -A "$pg/payscope" -c "SELECT count(*) || ' ' || count(DISTINCT (stage, transaction_id)) FROM payscope.facts WHERE bank_id = '$1'"; }

# Without an object store the artefacts are files under PAYSCOPE_DATA_DIR ($data), which the API
# and the workers of one scenario share (as they would share a bucket).
start_api() { # name port env...: starts payscope-http, sets $api and $api_pid
  local name=$1 port=$2
  shift 2
  # Embedded stores load every report again at start-up: allow for it.
  env PAYSCOPE_DATA_DIR="$data" "$@" PAYSCOPE_ADDR="127.0.0.1:$port" "$http_bin" >>"$work/$name.log" 2>&1 &
  api_pid=$!
  pids+=($api_pid)
  api="http://127.0.0.1:$port"
  wait_http "$api/health/live" "$name" "$api_pid" 300
}
start_worker() { # name env...
  local name=$1
  shift
  env PAYSCOPE_DATA_DIR="$data" "$@" PAYSCOPE_WORKER_ADDR="127.0.0.1:$(free_port)" "$worker_bin" >>"$work/$name.log" 2>&1 &
  pids+=($!)
  workers+=($!)
}
stop_scenario() {
  kill "$api_pid" "${workers[@]}" 2>/dev/null || true
  wait "$api_pid" "${workers[@]}" 2>/dev/null || true
  workers=()
}
workers=()
# A scenario's own bank (and token) and data directory.
begin_scenario() {
  data=$work/data-$1
  bank=$(new_bank)
  token=$(mint_token "$bank" '["analyst","bank_admin","auditor"]')
}

scenario_1() {
  step "1. Postgres stopped and restarted while a report loads"
  begin_scenario 1
  gen "$work/s1.csv" 200000 S1
  start_api api1 "$(free_port)" DATABASE_DSN="$api_dsn"
  start_worker worker1 DATABASE_DSN="$ingest_dsn"
  upload "$token" "$work/s1.csv"
  [ "$code" = 202 ] || fail "1: upload answered $code: $reply"
  id=$(field "$reply" report_id)
  wait_status "$token" "$id" processing 60 || fail "1: the report never started processing"
  sleep 0.3
  pg_ctl_ -w -m fast stop
  during=$(curl -sS -o "$work/s1-during.json" -w '%{http_code}' "$api/reports/$id" -H "Authorization: Bearer $token")
  echo "1: GET /reports/$id with Postgres down: $during $(cat "$work/s1-during.json")"
  [ "$during" = 503 ] && grep -q dependency_unavailable "$work/s1-during.json" || fail "1: with Postgres down the API answered $during"
  during_said=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["error"]["message"])' "$work/s1-during.json")
  sleep 3
  pg_up
  wait_status "$token" "$id" completed 180 || fail "1: the report did not complete after Postgres came back"
  grep -q '"report job failed\|the job queue failed' "$work/worker1.log" || fail "1: the load finished before Postgres stopped; use a larger file"
  check_exact 1 "$token" "$work/s1.csv"
  facts=$(db_facts "$bank")
  [ "$facts" = "200000 200000" ] || fail "1: facts stored (all, distinct): $facts"
  [ "$(report_states "$token")" = "1 0" ] || fail "1: reports: $(report_states "$token")"
  record "Postgres stopped (fast shutdown) 0.3 s into a 200,000-row load, started 3 s later" \
    "\`GET /reports/{id}\` meanwhile: \`503 dependency_unavailable\` (\"$during_said\"); nothing to do: the report completed on its own" \
    "the load's transaction was rolled back; the worker's next attempt after the 5 s lease loaded the report once" \
    "completed; totals exact (200,000 rows, approvals and cents); 200,000 facts, all distinct"
  stop_scenario
}

scenario_2() {
  step "2. Redis killed and restarted while three workers consume"
  begin_scenario 2
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  redis_up() {
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work/redis" --appendonly yes --appendfsync always \
      --save "" >>"$work/redis.log" 2>&1 &
    redis_pid=$!
    pids+=($redis_pid)
    for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    fail "redis did not start"
  }
  redis_up
  redis_url="redis://127.0.0.1:$redis_port"
  start_api api2 "$(free_port)" DATABASE_DSN="$api_dsn" REDIS_URL="$redis_url"
  files=()
  ids=()
  for f in 1 2 3 4 5 6; do
    gen "$work/s2-$f.csv" 60000 "S2F$f"
    files+=("$work/s2-$f.csv")
  done
  for f in "${files[@]}"; do
    upload "$token" "$f"
    [ "$code" = 202 ] || fail "2: upload answered $code: $reply"
    ids+=("$(field "$reply" report_id)")
  done
  # Six jobs wait in the stream; three workers (two jobs at a time each) take them all at once.
  for w in 1 2 3; do start_worker "worker2-$w" DATABASE_DSN="$api_dsn" REDIS_URL="$redis_url"; done
  for _ in $(seq 1 600); do
    [ "$(report_states "$token" processing)" != "0 6" ] && break
    sleep 0.1
  done
  [ "$(report_states "$token" completed)" = "0 6" ] || fail "2: a report completed before Redis was killed"
  kill -9 "$redis_pid"
  sleep 2
  redis_up
  for id in "${ids[@]}"; do wait_status "$token" "$id" completed 240 || fail "2: report $id did not complete"; done
  check_exact 2 "$token" "${files[@]}"
  facts=$(db_facts "$bank")
  [ "$facts" = "360000 360000" ] || fail "2: facts stored (all, distinct): $facts"
  [ "$(report_states "$token")" = "6 0" ] || fail "2: reports: $(report_states "$token")"
  warnings=$(cat "$work"/worker2-*.log | grep -c '"level":"ERROR"\|"level":"WARN"' || true)
  loads=$(cat "$work"/worker2-*.log | grep '"target":"payscope_core::engine::ingest"' | grep -c '"report processed"' || true)
  [ "$loads" = 6 ] || fail "2: $loads loads for six reports"
  record "Redis (append-only, fsync always) killed with SIGKILL while three workers loaded six queued reports, restarted 2 s later" \
    "nothing: the uploads had been accepted (202) and completed on their own" \
    "the loads went on (the data is in Postgres); lease renewals and heartbeats failed meanwhile ($warnings warnings) and resumed; the jobs, kept by the append-only file, were acknowledged after the restart; each report was loaded once" \
    "6 of 6 completed; totals exact (360,000 rows); 360,000 facts, all distinct"
  stop_scenario
}

scenario_3() {
  step "3. the API killed during an upload"
  begin_scenario 3
  gen "$work/s3.csv" 200000 S3
  port=$(free_port)
  start_api api3 "$port" DATABASE_DSN="$api_dsn"
  start_worker worker3 DATABASE_DSN="$ingest_dsn"
  set +e
  curl -sS --limit-rate 3M -X POST "$api/reports?report_type=authorization&filename=s3.csv&wait=true" \
    -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' --data-binary @"$work/s3.csv" >"$work/s3-client.out" 2>"$work/s3-client.err" &
  client=$!
  sleep 2
  kill -9 "$api_pid"
  wait "$client"
  client_exit=$?
  set -e
  client_said=$(tr -d '\n' <"$work/s3-client.err")
  echo "3: the client saw exit $client_exit: $client_said"
  [ "$client_exit" != 0 ] || fail "3: the upload finished before the API was killed"
  start_api api3 "$port" DATABASE_DSN="$api_dsn"
  [ "$(report_states "$token")" = "0 0" ] || fail "3: a report remains from the cut upload: $(report_states "$token")"
  [ "$(db_facts "$bank")" = "0 0" ] || fail "3: facts remain from the cut upload"
  # What the cut upload left behind: its temporary object, never read (nothing refers to it).
  leftover=$(find "$data" -path '*/incoming/*' -type f -printf '%s\n' | awk '{n++; b += $1} END {printf "%d file(s), %.1f MB", n, b / 1e6}')
  upload "$token" "$work/s3.csv" "&wait=true"
  [ "$code" = 200 ] && [ "$(field "$reply" status)" = completed ] || fail "3: the retried upload answered $code: $reply"
  check_exact 3 "$token" "$work/s3.csv"
  [ "$(db_facts "$bank")" = "200000 200000" ] || fail "3: facts stored: $(db_facts "$bank")"
  record "payscope-http killed with SIGKILL 2 s into a 15 MB upload (client limited to 3 MB/s), restarted" \
    "the client's connection failed (curl: \`$client_said\`): the upload must be sent again" \
    "no report, no fact from the cut upload ($leftover of its temporary object left under \`raw/{bank}/incoming/\`, never read); the upload sent again loaded once" \
    "completed; totals exact (200,000 rows); 200,000 facts, all distinct"
  stop_scenario
}

scenario_4() {
  step "4. the data directory's disk full (embedded stores)"
  begin_scenario 4
  data=$work/full
  mkdir -p "$data"
  if ! mount -t tmpfs -o size=24m tmpfs "$work/full" 2>"$work/mount.err"; then
    fail "4: cannot mount a tmpfs ($(cat "$work/mount.err")): run as root"
  fi
  gen "$work/s4-small.csv" 20000 S4A
  gen "$work/s4-big.csv" 400000 S4B
  port=$(free_port)
  start_api api4 "$port"
  upload "$token" "$work/s4-small.csv" "&wait=true"
  [ "$code" = 200 ] || fail "4: the small upload answered $code: $reply"
  upload "$token" "$work/s4-big.csv" "&wait=true"
  echo "4: the upload that does not fit: $code $reply"
  [ "$code" = 507 ] && grep -q 'insufficient_storage' <<<"$reply" || fail "4: a full disk answered $code: $reply"
  said=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["error"]["message"])' "$reply")
  [ "$(report_states "$token")" = "1 0" ] || fail "4: reports after the full disk: $(report_states "$token")"
  check_exact 4 "$token" "$work/s4-small.csv"
  curl -fsS "$api/audit/verify" -H "Authorization: Bearer $token" | grep -q '"ok":true' || fail "4: audit chain"
  # No room at all: a question cannot be recorded in the audit chain, so it is not answered.
  # (The first few still fit in the audit file's last page.)
  ask() { curl -sS -o "$work/answer.json" -w '%{http_code}' "$api/chat/query" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"query\": \"How many transactions were there in the last $1 days?\"}"; }
  dd if=/dev/zero of="$data/filler" bs=64k 2>/dev/null || true
  for n in $(seq 30 130); do
    asked=$(ask "$n")
    [ "$asked" = 200 ] || break
  done
  [ "$asked" = 507 ] && grep -q insufficient_storage "$work/answer.json" || fail "4: a question with the disk full answered $asked: $(cat "$work/answer.json")"
  rm "$data/filler"
  asked=$(ask 365)
  [ "$asked" = 200 ] || fail "4: a question once space was freed answered $asked: $(cat "$work/answer.json")"
  curl -fsS "$api/audit/verify" -H "Authorization: Bearer $token" | grep -q '"ok":true' || fail "4: audit chain after the full disk"
  mount -o remount,size=256m "$work/full"
  upload "$token" "$work/s4-big.csv" "&wait=true"
  [ "$code" = 200 ] && [ "$(field "$reply" status)" = completed ] || fail "4: the upload after freeing space answered $code: $reply"
  check_exact 4 "$token" "$work/s4-small.csv" "$work/s4-big.csv"
  kill "$api_pid"
  wait "$api_pid" 2>/dev/null || true
  start_api api4 "$port"
  check_exact "4 (after a restart)" "$token" "$work/s4-small.csv" "$work/s4-big.csv"
  [ "$(report_states "$token")" = "2 0" ] || fail "4: reports after the restart: $(report_states "$token")"
  record "the data directory (24 MiB tmpfs) full during a 30 MB upload; then filled to the last byte, emptied again, and grown to 256 MiB" \
    "the upload: \`507 insufficient_storage\`, \"$said\"; a question while no byte was free: the same \`507\` (it could not be recorded in the audit chain)" \
    "nothing of the upload kept; the earlier report, its totals and the audit chain intact; the question asked again once space was freed was answered and the chain still verifies (no restart needed); the upload sent again loaded, and a restart recovered both reports" \
    "2 of 2 completed; totals exact (420,000 rows) before and after the restart"
}

# Every scenario, or those named: scripts/faults.sh 2 4
for n in "${@:-1 2 3 4}"; do
  for m in $n; do "scenario_$m"; done
done

step "results"
{
  echo "| fault | what the user saw | what happened | outcome |"
  echo "|---|---|---|---|"
  printf '%s\n' "${results[@]}"
} | tee "$work/results.md"
echo "faults: all scenarios passed"
