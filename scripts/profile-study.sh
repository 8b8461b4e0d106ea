#!/usr/bin/env bash
# The build-profile study (docs/benchmarks.md, "Build profile"): for each
# candidate profile, a cold build of `stampede` in its own target dir
# (timed), then the campaigns at fixed budgets on one job; the table of
# build times and campaign rates goes into docs/benchmarks.md
# (benches/src/bin/profile_study.rs).
#
# Slow by nature (one cold Lance build per candidate): run it by hand when
# the dependencies or the profile change, on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
STUDY_DIR=${STUDY_DIR:-$HOME/.cache/stampede/profile-study}

# "name|cargo --config value" (empty: the dev profile as Cargo.toml has it).
candidates=(
  "dependencies at opt-level 0 (the profile before)|profile.dev.package.\"*\".opt-level=0"
  "Cargo.toml's: dependencies at 1, DataFusion's planner and SQL and Lance's index crates at 0|"
)
BUDGETS=(--cases 100 --rounds 40 --actors 5 --fault-cases 60 --second-death-stride 1)

results=()
for candidate in "${candidates[@]}"; do
  name=${candidate%%|*}
  config=${candidate#*|}
  dir="$STUDY_DIR/$(echo "$name" | tr -c 'a-z0-9\n' '-')"
  rm -rf "$dir"
  build=(build --target-dir "$dir" -p stampede-harness --bin stampede)
  [ -n "$config" ] && build+=(--config "$config")
  echo "== $name: cold build"
  start=$(date +%s)
  "$CARGO" "${build[@]}"
  seconds=$(( $(date +%s) - start ))
  echo "== $name: campaigns"
  "$dir/debug/stampede" verify --quiet --jobs 1 --seed 1 --campaign sequential \
    --campaign concurrent --campaign crash --campaign faults "${BUDGETS[@]}" \
    --json "$dir/study.json" > /dev/null
  results+=(--candidate "$name|$seconds|$dir/study.json")
done

"$CARGO" run --quiet -p stampede-benches --bin profile_study -- "${results[@]}" \
  --caption "Written by make profile-study at $(git rev-parse --short HEAD) on $(nproc) cores: a cold build of stampede, then on one job $(echo "${BUDGETS[@]}")." \
  --doc docs/benchmarks.md
