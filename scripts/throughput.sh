#!/usr/bin/env bash
# `make throughput`: the campaign units of benches/campaigns.rs at a
# baseline revision and in this tree, one after the other in one run, then
# the ratio table written into docs/benchmarks.md.
#
# Both run in the dev profile, the one the campaigns run in. The baseline
# is a git worktree of $BASE (default: the revision before the throughput
# work); where it has no campaigns bench, this tree's file is put in it
# (the bench calls only entry points both have). Both trees share
# $CARGO_TARGET_DIR, so the second build reuses what the first compiled.
#
# GROUPS (a criterion filter, e.g. `sequential`) re-measures some groups
# only, in both trees; the table then takes the others from the last run.
set -euo pipefail
BASE=${BASE:-e47b3c5}
GROUPS=${GROUPS:-}
CARGO=${CARGO:-cargo}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:?set CARGO_TARGET_DIR (make throughput does)}
bench=(bench --profile dev -p stampede-benches --bench campaigns)

work=$(mktemp -d)
cleanup() { git worktree remove --force "$work/base" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach --quiet "$work/base" "$BASE"
if [ ! -f "$work/base/benches/benches/campaigns.rs" ]; then
  cp benches/benches/campaigns.rs "$work/base/benches/benches/"
  printf '\n[[bench]]\nname = "campaigns"\nharness = false\n' >> "$work/base/benches/Cargo.toml"
fi

echo "== baseline: $(git rev-parse --short "$BASE")"
(cd "$work/base" && $CARGO "${bench[@]}" -- $GROUPS --save-baseline throughput-base)
head_label="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo '+changes')"
echo "== this tree: $head_label"
$CARGO "${bench[@]}" -- $GROUPS --save-baseline throughput-head
$CARGO run --quiet --profile dev -p stampede-benches --bin throughput_report -- \
  "$CARGO_TARGET_DIR/criterion" \
  --base throughput-base --base-label "$(git rev-parse --short "$BASE")" \
  --head throughput-head --head-label "$head_label" \
  --doc docs/benchmarks.md
