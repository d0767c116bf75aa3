#!/usr/bin/env bash
# Memory and CPU per always-on camera: camsim serves N cameras, the gateway
# pulls each one's sub stream (640x360, ~0.5 Mbit/s) always-on with no
# viewer, for D seconds; then the gateway's RSS, Go heap and CPU are read.
#   bench/cameras.sh [N=300] [D=60]
# Prints one JSON line (also bench/results/cameras-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300}
D=${2:-60}
source bench/lib.sh
build sharpeyes camsim
bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
# shellcheck disable=SC2086
start_gateway 127.0.0.1 SHARPEYES_DEBUG_PPROF_ADDR=127.0.0.1:18060 ${GATEWAY_ENV:-}
{
  echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
  for i in $(seq 1 "$N"); do echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i/sub,,tcp,false,,,,"; done
} | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
for _ in $(seq 300); do
  on=$(api 127.0.0.1 GET "/api/v1/cameras?status=online&limit=1000" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))')
  [ "$on" -ge "$N" ] && break; sleep 1
done
echo "$on of $N cameras online; measuring for ${D}s" >&2
ticks() { awk '{print $14+$15}' /proc/"$GW"/stat; }
t0=$(ticks); s0=$(date +%s.%N)
sleep "$D"
t1=$(ticks); s1=$(date +%s.%N)
rss_kb=$(awk '/VmRSS/{print $2}' /proc/"$GW"/status)
heap=$(curl -sf "http://127.0.0.1:18060/debug/pprof/heap?debug=1" | awk '/^# HeapInuse/{print $4}')
python3 - "$N" "$D" "$on" "$t0" "$t1" "$s0" "$s1" "$rss_kb" "${heap:-0}" "$(getconf CLK_TCK)" "$(nproc)" <<'PY' | tee "$OUT/cameras-$N.json"
import json, sys
n, d, on, t0, t1, s0, s1, rss, heap, hz, cpus = sys.argv[1:]
cpu = (int(t1) - int(t0)) / int(hz) / (float(s1) - float(s0))
print(json.dumps({"cameras": int(n), "online": int(on), "seconds": int(d), "cpu_cores": round(cpu, 3),
  "cpu_percent_of_machine": round(100 * cpu / int(cpus), 1), "rss_mib": round(int(rss) / 1024, 1),
  "rss_mib_per_camera": round(int(rss) / 1024 / int(n), 2), "heap_inuse_mib": round(int(heap) / 2**20, 1)}))
PY
