#!/usr/bin/env bash
# Probes the hardening cases against a live gateway: starts Debian's etcd
# and a fresh gateway node on it (as a cluster node on a new machine: its
# data_dir does not exist yet), then runs scripts/probe against it and
# prints each outcome. Everything listens on loopback and is stopped at the
# end. Needs etcd (make deps installs etcd-server).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v etcd >/dev/null || { echo "etcd missing: run make deps"; exit 2; }
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }
cport=$(free_port); pport=$(free_port)
etcd --data-dir "$tmp/etcd" --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
     --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
     --initial-cluster "default=http://127.0.0.1:$pport" >"$tmp/etcd.log" 2>&1 &
pids+=($!)
CGO_ENABLED=0 go build -o "$tmp/sharpeyes" ./cmd/sharpeyes
token="probe-$(date +%s%N)"
export SHARPEYES_AUTH_ADMIN_TOKEN="$token"
SHARPEYES_REGISTRY_ENDPOINTS="http://127.0.0.1:$cport" SHARPEYES_DATA_DIR="$tmp/fresh/node" \
SHARPEYES_HTTP_ADDR=127.0.0.1:0 SHARPEYES_RTSP_ADDR=127.0.0.1:0 SHARPEYES_WEBRTC_UDP_ADDR=127.0.0.1:0 SHARPEYES_WEBRTC_TCP_ADDR=127.0.0.1:0 \
SHARPEYES_WEBRTC_MAX_SESSIONS=3 SHARPEYES_HTTP_MAX_STREAMS=2 SHARPEYES_HTTP_READ_TIMEOUT=2s \
SHARPEYES_INGEST_BACKOFF_MIN=200ms SHARPEYES_INGEST_BACKOFF_MAX=1s SHARPEYES_LOG_LEVEL=warn \
  "$tmp/sharpeyes" serve >"$tmp/gateway.out" 2>"$tmp/gateway.log" &
pids+=($!)
url=""
for _ in $(seq 1 100); do
  url="$(sed -n 's/^sharpeyes is running: //p' "$tmp/gateway.out")"
  [ -n "$url" ] && break
  sleep 0.2
done
[ -n "$url" ] || { echo "the gateway did not start:"; cat "$tmp/gateway.log"; exit 1; }
echo "gateway $url on etcd 127.0.0.1:$cport, data_dir $tmp/fresh/node (created by the gateway)"
go run ./scripts/probe -server "$url" -token "$token"
