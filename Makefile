# meseta: see README.md. Every target works from a fresh clone.
GO ?= go
PROFILE ?= small

.PHONY: run test test-short bench fuzz vet

# Until the daemons exist, `make run` runs the allocator bench harness on the
# small profile and prints its table.
run:
	$(GO) run ./bench -profile $(PROFILE)

# The whole suite, with the race detector, as CI runs it.
test: vet
	$(GO) test -race -count=1 -timeout 40m ./...

test-short:
	$(GO) test -count=1 -short ./...

vet:
	$(GO) vet ./...

# The full benchmark grid of the harness (minutes).
bench:
	$(GO) run ./bench -profile mesos-grid
	$(GO) run ./bench -profile quota

# A short run of every fuzz target.
fuzz:
	$(GO) test ./core -run '^$$' -fuzz FuzzParseText -fuzztime 30s
	$(GO) test ./core -run '^$$' -fuzz FuzzParseJSON -fuzztime 30s
