# xiot: build, test, demo, benchmarks, cross-compilation, lint and fuzzing.
# `make help` lists the targets. Integration tests start throwaway Prosody and
# mosquitto servers (internal/testserver); scripts/install-deps.sh installs them.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO      ?= go
MODULE  := github.com/xiot/xiot
VERSION ?= $(shell git describe --tags --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)

# Packages also tested with the race detector (needs cgo: gcc, libc6-dev).
RACE_PKGS ?= ./internal/... ./agent/... ./control/... ./sensors/... ./concentrator/... ./provisioning/...
TEST_TIMEOUT ?= 20m
# staticcheck 2026.2.2, which supports Go 1.26.
STATICCHECK_VERSION ?= v0.8.2
FUZZTIME ?= 30s
DEMO_ARGS ?=

.PHONY: help build test demo bench cross release lint fuzz clean

help:
	@echo "make build   bin/xiot with version $(VERSION) and commit stamped in"
	@echo "make test    go vet, go test ./..., go test -race on RACE_PKGS=$(RACE_PKGS)"
	@echo "make demo    throwaway Prosody, a sim agent and the xiot client (DEMO_ARGS=--stay keeps it up)"
	@echo "make bench   bench/*.sh scripts, or go test -bench without them"
	@echo "make cross   static binaries for linux arm v6/v7, arm64, amd64 in dist/"
	@echo "make release archives (binary, example config, systemd unit, docs) and SHA256SUMS in dist/"
	@echo "make lint    gofmt -l, go vet, staticcheck $(STATICCHECK_VERSION)"
	@echo "make fuzz    every Fuzz target for FUZZTIME=$(FUZZTIME)"
	@echo "make clean   remove bin/ and dist/"

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/xiot ./cmd/xiot

test:
	$(GO) vet ./...
	$(GO) test -timeout $(TEST_TIMEOUT) ./...
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)

demo:
	scripts/install-deps.sh
	$(GO) run ./internal/demo $(DEMO_ARGS)

bench:
	GO=$(GO) scripts/bench.sh

cross:
	GO=$(GO) scripts/cross.sh $(LDFLAGS)

release:
	GO=$(GO) scripts/release.sh "$(VERSION)" "$(COMMIT)"

lint:
	@files=$$(gofmt -l .); if [[ -n "$$files" ]]; then echo "gofmt -l: not formatted:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

fuzz:
	GO=$(GO) scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin dist
