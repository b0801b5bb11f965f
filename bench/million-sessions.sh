#!/usr/bin/env bash
# The admin API at a million sessions, on SQLite (the embedded default) or PostgreSQL: builds the
# release server, starts it on a fresh database with the demo realm (pinned to core 0), fills the
# realm with `latchkey seed` (10,000 users, N sessions, 10 % offline, every session holding
# demo-web, every third also demo-spa), then times each session endpoint 20 times with curl (p50
# and p99), logout-all, and the reaper and notifier ending and announcing every session to a
# real back-channel receiver (bench/receiver.py), counting what it got.
#
#   bench/million-sessions.sh sqlite [sessions]
#   bench/million-sessions.sh postgres [sessions]     # PostgreSQL at $PG (default postgres://postgres@127.0.0.1:5432)
#   NO_BUILD=1 bench/million-sessions.sh ...          # use target/release/latchkey as it is
#   ALG=ES256 bench/million-sessions.sh ...           # the realm signs its logout tokens with ES256
#
# Announcements are measured against the machine's own limit: the signatures/s of the realm's
# algorithm on the server's core (openssl speed, same run), one logout token per session.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/floor.sh
backend="${1:-sqlite}"
sessions="${2:-1000000}"
pg="${PG:-postgres://postgres@127.0.0.1:5432}"
port=18282
receiver_port=18283
dir=$(mktemp -d)
[ "${NO_BUILD:-}" ] || cargo build --release -q -p latchkey-server
bin=target/release/latchkey
case "$backend" in
  sqlite) url="sqlite://$dir/latchkey.db" ;;
  postgres)
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS latchkey_bench WITH (FORCE)" -c "CREATE DATABASE latchkey_bench"
    url="$pg/latchkey_bench" ;;
  *) echo "usage: $0 sqlite|postgres [sessions]" >&2; exit 2 ;;
esac
cleanup() {
  kill "${server_pid:-}" "${receiver_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$backend" = postgres ] && psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS latchkey_bench WITH (FORCE)" || true
  rm -rf "$dir"
}
trap cleanup EXIT

taskset -c 1 python3 bench/receiver.py "$receiver_port" &
receiver_pid=$!
LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin-password LATCHKEY_DATABASE_URL="$url" \
  taskset -c 0 "$bin" serve --demo --listen "127.0.0.1:$port" --log-level "${LOG_LEVEL:-warn}" &
server_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done

echo "== $backend: seeding 10,000 users and $sessions sessions"
LATCHKEY_DATABASE_URL="$url" taskset -c 1 "$bin" seed --realm demo --users 10000 --sessions "$sessions" \
  --clients demo-web,demo-spa 2>/dev/null

base="http://127.0.0.1:$port/admin/realms/demo"
alg="${ALG:-RS256}"
case "$alg" in
  RS256) floor=$(signing_floor rsa2048 0) ;;
  ES256) floor=$(signing_floor ecdsap256 0) ;;
  *) echo "ALG is RS256 or ES256" >&2; exit 2 ;;
esac
admin_token() {
  curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin-password \
    "http://127.0.0.1:$port/realms/master/protocol/openid-connect/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/'
}
token=$(admin_token)
web=$(curl -sf -H "Authorization: Bearer $token" "$base/clients?clientId=demo-web" | sed -E 's/.*"id":"([^"]+)".*/\1/')
user=$(curl -sf -H "Authorization: Bearer $token" "$base/users?username=user42&exact=true" | sed -E 's/.*"id":"([^"]+)".*/\1/')
curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"defaultSignatureAlgorithm\": \"$alg\"}" "$base"
# demo-web's back-channel logout goes to the receiver.
curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"attributes\": {\"backchannel.logout.url\": \"http://127.0.0.1:$receiver_port/bcl\"}}" "$base/clients/$web"

# time_it NAME PATH: 20 calls, p50 and p99 (the 20th of 20) as curl measures them.
time_it() {
  local name=$1 path=$2 times=() total=""
  for _ in $(seq 1 20); do
    out=$(curl -s -o /dev/null -D - -w 'TIME %{time_total}\n' -H "Authorization: Bearer $token" "$base$path")
    times+=("$(sed -n 's/^TIME //p' <<<"$out")")
    total=$(tr -d '\r' <<<"$out" | sed -n 's/^x-total-count: //Ip')
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v total="$total" \
    '{a[NR]=$1} END {printf "| %s | %.1f ms | %.1f ms | %s |\n", name, a[10]*1000, a[20]*1000, total}'
}
echo
echo "| call ($backend, $sessions sessions) | p50 | p99 (of 20) | total |"
echo "|---|---|---|---|"
time_it "ui-ext/sessions, first page (max=10)" "/ui-ext/sessions?first=0&max=10"
time_it "ui-ext/sessions, page at first=10000" "/ui-ext/sessions?first=10000&max=10"
time_it "ui-ext/sessions?type=OFFLINE" "/ui-ext/sessions?type=OFFLINE&max=10"
time_it "ui-ext/sessions?search=user42 (username)" "/ui-ext/sessions?search=user42&max=10"
time_it "ui-ext/sessions?search=10.7.3 (IP prefix)" "/ui-ext/sessions?search=10.7.3&max=10"
time_it "clients/{web}/user-sessions (max=100)" "/clients/$web/user-sessions?first=0&max=100"
time_it "clients/{web}/user-sessions at first=10000" "/clients/$web/user-sessions?first=10000&max=100"
time_it "clients/{web}/session-count" "/clients/$web/session-count"
time_it "clients/{web}/offline-session-count" "/clients/$web/offline-session-count"
time_it "client-session-stats" "/client-session-stats"
time_it "users/{user42}/sessions" "/users/$user/sessions"
rss=$(awk '/^VmRSS:/ {printf "%.0f MB", $2 / 1024}' "/proc/$server_pid/status")

echo
start=$(date +%s.%N)
answer=$(curl -s -w '\nTIME %{time_total}' -X POST -H "Authorization: Bearer $token" "$base/logout-all")
echo "logout-all answered in $(sed -n 's/^TIME //p' <<<"$answer" | awk '{printf "%.0f ms", $1*1000}'): $(head -n 1 <<<"$answer")"
time_it "ui-ext/sessions right after logout-all" "/ui-ext/sessions?first=0&max=10"
announced=$sessions # every session holds demo-web; logout-all ends the offline ones too, as Keycloak does
for _ in $(seq 1 "${REAP_WAIT:-1800}"); do
  got=$(curl -s "http://127.0.0.1:$receiver_port/stats")
  distinct=$(sed -E 's/.*"distinct": ([0-9]+).*/\1/' <<<"$got")
  [ "$distinct" -ge "$announced" ] && break
  sleep 1
done
end=$(date +%s.%N)
echo "receiver: $got (expected $announced distinct sessions)"
python3 -c "s=$end-$start; r=$distinct/s; print(f'{$distinct} of $announced sessions announced in {s:.0f} s: {r:.0f} sessions/s, {r/$floor:.2f} of the $alg signing floor on one core ($floor signs/s)')"
mem() { awk '/^VmRSS:|^VmHWM:|^RssAnon:|^RssFile:|^RssShmem:/ {sub(":", ""); printf "%s %.0f MB, ", $1, $2 / 1024}' "/proc/$server_pid/status"; }
echo "server RSS after the reads: $rss; now: $(mem)"
