#!/usr/bin/env bash
# Overload: the --demo server with its answer cache off (every question is computed) under wrk at
# several times the rate it sustains, all on loopback and bounded in time. It measures what the
# overload protection promises: health checks are still answered quickly, the questions that are
# admitted are answered within a bounded time, the excess is refused at once (429/503 with
# Retry-After), and memory stays flat.
#
# 1. sustainable: wrk with 2 connections (one per core) — the rate the machine computes questions.
# 2. overload: wrk with 256 connections for the duration, while a probe asks one question every
#    200 ms with the other bank's token and checks /health/live every 100 ms; the server's RSS
#    is sampled every second. Limits: PAYSCOPE_MAX_INFLIGHT=4 (questions computed at once),
#    rates off (wrk has one token).
# 3. connections: the same with PAYSCOPE_MAX_CONNECTIONS=128, so half of wrk's connections —
#    and a new client's — are served health and metrics only; 3b. the same with health probed
#    on its own listener (PAYSCOPE_OPS_ADDR).
# 4. rates: the default limits (120 questions a minute per subject): one subject's wrk run is
#    mostly 429, and another bank's analyst is still answered.
# Usage: benches/overload.sh [overload duration, default 30s]   (needs wrk, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-30s}
cargo build --release -q -p payscope-http
bin=target/release/payscope-http
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_demo() { # port, then the limits as VAR=value words; sets $token_a, $token_b and $server
  local port=$1 log=$work/demo-$1.log
  shift
  env "$@" PAYSCOPE_ADDR=127.0.0.1:$port PAYSCOPE_LOG=warn PAYSCOPE_CACHE_TTL_SECS=0 "$bin" --demo >"$log" 2>&1 &
  server=$!
  pids+=($server)
  for _ in $(seq 1 180); do grep -q "^export TOKEN_B=" "$log" && break; sleep 1; done
  token_a=$(sed -n "s/^export TOKEN_A='\([^']*\)'.*/\1/p" "$log")
  token_b=$(sed -n "s/^export TOKEN_B='\([^']*\)'.*/\1/p" "$log")
  [ -n "$token_a" ] || { echo "the demo on port $port did not start" >&2; cat "$log" >&2; exit 1; }
}

# A wrk script that asks questions (a different period each time, so nothing repeats) and
# counts responses by status.
cat >"$work/ask.lua" <<'LUA'
-- Per-thread globals (wrk reads them back with thread:get).
n = 0
statuses = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) token = args[1] end
function request()
  n = n + 1
  local body = string.format('{"query": "How many declines were there in the last %d days?"}', 2 + n % 80)
  return wrk.format("POST", "/chat/query", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for k, v in pairs(s) do total[k] = (total[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, k .. ": " .. v) end
  table.sort(parts)
  io.write("statuses: " .. table.concat(parts, ", ") .. "\n")
end
LUA

wrk_ask() { # url, connections, duration, token
  wrk -t2 -c"$2" -d"$3" --latency -s "$work/ask.lua" "$1" -- "$4" |
    awk '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /^ +50%/ {p50=$2} /^statuses:/ {sub(/^statuses: /, ""); st=$0}
         END {printf "%s req/s (all responses: p50 %s, p99 %s; %s)\n", rps, p50, p99, st}'
}

# Percentiles of a file of numbers (seconds), in ms.
pct() { sort -n "$1" | awk 'function at(q) {i = int(NR * q + 0.999); if (i < 1) i = 1; return v[i]}
  {v[NR] = $1} END {if (NR == 0) {print "none"; exit}
  printf "n=%d p50 %.1f ms, p99 %.1f ms, max %.1f ms", NR, 1000 * at(0.5), 1000 * at(0.99), 1000 * v[NR]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
overload() { # label, port, then the limits
  local label=$1 port=$2
  shift 2
  start_demo "$port" PAYSCOPE_QUESTIONS_PER_MINUTE=0 PAYSCOPE_BANK_QUESTIONS_PER_MINUTE=0 "$@"
  local url=http://127.0.0.1:$port health_url=http://127.0.0.1:$port/health/live arg
  for arg in "$@"; do
    case $arg in PAYSCOPE_OPS_ADDR=*) health_url="http://${arg#PAYSCOPE_OPS_ADDR=}/health/live" ;; esac
  done
  [ "$label" = 2 ] && echo "1. sustainable (wrk -c2 -d10s): $(wrk_ask "$url/chat/query" 2 10s "$token_a")"
  rm -f "$work/health.raw" "$work/probe.raw" "$work/rss"
  ( while :; do curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$health_url" >>"$work/health.raw"; sleep 0.1; done ) &
  local health_loop=$!
  ( n=0; while :; do n=$((n + 1))
      curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST "$url/chat/query" -H "Authorization: Bearer $token_b" \
        -H 'Content-Type: application/json' -d "{\"query\": \"What was the approval rate in the last $((2 + n % 80)) days?\"}" >>"$work/probe.raw"
      sleep 0.2; done ) &
  local probe_loop=$!
  ( while :; do ps -o rss= -p "$server" >>"$work/rss"; sleep 1; done ) &
  local rss_loop=$!
  pids+=($health_loop $probe_loop $rss_loop)
  echo "$label. overload, $* (wrk -c256 -d$duration): $(wrk_ask "$url/chat/query" 256 "$duration" "$token_a")"
  kill "$health_loop" "$probe_loop" "$rss_loop" 2>/dev/null || true
  awk '$1 == 200 {print $2}' "$work/health.raw" >"$work/health"
  awk '$1 == 200 {print $2}' "$work/probe.raw" >"$work/admitted"
  echo "   $health_url meanwhile: $(awk '$1 != 200' "$work/health.raw" | wc -l) not 200 of $(wc -l <"$work/health.raw"); $(pct "$work/health")"
  echo "   the other bank's questions meanwhile: $(cut -d' ' -f1 "$work/probe.raw" | sort | uniq -c | awk '{printf "%s× %s ", $1, $2}'); admitted: $(pct "$work/admitted")"
  echo "   server RSS (MiB): first $(head -1 "$work/rss" | awk '{printf "%.0f", $1/1024}'), peak $(sort -n "$work/rss" | tail -1 | awk '{printf "%.0f", $1/1024}'), last $(tail -1 "$work/rss" | awk '{printf "%.0f", $1/1024}') over $(wc -l <"$work/rss") samples"
  kill "$server"
}

overload 2 18090 PAYSCOPE_MAX_INFLIGHT=4
overload 3 18092 PAYSCOPE_MAX_INFLIGHT=4 PAYSCOPE_MAX_CONNECTIONS=128
overload 3b 18094 PAYSCOPE_MAX_INFLIGHT=4 PAYSCOPE_MAX_CONNECTIONS=128 PAYSCOPE_OPS_ADDR=127.0.0.1:18095

start_demo 18091
url=http://127.0.0.1:18091
echo "4. default rates, one subject (wrk -c8 -d10s): $(wrk_ask $url/chat/query 8 10s "$token_a")"
echo "   the other bank's analyst right after: HTTP $(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/chat/query" -H "Authorization: Bearer $token_b" -H 'Content-Type: application/json' -d '{"query": "What is the transaction volume?"}')"
