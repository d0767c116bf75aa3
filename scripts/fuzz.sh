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
  "relay/webrtc FuzzOfferCodecs"
  "photo FuzzCheck"
  "gb28181/ps FuzzDemux"
  "gb28181/manscdp FuzzDecode"
  "gb28181/sdp FuzzSDP"
  "gb28181/mansrtsp FuzzParse"
  "gb28181 FuzzSIPHandlers"
  "gb28181/cascade FuzzInviteSDP"
  "gb28181/cascade FuzzQueryXML"
)
for t in "${targets[@]}"; do
  set -- $t
  echo "== $2 ($1) for $time"
  for attempt in 1 2; do
    if out=$(go test -run '^$' -fuzz "^$2\$" -fuzztime "$time" "./$1" 2>&1); then
      grep -v "^fuzz: elapsed" <<<"$out"
      break
    fi
    grep -v "^fuzz: elapsed" <<<"$out"
    # The fuzzing engine itself sometimes ends a short run with "context
    # deadline exceeded" and no failing input (its workers missed the
    # deadline); that is no finding, so it is run once more. A real
    # failure writes its input under testdata/fuzz and stops here.
    if [ "$attempt" = 1 ] && grep -q "context deadline exceeded" <<<"$out" && ! grep -q "Failing input written" <<<"$out"; then
      echo "== $2: the fuzzing engine missed its deadline without a finding; once more"
      continue
    fi
    echo "$2 failed"
    exit 1
  done
  if [ "$keep" = 1 ]; then
    src="$(go env GOCACHE)/fuzz/sharpeyes/$1/$2"
    dst="$1/testdata/fuzz/$2"
    if [ -d "$src" ]; then mkdir -p "$dst" && cp -n "$src"/* "$dst"/ 2>/dev/null || true; fi
  fi
done
echo "all fuzz targets ran $time without a failure"
