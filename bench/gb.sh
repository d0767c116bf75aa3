#!/usr/bin/env bash
# GB/T 28181 ingest beside RTSP ingest, in one run: N camsim cameras over
# RTSP and N channels of simulated GB/T 28181 NVRs (N/4 devices of 4
# channels, PS over RTP/UDP, the same 1280x720 ~1.5 Mbit/s clip), each
# kind pulled always-on by the gateway in turn for D seconds after S of
# settling: the gateway's CPU (cores) and RSS for each, and the frames
# the gateway received in the window.
#   bench/gb.sh [N=100] [D=60] [S=15]
# Prints one JSON line (also bench/results/gb-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100}
D=${2:-60}
S=${3:-15}
source bench/lib.sh
build sharpeyes camsim
HZ=$(getconf CLK_TCK)
GBPASS=bench-gb-pass-1
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
rss_kb() { awk '/VmRSS/{print $2}' /proc/"$1"/status; }
now() { date +%s.%N; }
frames() { api 127.0.0.1 GET /metrics | awk -v k="$1" '/^sharpeyes_camera_frames_total/ && $0 ~ k {s+=$2} END{printf "%.0f", s}'; }

bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
start_gateway 127.0.0.1 SHARPEYES_GB28181_ENABLED=true SHARPEYES_GB28181_SIP_ADDR=127.0.0.1:15060 \
  SHARPEYES_GB28181_MEDIA_ADDR=127.0.0.1:30000 SHARPEYES_GB28181_PASSWORD=$GBPASS SHARPEYES_RECORDING_MODE=off
bin/camsim --listen 127.0.0.1:18556 --cameras 1 --gb-server 127.0.0.1:15060 --gb-password $GBPASS \
  --gb-devices $((N / 4)) --gb-channels 4 2>"$OUT/camsim-gb.log" &
pids+=($!)
{
  echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
  for i in $(seq 1 "$N"); do echo "r$i,rtsp $i,rtsp://127.0.0.1:18555/cam$i,,tcp,true,,,,"; done
} | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
gbids=()
for _ in $(seq 120); do
  mapfile -t gbids < <(api 127.0.0.1 GET "/api/v1/cameras?limit=1000" | python3 -c 'import json,sys; [print(c["id"]) for c in json.load(sys.stdin)["items"] if c.get("gb")]')
  [ "${#gbids[@]}" -ge "$N" ] && break
  sleep 1
done
echo "${#gbids[@]} GB/T 28181 channels registered as cameras" >&2

set_demand() { # set_demand true|false ID...
  local v=$1
  shift
  for id in "$@"; do api 127.0.0.1 PATCH "/api/v1/cameras/$id" -H 'Content-Type: application/json' -d "{\"on_demand\":$v}" >/dev/null; done
}
online() { api 127.0.0.1 GET "/api/v1/cameras?status=online&limit=1000" | python3 -c "import json,sys; print(sum(1 for c in json.load(sys.stdin)['items'] if c['id'].startswith('$1')))"; }

phase() { # phase NAME PREFIX
  local name=$1 prefix=$2 on=0
  for _ in $(seq 60); do
    on=$(online "$prefix")
    [ "$on" -ge "$N" ] && break
    sleep 1
  done
  echo "$name: $on of $N online" >&2
  sleep "$S"
  local t0 s0 f0 t1 s1 f1 rss
  t0=$(ticks "$GW") s0=$(now) f0=$(frames "camera=\"$prefix")
  sleep "$D"
  t1=$(ticks "$GW") s1=$(now) f1=$(frames "camera=\"$prefix") rss=$(rss_kb "$GW")
  python3 - "$name" "$on" "$t0" "$t1" "$s0" "$s1" "$f0" "$f1" "$rss" "$HZ" <<'PY'
import json, sys
name, on, t0, t1, s0, s1, f0, f1, rss, hz = sys.argv[1:]
secs = float(s1) - float(s0)
print(json.dumps({"phase": name, "online": int(on), "cpu_cores": round((int(t1) - int(t0)) / int(hz) / secs, 3),
  "rss_mib": round(int(rss) / 1024, 1), "fps_received": round((int(f1) - int(f0)) / secs, 1), "seconds": round(secs, 1)}))
PY
}

set_demand false $(seq -f 'r%g' 1 "$N")
rtsp=$(phase rtsp r)
echo "$rtsp" >&2
set_demand true $(seq -f 'r%g' 1 "$N")
set_demand false "${gbids[@]}"
gb=$(phase gb28181 "${gbids[0]:0:10}")
echo "$gb" >&2
python3 - "$N" "$rtsp" "$gb" "$(nproc)" <<'PY' | tee "$OUT/gb-$N.json"
import json, sys
n = int(sys.argv[1]); rtsp, gb = json.loads(sys.argv[2]), json.loads(sys.argv[3])
print(json.dumps({"cameras": n, "cpus": int(sys.argv[4]), "phases": [rtsp, gb],
  "gb_cpu_vs_rtsp": round(gb["cpu_cores"] / rtsp["cpu_cores"], 3) if rtsp["cpu_cores"] else None}))
PY
