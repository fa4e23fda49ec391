#!/usr/bin/env bash
# Property-based API testing: schemathesis generates requests from /openapi.json and checks
# that no response is a 500 and every response matches the document. Runs against the demo
# server (real data, valid tokens for two banks).
# Usage: scripts/schemathesis.sh [examples per operation, default 40]   (pip install schemathesis)
set -euo pipefail
cd "$(dirname "$0")/.."
examples=${1:-40}
port=${SCHEMATHESIS_PORT:-18080}
bin=${PAYSCOPE_HTTP_BIN:-${CARGO_TARGET_DIR:-target}/debug/payscope-http}
[ -x "$bin" ] || cargo build -q -p payscope-http
log=$(mktemp)
# Rates off: the fuzzer sends far more than an analyst (the limits have their own tests).
PAYSCOPE_QUESTIONS_PER_MINUTE=0 PAYSCOPE_BANK_QUESTIONS_PER_MINUTE=0 PAYSCOPE_UPLOADS_PER_MINUTE=0 PAYSCOPE_BANK_UPLOADS_PER_MINUTE=0 \
  PAYSCOPE_ADDR=127.0.0.1:$port PAYSCOPE_LOG=warn "$bin" --demo >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
# The demo generates 90 days of data for two banks first: slow in a debug build on a busy machine.
for _ in $(seq 1 600); do
  grep -q "^export TOKEN_A=" "$log" && break
  kill -0 $server 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done
token=$(sed -n "s/^export TOKEN_A='\([^']*\)'.*/\1/p" "$log")
[ -n "$token" ] || { echo "the demo printed no token" >&2; cat "$log"; exit 1; }
schemathesis run "http://127.0.0.1:$port/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --phases examples,coverage,fuzzing \
  --workers 1 \
  --suppress-health-check all
