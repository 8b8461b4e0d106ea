#!/usr/bin/env bash
# The build-profile study (docs/benchmarks.md, "Build profile"). For each
# candidate dev profile, in a target dir of its own, from cold:
#   - `stampede` alone (what `make verify` builds first), then its plan
#     (PLAN_ARGS, as `make verify` runs it) until the first campaign row:
#     the two together are a fresh machine's wait for its first verdict;
#   - the rest of `cargo test --workspace --no-run` (`make test`'s build);
#   - a relink of `stampede` (one source file touched): the link alone;
#   - the campaigns at fixed budgets on one job: their rates per core.
# Then, on the "by family" build (Cargo.toml's, the fastest campaigns of
# the candidates), perf samples the campaigns and scripts/hot_crates.py
# attributes them to crates: the measurement the "hot" candidates follow.
# The tables go into docs/benchmarks.md and the README
# (benches/src/bin/profile_study.rs).
#
# Slow by nature (one cold Lance build per candidate, ~1 h on 2 cores):
# run it by hand when the dependencies or the profile change, on an
# otherwise idle machine. STUDY_RESUME=1 keeps the candidates a stopped
# run measured (each target dir takes ~6 GB, the linker map 0.4 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
STUDY_DIR=${STUDY_DIR:-$HOME/.cache/stampede/profile-study}
: "${STAMPEDE_BUILD_ARGS:?run through make profile-study}" "${PLAN_ARGS:?run through make profile-study}"
read -r -a stampede_build <<< "$STAMPEDE_BUILD_ARGS"
read -r -a plan <<< "$PLAN_ARGS"
mkdir -p "$STUDY_DIR"

# Every package Cargo.toml's dev profile names, at opt-level 0 too.
opt0="$STUDY_DIR/opt-level-0.toml"
{
  printf '[profile.dev.package."*"]\nopt-level = 0\n'
  grep -o '^\[profile\.dev\.package\.[A-Za-z0-9_-]*\]' Cargo.toml | sed 's/$/\nopt-level = 0/'
} > "$opt0"

# "name|slug|cargo --config file" (empty: Cargo.toml's profile as it is).
candidates=(
  "every dependency at opt-level 0|opt0|$opt0"
  "Cargo.toml's, by family: every dependency at 1 but DataFusion's planner, SQL and functions and Lance's index crates|family|"
  "hot: the crates perf finds hot at 1, but Lance's upper crates; the rest at 0|measured|scripts/profiles/hot.toml"
  "hot, and the workspace's crates and Lance's encoding, file and table crates at 1|hot-lance-ours|scripts/profiles/hot-lance-and-ours.toml"
)
# The campaigns, as rated and as profiled (each adds its budgets).
CAMPAIGNS=(verify --quiet --jobs 1 --seed 1 --campaign sequential --campaign concurrent
  --campaign crash --campaign faults)
BUDGETS=(--cases 100 --rounds 40 --actors 5 --fault-cases 60 --second-death-stride 1)
# The profiled run: damage too, at smaller budgets.
PROFILED=(--campaign damage --cases 50 --rounds 20 --actors 5 --fault-cases 30 --second-death-stride 1 --damage-stride 8)

seconds_of() { local start=$SECONDS; "$@" >&2; echo $(( SECONDS - start )); }

# Seconds from starting `stampede verify PLAN_ARGS` to its first campaign
# row (the plan is stopped there).
first_row() {
  python3 - "$1" "${plan[@]}" <<'PY'
import os, re, signal, subprocess, sys, tempfile, time
start = time.monotonic()
scratch = tempfile.TemporaryDirectory()
report = os.path.join(scratch.name, "plan.json")
child = subprocess.Popen([sys.argv[1], "verify", *sys.argv[2:], "--json", report],
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
row = re.compile(r"^(sequential|concurrent|crash|faults|damage)\s")
for line in child.stdout:
    if row.match(line):
        print(round(time.monotonic() - start))
        break
else:
    sys.exit(f"the plan printed no campaign row (exit {child.wait()})")
os.killpg(child.pid, signal.SIGTERM)
child.wait()
PY
}

# One candidate, from cold: its builds, its first row, its campaigns.
measure() {
  rm -rf "$dir"
  echo "== $name: cold build of stampede"
  stampede_seconds=$(seconds_of "${cargo[@]}" "${stampede_build[@]}")
  echo "== $name: the plan's first row"
  row_seconds=$(first_row "$dir/debug/stampede")
  echo "== $name: the rest of cargo test --workspace --no-run"
  tests_seconds=$(seconds_of "${cargo[@]}" test --workspace --no-run)
  echo "== $name: a relink of stampede"
  touch harness/src/bin/stampede.rs
  link_seconds=$(seconds_of "${cargo[@]}" "${stampede_build[@]}")
  echo "== $name: campaigns"
  "$dir/debug/stampede" "${CAMPAIGNS[@]}" "${BUDGETS[@]}" --json "$dir/study.json" > /dev/null
  cat > "$dir/candidate.json" <<JSON
{"name": "$name", "slug": "$slug", "stampede_seconds": $stampede_seconds, "first_row_seconds": $row_seconds,
 "tests_seconds": $tests_seconds, "link_seconds": $link_seconds, "report": "$dir/study.json"}
JSON
}

results=()
hot=""
for candidate in "${candidates[@]}"; do
  IFS='|' read -r name slug config <<< "$candidate"
  dir="$STUDY_DIR/$slug"
  # The environment's target dir would win over a --target-dir config.
  cargo=(env CARGO_TARGET_DIR="$dir" "$CARGO")
  [ -n "$config" ] && cargo+=(--config "$config")
  if [ -n "${STUDY_RESUME:-}" ] && [ -f "$dir/candidate.json" ]; then
    echo "== $name: measured by a run before (STUDY_RESUME)"
    python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); c["name"] = sys.argv[2]; json.dump(c, open(sys.argv[1], "w"))' \
      "$dir/candidate.json" "$name"
  else
    measure
  fi
  results+=(--candidate "$dir/candidate.json")
  if [ "$slug" = family ] && command -v perf > /dev/null \
      && ! { [ -n "${STUDY_RESUME:-}" ] && [ -s "$dir/hot-crates.md" ]; }; then
    echo "== $name: the campaigns sampled by perf, attributed to crates"
    "${cargo[@]}" rustc "${stampede_build[@]:1}" -- -C link-arg=-Wl,-Map="$dir/stampede.map"
    perf record -q -F 299 -o "$dir/perf.data" -- \
      "$dir/debug/stampede" "${CAMPAIGNS[@]}" "${PROFILED[@]}" > /dev/null
    python3 scripts/hot_crates.py "$dir/perf.data" "$dir/stampede.map" > "$dir/hot-crates.md"
    rm "$dir/stampede.map" "$dir/perf.data"
  fi
  if [ "$slug" = family ] && [ -s "$dir/hot-crates.md" ]; then hot="$dir/hot-crates.md"; fi
done

"$CARGO" run --quiet -p stampede-benches --bin profile_study -- "${results[@]}" \
  --baseline family ${hot:+--hot-crates "$hot" --hot-crates-doc docs/benchmarks.md} \
  --caption "Written by make profile-study at $(git rev-parse --short HEAD) on $(nproc) cores: from cold, stampede, its plan to the first row, the rest of the test build, a relink; then on one job $(echo "${BUDGETS[@]}")." \
  --doc docs/benchmarks.md --doc README.md
