#!/usr/bin/env bash
# One build: every cargo invocation the Makefile makes must resolve the same
# features for every third-party crate, or each command rebuilds what the
# other built (a serde feature once split `make verify` from `make test` by
# 86 crates, all of Lance). Compares the resolved feature sets of the
# invocations against `cargo test --workspace` (dev-dependencies included)
# and names any crate whose features differ. Needs no build.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

: "${STAMPEDE_BUILD_SELECTION:?the selection make verify builds stampede with: run through make}"

tree() {
  # "name version [features]" of every crate the selection builds.
  "$CARGO" tree "$@" --prefix none -f '{p} [{f}]' 2>/dev/null \
    | sed 's/ (\*)$//; s/ (proc-macro)//' | grep -v '^$' | sort -u
}
# The third-party crates only (the workspace's own rebuild in seconds).
resolved() { tree "$@" | grep -v '^stampede-' || true; }

reference=$(mktemp); trap 'rm -f "$reference" "$candidate"' EXIT
candidate=$(mktemp)
resolved --workspace -e normal,build,dev > "$reference"

status=0
# LISTER SELECTION...: the crates SELECTION builds (as LISTER lists them)
# must all be built alike by the reference.
check_with() {
  local lister=$1; shift
  "$lister" "$@" > "$candidate"
  # A crate the selection builds with a feature set the reference never
  # builds (a crate may appear twice: for build scripts and for targets).
  local differs
  differs=$(comm -23 "$candidate" "$reference" | sed 's/^/  /')
  if [ -n "$differs" ]; then
    echo "one-build: \`cargo $*\` resolves other features than \`cargo test --workspace\`:"
    echo "$differs"
    status=1
  fi
}
check() { check_with resolved "$@"; }

check --workspace -e normal,build,dev --features stampede-harness/defects
check -p stampede-harness -e normal,build
check -p stampede-harness -e normal,build,dev --features defects
check -p stampede-engine -p stampede-harness -e normal,build,dev
# `make throughput` and `make profile-study`: the campaigns bench and the
# report binaries.
check -p stampede-benches -e normal,build,dev
check -p stampede-benches -e normal,build
# `make verify` builds `stampede` alone first: that must be the very
# artifact `cargo test --workspace` makes, the workspace's crates included,
# or the test build after it rebuilds the harness and relinks everything.
# Against the reference with the workspace's crates in it.
tree --workspace -e normal,build,dev > "$reference"
# shellcheck disable=SC2086 # the selection is several arguments
check_with tree $STAMPEDE_BUILD_SELECTION -e normal,build
[ "$status" = 0 ] && echo "one-build: every invocation resolves the same third-party features, and make verify's stampede is the test build's"
exit "$status"
