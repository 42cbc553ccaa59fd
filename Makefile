# faasmon: intrusion detection for OpenFaaS.
# `make demo` runs the main job on the embedded local stack; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 30s
export CGO_ENABLED ?= 0

STACK := $(GO) run ./cmd/faasmon-stack

.PHONY: all build vet test unit fuzz bench up down status deploy demo clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# Unit and integration tests. The integration tests start the local stack
# (real gateway, NATS Streaming, queue-worker, Prometheus) and stop it again.
test: vet
	$(GO) test -count=1 -timeout 45m ./...

unit:
	$(GO) test -count=1 -short ./...

# Every fuzz target for $(FUZZTIME) each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./pkg/... | tee .cache/bench.txt

# The local OpenFaaS stack (idempotent). `up` prints the credentials file.
up:
	$(STACK) up

down:
	$(STACK) down

status:
	$(STACK) status

deploy: up
	$(STACK) deploy -f stack.yml

clean:
	rm -rf .cache build
