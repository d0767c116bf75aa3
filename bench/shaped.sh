#!/usr/bin/env bash
# The shaped-link benchmark: headless Chromium in a network namespace
# behind a tc tbf bottleneck (rate, 50 ms queue), joining one camera again
# and again in three modes, each figure beside its baselines: the GOP
# cache paced (the default), the GOP cache sent at 50x the bitrate (about
# line rate: the burst as it was before pacing), and no GOP cache (wait
# for the next keyframe: what mediamtx and go2rtc do), and then mediamtx
# itself (bench/lib.sh builds it). Needs root.
#   bench/shaped.sh [JOINS=10] [WATCH_S=6]
# Results: bench/results/shaped-*.json and a table on standard output.
set -euo pipefail
cd "$(dirname "$0")/.."
JOINS=${1:-10}
WATCH=${2:-6}
[ "$(id -u)" = 0 ] || { echo "bench/shaped.sh needs root (ip netns, tc)"; exit 1; }
source bench/lib.sh
build sharpeyes camsim
NS=sebench
HOST_IF=se-host
NS_IF=se-ns
HOST_IP=10.77.0.1
stop_gateway() { [ -n "${GW:-}" ] && kill "$GW" 2>/dev/null && wait "$GW" 2>/dev/null || true; GW=; }
trap 'cleanup; ip netns del "$NS" 2>/dev/null || true; ip link del "$HOST_IF" 2>/dev/null || true' EXIT
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

serve() { # $1: gop cache true|false, $2: catch-up rate
  start_gateway "$HOST_IP" SHARPEYES_WEBRTC_TCP_ADDR= SHARPEYES_WEBRTC_GOP_CACHE="$1" SHARPEYES_WEBRTC_CATCHUP_RATE="$2"
  api "$HOST_IP" POST /api/v1/cameras -H 'Content-Type: application/json' \
    -d '{"id":"cam1","name":"bench","on_demand":false,"streams":{"main":"rtsp://127.0.0.1:18555/cam1","sub":"rtsp://127.0.0.1:18555/cam1/sub"}}' >/dev/null
  wait_online "$HOST_IP" cam1
  sleep 3 # a full GOP cached, the bitrate measured
}

shape() { # $1: rate, e.g. 10mbit
  tc qdisc del dev "$HOST_IF" root 2>/dev/null || true
  tc qdisc add dev "$HOST_IF" root tbf rate "$1" burst 32kbit latency 50ms
}

for mode in paced:true:3 burst:true:50 off:false:3; do
  IFS=: read -r label cache rate <<<"$mode"
  serve "$cache" "$rate"
  for c in "10mbit main" "4mbit sub"; do
    set -- $c
    shape "$1"
    name="shaped-$1-$2-$label"
    echo "== $1 $2 stream, $label: $JOINS joins" >&2
    ip netns exec "$NS" env SE_TOKEN=$TOKEN node web/e2e/shaped.mjs "http://$HOST_IP:18080" cam1 "$2" "$JOINS" "$WATCH" >"$OUT/$name.json" 2>>"$OUT/shaped.log"
  done
  stop_gateway
done

# mediamtx itself, the same joins through the same bottleneck (bench/lib.sh
# builds it from the Go module proxy; skipped if that cannot be done).
labels="paced burst off"
if mtx=$(tool mediamtx); then
  labels="$labels mediamtx"
  conf=$(mktemp)
  mediamtx_config "$HOST_IP" cam1=rtsp://127.0.0.1:18555/cam1 cam1sub=rtsp://127.0.0.1:18555/cam1/sub >"$conf"
  "$mtx" "$conf" >>"$OUT/mediamtx.log" 2>&1 &
  MTX=$!
  pids+=("$MTX")
  sleep 4 # both paths pulled, a GOP in
  for c in "10mbit main cam1" "4mbit sub cam1sub"; do
    set -- $c
    shape "$1"
    echo "== $1 $2 stream, mediamtx $MEDIAMTX_VERSION: $JOINS joins" >&2
    ip netns exec "$NS" env SE_TOKEN= WHEP_PATH="/$3/whep" node web/e2e/shaped.mjs "http://$HOST_IP:18889" cam1 "$2" "$JOINS" "$WATCH" \
      >"$OUT/shaped-$1-$2-mediamtx.json" 2>>"$OUT/shaped.log"
  done
  kill "$MTX" 2>/dev/null || true
  wait "$MTX" 2>/dev/null || true
  rm -f "$conf"
else
  echo "mediamtx could not be built: its rows are left out" >&2
fi

printf '\n| link | stream | mode | first frame median / p90 (ms) | joins frozen | freezes (total s) | packets lost | NACKs | PLIs | jitter buffer median (ms) |\n|---|---|---|---|---|---|---|---|---|---|\n'
for c in "10mbit main" "4mbit sub"; do
  set -- $c
  for label in $labels; do
    python3 - "$OUT/shaped-$1-$2-$label.json" "$1" "$2" "$label" <<'PY'
import json, sys, statistics
f, rate, stream, label = sys.argv[1:]
j = [x for x in json.load(open(f))['joins'] if 'error' not in x and x['first_frame_ms'] >= 0]
ff = sorted(x['first_frame_ms'] for x in j)
p90 = ff[min(len(ff) - 1, int(0.9 * len(ff)))] if ff else 0
mode = {'paced': 'GOP cache, paced (now)', 'burst': 'GOP cache at line rate (before)', 'off': 'no cache: next keyframe (mediamtx-like)',
        'mediamtx': 'mediamtx (measured beside it)'}[label]
print(f"| {rate} | {stream} | {mode} | {statistics.median(ff):.0f} / {p90} | {sum(1 for x in j if x['freezes'])} of {len(j)} | "
      f"{sum(x['freezes'] for x in j)} ({sum(x['freeze_s'] for x in j):.2f}) | {sum(x['lost'] for x in j)} | {sum(x['nacks'] for x in j)} | "
      f"{sum(x['plis'] for x in j)} | {statistics.median(x['jitter_ms'] for x in j):.0f} |")
PY
  done
done
