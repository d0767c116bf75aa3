#!/usr/bin/env bash
# Upward playback (GB/T 28181 cascade, 上级平台调阅下级录像) from the
# gateway's disk, in one run: N always-on camsim cameras (main, 1280x720
# ~1.5 Mbit/s) recorded continuously by the gateway, which registers with
# two simulated superior platforms (camsim --platform-listen) sharing them.
# (Each platform is added when its phase starts.) After W+15 s of recording the gateway's CPU is measured for S s with
# recording alone (baseline); then the first platform asks for the same
# W-second window of all N cameras at once as Playback (1x: W seconds,
# concurrently), the second, once that is over, as Download at
# downloadspeed 16 (as fast as the gateway sends). For each phase: the
# gateway's CPU, what it read (rchar: bytes its read calls returned, the
# page cache's and the cameras' RTSP included, and above the recording
# alone: the footage; read_bytes: what came from the block device),
# and what the platform received, until every call said MediaStatus 121.
#   bench/playback-upward.sh [N=10] [W=60] [S=20] [MODE=tcp-passive]
# Prints one JSON line (also bench/results/playback-upward-N.json).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}
W=${2:-60}
S=${3:-20}
MODE=${4:-tcp-passive}
source bench/lib.sh
build sharpeyes camsim
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14+$15}' /proc/"$1"/stat; }
io() { awk -v k="$2" '$1==k":"{print $2}' /proc/"$1"/io; }
now() { date +%s.%N; }
PLATPASS=bench-district-pass
STREET=32100300002000000001

bin/camsim --listen 127.0.0.1:18555 --cameras "$N" 2>"$OUT/camsim.log" &
pids+=($!)
start_gateway 127.0.0.1 SHARPEYES_GB28181_ENABLED=true SHARPEYES_GB28181_SIP_ADDR=127.0.0.1:15060 \
  SHARPEYES_GB28181_MEDIA_ADDR=127.0.0.1:30000 SHARPEYES_GB28181_PASSWORD=bench-gb-pass-1 \
  SHARPEYES_RECORDING_MODE=continuous SHARPEYES_RECORDING_STREAM=main SHARPEYES_LOG_LEVEL=info
{
  echo "id,name,main,sub,transport,on_demand,lat,lon,grid,tags"
  for i in $(seq 1 "$N"); do echo "c$i,cam $i,rtsp://127.0.0.1:18555/cam$i,,tcp,false,,,,"; done
} | api 127.0.0.1 POST /api/v1/cameras/import -H 'Content-Type: text/csv' --data-binary @- >/dev/null
for i in $(seq 1 "$N"); do wait_online 127.0.0.1 "c$i"; done
ids=$(seq -f '"c%g"' 1 "$N" | paste -sd, -)
sleep $((W + 15))
t0=$(ticks "$GW") s0=$(now) r0=$(io "$GW" rchar)
sleep "$S"
base=$(python3 -c "print(round(($(ticks "$GW") - $t0) / $HZ / ($(now) - $s0), 3))")
rbase=$(python3 -c "print(round(($(io "$GW" rchar) - $r0) / ($(now) - $s0) / 2**20, 2))")
echo "recording $N cameras alone: $base cores, reading $rbase MiB/s (the cameras' RTSP)" >&2

# phase SESSION I: platform I asks for the window as SESSION; prints a JSON object.
phase() {
  local session=$1 i=$2 log="$OUT/platform-$2.log" t0 s0 r0 b0 t1 s1 r1 b1
  bin/camsim --platform-listen "127.0.0.1:1507$i" --platform-id "3210000000200000000$i" --platform-password $PLATPASS \
    --platform-lower $STREET --platform-play "$N" --platform-mode "$MODE" --platform-session "$session" \
    --platform-back "$((W + 10))s" --platform-window "${W}s" --platform-speed 16 --platform-hold "$((W * 3 + 60))s" \
    >"$OUT/platform-$i.json" 2>"$log" &
  local plat=$!
  pids+=("$plat")
  sleep 0.5 # the platform listens before the street registers (no backoff to wait out)
  api 127.0.0.1 POST /api/v1/gb/upstream -H 'Content-Type: application/json' -d "{\"id\":\"district-$i\",\"server_id\":\"3210000000200000000$i\",
    \"address\":\"127.0.0.1:1507$i\",\"password\":\"$PLATPASS\",\"local_id\":\"$STREET\",\"enabled\":true,\"share\":{\"cameras\":[$ids]}}" >/dev/null
  for _ in $(seq 1200); do grep -q 'msg=history' "$log" 2>/dev/null && break; sleep 0.05; done
  t0=$(ticks "$GW") s0=$(now) r0=$(io "$GW" rchar) b0=$(io "$GW" read_bytes)
  for _ in $(seq 12000); do grep -q 'msg="sent whole"' "$log" 2>/dev/null && break; kill -0 "$plat" 2>/dev/null || break; sleep 0.05; done
  t1=$(ticks "$GW") s1=$(now) r1=$(io "$GW" rchar) b1=$(io "$GW" read_bytes)
  wait "$plat"
  python3 - "$session" "$t0" "$t1" "$s0" "$s1" "$r0" "$r1" "$b0" "$b1" "$HZ" "$base" "$OUT/platform-$i.json" "$rbase" <<'PY'
import json, sys
session, t0, t1, s0, s1, r0, r1, b0, b1, hz, base, res, rbase = sys.argv[1:]
secs = float(s1) - float(s0)
p = json.load(open(res))
cores = (int(t1) - int(t0)) / int(hz) / secs
done = [t for t in p["took_s"] if t >= 0]
print(json.dumps({"session": session, "streams": p["streams"], "window_s": p["window_s"], "seconds": round(secs, 2),
  "sent_whole": len(done), "slowest_s": round(max(done), 2) if done else None,
  "gateway_cores": round(cores, 3), "upward_cores": round(cores - float(base), 3),
  "read_mib_s": round((int(r1) - int(r0)) / secs / 2**20, 2),
  "footage_read_mib_s": round((int(r1) - int(r0)) / secs / 2**20 - float(rbase), 2), "read_from_disk_mib_s": round((int(b1) - int(b0)) / secs / 2**20, 2),
  "platform_mbit_s": round(p["mbit_s"], 1)}))
PY
}
play=$(phase Playback 1)
echo "$play" >&2
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null && cold=true || cold=false
down=$(phase Download 2)
echo "$down" >&2
python3 - "$N" "$base" "$(nproc)" "$MODE" "$cold" "$play" "$down" "$rbase" <<'PY' | tee "$OUT/playback-upward-$N.json"
import json, sys
n, base, cpus, mode, cold, play, down, rbase = sys.argv[1:]
print(json.dumps({"cameras": int(n), "mode": mode, "cpus": int(cpus), "recording_alone_cores": float(base),
  "recording_alone_read_mib_s": float(rbase),
  "playback": json.loads(play), "download": json.loads(down), "download_page_cache_dropped": cold == "true"}))
PY
