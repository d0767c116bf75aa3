#!/bin/sh
# Chromium as a dispatcher's desktop runs it: as an ordinary user. Started
# as root (CI, the test machines), Chromium raises its compositor, GPU, IO
# and WebRTC threads to nice -8 and leaves the page's main thread at 0; on a
# saturated 2 vCPU machine that main thread then got 3% of its wall time (a
# 372 ms task held 12 ms of CPU). Without root every thread stays at 0, as
# on a user's machine. Playwright makes the profile directory; it is handed
# to that user here. CHROMIUM names another browser binary.
set -e
browser="${CHROMIUM:-/usr/bin/chromium}"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
	for a in "$@"; do
		case "$a" in --user-data-dir=*) chown -R nobody "${a#--user-data-dir=}" ;; esac
	done
	export HOME=/tmp
	exec setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$browser" "$@"
fi
exec "$browser" "$@"
