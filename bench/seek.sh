#!/usr/bin/env bash
# Seeking into an hour of footage in Chromium, the gateway beside mediamtx
# in one run: one camsim camera (main stream) recorded by both at once for
# M minutes (the gateway: continuous, 60 s segments, 1 s fragments;
# mediamtx: record yes, fmp4, 60 s segments, 1 s parts, its playback
# server on), then web/e2e/seek.mjs seeks SEEKS times into it through the
# gateway's 回放 timeline, the gateway's /playback in a plain <video> and
# mediamtx's /get in a plain <video>.
#   bench/seek.sh [M=60] [SEEKS=20]
# Prints one JSON line (also bench/results/seek.json).
set -euo pipefail
cd "$(dirname "$0")/.."
M=${1:-60}
SEEKS=${2:-20}
source bench/lib.sh
build sharpeyes camsim
MTX=$(tool mediamtx)
bin/camsim --listen 127.0.0.1:18555 --cameras 1 2>"$OUT/camsim.log" &
pids+=($!)
sleep 1

start_gateway 127.0.0.1 SHARPEYES_RECORDING_MODE=continuous SHARPEYES_RECORDING_STREAM=main
printf 'id,name,main,sub,transport,on_demand,lat,lon,grid,tags\nc1,cam 1,rtsp://127.0.0.1:18555/cam1,rtsp://127.0.0.1:18555/cam1/sub,tcp,false,,,,\n' |
  api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
PASS=bench-admin-$RANDOM$RANDOM
api 127.0.0.1 POST /api/v1/users -H 'Content-Type: application/json' \
  -d "{\"username\":\"bench\",\"password\":\"$PASS\",\"role\":\"admin\"}" >/dev/null
wait_online 127.0.0.1 c1

dir="$DATA/mediamtx"
mkdir -p "$dir"
cat >"$DATA/mediamtx.yml" <<EOF
logLevel: warn
rtsp: no
rtmp: no
hls: no
webrtc: no
srt: no
api: no
playback: yes
playbackAddress: 127.0.0.1:19996
$(mediamtx_record "$dir")
paths:
  c1:
    source: rtsp://127.0.0.1:18555/cam1
    sourceOnDemand: no
    rtspTransport: tcp
EOF
"$MTX" "$DATA/mediamtx.yml" >>"$OUT/mediamtx.log" 2>&1 &
pids+=($!)

for m in $(seq 1 "$M"); do
  sleep 60
  echo "recording: $m of $M minutes ($(du -sh "$DATA/127.0.0.1/recordings" | cut -f1) gateway, $(du -sh "$dir" | cut -f1) mediamtx)" >&2
done

(cd web/e2e && SE_BASE=http://127.0.0.1:18080 SE_USER=bench SE_PASS=$PASS SE_CAMERA=c1 \
  SE_MTX=http://127.0.0.1:19996 SE_MTX_PATH=c1 SE_SEEKS=$SEEKS node seek.mjs) | tee "$OUT/seek.json"
