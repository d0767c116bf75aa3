#!/usr/bin/env bash
# A/B of two gateway builds measured at the same time: each serves the same
# camsim camera to its own whepload viewers, side by side on loopback
# (127.0.0.2 and 127.0.0.3, swapped every run), so what the machine's
# neighbours do in a given minute falls on both alike. Runs one after the
# other on this VM spread by about 10 %, more than most single changes
# are worth; the ratio of two gateways measured together spreads far less.
#   bench/ab.sh BIN_A BIN_B [VIEWERS=100] [RUNS=3]
#   A_ENV="VAR=x" B_ENV="VAR=y" bench/ab.sh bin/sharpeyes bin/sharpeyes
# Build the two binaries first, e.g. `git stash; go build -o /tmp/a
# ./cmd/sharpeyes; git stash pop; go build -o /tmp/b ./cmd/sharpeyes`.
set -euo pipefail
cd "$(dirname "$0")/.."
A=$1
B=$2
N=${3:-100}
RUNS=${4:-3}
source bench/lib.sh
build camsim whepload
bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)

# gateway BIN HOST ENV: starts BIN on HOST with the camera online; prints its pid.
gateway() {
  # shellcheck disable=SC2086
  GATEWAY_BIN=$1 start_gateway "$2" $3
  api "$2" POST /api/v1/cameras -H 'Content-Type: application/json' \
    -d '{"id":"bench1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1"}}' >/dev/null
  wait_online "$2" bench1
}

printf '| run | A ms per viewer-s | B ms per viewer-s | B / A | A MB per viewer | B MB per viewer |\n|---|---|---|---|---|---|\n'
ratios=()
for run in $(seq "$RUNS"); do
  if ((run % 2)); then ha=127.0.0.2 hb=127.0.0.3; else ha=127.0.0.3 hb=127.0.0.2; fi
  gateway "$A" "$ha" "${A_ENV:-}"
  ga=$GW
  gateway "$B" "$hb" "${B_ENV:-}"
  gb=$GW
  sleep 3 # a full GOP in each cache
  for side in a b; do
    if [ $side = a ]; then h=$ha g=$ga; else h=$hb g=$gb; fi
    bin/whepload --url "http://$h:18080/api/v1/whep/bench1" --token "$TOKEN" --viewers "$N" --ramp 10s \
      --duration 30s --pid "$g" --quiet --json "$OUT/ab-$side-$run.json" >/dev/null &
    pids+=($!)
    eval "load_$side=$!"
  done
  # shellcheck disable=SC2154
  wait "$load_a" "$load_b"
  kill "$ga" "$gb" 2>/dev/null || true
  wait "$ga" "$gb" 2>/dev/null || true
  row=$(python3 - "$OUT/ab-a-$run.json" "$OUT/ab-b-$run.json" "$run" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ca, cb = a["server_cpu_ms_per_viewer_second"], b["server_cpu_ms_per_viewer_second"]
print(f"| {sys.argv[3]} | {ca:.2f} | {cb:.2f} | {cb / ca:.3f} | {a['server_mem_mb_per_viewer']:.2f} | {b['server_mem_mb_per_viewer']:.2f} |")
PY
)
  echo "$row"
  ratios+=("$(echo "$row" | awk -F'|' '{print $5}')")
done
printf '%s\n' "${ratios[@]}" | python3 -c 'import sys, statistics; r = [float(x) for x in sys.stdin]; print(f"\nB / A CPU per viewer-second: median {statistics.median(r):.3f} over {len(r)} runs")'
