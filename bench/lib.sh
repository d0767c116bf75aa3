# shellcheck shell=bash
# Shared by the bench scripts (sourced): the benchmark token, results and
# a scratch data dir, cleanup of every started process, builds, and a
# gateway started on HOST with extra environment.
TOKEN=bench-token-0123456789abcdef
OUT=bench/results
mkdir -p "$OUT" bin
DATA=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT

build() { for c in "$@"; do go build -o "bin/$c" "./cmd/$c"; done; }

# start_gateway HOST [VAR=VALUE ...]: serves HTTP on HOST:18080, WebRTC on
# HOST:18189 and RTSP on HOST:18554 with a fresh data dir; GW is its pid
# once /healthz answers. GATEWAY_BIN is the binary (default bin/sharpeyes).
start_gateway() {
  local host=$1
  shift
  rm -rf "${DATA:?}/$host" && mkdir -p "$DATA/$host"
  env SHARPEYES_DATA_DIR="$DATA/$host" SHARPEYES_AUTH_ADMIN_TOKEN=$TOKEN SHARPEYES_LOG_LEVEL=warn \
    SHARPEYES_HTTP_ADDR="$host:18080" SHARPEYES_RTSP_ADDR="$host:18554" \
    SHARPEYES_WEBRTC_UDP_ADDR="$host:18189" SHARPEYES_WEBRTC_TCP_ADDR="$host:18189" "$@" \
    "${GATEWAY_BIN:-bin/sharpeyes}" serve 2>>"$OUT/gateway.log" >/dev/null &
  GW=$!
  pids+=("$GW")
  for _ in $(seq 100); do curl -sf "http://$host:18080/healthz" >/dev/null && break; sleep 0.1; done
}

# api HOST METHOD PATH [curl args...]: the gateway's API as the benchmark's admin.
api() { local host=$1 method=$2 path=$3; shift 3; curl -sf -X "$method" "http://$host:18080$path" -H "Authorization: Bearer $TOKEN" "$@"; }

# wait_online HOST CAMERA: until the camera's pull is online (10 s at most).
wait_online() {
  for _ in $(seq 100); do api "$1" GET "/api/v1/cameras/$2/status" | grep -q '"state":"online"' && return 0; sleep 0.1; done
  echo "camera $2 not online" >&2
}

# tool NAME: the path of mediamtx or go2rtc, built once from the Go module
# proxy into BENCH_TOOLS (default ~/.cache/sharpeyes-bench), outside the
# repository: nothing of theirs is committed. The baselines measured beside
# the gateway on the same machine.
MEDIAMTX_VERSION=v1.14.0
GO2RTC_VERSION=v1.9.9
tool() {
  local tools=${BENCH_TOOLS:-$HOME/.cache/sharpeyes-bench} mod ver bin dir
  case $1 in
  mediamtx) mod=github.com/bluenviron/mediamtx ver=$MEDIAMTX_VERSION ;;
  go2rtc) mod=github.com/AlexxIT/go2rtc ver=$GO2RTC_VERSION ;;
  *) echo "unknown tool $1" >&2; return 1 ;;
  esac
  bin=$tools/$1-$ver
  if [ ! -x "$bin" ]; then
    echo "building $1 $ver" >&2
    mkdir -p "$tools"
    dir=$(cd "$tools" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$tools/src-$1" && cp -r "$dir" "$tools/src-$1" && chmod -R u+w "$tools/src-$1"
    if [ "$1" = mediamtx ]; then
      # Two files its release build generates by downloading (go generate):
      # the version string, and hls.js for its HLS player page, which these
      # WebRTC benchmarks never serve.
      printf '%s' "$ver" >"$tools/src-$1/internal/core/VERSION"
      echo '/* hls.js is not fetched here (no internet); the HLS page is unused */' >"$tools/src-$1/internal/servers/hls/hls.min.js"
    fi
    (cd "$tools/src-$1" && CGO_ENABLED=0 go build -o "$bin" .) >&2
  fi
  echo "$bin"
}

# mediamtx_config HOST NAME=RTSP_URL...: a mediamtx config on stdout serving
# WHEP on HOST:18889 (media on UDP HOST:18189) for each path NAME, pulled
# always-on from RTSP_URL over TCP; every other server of it off.
mediamtx_config() {
  local host=$1 p
  shift
  cat <<EOF
logLevel: warn
rtsp: no
rtmp: no
hls: no
srt: no
webrtc: yes
webrtcAddress: $host:18889
webrtcLocalUDPAddress: $host:18189
webrtcLocalTCPAddress: ''
webrtcIPsFromInterfaces: no
webrtcAdditionalHosts: [$host]
paths:
EOF
  for p in "$@"; do
    printf '  %s:\n    source: %s\n    sourceOnDemand: no\n    rtspTransport: tcp\n' "${p%%=*}" "${p#*=}"
  done
}

# mediamtx_record DIR: mediamtx's pathDefaults recording every path into DIR
# as the gateway records (fmp4, 60 s segments, 1 s parts, nothing deleted).
mediamtx_record() {
  cat <<EOF
pathDefaults:
  record: yes
  recordPath: $1/%path/%Y-%m-%d_%H-%M-%S-%f
  recordFormat: fmp4
  recordPartDuration: 1s
  recordSegmentDuration: 60s
  recordDeleteAfter: 0s
EOF
}
