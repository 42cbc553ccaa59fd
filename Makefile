# faasmon: intrusion detection for OpenFaaS.
# `make demo` runs the main job on the embedded local stack; `make test` runs the tests.
SHELL := /bin/bash
GO ?= go
FUZZTIME ?= 30s
export CGO_ENABLED ?= 0

STACK := $(GO) run ./cmd/faasmon-stack

.PHONY: all build vet lint test unit fuzz bench up down status deploy demo dataset report train eval generalise clean

all: build

build:
	$(GO) build ./...

vet:
	$(GO) vet ./...

# The lint gate, run first by `make test` (and so by .ci/run): gofmt -l must
# print nothing, staticcheck (default checks, at the version tools/go.mod
# pins as a tool; built into .cache/bin on first use) must report nothing,
# and `go mod tidy -diff` must be empty for go.mod and tools/go.mod. Run it
# locally with `make lint` before pushing; the script is .ci/lint.
lint:
	GO=$(GO) bash .ci/lint

# Unit and integration tests. The integration tests start the local stack
# (real gateway, NATS Streaming, queue-worker, Prometheus) and stop it again.
# tests/e2e runs alone, after the rest: it deploys and deletes every
# function on the shared local stack.
# Packages run in parallel and share the one local stack, so the tests that
# stop its gateway (tests/tracer TestFault), wait on one cold start's graph
# through the whole detector (TestColdStartFirstInvocationEBPF: it missed
# its graph once beside the other packages' deploys in a CI run) or deploy
# the whole detector
# (tests/e2e) run alone, after the rest.
test: lint vet
	$(GO) test -count=1 -timeout 30m -skip '^(TestFault|TestColdStartFirstInvocationEBPF)$$' $$($(GO) list ./... | grep -v /tests/e2e)
	$(GO) test -count=1 -timeout 10m -run '^(TestFault|TestColdStartFirstInvocationEBPF)$$' ./tests/tracer
	$(GO) test -count=1 -timeout 20m ./tests/e2e

# Fast tests that start nothing: under -short every test that would start
# the local stack (localstack.StartForTest) or a nats-streaming-server
# (stantest.Start) skips, so `make unit` needs no stack lock and no root.
unit:
	$(GO) test -count=1 -short ./...

# Every fuzz target for $(FUZZTIME) each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

# Go benchmarks on one core, five runs each (quote medians: the machine is
# shared); then the tracing overhead on the local stack when it is up with
# the lab's functions deployed.
bench:
	mkdir -p .cache
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchmem -count 5 -cpu 1 ./pkg/parse/strace ./pkg/parse/pcap ./pkg/classify/gnn | tee .cache/bench.txt
	set -o pipefail; $(GO) test -run '^$$' -bench 'StreamNext|ParseLines|ParseHop' -benchmem -count 5 -cpu 1 ./pkg/tracer/backend/ebpf | tee -a .cache/bench.txt
	-$(STACK) status >/dev/null 2>&1 && $(GO) run ./tests/tracer/overhead -n 200 product-catalog-api purchase-get-price

# The local OpenFaaS stack (idempotent). `up` prints the credentials file.
up:
	$(STACK) up

down:
	$(STACK) down

status:
	$(STACK) status

deploy: up
	$(STACK) deploy -f stack.yml

# A container-reuse attack caught, explained and stopped, on the local stack.
demo:
	$(GO) run ./cmd/faasmon-demo

# The labelled dataset, one command: every scenario ROUNDS times through the
# whole pipeline (tracer, queue, parse, graph, classify, alert), then the four
# attacks ATTACK_ROUNDS times more, so that each has well over 200 graphs.
# The detector's response is off so that the container-reuse attack's second
# stage runs in the tainted container (the lab recycles attacked functions
# after every round itself).
ROUNDS ?= 17
ATTACK_ROUNDS ?= 20
DATA ?= /tmp/faasmon-lab
dataset:
	rm -rf /var/tmp/faasmon/graphs $(DATA)/mixed $(DATA)/attacks
	$(GO) run ./tests/lab run -no-response -n $(ROUNDS) -seed 1 -out $(DATA)/mixed $$(ls tests/lab/scenarios/*.yaml | grep -v -e smoke -e demo)
	rm -rf /var/tmp/faasmon/graphs
	$(GO) run ./tests/lab run -no-response -n $(ATTACK_ROUNDS) -seed 2 -out $(DATA)/attacks tests/lab/scenarios/attack*.yaml

# The published study: the model that faasmon-classify embeds
# (model/artifact/faasmon.model, trained on 80%) and model/eval-report.json
# (tested on 20%, plus leave-one-attack-out), by model/report. LATENCY names
# a live lab run's summary.json for the detection latency. POOL names the
# benign graphs of the training pool's public functions (tests/lab/pool,
# played by `go run ./tests/lab foreign -functions tests/lab/pool/functions.yaml`);
# HELD_OUT the foreign benchmark's graphs, scored by the supervised part and
# never trained on (space-separated lists; a directory that does not exist
# is left out). OUT=/tmp/x.model keeps the embedded model (a study only).
POOL ?= /tmp/faasmon-pool/graphs /tmp/faasmon-pool-2/graphs /tmp/faasmon-pool-3/graphs
HELD_OUT ?= /tmp/faasmon-foreign/graphs /tmp/faasmon-foreign-2/graphs /tmp/faasmon-foreign-3/graphs
comma := ,
empty :=
space := $(empty) $(empty)
dirlist = $(subst $(space),$(comma),$(strip $(wildcard $(1))))
report:
	$(GO) run ./model/report -data $(DATA)/mixed/graphs,$(DATA)/attacks/graphs -latency $(or $(LATENCY),$(DATA)/mixed/summary.json) \
		$(if $(wildcard $(POOL)),-pool $(call dirlist,$(POOL))) $(if $(wildcard $(HELD_OUT)),-held-out $(call dirlist,$(HELD_OUT))) -previous model/artifact/faasmon.model \
		$(if $(OUT),-out $(OUT) -json $(or $(REPORT_JSON),model/eval-report-pool.json))

# One model of your own, by model/train (80:20, early stopping on the 20%),
# written to MODEL_OUT; the embedded model is left alone unless MODEL_OUT
# names it.
MODEL_OUT ?= model/faasmon.model
train:
	$(GO) run ./model/train -data $(DATA)/mixed/graphs,$(DATA)/attacks/graphs -out $(MODEL_OUT)

# A model file (MODEL, the embedded one by default) on the dataset, by
# model/eval.
MODEL ?= model/artifact/faasmon.model
eval:
	$(GO) run ./model/eval -model $(MODEL) -data $(DATA)/mixed/graphs,$(DATA)/attacks/graphs

# The generalisation benchmark (issue 13): attacks and code the detector
# never saw, through the whole live pipeline; scores into the sections of
# model/generalisation-report.json. Its graphs go to $(GENERALISE_OUT), never
# into the training data $(DATA). FOREIGN is a directory of public OpenFaaS
# functions with tests/lab/foreign/functions.yaml's layout, checked out
# beside the project (never committed; tests/lab/foreign says how).
ATOMICS ?=
FOREIGN ?= /tmp/foreign
GENERALISE_OUT ?= /tmp/faasmon-generalise
generalise:
# Attacks: Atomic Red Team's Linux atomics through flaw (a) ("atomic" section).
	$(GO) run ./tests/generalise atomic -learn 4 -out $(GENERALISE_OUT)/atomic $(if $(ATOMICS),-atomics $(ATOMICS))
# Benign: public functions, learning on their first rounds, then FPR
# ("foreign" section).
	$(GO) run ./tests/lab foreign -dir $(FOREIGN) -learn 4 -eval 4 -learn-graphs 20 -out $(GENERALISE_OUT)/foreign

clean:
	rm -rf .cache build
