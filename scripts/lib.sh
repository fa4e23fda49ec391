# Shell helpers shared by scripts/smoke.sh, scripts/faults.sh and benches/upload.sh (sourced,
# not run). They expect $work (a scratch directory) to be set; `fail` prints the last lines of
# every $work/*.log.

step() { printf '\n--- %s\n' "$*"; }
fail() {
  echo "$(basename "$0"): FAILED: $*" >&2
  for log in "$work"/*.log; do [ -f "$log" ] && { echo "== $log (last lines)" >&2; tail -n 20 "$log" >&2; }; done
  exit 1
}
# For `trap 'clean_up KEEP_VAR' EXIT`: stops the processes in `pids`, drops the database `$db`
# (on `$pg_admin`) and removes `$work`, unless the variable named KEEP_VAR is set.
clean_up() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql -q "$pg_admin/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${!1:-}" ] || rm -rf "$work"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # url, name, pid[, seconds (default 30)]
  for _ in $(seq 1 $((${4:-30} * 5))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || fail "$2 exited during start-up"
    sleep 0.2
  done
  fail "$2 did not answer $1"
}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

# An identity provider: an Ed25519 key (key id test-1) in $work/jwt.key and its key set (what
# its jwks_uri serves) in $work/jwks.json. Tokens name $issuer and audience `payscope`.
make_identity_provider() { # issuer
  issuer=$1
  openssl genpkey -algorithm ed25519 -out "$work/jwt.key"
  local x
  x=$(openssl pkey -in "$work/jwt.key" -pubout -outform DER | tail -c 32 | b64url)
  printf '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"%s","kid":"test-1","use":"sig","alg":"EdDSA"}]}' "$x" >"$work/jwks.json"
}
# A token as that provider issues it: mint_token bank_id roles-json
mint_token() {
  local header payload input
  header=$(printf '{"alg":"EdDSA","typ":"JWT","kid":"test-1"}' | b64url)
  payload=$(printf '{"iss":"%s","aud":"payscope","sub":"%s","bank_id":"%s","roles":%s,"iat":%d,"exp":%d}' \
    "$issuer" "$(basename "$0" .sh)-test" "$1" "$2" "$(date +%s)" "$(($(date +%s) + 3600))" | b64url)
  input="$header.$payload"
  printf '%s' "$input" >"$work/signing-input"
  printf '%s.%s' "$input" "$(openssl pkeyutl -sign -rawin -inkey "$work/jwt.key" -in "$work/signing-input" | b64url)"
}
