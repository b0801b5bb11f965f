#!/usr/bin/env bash
# End-to-end throughput of the token and introspection endpoints: the release server on a fresh
# SQLite database with the demo realm, loaded by wrk over loopback (bounded: a few seconds each).
#
#   bench/http-tokens.sh [seconds]      # needs wrk (Debian package `wrk`)
#
# Measures:
#   client_credentials  - client authentication (cached secret check), service-account lookup,
#                         roles, one RS256 access token
#   introspect          - client authentication, signature check, session/user/client look-ups
#   refresh (RS256)     - one refresh with rotation, done sequentially by curl, for latency
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-10}"
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }

cargo build --release -q -p latchkey-server
dir=$(mktemp -d)
port=18181
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin-password \
  target/release/latchkey serve --demo --data-dir "$dir" --listen "127.0.0.1:$port" --log-level warn &
pid=$!
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done

base="http://127.0.0.1:$port/realms/demo/protocol/openid-connect"
basic="Authorization: Basic $(printf 'demo-web:demo-web-secret' | base64 -w0)"
token=$(curl -sf -H "$basic" -d grant_type=password -d username=alice -d password=alice-password "$base/token" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

script="$dir/post.lua"
run() {
  local name=$1 body=$2 path=$3
  cat > "$script" <<LUA
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "${basic#Authorization: }"
LUA
  echo "== $name (wrk -t2 -c16 -d${seconds}s)"
  wrk -t2 -c16 -d"${seconds}s" --latency -s "$script" "$base/$path" | grep -E "Requests/sec|Latency|50%|99%|Non-2xx"
}
run client_credentials "grant_type=client_credentials" token
run introspect "token=$token" token/introspect

echo "== refresh with rotation (200 sequential requests; server time as curl measures it)"
refresh=$(curl -sf -H "$basic" -d grant_type=password -d username=bob -d password=bob-password "$base/token" |
  sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')
times="$dir/times"
for _ in $(seq 1 200); do
  out=$(curl -sf -w '\n%{time_total}' -H "$basic" -d grant_type=refresh_token -d "refresh_token=$refresh" "$base/token")
  echo "$out" | tail -n 1 >> "$times"
  refresh=$(echo "$out" | head -n 1 | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')
done
sort -n "$times" | awk '{a[NR]=$1} END {printf "median %.2f ms, p99 %.2f ms per refresh\n", a[int(NR/2)]*1000, a[int(NR*0.99)]*1000}'
