#!/usr/bin/env bash
# A street's node: N cameras on one gateway, a fifth of them always-on
# sub streams (640x360, ~0.5 Mbit/s) and the rest on demand, probed every
# health.interval (60 s; PROBES=0 turns probes off, to tell their share),
# with a wall of V WHEP viewers playing one always-on camera throughout.
# After every camera's state is known, the gateway's CPU, RSS and Go heap
# are read over D seconds, and the wall's frames per second; a CPU profile
# of the gateway over the same window gives the probes' own share (the
# samples under ingest's prober and ProbeRTSP), which a run with
# PROBES=0 cannot resolve from the noise.
#   bench/node.sh [N=1000] [D=120] [V=16]
# Prints one JSON line (also bench/results/node-N-probesX.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
D=${2:-120}
V=${3:-16}
PROBES=${PROBES:-1}
ALWAYS=$((N / 5))
source bench/lib.sh
build sharpeyes camsim whepload
bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
interval=60s
[ "$PROBES" = 0 ] && interval=0
# shellcheck disable=SC2086
start_gateway 127.0.0.1 SHARPEYES_DEBUG_PPROF_ADDR=127.0.0.1:18060 SHARPEYES_HEALTH_INTERVAL=$interval ${GATEWAY_ENV:-}
{
  echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
  for i in $(seq 1 "$N"); do
    if [ "$i" -le "$ALWAYS" ]; then
      echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i/sub,,tcp,false,,,,"
    else
      echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i,rtsp://127.0.0.1:18555/cam$i/sub,tcp,true,,,,"
    fi
  done
} | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
# count STATE: cameras in that state.
count() {
  local n=0 cursor="" page
  while :; do
    page=$(api 127.0.0.1 GET "/api/v1/cameras?status=$1&limit=1000&cursor=$cursor")
    n=$((n + $(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))' <<<"$page")))
    cursor=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"])' <<<"$page")
    [ -z "$cursor" ] && break
  done
  echo "$n"
}
# Every always-on camera pulled, every on-demand one probed (with probes on).
start=$(date +%s)
for _ in $(seq 200); do
  on=$(count online)
  unknown=$(count unknown)
  want=$N
  [ "$PROBES" = 0 ] && want=$ALWAYS
  [ "$on" -ge "$want" ] && break
  sleep 1
done
echo "$on of $N online, $unknown unknown after $(($(date +%s) - start)) s; the wall ($V viewers) and ${D}s of measuring" >&2
bin/whepload --url "http://127.0.0.1:18080/api/v1/whep/c1?stream=main" --token "$TOKEN" --viewers "$V" --ramp 2s \
  --duration "$((D + 5))s" --json "$OUT/node-wall.json" >/dev/null 2>"$OUT/node-wall.log" &
wall=$!
pids+=("$wall")
sleep 5
ticks() { awk '{print $14+$15}' /proc/"$GW"/stat; }
t0=$(ticks); s0=$(date +%s.%N)
curl -sf "http://127.0.0.1:18060/debug/pprof/profile?seconds=$((D - 5))" -o "$OUT/node.pprof" &
prof=$!
sleep "$D"
t1=$(ticks); s1=$(date +%s.%N)
wait "$prof" || true
# The probes' CPU: samples with the prober or a probe on the stack, and
# every sample ("Showing nodes accounting for X, P% of Z total").
read -r probe_s total_s < <(go tool pprof -top -focus='ingest\.\(\*Prober\)|ingest\.ProbeRTSP' "$OUT/node.pprof" 2>/dev/null |
  python3 -c '
import re, sys
unit = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "min": 60, "h": 3600}
sec = lambda v: float(re.match(r"[\d.]+", v).group()) * unit[re.search(r"[a-zµ]+$", v).group()]
for line in sys.stdin:
    m = re.search(r"accounting for ([\d.]+[a-zµ]+), [\d.]+% of ([\d.]+[a-zµ]+) total", line)
    if m:
        print(sec(m.group(1)), sec(m.group(2))); break
else:
    print(0, 0)')
rss_kb=$(awk '/VmRSS/{print $2}' /proc/"$GW"/status)
heap=$(curl -sf "http://127.0.0.1:18060/debug/pprof/heap?debug=1" | awk '/^# HeapInuse/{print $4}')
wait "$wall" || true
offline=$(count offline)
python3 - "$N" "$ALWAYS" "$PROBES" "$D" "$on" "$offline" "$t0" "$t1" "$s0" "$s1" "$rss_kb" "${heap:-0}" "$(getconf CLK_TCK)" "$(nproc)" "$OUT/node-wall.json" "${probe_s:-0}" "${total_s:-0}" <<'PY' | tee "$OUT/node-$N-probes$PROBES.json"
import json, sys
n, always, probes, d, on, off, t0, t1, s0, s1, rss, heap, hz, cpus, wallf, probe_s, total_s = sys.argv[1:]
cpu = (int(t1) - int(t0)) / int(hz) / (float(s1) - float(s0))
try:
    wall = json.load(open(wallf))
except Exception:
    wall = {}
print(json.dumps({"cameras": int(n), "always_on": int(always), "on_demand": int(n) - int(always), "probes": probes == "1",
  "online": int(on), "offline": int(off), "seconds": int(d), "cpu_cores": round(cpu, 3),
  "cpu_percent_of_machine": round(100 * cpu / int(cpus), 1), "rss_mib": round(int(rss) / 1024, 1),
  "heap_inuse_mib": round(int(heap) / 2**20, 1), "wall_viewers": wall.get("connected"), "wall_fps_per_viewer": wall.get("fps_per_viewer"),
  "wall_first_frame_p50_ms": wall.get("first_frame_p50_ms"), "wall_rtp_loss_percent": wall.get("rtp_loss_percent"),
  "probe_cpu_cores": round(float(probe_s) / (int(d) - 5), 4), "probe_share_of_gateway_cpu_percent": round(100 * float(probe_s) / float(total_s), 2) if float(total_s) else None}))
PY
