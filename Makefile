# Two commands do everything on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := bin/valkey-chaos
PKGS  := ./...
export CHECKPOINT_DISABLE := 1

.PHONY: all setup setup-test build demo test go-lane terraform-lane vet fmt-check unit fuzz terraform-check bench clean

all: build

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --tools --chromium

build:
	$(GO) build -o $(BIN) ./cmd/valkey-chaos

# The thresholds suite on a real valkey-server this command starts itself:
# every save rule at a rate where it fires, crashed and stopped late in its
# snapshot cycle, at time scale 0.01 (900 s -> 9 s) with a 500k-key dataset.
demo: setup build
	$(BIN) run thresholds --time-scale 0.01 --keys 500000 --run-id demo-$$(date -u +%Y%m%d-%H%M%S)

# After the servers and modules are in place, two lanes side by side: the Go
# checks, and the terraform lane, which first builds tflint and tfsec (about
# five CPU-minutes on a fresh machine) and whose log is printed when it ends.
# Every test passes with both cores busy, so the build beside them is fair.
test:
	scripts/setup.sh --chromium
	$(MAKE) -k -j2 go-lane terraform-lane

# In order, one at a time (as prerequisites, -j2 would run them together).
go-lane:
	@$(MAKE) --no-print-directory fmt-check
	@$(MAKE) --no-print-directory vet
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz

terraform-lane:
	@mkdir -p bin; \
	{ scripts/setup.sh --tools && $(MAKE) --no-print-directory terraform-check; } >bin/terraform-lane.log 2>&1; rc=$$?; \
	echo "=== terraform lane (exit $$rc) ==="; cat bin/terraform-lane.log; exit $$rc

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Two passes. Everything under -race, four packages at a time (their tests
# mostly wait on real servers and schedules), except rendering: report/ has
# no goroutines and the race detector makes its charts 25x slower, so it and
# the CLI's rendering tests (files built only without -race, selected by
# NORACE_TESTS) run without it.
UNIT_P ?= 4
NORACE_TESTS := ^(TestReport|TestCompareExitCodes|TestSample|TestCheckReproducesTheCommittedSample)
unit:
	$(GO) test -race -p $(UNIT_P) -timeout 25m $$($(GO) list $(PKGS) | grep -v '/report$$')
	$(GO) test -timeout 25m ./report
	$(GO) test -timeout 25m -run '$(NORACE_TESTS)' ./cmd/valkey-chaos

# Every parser of user input is fuzzed for a bounded number of inputs. A
# count, not -fuzztime=5s: with a duration, Go 1.26's coordinator can report
# its own deadline as a failure when a busy machine starves a worker
# (golang/go#75804, fixed in 1.27; CI failed on FuzzSize that way).
FUZZ_TARGETS := ./savepolicy:FuzzParse ./savepolicy:FuzzConfigFile ./tfmodule:FuzzTerraform \
	./savepolicy:FuzzCommand ./savepolicy:FuzzRate ./savepolicy:FuzzSize \
	./slo:FuzzParse ./scenarios:FuzzParseScenario
FUZZ_INPUTS ?= 20000
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; \
	  echo "fuzz $$pkg $$name ($(FUZZ_INPUTS) inputs)"; \
	  $(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZ_INPUTS)x $$pkg || exit 1; \
	done

terraform-check:
	@if [ -x scripts/terraform-check.sh ]; then scripts/terraform-check.sh; else echo "SKIP terraform checks: scripts/terraform-check.sh missing"; fi

# Speed and memory targets live here, not in timed tests.
bench: setup build
	scripts/bench.sh

clean:
	rm -rf bin
