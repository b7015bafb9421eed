# meseta: see README.md. Every target works from a fresh clone.
GO ?= go
PROFILE ?= small

.PHONY: run test test-short bench bench-profile fuzz vet deps

BIN := .meseta/bin

# A single-machine cluster: one master (Pebble registry under ./.meseta)
# and three agents on 127.0.0.1. Ctrl-C stops everything. RUNFLAGS passes
# flags to devcluster (--work_dir, --master_port, --agent_port, --agents).
run:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./masterd ./agentd ./masterd/devcluster
	@$(BIN)/devcluster --bin=$(BIN) $(RUNFLAGS)

# The allocator bench harness on one profile (PROFILE=small by default).
bench-profile:
	$(GO) run ./bench -profile $(PROFILE)

# What the tests need from the system: Debian's zookeeper (the HA tests
# start their own servers) and chromium (the web UI's browser tests drive
# it headless). Installed only when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
deps:
	@if ! command -v java >/dev/null 2>&1 || [ ! -f /usr/share/java/zookeeper.jar ]; then \
		echo "installing zookeeper (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq zookeeper >/dev/null; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
		echo "installing chromium (apt-get)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; \
	fi

# The whole suite, with the race detector, as CI runs it.
test: deps vet
	$(GO) test -race -count=1 -timeout 40m ./...
	@# The suite states which task isolation mode the agents ran in.
	@$(GO) test -count=1 -run '^TestIsolationMode$$' -v ./masterd/e2e | grep 'isolation mode'

test-short:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi

# The full benchmark grid of the harness (minutes).
bench:
	$(GO) run ./bench -profile mesos-grid
	$(GO) run ./bench -profile quota

# A short run of every fuzz target in the tree (FUZZTIME each), found by
# name so that a new target is never left out.
FUZZTIME ?= 30s
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r dir; do \
		for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2 | sort -u); do \
			echo "$$dir $$f"; \
			$(GO) test $$dir -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done
