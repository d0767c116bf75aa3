#!/usr/bin/env bash
# Recording N always-on sub-stream cameras, the gateway beside mediamtx,
# from one camsim in one run: three phases of D seconds each, one server at
# a time on the machine, after S seconds of settling:
#   pull    the gateway pulls the N cameras, recording nothing (baseline)
#   record  the gateway pulls and records them (fMP4, 60 s segments, 1 s
#           fragments, each synced as it closes)
#   mediamtx mediamtx pulls and records them (record: yes, fmp4, 60 s
#           segments, 1 s parts)
# For each: CPU (cores), RSS, bytes written to disk in the window, and the
# streams' bytes in the window (the gateway's received media bytes; for
# mediamtx also its own bytesReceived, which counts RTP headers too).
#   bench/recording.sh [N=100] [D=60] [S=20]
# Prints one JSON line (also bench/results/recording-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
D=${2:-60}
S=${3:-20}
source bench/lib.sh
build sharpeyes camsim
MTX=$(tool mediamtx)
bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
HZ=$(getconf CLK_TCK)

ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
rss_kb() { awk '/VmRSS/{print $2}' /proc/"$1"/status; }
disk() { if [ -d "$1" ]; then du -sb "$1" | cut -f1; else echo 0; fi; }
received() { api 127.0.0.1 GET /metrics | awk '/^sharpeyes_camera_received_bytes_total/{s+=$2} END{printf "%.0f", s}'; }
now() { date +%s.%N; }

import_cameras() {
  {
    echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
    for i in $(seq 1 "$N"); do echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i/sub,,tcp,false,,,,"; done
  } | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
  local on=0
  for _ in $(seq 120); do
    on=$(api 127.0.0.1 GET "/api/v1/cameras?status=online&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
    [ "$on" -ge "$N" ] && break
    sleep 1
  done
  echo "$on of $N cameras online" >&2
}

# gateway_phase NAME [VAR=VALUE...]: a fresh gateway, the cameras, S s of
# settling, D s measured; prints a JSON object.
gateway_phase() {
  local name=$1
  shift
  start_gateway 127.0.0.1 "$@"
  import_cameras
  sleep "$S"
  local rec="$DATA/127.0.0.1/recordings"
  local t0 s0 b0 r0 t1 s1 b1 r1 rss
  t0=$(ticks "$GW") s0=$(now) b0=$(disk "$rec") r0=$(received)
  sleep "$D"
  t1=$(ticks "$GW") s1=$(now) b1=$(disk "$rec") r1=$(received) rss=$(rss_kb "$GW")
  kill "$GW"
  wait "$GW" 2>/dev/null || true
  python3 - "$name" "$t0" "$t1" "$s0" "$s1" "$b0" "$b1" "$r0" "$r1" "$rss" "$HZ" <<'PY'
import json, sys
name, t0, t1, s0, s1, b0, b1, r0, r1, rss, hz = sys.argv[1:]
secs = float(s1) - float(s0)
print(json.dumps({"phase": name, "cpu_cores": round((int(t1) - int(t0)) / int(hz) / secs, 3), "rss_mib": round(int(rss) / 1024, 1),
  "written_bytes": int(b1) - int(b0), "stream_bytes": int(r1) - int(r0), "seconds": round(secs, 1)}))
PY
}

mediamtx_phase() {
  local dir="$DATA/mediamtx" cfg="$DATA/mediamtx.yml"
  mkdir -p "$dir"
  {
    cat <<EOF
logLevel: warn
rtsp: no
rtmp: no
hls: no
webrtc: no
srt: no
api: yes
apiAddress: 127.0.0.1:19997
$(mediamtx_record "$dir")
paths:
EOF
    for i in $(seq 1 "$N"); do
      printf '  c%s:\n    source: rtsp://127.0.0.1:18555/cam%s/sub\n    sourceOnDemand: no\n    rtspTransport: tcp\n' "$i" "$i"
    done
  } >"$cfg"
  "$MTX" "$cfg" >>"$OUT/mediamtx.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  local ready=0
  for _ in $(seq 120); do
    ready=$(curl -sf "http://127.0.0.1:19997/v3/paths/list?itemsPerPage=1000" | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin)["items"] if p["ready"]))' 2>/dev/null || echo 0)
    [ "$ready" -ge "$N" ] && break
    sleep 1
  done
  echo "mediamtx: $ready of $N paths ready" >&2
  sleep "$S"
  mtx_received() { curl -sf "http://127.0.0.1:19997/v3/paths/list?itemsPerPage=1000" | python3 -c 'import json,sys; print(sum(p["bytesReceived"] for p in json.load(sys.stdin)["items"]))'; }
  local t0 s0 b0 r0 t1 s1 b1 r1 rss
  t0=$(ticks "$pid") s0=$(now) b0=$(disk "$dir") r0=$(mtx_received)
  sleep "$D"
  t1=$(ticks "$pid") s1=$(now) b1=$(disk "$dir") r1=$(mtx_received) rss=$(rss_kb "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 - "$t0" "$t1" "$s0" "$s1" "$b0" "$b1" "$r0" "$r1" "$rss" "$HZ" <<'PY'
import json, sys
t0, t1, s0, s1, b0, b1, r0, r1, rss, hz = sys.argv[1:]
secs = float(s1) - float(s0)
print(json.dumps({"phase": "mediamtx", "cpu_cores": round((int(t1) - int(t0)) / int(hz) / secs, 3), "rss_mib": round(int(rss) / 1024, 1),
  "written_bytes": int(b1) - int(b0), "rtp_bytes_received": int(r1) - int(r0), "seconds": round(secs, 1)}))
PY
}

pull=$(gateway_phase pull SHARPEYES_RECORDING_MODE=off)
echo "$pull" >&2
record=$(gateway_phase record SHARPEYES_RECORDING_MODE=continuous SHARPEYES_RECORDING_STREAM=sub)
echo "$record" >&2
mtx=$(mediamtx_phase)
echo "$mtx" >&2
python3 - "$N" "$pull" "$record" "$mtx" "$(nproc)" <<'PY' | tee "$OUT/recording-$N.json"
import json, sys
n = int(sys.argv[1]); pull, rec, mtx = (json.loads(x) for x in sys.argv[2:5]); cpus = int(sys.argv[5])
# The streams' bytes per second, as the gateway received them while recording.
rate = rec["stream_bytes"] / rec["seconds"]
out = {"cameras": n, "cpus": cpus, "phases": [pull, rec, mtx],
  "gateway_cpu_cores": rec["cpu_cores"], "mediamtx_cpu_cores": mtx["cpu_cores"],
  "gateway_cpu_vs_mediamtx": round(rec["cpu_cores"] / mtx["cpu_cores"], 3) if mtx["cpu_cores"] else None,
  "recording_cpu_cores": round(rec["cpu_cores"] - pull["cpu_cores"], 3),
  "rss_growth_mib_per_camera": round((rec["rss_mib"] - pull["rss_mib"]) / n, 3),
  "gateway_written_vs_stream": round(rec["written_bytes"] / rec["stream_bytes"], 4) if rec["stream_bytes"] else None,
  "mediamtx_written_vs_stream": round(mtx["written_bytes"] / (rate * mtx["seconds"]), 4) if rate else None,
  "mediamtx_written_vs_its_rtp_bytes": round(mtx["written_bytes"] / mtx["rtp_bytes_received"], 4) if mtx["rtp_bytes_received"] else None}
print(json.dumps(out))
PY
