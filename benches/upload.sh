#!/usr/bin/env bash
# The upload as a user meets it: `POST /reports?report_type=authorization&wait=true` of a CSV of
# 1 M authorizations (UPLOAD_ROWS="1000000 10000000" for more) until the report is completed, on
# the embedded backend (payscope-http alone) and on Postgres (payscope-http and payscope-worker,
# a fresh database on the machine's cluster), release builds, all on loopback. Beside it, in the
# same run and on the same file, the peers: DuckDB's read_csv into a table with threads=1 and
# threads=2, and `psql \copy` into a table of text columns (the least Postgres can do with it).
#
# For each upload it prints where the time went, from the server's debug log: receiving the
# body, hashing and encrypting it, writing the artefact (one pass, while the body arrives), then
# parsing (in its own thread), storing batches, committing, and the graph and search index; and
# the server's peak resident memory.
#
# Usage: benches/upload.sh   (needs python3 with duckdb — pip install duckdb — psql, curl, openssl)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
work=$(mktemp -d /tmp/payscope-upload.XXXXXX)
pids=()
db="payscope_upload_$(openssl rand -hex 4)"
pg_admin=${PG_ADMIN:-postgres://postgres@127.0.0.1:5432}
trap 'clean_up KEEP_UPLOAD' EXIT

dir=${BENCH_DIR:-target/bench-data}
mkdir -p "$dir"
cargo build --release -q -p payscope-http -p payscope-worker
cargo build --release -q -p payscope --example ingest_file
http_bin=target/release/payscope-http
worker_bin=target/release/payscope-worker
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F)"

make_identity_provider https://idp.bench.test
bank=$(python3 -c 'import uuid; print(uuid.uuid4())')
export JWT_JWKS_FILE="$work/jwks.json" JWT_ISSUER=$issuer JWT_AUDIENCE=payscope
export PAYSCOPE_PAN_KEY=$(openssl rand -hex 32) PAYSCOPE_LOG_FORMAT=json
export PAYSCOPE_LOG="warn,payscope_core::store::artifacts=debug,payscope_core::engine::ingest=debug"
export PAYSCOPE_MAX_UPLOAD_BYTES=$((4 << 30)) PAYSCOPE_UPLOADS_PER_MINUTE=0 PAYSCOPE_BANK_UPLOADS_PER_MINUTE=0
unset REDIS_URL DATABASE_DSN MINIO_ENDPOINT NEO4J_URI PINECONE_API_KEY LLM_BASE_URL JWT_PUBLIC_KEY JWT_JWKS_URL

peers() { # file
  python3 - "$1" <<'PY'
import sys, time, duckdb
f = sys.argv[1]
for threads in (1, 2):
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{f}', header=true)")
    secs = time.perf_counter() - t
    n = con.execute("SELECT count(*) FROM t").fetchone()[0]
    print(f"  duckdb read_csv threads={threads}: {secs:.2f} s, {n / secs / 1e6:.2f} M rows/s")
PY
  local cols
  cols=$(head -1 "$1" | python3 -c 'import sys; print(", ".join(f"c{i} text" for i, _ in enumerate(sys.stdin.readline().split(","))))')
  psql -q "$pg_admin/$db" -c "SET client_min_messages = warning; DROP TABLE IF EXISTS peer; CREATE TABLE peer ($cols)"
  local t0 t1
  t0=$(date +%s.%N)
  psql -q "$pg_admin/$db" -c "\\copy peer FROM '$1' CSV HEADER"
  t1=$(date +%s.%N)
  echo "  psql \\copy (text columns): $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s"
  # The same with what payscope.facts maintains on every row: a primary key on the
  # transaction id and indexes by time and by report (here the file's date and merchant).
  psql -q "$pg_admin/$db" -c "SET client_min_messages = warning; DROP TABLE IF EXISTS peer_indexed;
    CREATE TABLE peer_indexed ($cols, PRIMARY KEY (c0)); CREATE INDEX ON peer_indexed (c1, c2); CREATE INDEX ON peer_indexed (c5)"
  t0=$(date +%s.%N)
  psql -q "$pg_admin/$db" -c "\\copy peer_indexed FROM '$1' CSV HEADER"
  t1=$(date +%s.%N)
  echo "  psql \\copy (text columns, a primary key and two indexes): $(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') s"
  psql -q "$pg_admin/$db" -c "DROP TABLE peer, peer_indexed"
}

# upload LABEL FILE ROWS LOG: times the upload until completed; prints the breakdown from LOG.
upload() {
  local label=$1 file=$2 rows=$3 log=$4 token t0 t1 code
  token=$(mint_token "$bank" '["analyst"]')
  t0=$(date +%s.%N)
  code=$(curl -sS -o "$work/reply.json" -w '%{http_code}' -X POST \
    "$api/reports?report_type=authorization&filename=bench.csv&wait=true" \
    -H "Authorization: Bearer $token" -H 'Content-Type: text/csv' -T "$file")
  t1=$(date +%s.%N)
  [ "$code" = 200 ] || fail "$label: the upload answered $code: $(head -c 300 "$work/reply.json")"
  # The graph and search index follow the commit, after the report is already `completed`.
  for _ in $(seq 1 300); do cat ${log//,/ } | grep -q '"report indexed"' && break; sleep 0.1; done
  python3 - "$label" "$rows" "$t0" "$t1" "$log" "$work/rss" <<'PY'
import json, sys
label, rows, t0, t1, log, rss = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
secs = t1 - t0
lines = {}
for path in log.split(","):
    for line in open(path):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        lines[r.get("message")] = r
a, l, i = lines.get("artifact stored", {}), lines.get("report loaded", {}), lines.get("report indexed", {})
peak = max((int(x) for x in open(rss) if x.strip()), default=0) / 1024
print(f"  payscope {label}: {secs:.2f} s end to end, {rows / secs / 1e6:.2f} M rows/s; peak RSS {peak:.0f} MiB")
print(f"    upload: receive {a.get('receive_ms')} ms, hash+encrypt {a.get('hash_encrypt_ms')} ms, write {a.get('write_ms')} ms (one pass)")
print(f"    load:   parse {l.get('parse_ms')} ms (its own thread), store batches {l.get('store_ms')} ms, commit {l.get('commit_ms')} ms; graph+index {i.get('graph_index_ms')} ms")
PY
}

watch_rss() { rm -f "$work/rss"; ( while :; do ps -o rss= -p "$1" >>"$work/rss" 2>/dev/null || true; sleep 0.2; done ) & pids+=($!); rss_loop=$!; }

psql -q "$pg_admin/postgres" -c "CREATE DATABASE $db"
DATABASE_DSN="$pg_admin/$db" PAYSCOPE_LOG=warn "$http_bin" migrate >/dev/null
for rows in ${UPLOAD_ROWS:-1000000}; do
  f="$dir/auth-$rows.csv"
  [ -f "$f" ] || target/release/examples/ingest_file write "$rows" "$f" >/dev/null
  n=$(($(wc -l <"$f") - 1))
  echo "$n rows, $(du -m "$f" | cut -f1) MB ($f)"
  peers "$f"

  port=$(free_port)
  PAYSCOPE_DATA_DIR="$work/embedded-$rows" PAYSCOPE_ADDR=127.0.0.1:$port "$http_bin" >"$work/embedded.log" 2>&1 &
  server=$!; pids+=($server); api=http://127.0.0.1:$port
  wait_http "$api/health/live" payscope-http "$server"
  watch_rss "$server"
  upload "embedded" "$f" "$n" "$work/embedded.log"
  kill "$rss_loop" "$server"

  port=$(free_port)
  DATABASE_DSN="$pg_admin/$db" PAYSCOPE_DATA_DIR="$work/pg-$rows" PAYSCOPE_ADDR=127.0.0.1:$port "$http_bin" >"$work/pg-api.log" 2>&1 &
  server=$!; pids+=($server); api=http://127.0.0.1:$port
  DATABASE_DSN="$pg_admin/$db" PAYSCOPE_DATA_DIR="$work/pg-$rows" PAYSCOPE_WORKER_ADDR=127.0.0.1:$(free_port) "$worker_bin" >"$work/pg-worker.log" 2>&1 &
  worker=$!; pids+=($worker)
  wait_http "$api/health/live" payscope-http "$server"
  sleep 6 # the worker's first heartbeat
  watch_rss "$worker"
  upload "postgres" "$f" "$n" "$work/pg-api.log,$work/pg-worker.log"
  kill "$rss_loop" "$server" "$worker"
  psql -q "$pg_admin/$db" -c "TRUNCATE payscope.facts, payscope.reports, payscope.rollup_daily, payscope.rollup_daily_totals, payscope.bank_state, payscope.merchants"
done
