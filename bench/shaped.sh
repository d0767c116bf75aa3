#!/usr/bin/env bash
# The shaped-link benchmark: headless Chromium in a network namespace
# behind a tc tbf bottleneck (rate, 50 ms queue), joining one camera again
# and again in three modes, each figure beside its baselines: the GOP
# cache paced (the default), the GOP cache sent at 50x the bitrate (about
# line rate: the burst as it was before pacing), and no GOP cache (wait
# for the next keyframe: what mediamtx and go2rtc do). Needs root.
#   bench/shaped.sh [JOINS=10] [WATCH_S=6]
# Results: bench/results/shaped-*.json and a table on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
JOINS=${1:-10}
WATCH=${2:-6}
[ "$(id -u)" = 0 ] || { echo "bench/shaped.sh needs root (ip netns, tc)"; exit 1; }
OUT=bench/results
mkdir -p "$OUT" bin
go build -o bin/sharpeyes ./cmd/sharpeyes
go build -o bin/camsim ./cmd/camsim
NS=sebench
HOST_IF=se-host
NS_IF=se-ns
HOST_IP=10.77.0.1
TOKEN=bench-token-0123456789abcdef
DATA=$(mktemp -d)
pids=()
stop_gateway() { [ -n "${GW:-}" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true; GW=; }
cleanup() {
  stop_gateway
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip link del "$HOST_IF" 2>/dev/null || true
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF"
ip link set "$NS_IF" netns "$NS"
ip addr add "$HOST_IP/24" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add 10.77.0.2/24 dev "$NS_IF"
ip netns exec "$NS" ip link set "$NS_IF" up
ip netns exec "$NS" ip link set lo up

bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)

start_gateway() { # $1: gop cache true|false, $2: catch-up rate
  rm -rf "$DATA"/*
  SHARPEYES_DATA_DIR=$DATA SHARPEYES_AUTH_ADMIN_TOKEN=$TOKEN SHARPEYES_LOG_LEVEL=warn \
  SHARPEYES_HTTP_ADDR=$HOST_IP:18080 SHARPEYES_RTSP_ADDR=127.0.0.1:18554 \
  SHARPEYES_WEBRTC_UDP_ADDR=$HOST_IP:18189 SHARPEYES_WEBRTC_TCP_ADDR= SHARPEYES_WEBRTC_GOP_CACHE=$1 SHARPEYES_WEBRTC_CATCHUP_RATE=$2 \
    bin/sharpeyes serve 2>>"$OUT/gateway.log" >/dev/null &
  GW=$!
  for _ in $(seq 100); do curl -sf http://$HOST_IP:18080/healthz >/dev/null && break; sleep 0.1; done
  curl -sf -X POST http://$HOST_IP:18080/api/v1/cameras -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"id":"cam1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1","sub":"rtsp://127.0.0.1:18555/cam1/sub"}}' >/dev/null
  for _ in $(seq 100); do
    curl -sf -H "Authorization: Bearer $TOKEN" http://$HOST_IP:18080/api/v1/cameras/cam1/status | grep -q '"state":"online"' && break; sleep 0.1
  done
  sleep 3 # a full GOP cached, the bitrate measured
}

shape() { # $1: rate, e.g. 10mbit
  tc qdisc del dev "$HOST_IF" root 2>/dev/null || true
  tc qdisc add dev "$HOST_IF" root tbf rate "$1" burst 32kbit latency 50ms
}

for mode in paced:true:3 burst:true:50 off:false:3; do
  IFS=: read -r label cache rate <<<"$mode"
  start_gateway "$cache" "$rate"
  for c in "10mbit main" "4mbit sub"; do
    set -- $c
    shape "$1"
    name="shaped-$1-$2-$label"
    echo "== $1 $2 stream, $label: $JOINS joins" >&2
    ip netns exec "$NS" env SE_TOKEN=$TOKEN node web/e2e/shaped.mjs "http://$HOST_IP:18080" cam1 "$2" "$JOINS" "$WATCH" >"$OUT/$name.json" 2>>"$OUT/shaped.log"
  done
  stop_gateway
done

printf '\n| link | stream | mode | first frame median / p90 (ms) | joins frozen | freezes (total s) | packets lost | NACKs | PLIs | jitter buffer median (ms) |\n|---|---|---|---|---|---|---|---|---|---|\n'
for c in "10mbit main" "4mbit sub"; do
  set -- $c
  for label in paced burst off; do
    python3 - "$OUT/shaped-$1-$2-$label.json" "$1" "$2" "$label" <<'PY'
import json, sys, statistics
f, rate, stream, label = sys.argv[1:]
j = [x for x in json.load(open(f))['joins'] if 'error' not in x and x['first_frame_ms'] >= 0]
ff = sorted(x['first_frame_ms'] for x in j)
p90 = ff[min(len(ff) - 1, int(0.9 * len(ff)))] if ff else 0
mode = {'paced': 'GOP cache, paced (now)', 'burst': 'GOP cache at line rate (before)', 'off': 'no cache: next keyframe (mediamtx-like)'}[label]
print(f"| {rate} | {stream} | {mode} | {statistics.median(ff):.0f} / {p90} | {sum(1 for x in j if x['freezes'])} of {len(j)} | "
      f"{sum(x['freezes'] for x in j)} ({sum(x['freeze_s'] for x in j):.2f}) | {sum(x['lost'] for x in j)} | {sum(x['nacks'] for x in j)} | "
      f"{sum(x['plis'] for x in j)} | {statistics.median(x['jitter_ms'] for x in j):.0f} |")
PY
  done
done
