#!/usr/bin/env bash
# The admin API at a million sessions, on PostgreSQL: builds the release server, fills a fresh
# database (`latchkey_bench`, dropped at the end) with 10,000 users and 1,000,000 sessions
# through SQL, and times each session endpoint with curl (median of 5 calls).
#
#   bench/million-sessions.sh [postgres-url-of-the-server]   # default postgres://postgres@127.0.0.1:5432
set -euo pipefail
cd "$(dirname "$0")/.."
server="${1:-postgres://postgres@127.0.0.1:5432}"
db="latchkey_bench"
sessions="${SESSIONS:-1000000}"
port=18282
psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
cargo build --release -q -p latchkey-server
LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin-password \
  target/release/latchkey serve --demo --database-url "$server/$db" --listen "127.0.0.1:$port" --log-level warn &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; psql "$server/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done

echo "== filling: 10,000 users, $sessions sessions"
start=$(date +%s.%N)
psql "$server/$db" -q <<SQL
\set ON_ERROR_STOP on
CREATE TEMP TABLE ctx AS SELECT r.id AS realm, w.id AS web, s.id AS spa
  FROM realms r JOIN clients w ON w.realm_id = r.id AND w.client_id = 'demo-web'
  JOIN clients s ON s.realm_id = r.id AND s.client_id = 'demo-spa' WHERE r.name = 'demo';
INSERT INTO users (id, realm_id, username, email_verified, enabled, not_before, created_at)
  SELECT gen_random_uuid(), (SELECT realm FROM ctx), 'user' || g, false, true, 0, 0 FROM generate_series(1, 10000) g;
CREATE TEMP TABLE u AS SELECT id, row_number() OVER () AS n FROM users WHERE username LIKE 'user%';
INSERT INTO user_sessions (id, realm_id, user_id, session_type, ip_address, started_at, last_access, remember_me, state)
  SELECT gen_random_uuid(), (SELECT realm FROM ctx), u.id,
         CASE WHEN g % 10 = 0 THEN 'OFFLINE' ELSE 'REGULAR' END,
         '10.' || (g % 250) || '.' || (g / 250 % 250) || '.' || (g % 7),
         (extract(epoch from now()) * 1000)::bigint - 3600000 + (g % 1800000),
         (extract(epoch from now()) * 1000)::bigint - (g % 1200000),
         false, 'ACTIVE'
  FROM generate_series(1, $sessions) g JOIN u ON u.n = 1 + g % 10000;
INSERT INTO client_sessions (user_session_id, client_id, realm_id, session_type, started_at, last_refresh, scopes)
  SELECT s.id, (SELECT web FROM ctx), s.realm_id, s.session_type, s.started_at, s.last_access, 'openid' FROM user_sessions s;
INSERT INTO client_sessions (user_session_id, client_id, realm_id, session_type, started_at, last_refresh, scopes)
  SELECT s.id, (SELECT spa FROM ctx), s.realm_id, s.session_type, s.started_at, s.last_access, 'openid'
  FROM user_sessions s WHERE s.ip_address LIKE '%.0';
ANALYZE;
SQL
# Sessions written by SQL bypass the maintained counts: count them once, as after an import.
target/release/latchkey recount-sessions --database-url "$server/$db"
end=$(date +%s.%N)
python3 -c "print(f'filled in {$end-$start:.1f} s')"

base="http://127.0.0.1:$port/admin/realms/demo"
token=$(curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin-password \
  "http://127.0.0.1:$port/realms/master/protocol/openid-connect/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
web=$(curl -sf -H "Authorization: Bearer $token" "$base/clients?clientId=demo-web" | sed -E 's/.*"id":"([^"]+)".*/\1/')
user=$(psql "$server/$db" -Atc "SELECT id FROM users WHERE username = 'user42'")

time_it() {
  local name=$1 path=$2 method=${3:-GET}
  local times=() total=""
  for _ in 1 2 3 4 5; do
    out=$(curl -s -o /dev/null -D - -w 'TIME %{time_total}\n' -X "$method" -H "Authorization: Bearer $token" "$base$path")
    times+=("$(echo "$out" | sed -n 's/^TIME //p')")
    total=$(echo "$out" | tr -d '\r' | sed -n 's/^x-total-count: //Ip')
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)
  printf '%-58s %8.1f ms %s\n' "$name" "$(python3 -c "print($median*1000)")" "${total:+(total $total)}"
}
echo "== median of 5, server time as curl measures it"
time_it "ui-ext/sessions, first page (max=10)" "/ui-ext/sessions?first=0&max=10"
time_it "ui-ext/sessions, page at first=10000" "/ui-ext/sessions?first=10000&max=10"
time_it "ui-ext/sessions?type=OFFLINE" "/ui-ext/sessions?type=OFFLINE&max=10"
time_it "ui-ext/sessions?search=user42 (username)" "/ui-ext/sessions?search=user42&max=10"
time_it "ui-ext/sessions?search=10.7.3 (IP prefix)" "/ui-ext/sessions?search=10.7.3&max=10"
time_it "clients/{web}/user-sessions (max=100)" "/clients/$web/user-sessions?first=0&max=100"
time_it "clients/{web}/session-count" "/clients/$web/session-count"
time_it "client-session-stats" "/client-session-stats"
time_it "users/{user42}/sessions" "/users/$user/sessions"
time_it "ui-ext/sessions/client?clientId={web} (max=10)" "/ui-ext/sessions/client?clientId=$web&max=10"
echo "== logout-all"
start=$(date +%s.%N)
curl -s -o /dev/null -w 'logout-all answered in %{time_total} s\n' -X POST -H "Authorization: Bearer $token" "$base/logout-all"
token=$(curl -sf -d grant_type=password -d client_id=admin-cli -d username=admin -d password=admin-password \
  "http://127.0.0.1:$port/realms/master/protocol/openid-connect/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
time_it "ui-ext/sessions right after logout-all" "/ui-ext/sessions?first=0&max=10"
for _ in $(seq 1 600); do
  left=$(psql "$server/$db" -Atc "SELECT count(*) FROM user_sessions WHERE state = 'ACTIVE'")
  [ "$left" = 0 ] && break
  sleep 1
done
end=$(date +%s.%N)
python3 -c "print(f'the reaper ended and announced $sessions sessions in {$end-$start:.0f} s ({$sessions/($end-$start):.0f}/s)')"
