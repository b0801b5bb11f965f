#!/usr/bin/env bash
# Token endpoints of Latchkey side by side with a peer, node-oidc-provider 8.8.1, on this machine,
# in one run, with every figure also given as a ratio within the run (absolute req/s depend on the
# machine; the ratios much less).
#
#   bench/tokens.sh                 # 10 s per load run, about 2 minutes in all
#   SECONDS=8 bench/tokens.sh       # shorter runs (bash's SECONDS, read on the first line)
#   NO_BUILD=1 bench/tokens.sh      # use target/release/latchkey as it is, do not run cargo build
#
# Needs: wrk (apt-get install wrk), node + npm (the peer is installed into bench/peer/node_modules
# from the committed package-lock.json), python3 (stdlib only), openssl, taskset, curl.
#
# Placement: each server is pinned to core 0 (`taskset -c 0`), the load generator to core 1.
# Signing floor: `openssl speed` RSA-2048 and ECDSA P-256 signs/s on core 0, in the same run.
#
# Scenarios, each on Latchkey (SQLite, --demo realm) and on the peer (bench/peer/server.js):
#   client_credentials  client demo-web authenticated by HTTP Basic; one RS256 JWT access token.
#                       wrk -t1 -c16 --latency, form POST.
#   introspect          introspection of a user's access token, client demo-web by HTTP Basic.
#                       Latchkey: an RS256 access token of alice (password grant). The peer can
#                       only introspect its opaque (stored) access tokens, so it gets one of those.
#   refresh_token       refresh with rotation (a new refresh token each time, so no replay: driven
#                       by bench/refresh_load.py, 16 threads each following its own token chain).
#                       Both servers sign an access token and an ID token (RS256) per refresh.
# Peak RSS: VmHWM of each server right after its client_credentials run.
#
# Output: a Markdown table; "÷ floor" is req/s over RSA-2048 signs/s (client_credentials signs
# one token) or over half of it (refresh signs two).
duration=$SECONDS
[ "${1:-}" ] && duration=$1
[ "$duration" -gt 0 ] 2>/dev/null || duration=10
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/floor.sh

for tool in wrk node npm python3 openssl taskset curl; do
  command -v "$tool" >/dev/null || {
    case $tool in
      wrk) echo "wrk is needed: apt-get install wrk" >&2 ;;
      *) echo "$tool is needed" >&2 ;;
    esac
    exit 1
  }
done
[ "$(nproc)" -ge 2 ] || { echo "needs at least 2 cores (server on core 0, load on core 1)" >&2; exit 1; }

if [ "$(node -p 'require("./bench/peer/node_modules/oidc-provider/package.json").version' 2>/dev/null)" != 8.8.1 ]; then
  (cd bench/peer && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
[ "${NO_BUILD:-}" ] || cargo build --release -q -p latchkey-server
bin=target/release/latchkey

dir=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

basic_value="Basic $(printf 'demo-web:demo-web-secret' | base64 -w0)"
notes=()

wait_ready() { # url
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done
  echo "server did not become ready at $1" >&2; exit 1
}
stop_server() {
  kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
to_ms() { # wrk latency such as 812.00us, 1.23ms, 1.02s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0;
    else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

# wrk NAME URL BODY: runs wrk on core 1, sets $rps $p50 $p99 (ms), notes non-2xx answers.
load() {
  local name=$1 url=$2 body=$3 out
  cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "$basic_value"
LUA
  out=$(taskset -c 1 wrk -t1 -c16 -d"${duration}s" --latency -s "$dir/post.lua" "$url")
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  local bad
  bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
  [ -z "$bad" ] || notes+=("$name: $bad non-2xx answers under load")
  if grep -q "Socket errors" <<<"$out"; then notes+=("$name: $(grep 'Socket errors' <<<"$out" | xargs)"); fi
  echo "  $name: $rps req/s, p50 $p50 ms, p99 $p99 ms" >&2
}
# refresh NAME KIND BASE: the Python driver on core 1, sets $rps $p50 $p99 and notes its CPU.
refresh() {
  local name=$1 out cpu errors
  out=$(taskset -c 1 python3 bench/refresh_load.py "$2" "$3" --seconds "$duration" --workers 16 | grep '^RESULT')
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out" | xargs printf '%.0f')
  p50=$(sed -E 's/.*p50_ms=([0-9.na]+).*/\1/' <<<"$out")
  p99=$(sed -E 's/.*p99_ms=([0-9.na]+).*/\1/' <<<"$out")
  cpu=$(sed -E 's/.*cpu_pct=([0-9]+).*/\1/' <<<"$out")
  errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$out")
  if [ "$cpu" -ge 85 ]; then
    notes+=("$name: the Python driver used ${cpu}% of core 1: it is the bottleneck, the figure is a lower bound")
  else
    notes+=("$name: the Python driver used ${cpu}% of core 1 (not the bottleneck)")
  fi
  [ "$errors" = 0 ] || notes+=("$name: $errors failed refreshes")
  echo "  $name: $rps req/s, p50 $p50 ms, p99 $p99 ms (driver CPU ${cpu}%)" >&2
}
check() { # NAME EXPECTED-SUBSTRING CURL-ARGS...: one request before the load, to see it succeeds
  local name=$1 want=$2 out; shift 2
  out=$(curl -s -H "Authorization: $basic_value" "$@")
  grep -q "$want" <<<"$out" || { echo "$name: unexpected answer: ${out:0:300}" >&2; exit 1; }
}
hwm() { awk '/^VmHWM:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }

echo "== signing floor (openssl speed, core 0)" >&2
rsa=$(signing_floor rsa2048 0)
ecdsa=$(signing_floor ecdsap256 0)
echo "  RSA-2048 $rsa signs/s, ECDSA P-256 $ecdsa signs/s" >&2

echo "== Latchkey (SQLite, --demo realm, core 0)" >&2
port=18191
LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin-password \
  taskset -c 0 "$bin" serve --demo --data-dir "$dir/latchkey" --listen "127.0.0.1:$port" --log-level warn &
server_pid=$!
wait_ready "http://127.0.0.1:$port/health/ready"
base="http://127.0.0.1:$port/realms/demo/protocol/openid-connect"
check "Latchkey client_credentials" access_token -d grant_type=client_credentials "$base/token"
load "Latchkey client_credentials" "$base/token" "grant_type=client_credentials"
lk_cc=("$rps" "$p50" "$p99"); lk_rss=$(hwm "$server_pid")
token=$(curl -sf -H "Authorization: $basic_value" -d grant_type=password -d username=alice \
  -d password=alice-password -d scope=openid "$base/token" | json_field access_token)
check "Latchkey introspect" '"active":true' -d "token=$token" "$base/token/introspect"
load "Latchkey introspect" "$base/token/introspect" "token=$token"
lk_in=("$rps" "$p50" "$p99")
refresh "Latchkey refresh_token" latchkey "$base"
lk_rt=("$rps" "$p50" "$p99")
# The same realm switched to ES256 by an administrator, as the admin API does it.
admin=$(curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin-password \
  "http://127.0.0.1:$port/realms/master/protocol/openid-connect/token" | json_field access_token)
curl -sf -X PUT -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
  -d '{"defaultSignatureAlgorithm": "ES256"}' "http://127.0.0.1:$port/admin/realms/demo" >/dev/null
check "Latchkey client_credentials ES256" access_token -d grant_type=client_credentials "$base/token"
load "Latchkey client_credentials ES256" "$base/token" "grant_type=client_credentials"
lk_es=("$rps" "$p50" "$p99")
stop_server

echo "== node-oidc-provider 8.8.1 (in-memory adapter, core 0)" >&2
port=18292
PORT=$port taskset -c 0 node bench/peer/server.js > "$dir/peer.log" 2>&1 &
server_pid=$!
wait_ready "http://127.0.0.1:$port/.well-known/openid-configuration"
base="http://127.0.0.1:$port"
check "peer client_credentials" '"access_token":"eyJ' -d grant_type=client_credentials "$base/token"
load "peer client_credentials" "$base/token" "grant_type=client_credentials"
peer_cc=("$rps" "$p50" "$p99"); peer_rss=$(hwm "$server_pid")
token=$(python3 bench/refresh_load.py peer-access-token "$base")
check "peer introspect" '"active":true' -d "token=$token" "$base/token/introspection"
load "peer introspect" "$base/token/introspection" "token=$token"
peer_in=("$rps" "$p50" "$p99")
refresh "peer refresh_token" peer "$base"
peer_rt=("$rps" "$p50" "$p99")
stop_server

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cell() { echo "$1 ($2 ms, $3 ms)"; }
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cat <<EOF

Token endpoints, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, $cpu_model; ${duration} s per run;
servers on core 0, load on core 1; wrk -t1 -c16 (refresh: 16 Python threads). req/s (p50, p99).

| scenario | Latchkey req/s (p50, p99) | peer req/s (p50, p99) | Latchkey ÷ peer | Latchkey ÷ floor |
| --- | --- | --- | --- | --- |
| client_credentials, RS256 JWT access token (both) | $(cell "${lk_cc[@]}") | $(cell "${peer_cc[@]}") | $(ratio "${lk_cc[0]}" "${peer_cc[0]}") | $(ratio "${lk_cc[0]}" "$rsa") |
| client_credentials, Latchkey realm on ES256 (peer as above, RS256) | $(cell "${lk_es[@]}") | $(cell "${peer_cc[@]}") | $(ratio "${lk_es[0]}" "${peer_cc[0]}") | $(ratio "${lk_es[0]}" "$ecdsa") (÷ ECDSA) |
| introspect (Latchkey: RS256 JWT; peer: opaque token, its only introspectable kind) | $(cell "${lk_in[@]}") | $(cell "${peer_in[@]}") | $(ratio "${lk_in[0]}" "${peer_in[0]}") | — |
| refresh_token with rotation, access + ID token RS256 (both) | $(cell "${lk_rt[@]}") | $(cell "${peer_rt[@]}") | $(ratio "${lk_rt[0]}" "${peer_rt[0]}") | $(ratio "${lk_rt[0]}" "$(awk -v r="$rsa" 'BEGIN {print r / 2}')") |

- Peak RSS after the client_credentials run (VmHWM): Latchkey $lk_rss, peer $peer_rss.
- Signing floor on core 0 (openssl speed -seconds 3): RSA-2048 $rsa signs/s, ECDSA P-256 $ecdsa signs/s.
EOF
for note in "${notes[@]}"; do echo "- $note"; done
