# tug: `make up` starts a cluster on this machine, `make test` runs every test.

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
BIN     := bin/tug
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X tug/internal/version.Commit=$(COMMIT) -X tug/internal/version.BuildDate=$(DATE)
export PATH := $(dir $(GO)):$(PATH)

.PHONY: all build up down test unit e2e bench prereqs fmt vet clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/tug
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o bin/pause ./cmd/pause

prereqs:
	@./hack/prereqs.sh

up: prereqs build
	@./hack/up.sh

down:
	@./hack/down.sh

# Every test: unit tests (with the race detector), then end-to-end tests against the
# real binary, real etcd and the real kubectl.
test: prereqs build vet unit e2e

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -timeout 15m ./internal/... ./cmd/...

e2e: build
	TUG_BIN=$(CURDIR)/$(BIN) $(GO) test -timeout 20m -count=1 ./test/e2e/...

bench: build
	TUG_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m -count=1 ./test/bench/...

fmt:
	gofmt -w cmd internal test

clean:
	rm -rf bin
