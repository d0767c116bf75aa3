#!/usr/bin/env bash
# The dispatcher's 16-tile wall in headless Chromium through a burst of
# 5,000 case events in about 10 s (gateway/burst_test.go does the work and
# its functional checks): runs it R times and reads, from each run's log,
# the page's longest main-thread task, its tasks over 50 ms, and how many
# tile switches took a spare peer connection. The bar: no task over
# BAR ms (200) in any run; exit 1 if one is. LOAD=N runs N busy loops
# beside it (a loaded machine: under `make test` another package's tests
# share the two cores).
#   [LOAD=1] bench/burst.sh [R=3] [BAR=200]
# Prints one JSON line (also bench/results/burst.json). Needs what
# `make test` installs (chromium, playwright-core in web/e2e).
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:-3}
BAR=${2:-200}
mkdir -p bench/results
log=$(mktemp)
busy=()
cleanup() { rm -f "$log"; for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq 1 "${LOAD:-0}"); do
  bash -c 'while :; do :; done' &
  busy+=($!)
done
runs=()
for i in $(seq 1 "$R"); do
  if ! go test -count=1 -timeout 10m -run '^TestChromiumWallThroughAnEventBurst$' -v ./gateway >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "run $i: the burst test failed" >&2
    exit 1
  fi
  line=$(grep -o 'page: longest task [0-9]* ms ([0-9]* over 50 ms).*' "$log" | head -1)
  burst=$(grep -o 'in [0-9.]*s$' "$log" | head -1 | tr -d 'ins ')
  max=$(sed -E 's/page: longest task ([0-9]+) ms.*/\1/' <<<"$line")
  over=$(sed -E 's/.*\(([0-9]+) over 50 ms\).*/\1/' <<<"$line")
  warm=$(sed -E 's/.*peer connections ([0-9]+) spare, ([0-9]+) new.*/\1/' <<<"$line")
  cold=$(sed -E 's/.*peer connections ([0-9]+) spare, ([0-9]+) new.*/\2/' <<<"$line")
  offer=$(sed -E 's/.*offer ready in ([0-9]+) ms median, ([0-9]+) longest with a spare, ([0-9]+) \/ ([0-9]+) new.*/\1 \2 \3 \4/' <<<"$line")
  read -r wmed wmax cmed cmax <<<"$offer"
  echo "run $i: longest task ${max} ms, ${over} over 50 ms; offers ${warm} with a spare (${wmed} ms median, ${wmax} longest), ${cold} new (${cmed} / ${cmax} ms); burst ${burst:-?} s" >&2
  grep -o 'long frame: .*' "$log" | head -2 | cut -c1-400 >&2 || true
  runs+=("{\"longest_task_ms\":$max,\"tasks_over_50ms\":$over,\"spare_pcs\":$warm,\"new_pcs\":$cold,\"offer_ms_spare\":[$wmed,$wmax],\"offer_ms_new\":[$cmed,$cmax]}")
done
worst=$(printf '%s\n' "${runs[@]}" | sed -E 's/.*"longest_task_ms":([0-9]+).*/\1/' | sort -n | tail -1)
json="{\"runs\":[$(IFS=,; echo "${runs[*]}")],\"worst_ms\":$worst,\"bar_ms\":$BAR,\"load\":${LOAD:-0},\"cpus\":$(nproc)}"
echo "$json" | tee bench/results/burst.json
[ "$worst" -le "$BAR" ]
