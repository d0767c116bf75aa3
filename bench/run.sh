#!/usr/bin/env bash
# WHEP load benchmark on loopback: camsim and the gateway in separate
# processes (so the CPU figure is the gateway's alone), one always-on
# 1280x720 25 fps ~1.5 Mbps camera with a 2 s GOP, then whepload at 1 and
# at 100 viewers. JSON results go to bench/results/; a summary is printed.
#   bench/run.sh [viewers...]     default: 1 100
set -euo pipefail
cd "$(dirname "$0")/.."
VIEWERS=("${@:-1 100}")
[ $# -gt 0 ] || VIEWERS=(1 100)
OUT=bench/results
mkdir -p "$OUT" bin
go build -o bin/sharpeyes ./cmd/sharpeyes
go build -o bin/camsim ./cmd/camsim
go build -o bin/whepload ./cmd/whepload

DATA=$(mktemp -d)
TOKEN=bench-token-0123456789abcdef
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)
SHARPEYES_DATA_DIR=$DATA SHARPEYES_AUTH_ADMIN_TOKEN=$TOKEN SHARPEYES_LOG_LEVEL=warn \
SHARPEYES_HTTP_ADDR=127.0.0.1:18080 SHARPEYES_RTSP_ADDR=127.0.0.1:18554 \
SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:18189 SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:18189 \
  bin/sharpeyes serve 2>"$OUT/gateway.log" >/dev/null &
GW=$!
pids+=($GW)
for _ in $(seq 100); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
curl -sf -X POST http://127.0.0.1:18080/api/v1/cameras -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' \
  -d '{"id":"bench1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1"}}' >/dev/null
for _ in $(seq 100); do
  curl -sf http://127.0.0.1:18080/api/v1/cameras/bench1/status | grep -q '"state":"online"' && break; sleep 0.1
done
sleep 3 # a full GOP in the cache, bitrate settled

for n in "${VIEWERS[@]}"; do
  ramp=$(( n < 10 ? 1 : 10 ))
  echo "== $n viewer(s)" >&2
  bin/whepload --url http://127.0.0.1:18080/api/v1/whep/bench1 --token "$TOKEN" --viewers "$n" --ramp "${ramp}s" \
    --duration 30s --pid "$GW" --json "$OUT/whep-$n.json" >/dev/null
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
