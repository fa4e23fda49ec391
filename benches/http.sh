#!/usr/bin/env bash
# POST /chat/query (a rollup-served question) on the --demo server vs a bare hyper server
# answering a fixed JSON body: same machine, same wrk settings. Target: ≥ 50% of the bare
# server's requests/s. The two alternate for a few rounds with the answer cache on (the
# default), each round giving a ratio, since a shared 2-core VM drifts between runs; then
# one run with the cache off.
# Usage: benches/http.sh [duration, default 20s] [connections, default 64] [rounds, default 3]
# (needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-20s}
connections=${2:-64}
rounds=${3:-3}
cargo build --release -q -p payscope-http
cargo build --release -q --example bare_hyper
bin=target/release/payscope-http
body='{"query": "What was the approval rate over the last 90 days?"}'
lua=$(mktemp --suffix .lua)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -f "$lua"; }
trap cleanup EXIT

run_wrk() { # url, token
  cat >"$lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
LUA
  wrk -t2 -c"$connections" -d"$duration" --latency -s "$lua" "$1" |
    awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /^ +50%/ {p50=$2} /Non-2xx/ {bad=$NF}
         END {printf "%s req/s, p50 %s, p99 %s%s\n", rps, p50, p99, (bad ? ", NON-2XX " bad : "")}'
}

start_demo() { # port, cache ttl; sets $token (not in a subshell, so cleanup sees the pid)
  local log
  log=$(mktemp)
  # Throughput, not the limits (benches/overload.sh measures those): rates and caps off.
  PAYSCOPE_QUESTIONS_PER_MINUTE=0 PAYSCOPE_BANK_QUESTIONS_PER_MINUTE=0 PAYSCOPE_MAX_INFLIGHT=0 PAYSCOPE_MAX_CONNECTIONS=0 \
    PAYSCOPE_ADDR=127.0.0.1:$1 PAYSCOPE_LOG=warn PAYSCOPE_CACHE_TTL_SECS=$2 "$bin" --demo >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 120); do grep -q "^export TOKEN_A=" "$log" && break; sleep 1; done
  token=$(sed -n "s/^export TOKEN_A='\([^']*\)'.*/\1/p" "$log")
  if [ -z "$token" ]; then echo "the demo on port $1 did not start:" >&2; cat "$log" >&2; exit 1; fi
}

target/release/examples/bare_hyper 127.0.0.1:18082 2>/dev/null &
pids+=($!)
sleep 1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); wrk -t2 -c$connections -d$duration"
start_demo 18083 300
ratios=()
for round in $(seq 1 "$rounds"); do
  bare=$(run_wrk http://127.0.0.1:18082/chat/query "$token") # the same request, token included
  ours=$(run_wrk http://127.0.0.1:18083/chat/query "$token")
  ratio=$(awk -v a="${ours%% *}" -v b="${bare%% *}" 'BEGIN {printf "%.0f", 100 * a / b}')
  ratios+=("$ratio")
  echo "round $round: bare hyper $bare"
  echo "         payscope, cache on $ours  → $ratio% of bare"
done
echo "ratio per round: ${ratios[*]} (%); median $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')%"
start_demo 18084 0
echo "payscope, cache off: $(run_wrk http://127.0.0.1:18084/chat/query "$token")"
