#!/usr/bin/env bash
# Ingestion at 1 M and 5 M rows: throughput, peak memory (it must not grow with file size),
# and DuckDB's read_csv into a table on the same file with threads=1; then a Mastercard IPM
# clearing file (EBCDIC, 1014-blocked) of about 1 M and 5 M messages, read on one core.
# Usage: benches/ingest.sh   (needs: pip install duckdb)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${BENCH_DIR:-target/bench-data}
mkdir -p "$dir"
cargo build --release --example ingest_file -q
bin=target/release/examples/ingest_file
for rows in 1000000 5000000; do
  f="$dir/auth-$rows.csv"
  [ -f "$f" ] || "$bin" write "$rows" "$f"
  echo "payscope: $("$bin" parse "$f")"
  python3 - "$f" <<'PY'
import sys, time, duckdb
f = sys.argv[1]
con = duckdb.connect()
con.execute("SET threads=1")
t = time.perf_counter()
con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{f}', header=true, all_varchar=false)")
secs = time.perf_counter() - t
n = con.execute("SELECT count(*) FROM t").fetchone()[0]
print(f"duckdb:   read_csv {n} rows in {secs:.2f} s: {n/secs:.0f} rows/s (threads=1)")
PY
done
for messages in 1000000 5000000; do
  f="$dir/clearing-$messages.ipm"
  [ -f "$f" ] || "$bin" write-ipm "$messages" "$f"
  echo "payscope: $("$bin" parse "$f")"
done
