#!/usr/bin/env bash
# The fan-out benchmark side by side: sharpeyes, mediamtx and go2rtc, each
# in turn relaying the same camsim camera (1280x720 25 fps ~1.5 Mbit/s,
# 2 s GOP) over WHEP to N whepload viewers on loopback, a fresh server per
# run and runs alternating, so the three are measured on the same machine
# in the same minutes. mediamtx and go2rtc are built from the Go module
# proxy into a cache outside the repository (bench/lib.sh, tool; nothing
# of theirs is committed).
#   bench/compare.sh [viewers...]      default: 100
#   RUNS=3 SERVERS="sharpeyes mediamtx go2rtc" bench/compare.sh 25 100 200
# Results: bench/results/compare-SERVER-N-RUN.json and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=("$@")
[ $# -gt 0 ] || VIEWERS=(100)
RUNS=${RUNS:-3}
SERVERS=${SERVERS:-sharpeyes mediamtx go2rtc}
source bench/lib.sh
build sharpeyes camsim whepload
for srv in $SERVERS; do
  [ "$srv" = sharpeyes ] || tool "$srv" >/dev/null
done

CONF=$(mktemp -d)
trap 'cleanup; rm -rf "$CONF"' EXIT
mediamtx_config 127.0.0.1 bench1=rtsp://127.0.0.1:18555/cam1 >"$CONF/compare-mediamtx.yml"
cat >"$CONF/compare-go2rtc.yaml" <<'EOF'
api:
  listen: "127.0.0.1:18984"
rtsp:
  listen: ""
webrtc:
  listen: "127.0.0.1:18189"
  candidates: ["127.0.0.1:18189"]
streams:
  bench1: rtsp://127.0.0.1:18555/cam1
log:
  level: warn
EOF

bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)

# serve SERVER: starts it with the camera pulled; sets SRV (its pid) and URL.
serve() {
  case $1 in
  sharpeyes)
    start_gateway 127.0.0.1
    SRV=$GW
    api 127.0.0.1 POST /api/v1/cameras -H 'Content-Type: application/json' \
      -d '{"id":"bench1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1"}}' >/dev/null
    wait_online 127.0.0.1 bench1
    URL=http://127.0.0.1:18080/api/v1/whep/bench1
    AUTH=(--token "$TOKEN")
    ;;
  mediamtx)
    "$(tool mediamtx)" "$CONF/compare-mediamtx.yml" >>"$OUT/mediamtx.log" 2>&1 &
    SRV=$!
    URL=http://127.0.0.1:18889/bench1/whep
    AUTH=()
    ;;
  go2rtc)
    # go2rtc pulls on demand: its first viewer starts the pull, within
    # the ramp, before the measured window.
    "$(tool go2rtc)" -c "$CONF/compare-go2rtc.yaml" >>"$OUT/go2rtc.log" 2>&1 &
    SRV=$!
    URL="http://127.0.0.1:18984/api/webrtc?src=bench1"
    AUTH=()
    ;;
  esac
  pids+=("$SRV")
  sleep 3 # a full GOP cached, the bitrate settled
}
stop() { kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; sleep 1; }

for run in $(seq "$RUNS"); do
  for n in "${VIEWERS[@]}"; do
    for srv in $SERVERS; do
      ramp=$((n < 10 ? 1 : 10))
      echo "== run $run: $srv, $n viewer(s)" >&2
      serve "$srv"
      bin/whepload --url "$URL" "${AUTH[@]}" --viewers "$n" --ramp "${ramp}s" --duration 30s \
        --pid "$SRV" --quiet --json "$OUT/compare-$srv-$n-$run.json" >/dev/null
      stop
    done
  done
done

python3 - "$OUT" "$RUNS" "${VIEWERS[*]}" "$SERVERS" <<'PY'
import json, statistics, sys
out, runs, viewers, servers = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
print("\n| viewers | server | CPU ms per viewer-s (each run) | median | MB per viewer (median) | first frame p50 / p95 ms (median) | SEI p50 / p99 ms (median) | loss % | UDP drops |")
print("|---|---|---|---|---|---|---|---|---|")
med = {}
for n in viewers:
    for s in servers:
        rs = [json.load(open(f"{out}/compare-{s}-{n}-{r}.json")) for r in range(1, runs + 1)]
        cpu = [r.get("server_cpu_ms_per_viewer_second", 0) for r in rs]
        m = lambda k: statistics.median(r.get(k, 0) for r in rs)
        med[(n, s)] = statistics.median(cpu)
        print(f"| {n} | {s} | {', '.join(f'{c:.2f}' for c in cpu)} | **{med[(n, s)]:.2f}** | {m('server_mem_mb_per_viewer'):.2f} | "
              f"{m('first_frame_p50_ms'):.0f} / {m('first_frame_p95_ms'):.0f} | {m('sei_latency_p50_ms'):.1f} / {m('sei_latency_p99_ms'):.1f} | "
              f"{max(r.get('rtp_loss_percent', 0) for r in rs):.2f} | {max(r.get('udp_rcvbuf_drops', 0) for r in rs)} |")
for n in viewers:
    if (n, "sharpeyes") in med:
        for s in servers:
            if s != "sharpeyes" and med[(n, "sharpeyes")] > 0:
                print(f"\n{n} viewers: {s} uses {med[(n, s)] / med[(n, 'sharpeyes')]:.2f}x the CPU per viewer-second of sharpeyes", end="")
print()
PY
