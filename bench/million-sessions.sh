#!/usr/bin/env bash
# The admin API at a million sessions, on SQLite (the embedded default) or PostgreSQL, for every
# shape of data: builds the release server, makes a fresh database with the demo realm, fills
# the realm with `latchkey seed` while the server is down (10,000 users, N sessions, 10 %
# offline, every session holding demo-web, every third also demo-spa, in the shape SHAPE and
# the row order ORDER), starts the server (pinned to core 0) and times each session endpoint
# CALLS times with curl (p50 and p99) — for SHAPE=expired while the reaper is ending the
# million dead sessions, its rate read from the server's counter each second beside them. Then
# new limits (the reaper's job moving every session), demo-spa disabled (its job ending a third
# of the client sessions), each with lists and counts sampled while it runs; then logout-all,
# and the first page and counts sampled every 5 s while the reaper ends and the notifier
# announces every session to a real back-channel receiver (bench/receiver.py), counting what it
# got. On PostgreSQL it prints the server's shared_buffers and max_wal_size: the figures in
# docs/benchmarks.md from December 7 (f) on ran with 6 GB and 8 GB (PostgreSQL's defaults,
# 128 MB and 1 GB, before).
#
#   bench/million-sessions.sh sqlite [sessions]
#   bench/million-sessions.sh postgres [sessions]     # PostgreSQL at $PG (default postgres://postgres@127.0.0.1:5432)
#   SHAPE=spread|recent-minute|last-hour|30-days|expired   (default spread; see `latchkey seed --help`)
#   ORDER=start|random                                    rows in start order (default) or scattered
#   CALLS=20                                              calls per endpoint
#   SAMPLE_SECONDS=60                                     how long the lists are sampled after logout-all
#   ANNOUNCE=1                                            wait until every session is announced (0: stop after sampling)
#   NOTIFY=0                                              demo-web has no back-channel URL: nothing to announce
#   NO_BUILD=1 bench/million-sessions.sh ...              use target/release/latchkey as it is
#   FROM_DB=name bench/million-sessions.sh postgres N     copy a seeded database instead of seeding
#                                                         again (ten million take most of an hour):
#                                                         N sessions of the same SHAPE, its realm set
#                                                         as this script sets it (NOTIFY=0: demo-web
#                                                         without a back-channel URL, or the first
#                                                         start's reaper queues notifications)
#   ALG=ES256 bench/million-sessions.sh ...               the realm signs its logout tokens with ES256
#   LIMITS=0                                              skip the change of the realm's idle timeout
#                                                         (the reaper's job moving every session)
#   DISABLE=0                                             skip disabling demo-spa (the reaper's job
#                                                         ending the client sessions of a third)
#   REALMS=10                                             the sessions split over ten realms (demo and
#                                                         demo-2 … demo-10, each with demo-web and
#                                                         demo-spa): the calls read demo's share
#
# SHAPE=last-hour also gives the realm one-hour sessions (ssoSessionMaxLifespan 3600), as the
# busy service it stands for. Announcements are measured against the machine's own limit: the
# signatures/s of the realm's algorithm on the server's core (openssl speed, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/floor.sh
backend="${1:-sqlite}"
sessions="${2:-1000000}"
shape="${SHAPE:-spread}"
order="${ORDER:-start}"
calls="${CALLS:-20}"
realms="${REALMS:-1}"
[ "${NOTIFY:-1}" = 0 ] && ANNOUNCE=0 # nothing is announced
pg="${PG:-postgres://postgres@127.0.0.1:5432}"
port=18282
receiver_port=18283
metrics_port=18284
dir=$(mktemp -d)
[ "${NO_BUILD:-}" ] || cargo build --release -q -p latchkey-server
bin=target/release/latchkey
case "$backend" in
  sqlite) url="sqlite://$dir/latchkey.db" ;;
  postgres)
    psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS latchkey_bench WITH (FORCE)" \
      -c "CREATE DATABASE latchkey_bench${FROM_DB:+ TEMPLATE $FROM_DB}"
    url="$pg/latchkey_bench" ;;
  *) echo "usage: $0 sqlite|postgres [sessions]" >&2; exit 2 ;;
esac
cleanup() {
  kill "${server_pid:-}" "${receiver_pid:-}" "${sampler_pid:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$backend" = postgres ] && psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS latchkey_bench WITH (FORCE)" || true
  rm -rf "$dir"
}
trap cleanup EXIT

start_server() {
  LATCHKEY_ADMIN_USER=admin LATCHKEY_ADMIN_PASSWORD=admin-password LATCHKEY_DATABASE_URL="$url" \
    taskset -c 0 "$bin" serve --demo --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" \
    --log-level "${LOG_LEVEL:-warn}" &
  server_pid=$!
  for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && return; sleep 0.2; done
  echo "the server did not start" >&2; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

taskset -c 1 python3 bench/receiver.py "$receiver_port" &
receiver_pid=$!
start_server

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
client_uuid() { curl -sf -H "Authorization: Bearer $token" "$base/clients?clientId=$1" | sed -E 's/.*"id":"([^"]+)".*/\1/'; }
web=$(client_uuid demo-web)
spa=$(client_uuid demo-spa)
realm_settings="{\"defaultSignatureAlgorithm\": \"$alg\""
[ "$shape" = last-hour ] && realm_settings="$realm_settings, \"ssoSessionMaxLifespan\": 3600"
curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$realm_settings}" "$base"
# The other realms, as demo is for the sessions: the same settings and the two clients.
other_realms=()
for k in $(seq 2 "$realms"); do
  other="demo-$k"
  other_realms+=("$other")
  [ "${FROM_DB:-}" ] && continue
  curl -sf -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"realm\": \"$other\", \"enabled\": true}" "http://127.0.0.1:$port/admin/realms"
  curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d "$realm_settings}" \
    "http://127.0.0.1:$port/admin/realms/$other"
  for c in demo-web demo-spa; do
    curl -sf -o /dev/null -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
      -d "{\"clientId\": \"$c\", \"publicClient\": true, \"redirectUris\": [\"http://127.0.0.1/cb\"]}" \
      "http://127.0.0.1:$port/admin/realms/$other/clients"
  done
done
# demo-web's back-channel logout goes to the receiver (NOTIFY=0: nowhere, so that the reads
# and the reaper are measured without the notifier signing beside them on the server's core).
notify_url="http://127.0.0.1:$receiver_port/bcl"
[ "${NOTIFY:-1}" = 0 ] && notify_url=""
curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"attributes\": {\"backchannel.logout.url\": \"$notify_url\"}}" "$base/clients/$web"
stop_server

each=$((sessions / realms))
echo "== $backend: seeding 10,000 users and $each sessions in each of $realms realm(s), shape $shape, $order order (server down)"
[ "$backend" = postgres ] && echo "PostgreSQL: shared_buffers $(psql "$pg/postgres" -Atc 'SHOW shared_buffers'), max_wal_size $(psql "$pg/postgres" -Atc 'SHOW max_wal_size')"
if [ "${FROM_DB:-}" ]; then
  echo "(a copy of $FROM_DB, seeded so before)"
else
  for r in demo "${other_realms[@]}"; do
    LATCHKEY_DATABASE_URL="$url" taskset -c 1 "$bin" seed --realm "$r" --users 10000 --sessions "$each" \
      --clients demo-web,demo-spa --shape "$shape" --order "$order" 2>/dev/null
  done
fi
start_server
reaper_start=$(date +%s.%N)
# How fast the reaper ends what timed out, from the server's own counter, sampled every second
# from the server's start while the calls below run (a sampler beside them), until it stops
# moving: from the first session it ended to the last, and from the server's start.
timed_out() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" |
    awk '/^latchkey_sessions_ended_total\{reason="(IDLE_TIMEOUT|MAX_LIFESPAN)"\}/ {n += $2} END {printf "%d", n}'
}
reaper_log="$dir/reaper.log"
( while :; do echo "$(date +%s.%N) $(timed_out)"; sleep 1; done ) >"$reaper_log" 2>/dev/null &
sampler_pid=$!
token=$(admin_token)
user=$(curl -sf -H "Authorization: Bearer $token" "$base/users?username=user42&exact=true" | sed -E 's/.*"id":"([^"]+)".*/\1/')

# time_it NAME PATH: CALLS calls, p50 and p99 (the largest when fewer than 100) as curl measures
# them; a call answered other than 200 stops the run.
time_it() {
  local name=$1 path=$2 times=() total="" status
  token=$(admin_token) # a fresh token for each call series: a slow series outlives one
  for _ in $(seq 1 "$calls"); do
    out=$(curl -s -o /dev/null -D - -w 'TIME %{time_total}\nSTATUS %{http_code}\n' -H "Authorization: Bearer $token" "$base$path")
    status=$(sed -n 's/^STATUS //p' <<<"$out")
    [ "$status" = 200 ] || { echo "$name: answered $status" >&2; exit 1; }
    times+=("$(sed -n 's/^TIME //p' <<<"$out")")
    total=$(tr -d '\r' <<<"$out" | sed -n 's/^x-total-count: //Ip')
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" -v total="$total" -v n="$calls" \
    '{a[NR]=$1} END {p99=int(n*0.99); if (p99 < n*0.99) p99++; printf "| %s | %.1f ms | %.1f ms | %s |\n", name, a[int((n+1)/2)]*1000, a[p99]*1000, total}'
}
echo
echo "| call ($backend, $sessions sessions, $shape, $order order) | p50 | p99 (of $calls) | total |"
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
time_it "ui-ext/sessions?search=demo-s (clientId)" "/ui-ext/sessions?search=demo-s&max=10"
time_it "ui-ext/sessions?search=demo (both clientIds)" "/ui-ext/sessions?search=demo&max=10"
# RSS, and of it the process's own memory and the database file mapped by SQLite (`mmap`).
rss=$(awk '/^VmRSS:|^RssAnon:|^RssFile:/ {sub(":", ""); printf "%s %.0f MB ", $1, $2 / 1024}' "/proc/$server_pid/status")

if [ "$shape" = expired ] || [ "$shape" = 30-days ]; then
  while :; do # until the counter has not moved for 3 s
    sleep 3
    moved=$(tail -n 4 "$reaper_log" | awk '{print $2}' | sort -u | wc -l)
    [ "$moved" = 1 ] && [ "$(tail -n 1 "$reaper_log" | awk '{print $2}')" -gt 0 ] && break
  done
  awk -v t0="$reaper_start" 'NR == 1 {prev = $2; t_prev = $1}
    $2 != prev {if (!moved) {moved = 1; before = t_prev; base = prev}; last = $1; n = $2}
    {prev = $2; t_prev = $1}
    END {printf "reaper: %d timed-out sessions ended, the calls above running meanwhile: %.0f sessions/s from the first ended to the last (%.0f s), at least %.0f/s within %.0f s of the server starting\n",
      n, (n - base) / (last - before), last - before, n / (last - t0), last - t0}' "$reaper_log"
fi
kill "$sampler_pid" 2>/dev/null || true

# spread TIMES...: "p50 X ms, p99 Y ms, at most Z ms (N calls)" of curl's times (seconds); p99 by
# nearest rank (the largest when fewer than 100 calls).
spread() {
  printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {p99=int(NR*0.99); if (p99 < NR*0.99) p99++;
    printf "p50 %.1f ms, p99 %.1f ms, at most %.1f ms (%d calls)", a[int((NR+1)/2)]*1000, a[p99]*1000, a[NR]*1000, NR}'
}

# New limits (the SSO idle timeout 40 minutes): the request, then the reaper's job moving every
# active session's expiry, from the server's own counter, with a client's list and its count
# sampled while it runs.
reexpired() {
  curl -s "http://127.0.0.1:$metrics_port/metrics" | awk '/^latchkey_sessions_reexpired_total/ {printf "%d", $2}'
}
if [ "${LIMITS:-1}" = 1 ]; then
  token=$(admin_token)
  limits_start=$(date +%s.%N)
  took=$(curl -s -o /dev/null -w '%{time_total}' -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"ssoSessionIdleTimeout": 2400}' "$base")
  during=()
  last=-1 last_at=$limits_start polls=0
  while [ $((polls += 1)) -le 900 ]; do
    n=$(reexpired)
    if [ "$n" = "$last" ] && [ "$n" -gt 0 ]; then break; fi
    [ "$n" != "$last" ] && last_at=$(date +%s.%N)
    last=$n
    during+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base/clients/$web/user-sessions?max=100")")
    during+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base/clients/$web/session-count")")
    sleep 1
  done
  python3 -c "s=$last_at-$limits_start; print(f'new limits: the request answered in {$took*1000:.0f} ms; the reaper moved {$last} sessions within {s:.0f} s ({$last/max(s,0.001):.0f}/s); a client list and count meanwhile: $(spread "${during[@]}")')"
fi

# A client disabled (demo-spa, which a third of the sessions hold): the request, then the
# reaper's job ending its client sessions, measured by its count falling to 0, with the realm's
# first page, demo-web's list and count and the stats sampled each second meanwhile; then
# demo-spa is enabled again.
count_of() { # a client's sessions, regular and offline
  local n=0 kind
  for kind in session-count offline-session-count; do
    n=$((n + $(curl -sf -H "Authorization: Bearer $token" "$base/clients/$1/$kind" | sed -E 's/.*"count": ?([0-9]+).*/\1/')))
  done
  echo "$n"
}
if [ "${DISABLE:-1}" = 1 ]; then
  token=$(admin_token)
  held=$(count_of "$spa")
  disable_start=$(date +%s.%N)
  took=$(curl -s -o /dev/null -w '%{time_total}' -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d '{"enabled": false}' "$base/clients/$spa")
  during=()
  polls=0 left=$held
  while [ "$left" -gt 0 ] && [ $((polls += 1)) -le 900 ]; do
    for path in "/ui-ext/sessions?first=0&max=10" "/clients/$web/user-sessions?max=100" "/clients/$web/session-count" "/client-session-stats"; do
      during+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base$path")")
    done
    left=$(count_of "$spa")
    sleep 1
  done
  during+=("$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $token" "$base/ui-ext/sessions?first=0&max=10")")
  python3 -c "s=$(date +%s.%N)-$disable_start; print(f'client disabled: the request answered in {$took*1000:.0f} ms; its {$held} sessions (regular and offline) left its counts within {s:.0f} s ({$held/max(s,0.001):.0f}/s, {$left} left); the first page, a client list and count, the stats meanwhile: $(spread "${during[@]}")')"
  curl -sf -X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"enabled": true}' "$base/clients/$spa"
fi

echo
token=$(admin_token)
start=$(date +%s.%N)
answer=$(curl -s -w '\nTIME %{time_total}' -X POST -H "Authorization: Bearer $token" "$base/logout-all")
echo "logout-all answered in $(sed -n 's/^TIME //p' <<<"$answer" | awk '{printf "%.0f ms", $1*1000}'): $(head -n 1 <<<"$answer")"
token=$(admin_token)
echo
echo "| seconds after logout-all | first page p50 / p99 (of 5) | session-count p50 / p99 | client-session-stats p50 / p99 | announced |"
echo "|---|---|---|---|---|"
sample_calls() { local path=$1; for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" "$base$path"; done | sort -n | awk '{a[NR]=$1} END {printf "%.1f / %.1f ms", a[3]*1000, a[5]*1000}'; }
for _ in $(seq 1 $(( ${SAMPLE_SECONDS:-60} / 5 ))); do
  at=$(python3 -c "print(f'{$(date +%s.%N) - $start:.0f}')")
  got=$(curl -s "http://127.0.0.1:$receiver_port/stats" | sed -E 's/.*"distinct": ([0-9]+).*/\1/')
  echo "| $at | $(sample_calls "/ui-ext/sessions?first=0&max=10") | $(sample_calls "/clients/$web/session-count") | $(sample_calls "/client-session-stats") | $got |"
  sleep 5
done
[ "${ANNOUNCE:-1}" = 1 ] || { echo "server RSS after the reads: $rss"; exit 0; }
announced=$each # every session holds demo-web; logout-all ends the offline ones too, as Keycloak does
for _ in $(seq 1 "${REAP_WAIT:-1800}"); do
  got=$(curl -s "http://127.0.0.1:$receiver_port/stats")
  distinct=$(sed -E 's/.*"distinct": ([0-9]+).*/\1/' <<<"$got")
  [ "$distinct" -ge "$announced" ] && break
  sleep 1
done
end=$(date +%s.%N)
echo "receiver: $got (expected at least $announced distinct sessions)"
python3 -c "s=$end-$start; r=$distinct/s; print(f'{$distinct} sessions announced in {s:.0f} s: {r:.0f} sessions/s, {r/$floor:.2f} of the $alg signing floor on one core ($floor signs/s)')"
mem() { awk '/^VmRSS:|^VmHWM:|^RssAnon:|^RssFile:|^RssShmem:/ {sub(":", ""); printf "%s %.0f MB, ", $1, $2 / 1024}' "/proc/$server_pid/status"; }
echo "server RSS after the reads: $rss; now: $(mem)"
