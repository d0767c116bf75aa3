#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 60s), one after
# another; stops at the first failure, which `go test` saves under the
# package's testdata/fuzz/ for a regression test. With --keep, the inputs
# the fuzzer found interesting are copied into testdata/fuzz/ (the
# committed corpus) afterwards.
#   scripts/fuzz.sh [--keep] [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
if [ "${1:-}" = "--keep" ]; then keep=1; shift; fi
time="${1:-60s}"
targets=(
  "api FuzzCameraImportCSV"
  "api FuzzCameraImportJSON"
  "grid FuzzParse"
  "events FuzzONVIF"
  "events FuzzISAPI"
  "events FuzzGB28181"
  "relay FuzzOfferCodecs"
  "photo FuzzCheck"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "== $2 ($1) for $time"
  go test -run '^$' -fuzz "^$2\$" -fuzztime "$time" "./$1" 2>&1 | grep -v "^fuzz: elapsed" || { echo "$2 failed"; exit 1; }
  if [ "$keep" = 1 ]; then
    src="$(go env GOCACHE)/fuzz/sharpeyes/$1/$2"
    dst="$1/testdata/fuzz/$2"
    if [ -d "$src" ]; then mkdir -p "$dst" && cp -n "$src"/* "$dst"/ 2>/dev/null || true; fi
  fi
done
echo "all fuzz targets ran $time without a failure"
