# sharpeyes — `make test` installs what the tests need, then runs them all.
GO      ?= go
APT_PKGS = ffmpeg chromium etcd-server postgresql fonts-wqy-microhei
# The case store's tests run against SQLite and this PostgreSQL.
export CASES_TEST_POSTGRES_DSN ?= postgres://sharpeyes_test:sharpeyes_test@127.0.0.1:5432/sharpeyes_test?sslmode=disable
# Without it plain `go test` skips the PostgreSQL subtests; make test may not
# (not a SHARPEYES_ name: the gateway's process tests would take it for a config key).
export CASES_TEST_REQUIRE_POSTGRES = 1
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test deps deps-apt deps-npm deps-postgres vet bench run clean fuzz fuzz-short

all: build

build:
	CGO_ENABLED=0 $(GO) build -o bin/sharpeyes ./cmd/sharpeyes
	CGO_ENABLED=0 $(GO) build -o bin/camsim ./cmd/camsim
	CGO_ENABLED=0 $(GO) build -o bin/whepload ./cmd/whepload

# Install only what is missing: ffmpeg/ffprobe (RTSP peer), Debian's chromium
# (the WebRTC viewer) and a Chinese font for its screenshots, etcd-server (cluster tests) and playwright-core
# (drives chromium; never downloads a browser); PostgreSQL is started and
# given a test database (scripts/test-postgres.sh).
deps: deps-apt deps-npm deps-postgres

deps-apt:
	@missing=""; \
	command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	command -v pg_lsclusters >/dev/null && [ -n "$$(pg_lsclusters -h 2>/dev/null)" ] || missing="$$missing postgresql"; \
	[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing="$$missing fonts-wqy-microhei"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

deps-npm:
	@command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)"; exit 1; }
	@[ -d web/e2e/node_modules/playwright-core ] || (cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)

deps-postgres: deps-apt
	@scripts/test-postgres.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

# The gateway's end-to-end tests (Chromium measuring the page's main
# thread, process tests) run after the others, not beside them on the
# machine's two cores; the event burst, which measures the page's longest
# task, runs last in a process of its own (earlier tests' peers and
# camera pulls winding down beside it made a 366 ms task once).
test: deps vet
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/gateway$$')
	$(GO) test -race -count=1 -timeout 20m -skip '^TestChromiumWallThroughAnEventBurst$$' ./gateway
	$(GO) test -race -count=1 -timeout 5m -run '^TestChromiumWallThroughAnEventBurst$$' ./gateway
	@$(MAKE) --no-print-directory fuzz-short

# Every fuzz target for a few seconds past its committed corpus (the corpus
# itself runs in every `go test`); `make fuzz` runs each for a minute.
fuzz-short:
	scripts/fuzz.sh 5s

fuzz:
	scripts/fuzz.sh --keep 60s

# Benchmarks; results and the machine they ran on go in docs/benchmarks.md.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./relay/...
	bench/run.sh
	bench/compare.sh 25 100 200
	bench/cameras.sh 300 60
	@if [ "$$(id -u)" = 0 ]; then bench/shaped.sh 10 6; else echo "bench/shaped.sh skipped: it needs root (ip netns, tc)"; fi

run:
	$(GO) run ./cmd/sharpeyes demo

clean:
	rm -rf bin
