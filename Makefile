# tenantsync build, test and packaging.
#
#   make test     vet, gofmt check, staticcheck and every test (installs and starts Azurite itself)
#   make build    the handler binary for this machine, in bin/
#   make lint     staticcheck and the vulnerability check (docs/security.md)
#   make package  dist/ for Azure Functions (Linux amd64 custom handler)
#   make bench    benchmarks against the throttled simulator (docs/performance.md)
#   make chaos    the long convergence and chaos run (docs/reliability.md)
#   make mutants  the hand-made mutation check of the safety code (docs/safety.md)
#   make unit     the fast tests: no Graph or Azure SDK, no Chromium (seconds)

GO        ?= go
TOOLS     := $(CURDIR)/.tools
AZURITE   := $(TOOLS)/node_modules/.bin/azurite-table
AZURITE_VERSION := 3.35.0
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0

# Tests find the tools here (see internal/devtools/testenv).
export TENANTSYNC_TOOLS := $(TOOLS)

# One build configuration for everything make runs (vet, tests, the Linux
# package, and the binaries tests build): the handler ships static and
# trimmed, and sharing the flags lets every step reuse one build cache rather
# than compiling msgraph-sdk-go (minutes, gigabytes) twice.
export CGO_ENABLED := 0
export GOFLAGS := -trimpath -buildvcs=false

.PHONY: all build test vet fmt-check staticcheck lint tools clean

all: build

build:
	$(GO) build -o bin/handler ./handler

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi

test: vet fmt-check staticcheck tools chromium
	$(GO) test -count=1 ./...

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

# Both checks run, and lint fails if either does. The vulnerability check
# (.ci/vulncheck.sh) runs govulncheck against vuln.go.dev and, when that is
# unreachable, says so and falls back to offline checks (docs/security.md).
# make test runs staticcheck alone: the vulnerability check takes minutes
# and fails on the Go toolchain's own advisories until it is upgraded.
lint:
	@status=0; \
	$(MAKE) --no-print-directory staticcheck || { status=1; echo "lint: staticcheck FAILED"; }; \
	echo "bash .ci/vulncheck.sh"; \
	GO="$(GO)" TOOLS="$(TOOLS)" GOVULNCHECK_VERSION=$(GOVULNCHECK_VERSION) bash .ci/vulncheck.sh || { status=1; echo "lint: vulnerability check FAILED"; }; \
	exit $$status

tools: $(AZURITE)

# Headless Chromium (Debian's package) for the status page's browser test.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || { \
		command -v apt-get >/dev/null || { echo "Chromium is needed for the status page's browser test: install it"; exit 1; }; \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

$(AZURITE):
	@command -v npm >/dev/null || { echo "npm is needed to install Azurite (Table Storage emulator)"; exit 1; }
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error azurite@$(AZURITE_VERSION)

clean:
	rm -rf bin dist dist.zip .bench

# Packaging for Azure Functions: dist/ is the script root the host runs from
# (azure.yaml deploys it; infra/hooks/package.ps1 does the same on Windows).
DIST    ?= dist
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: package
package:
	@case "$(DIST)" in ""|/|.) echo "DIST must name a fresh directory, not '$(DIST)'"; exit 1;; esac
	@test -f host.json || { echo "host.json is missing: the Functions host needs it at the script root"; exit 1; }
	rm -rf "$(DIST)"
	mkdir -p "$(DIST)"
	cp host.json "$(DIST)/host.json"
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o "$(DIST)/handler" ./handler
	chmod +x "$(DIST)/handler"
	@for d in functions/*/; do \
		[ -d "$$d" ] || continue; \
		name=$$(basename "$$d"); \
		if [ -f "$$d/function.json" ]; then \
			mkdir -p "$(DIST)/$$name" && cp -R "$$d." "$(DIST)/$$name/"; \
		else \
			echo "warning: $$d has no function.json, skipped" >&2; \
		fi; \
	done
	@if [ -f tenantsync.yaml ]; then cp tenantsync.yaml "$(DIST)/tenantsync.yaml"; fi
	@echo "staged $(DIST)/"

# The convergence and chaos suite (docs/reliability.md): CHAOS_OPS workload
# operations against `handler local` with faults and crashes, then the
# oracle. CHAOS_SEED replays a run (0 picks one); CHAOS_ARGS adds flags
# (bin/handler chaos --help). A short run is part of make test.
CHAOS_OPS  ?= 20000
CHAOS_SEED ?= 0
CHAOS_ARGS ?=

.PHONY: chaos
chaos: build
	bin/handler chaos --ops $(CHAOS_OPS) --seed $(CHAOS_SEED) $(CHAOS_ARGS)

# Benchmarks (docs/performance.md): BENCH_USERS source users, the
# simulator's throttling at Graph's limits refilled BENCH_THROTTLE times as
# fast. Built as `make package` builds (stripped), for this machine. Prints
# a table and writes .bench/results.json.
BENCH_USERS    ?= 10000
BENCH_THROTTLE ?= x2

.PHONY: bench
bench:
	$(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o bin/handler-bench ./handler
	bin/handler-bench bench --users $(BENCH_USERS) --throttle $(BENCH_THROTTLE) --dir .bench

# The hand-made mutation check of the deletion guard, approvals, adoption,
# quarantine and drift repair (docs/reliability.md): each mutant must make a
# test fail. Minutes of CPU; not part of make test.
.PHONY: mutants
mutants:
	python3 .ci/mutants.py

# The fast inner loop: the tests of the packages that build without the
# Graph SDK, the Azure SDK or Chromium (the domain, the embedded store, the
# expression language, the engine on in-memory tenants): seconds on a warm
# cache. The set is worked out from each package's dependencies.
.PHONY: unit
unit:
	$(GO) test -count=1 -short $$(for p in $$($(GO) list ./...); do \
		$(GO) list -deps -test $$p | grep -qE 'msgraph-sdk-go|azure-sdk-for-go|chromedp' || echo $$p; done)
