# sharpeyes — `make test` installs what the tests need, then runs them all.
GO      ?= go
APT_PKGS = ffmpeg chromium etcd-server
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test deps deps-apt deps-npm vet bench run clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -o bin/sharpeyes ./cmd/sharpeyes
	CGO_ENABLED=0 $(GO) build -o bin/camsim ./cmd/camsim
	CGO_ENABLED=0 $(GO) build -o bin/whepload ./cmd/whepload

# Install only what is missing: ffmpeg/ffprobe (RTSP peer), Debian's chromium
# (the WebRTC viewer), etcd-server (cluster tests) and playwright-core
# (drives chromium; never downloads a browser).
deps: deps-apt deps-npm

deps-apt:
	@missing=""; \
	command -v ffprobe >/dev/null || missing="$$missing ffmpeg"; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v etcd >/dev/null || missing="$$missing etcd-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

deps-npm:
	@command -v node >/dev/null || { echo "node is required (apt-get install nodejs npm)"; exit 1; }
	@[ -d web/e2e/node_modules/playwright-core ] || (cd web/e2e && npm ci --no-audit --no-fund --loglevel=error)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: deps vet
	$(GO) test -race -count=1 -timeout 20m ./...

# Benchmarks; results and the machine they ran on go in docs/benchmarks.md.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./relay/
	bench/run.sh

run:
	$(GO) run ./cmd/sharpeyes demo

clean:
	rm -rf bin
