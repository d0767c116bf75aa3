#!/usr/bin/env bash
# WHEP load benchmark on loopback: camsim and the gateway in separate
# processes (so the CPU figure is the gateway's alone), one always-on
# 1280x720 25 fps ~1.5 Mbps camera with a 2 s GOP, then whepload at 1 and
# at 100 viewers. JSON results go to bench/results/; a summary is printed.
#   bench/run.sh [viewers...]     default: 1 100
#   PROFILE=1 bench/run.sh ...    also profiles the gateway in each measured
#                                 window: bench/results/pprof-N.{cpu,heap,goroutines}
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=("${@:-1 100}")
[ $# -gt 0 ] || VIEWERS=(1 100)
source bench/lib.sh
build sharpeyes camsim whepload
bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)
if [ -n "${PROFILE:-}" ]; then
  start_gateway 127.0.0.1 SHARPEYES_DEBUG_PPROF_ADDR=127.0.0.1:18060
else
  start_gateway 127.0.0.1
fi
api 127.0.0.1 POST /api/v1/cameras -H 'Content-Type: application/json' \
  -d '{"id":"bench1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1"}}' >/dev/null
wait_online 127.0.0.1 bench1
sleep 3 # a full GOP in the cache, bitrate settled

for n in "${VIEWERS[@]}"; do
  ramp=$(( n < 10 ? 1 : 10 ))
  echo "== $n viewer(s)" >&2
  bin/whepload --url http://127.0.0.1:18080/api/v1/whep/bench1 --token "$TOKEN" --viewers "$n" --ramp "${ramp}s" \
    --duration 30s --pid "$GW" --json "$OUT/whep-$n.json" >/dev/null &
  load=$!
  if [ -n "${PROFILE:-}" ]; then
    sleep $((ramp + 8))
    pp=http://127.0.0.1:18060/debug/pprof
    curl -sf -o "$OUT/pprof-$n.cpu" "$pp/profile?seconds=15"
    curl -sf -o "$OUT/pprof-$n.heap" "$pp/heap"
    curl -sf "$pp/heap?debug=1" | grep -E "^# (HeapInuse|HeapAlloc|Stack|HeapIdle|HeapReleased|Sys|NextGC) =" >"$OUT/pprof-$n.memstats"
    curl -sf -o "$OUT/pprof-$n.goroutines" "$pp/goroutine?debug=1"
  fi
  wait "$load"
  sleep 3
done

printf '\n| viewers | first frame p50 / p95 (ms) | fps | loss %% | SEI latency p50 / p99 (ms) | CPU ms per viewer-s | MB per viewer | UDP socket drops |\n|---|---|---|---|---|---|---|---|\n'
for n in "${VIEWERS[@]}"; do
  python3 - "$OUT/whep-$n.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"| {r['viewers']} | {r['first_frame_p50_ms']:.0f} / {r['first_frame_p95_ms']:.0f} | {r['fps_per_viewer']:.1f} | "
      f"{r['rtp_loss_percent']:.2f} | {r['sei_latency_p50_ms']:.1f} / {r['sei_latency_p99_ms']:.1f} | "
      f"{r.get('server_cpu_ms_per_viewer_second', 0):.2f} | {r.get('server_mem_mb_per_viewer', 0):.2f} | {r.get('udp_rcvbuf_drops', -1)} |")
PY
done
