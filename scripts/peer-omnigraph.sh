#!/usr/bin/env bash
# `make peer-omnigraph`'s lanes: the sequential and concurrent campaigns
# against the published seed engine (peers/omnigraph-0.6), each lane with
# a fixed seed and a fixed set of declared ops, so an op whose difference
# is everywhere (a merge, a read-only write) does not mask the rest; then
# the same lanes against our engine over the wire as the control; then
# the violations table (docs/peers.md). Run from the clone's root.
set -euo pipefail

: "${STAMPEDE:?the stampede binary}"
: "${PEER_REPORT:?the peer_report binary}"
OUT=${OUT:?a directory for the lane reports}
PEER=peers/omnigraph-0.6/omnigraph-peer
rm -rf "$OUT" && mkdir -p "$OUT/peer" "$OUT/control"

# name | campaign and budget | declared ops
LANES=(
  "seq-all|--campaign sequential --cases 10 --max-ops 12|Init,Open,WriteLegacy,BranchCreate,BranchDelete,BranchList,ApplySchema,Load,Scan,Merge,LeaveLock"
  "seq-legacy|--campaign sequential --cases 12|Init,Open,WriteLegacy,BranchList"
  "seq-branches|--campaign sequential --cases 24 --max-ops 8|Init,Open,BranchCreate,BranchDelete,BranchList"
  "seq-schema|--campaign sequential --cases 12 --max-ops 8|Init,Open,ApplySchema,BranchCreate,LeaveLock"
  "seq-data|--campaign sequential --cases 12 --max-ops 8|Init,Open,Load,Scan,BranchCreate"
  "con-all|--campaign concurrent --rounds 24 --actors 4|Init,Open,WriteLegacy,BranchCreate,BranchDelete,BranchList,ApplySchema,Load,Scan,Merge,LeaveLock"
  "con-legacy|--campaign concurrent --rounds 48 --actors 4|Init,Open,WriteLegacy"
  "con-schema|--campaign concurrent --rounds 40 --actors 6|Init,Open,ApplySchema"
)

for lane in "${LANES[@]}"; do
  IFS='|' read -r name budget ops <<<"$lane"
  echo "== omnigraph 0.6.2, lane $name ($ops)"
  # The peer's lanes fail by design: their failures are the findings.
  # shellcheck disable=SC2086
  "$STAMPEDE" verify $budget --seed 1 --quiet --engine-cmd "$PEER --ops $ops" --json "$OUT/peer/$name.json" || true
  echo "== control: our engine over the wire, lane $name"
  # shellcheck disable=SC2086
  "$STAMPEDE" verify $budget --seed 1 --quiet --engine-cmd "$STAMPEDE serve --ops $ops" --json "$OUT/control/$name.json" || true
done

"$PEER_REPORT" --peer "$OUT"/peer/*.json --control "$OUT"/control/*.json \
  --classified peers/omnigraph-0.6/classified.json --doc docs/peers.md
