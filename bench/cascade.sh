#!/usr/bin/env bash
# Streams upward (GB/T 28181 cascade), in one run: N always-on camsim
# cameras (main, 1280x720 ~1.5 Mbit/s) on the gateway, which registers
# with a simulated superior platform (camsim --platform-listen) sharing
# them. After S s of settling the gateway's CPU is measured for D s with
# no upward stream (the N pulls alone); then the platform INVITEs the N
# cameras one after another (each once the one before has its first
# frame: INVITE to first packet and to first whole frame, from the GOP
# cache) and holds them while the gateway's CPU is measured for D s again.
#   bench/cascade.sh [N=20] [D=60] [S=15] [MODE=udp]
# Prints one JSON line (also bench/results/cascade-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20}
D=${2:-60}
S=${3:-15}
MODE=${4:-udp}
source bench/lib.sh
build sharpeyes camsim
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
now() { date +%s.%N; }
cpu() { # cpu SECONDS: the gateway's cores over that long
  local t0 s0 t1 s1
  t0=$(ticks "$GW") s0=$(now)
  sleep "$1"
  t1=$(ticks "$GW") s1=$(now)
  python3 -c "print(round(($t1 - $t0) / $HZ / ($s1 - $s0), 3))"
}
PLATPASS=bench-district-pass
STREET=32100300002000000001

bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
start_gateway 127.0.0.1 SHARPEYES_GB28181_ENABLED=true SHARPEYES_GB28181_SIP_ADDR=127.0.0.1:15060 \
  SHARPEYES_GB28181_MEDIA_ADDR=127.0.0.1:30000 SHARPEYES_GB28181_PASSWORD=bench-gb-pass-1 SHARPEYES_RECORDING_MODE=off
{
  echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
  for i in $(seq 1 "$N"); do echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i,,tcp,false,,,,"; done
} | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
for i in $(seq 1 "$N"); do wait_online 127.0.0.1 "c$i"; done
ids=$(seq -f '"c%g"' 1 "$N" | paste -sd, -)
bin/camsim --platform-listen 127.0.0.1:15070 --platform-password $PLATPASS --platform-lower $STREET \
  --platform-play "$N" --platform-mode "$MODE" --platform-wait "$((D + S + 5))s" --platform-hold "$((D + S + 10))s" >"$OUT/platform.json" 2>"$OUT/platform.log" &
PLAT=$!
pids+=("$PLAT")
api 127.0.0.1 POST /api/v1/gb/upstream -H 'Content-Type: application/json' -d "{\"id\":\"district\",\"server_id\":\"32100000002000000001\",
  \"address\":\"127.0.0.1:15070\",\"password\":\"$PLATPASS\",\"local_id\":\"$STREET\",\"enabled\":true,\"share\":{\"cameras\":[$ids]}}" >/dev/null
for _ in $(seq 300); do grep -q inviting_in "$OUT/platform.log" && break; sleep 0.1; done
sleep "$S"
base=$(cpu "$D")
echo "pulls alone: $base cores" >&2
for _ in $(seq 600); do grep -q holding "$OUT/platform.log" && break; sleep 0.2; done
sleep "$S"
up=$(cpu "$D")
echo "with $N upward streams: $up cores" >&2
wait "$PLAT" || true
python3 - "$N" "$base" "$up" "$(nproc)" "$MODE" <<'PY' | tee "$OUT/cascade-$N.json"
import json, statistics, sys
n, base, up, cpus, mode = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
p = json.load(open("bench/results/platform.json"))
f = sorted(p["invite_to_first_frame_ms"]); k = sorted(p["invite_to_first_packet_ms"])
q = lambda xs, x: xs[min(len(xs) - 1, int(round(x * (len(xs) - 1))))]
print(json.dumps({"streams": n, "mode": mode, "cpus": cpus, "gateway_cores_pulls_alone": base, "gateway_cores_with_upward": up,
  "upward_cores": round(up - base, 3), "upward_cores_per_stream": round((up - base) / n, 4),
  "invite_to_first_packet_ms": {"median": q(k, .5), "p95": q(k, .95), "max": k[-1]},
  "invite_to_first_frame_ms": {"median": q(f, .5), "p95": q(f, .95), "max": f[-1]}, "platform_mbit_s": round(p["mbit_s"], 1)}))
PY
