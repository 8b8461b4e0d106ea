# Stampede — `make verify` (the main job) and `make test` (the test suite)
# share the dev profile, so a newcomer's first run compiles Lance once
# (~12 min on 2 cores) and both targets reuse it. Release builds are only for
# `make bench`. The build cache lives outside the clone so CI and fresh
# clones reuse it.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/stampede/target
# Test graphs live in temp dirs; on tmpfs the campaigns run about twice as
# fast (Lance's many small files). A TMPDIR you set is kept.
export TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMPEDE := $(CARGO_TARGET_DIR)/debug/stampede

.PHONY: verify test loom bench deps build lint fmt

# The verification campaign. SEED names the run; CASES sizes the
# sequential campaign (~2 minutes here on tmpfs).
SEED ?= 1
CASES ?= 1000

verify: build
	@echo "== sequential campaign: engine vs model, op by op (seed $(SEED), $(CASES) cases)"
	$(STAMPEDE) verify --cases $(CASES) --seed $(SEED)
	@echo "== concurrent campaign: 5 actors per round, judged against every serial order"
	$(STAMPEDE) verify --campaign concurrent --rounds 300 --actors 5 --seed $(SEED)
	@echo "== engine end-to-end scenario (CLI, real Lance, real processes)"
	STAMPEDE=$(STAMPEDE) scripts/e2e.sh
	@echo "== concurrent campaigns at the release budget"
	STAMPEDE_ROUNDS=100 STAMPEDE_PROCESS_ROUNDS=30 $(CARGO) test -p stampede-engine -p stampede-harness --test concurrency --test cli_processes --test data --test schema_apply
	@echo "== loom (LOOM_MAX_PREEMPTIONS=3, 3 openers)"
	LOOM_MAX_PREEMPTIONS=3 STAMPEDE_LOOM_OPENERS=3 $(LOOM_TEST)

test: deps
	$(CARGO) test --workspace
	@echo "== loom, small bound (LOOM_MAX_PREEMPTIONS=2, 2 openers)"
	LOOM_MAX_PREEMPTIONS=2 STAMPEDE_LOOM_OPENERS=2 $(LOOM_TEST)

# The control-plane protocols under loom, in release, with its own cargo
# invocation. Only the Lance-free protocol crate is built (seconds, never
# Lance). Defaults: bound 4, 3 concurrent openers (~230k executions of the
# sweep, ~25 s here).
LOOM_BOUND ?= 4
LOOM_OPENERS ?= 3
LOOM_TEST = $(CARGO) test -p stampede-protocol --features loom,defects --test loom -- --test-threads=1

loom: deps
	LOOM_MAX_PREEMPTIONS=$(LOOM_BOUND) STAMPEDE_LOOM_OPENERS=$(LOOM_OPENERS) $(CARGO) test -p stampede-protocol --features loom,defects --release --test loom -- --test-threads=1 --nocapture

build: deps
	$(CARGO) build -p stampede-harness --bins

# Criterion benchmarks, in release (the only target that builds Lance in
# release: ~45 min cold on 2 cores). Figures print as ratios against the
# baselines measured in the same run; criterion's HTML report with its plots
# is in $(CARGO_TARGET_DIR)/criterion/report/index.html.
bench: deps
	$(CARGO) bench -p stampede-benches
	python3 scripts/bench_report.py $(CARGO_TARGET_DIR)/criterion

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p stampede-protocol --features loom,defects --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Lance's build runs protoc (Debian: protobuf-compiler).
deps:
	@command -v protoc >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing protoc (protobuf-compiler), which Lance's build needs"; \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq protobuf-compiler; \
	  else \
	    echo "Lance's build needs protoc: install your system's protobuf compiler (Debian/Ubuntu: protobuf-compiler, macOS: brew install protobuf)"; \
	    exit 1; \
	  fi; }
	@command -v cargo >/dev/null 2>&1 || { echo "install Rust (rustup) first: https://rustup.rs"; exit 1; }
