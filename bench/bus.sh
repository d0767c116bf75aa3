#!/usr/bin/env bash
# The outbox's readers under N connected event-stream clients: the
# gateway with its cases in PostgreSQL (database sharpeyes_bench, made
# here), N /api/v1/stream clients held open for D seconds while an event a
# second comes in; SQL queries a second (PostgreSQL's transactions on the
# database: every outbox read is one) and the gateway's CPU, against the
# same gateway idle with no client.
#   bench/bus.sh [N=500] [D=60]
# Prints one JSON line (also bench/results/bus-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-500}
D=${2:-60}
source bench/lib.sh
build sharpeyes
scripts/test-postgres.sh >/dev/null
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
as_postgres psql -q -c "DROP DATABASE IF EXISTS sharpeyes_bench" >/dev/null
as_postgres psql -q -c "CREATE DATABASE sharpeyes_bench OWNER sharpeyes_test" >/dev/null
DSN="postgres://sharpeyes_test:sharpeyes_test@127.0.0.1:5432/sharpeyes_bench?sslmode=disable"
# One psql session held from the start: the load may take every other
# connection PostgreSQL has.
coproc PSQL { as_postgres psql -qtA -d postgres; }
xacts() {
  echo "SELECT pg_stat_clear_snapshot(); SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'sharpeyes_bench';" >&"${PSQL[1]}"
  local x
  read -r x <&"${PSQL[0]}" # pg_stat_clear_snapshot's empty row
  [ -z "$x" ] && read -r x <&"${PSQL[0]}"
  echo "$x"
}
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
conns() {
  echo "SELECT count(*) FROM pg_stat_activity WHERE datname = 'sharpeyes_bench';" >&"${PSQL[1]}"
  local x
  read -r x <&"${PSQL[0]}"
  echo "$x"
}
start_gateway 127.0.0.1 SHARPEYES_CASES_DB=postgres SHARPEYES_CASES_DSN="$DSN" SHARPEYES_HTTP_MAX_STREAMS=$((N + 10))
api 127.0.0.1 POST /api/v1/cameras -H 'Content-Type: application/json' \
  -d '{"id":"bus1","name":"bus1","on_demand":true,"streams":{"main":"rtsp://127.0.0.1:1/x"}}' >/dev/null
# An event a second while measuring, tamper starting and ending in turn
# (incidents opening and closing, a case opened and joined: what the
# streams are told of).
events() {
  local i=0 phase
  while true; do
    i=$((i + 1))
    phase=start
    [ $((i % 2)) = 0 ] && phase=end
    api 127.0.0.1 POST /api/v1/events -H 'Content-Type: application/json' \
      -d "{\"source\":\"ai\",\"source_event_id\":\"bus-$i-$RANDOM\",\"camera_id\":\"bus1\",\"kind\":\"tamper\",\"phase\":\"$phase\",\"time\":\"$(date -u +%FT%T.%3NZ)\"}" >/dev/null || true
    sleep 1
  done
}
measure() { # seconds → "queries_per_s cpu_cores"
  local x0 t0 x1 t1
  x0=$(xacts); t0=$(ticks "$GW")
  sleep "$1"
  x1=$(xacts); t1=$(ticks "$GW")
  python3 -c "print(($x1-$x0)/$1, ($t1-$t0)/$HZ/$1)"
}
sleep 3
events & pids+=($!)
read -r idle_q idle_cpu < <(measure 20)
go run ./bench/sseload -url http://127.0.0.1:18080 -token "$TOKEN" -n "$N" -for "$((D + 10))s" >"$DATA/sse.json" &
LOAD=$!
sleep 8
read -r load_q load_cpu < <(measure "$D")
pg_conns=$(conns)
wait "$LOAD" || true
printf '{"streams":%s,"seconds":%s,"idle_queries_per_s":%.1f,"idle_cpu_cores":%.3f,"queries_per_s":%.1f,"cpu_cores":%.3f,"pg_connections":%s,"load":%s,"commit":"%s"}\n' \
  "$N" "$D" "$idle_q" "$idle_cpu" "$load_q" "$load_cpu" "$pg_conns" "$(cat "$DATA/sse.json")" "$(git rev-parse --short HEAD)" | tee "$OUT/bus-$N.json"
