#!/usr/bin/env bash
# The engine's end-to-end scenario, scripted with the CLI as a maintainer
# would: a legacy v2 graph with 200 __run__ refs and user branches (one forked
# from a __run__ ref), read-only inspection, 8 concurrent read-write opens as
# separate processes, then the result checked.
set -euo pipefail
STAMPEDE=${STAMPEDE:-stampede}
work=$(mktemp -d "${TMPDIR:-/tmp}/stampede-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
g="$work/graph"

fail() { echo "e2e FAILED: $*" >&2; exit 1; }

"$STAMPEDE" legacy "$g" --version 2 --run-branches 200 \
  --branch feature --branch keep-me:__run__7 --branch nested/child:keep-me
[ "$("$STAMPEDE" stamp "$g" --json | grep -o '"state":"[^"]*"')" = '"state":"v2"' ] || fail "fixture is not v2"

ro=$("$STAMPEDE" branch list "$g" --read-only --json)
[ "$ro" = '["main","__run__7","feature","keep-me","nested/child"]' ] || fail "read-only list: $ro"

pids=()
for i in $(seq 8); do
  "$STAMPEDE" open "$g" --json >"$work/open.$i" 2>"$work/err.$i" & pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || fail "opener $((i + 1)) failed: $(cat "$work/err.$((i + 1))")"
done
swept=0
for i in $(seq 8); do
  n=$(grep -o '__run__[0-9]*' "$work/open.$i" | grep -vc '^__run__7$' || true)
  swept=$((swept + n))
done
[ "$swept" = 199 ] || fail "the openers together swept $swept refs, expected 199 (each once)"

[ "$("$STAMPEDE" stamp "$g" --json | grep -o '"state":"[^"]*"')" = '"state":"v3"' ] || fail "stamp is not v3"
rw=$("$STAMPEDE" branch list "$g" --json)
[ "$rw" = '["main","__run__7","feature","keep-me","nested/child"]' ] || fail "list after migration: $rw"

"$STAMPEDE" branch create "$g" __run__new --from feature
"$STAMPEDE" open "$g" --json | grep -q '"swept":\[\]' || fail "a later open swept something"
"$STAMPEDE" branch list "$g" --json | grep -q '"__run__new"' || fail "a user __run__ branch was swept"
if "$STAMPEDE" branch delete "$g" keep-me 2>"$work/err"; then fail "deleted a branch with dependents"; fi
grep -q '^error\[dependent_branches\]' "$work/err" || fail "wrong error: $(cat "$work/err")"

echo "e2e: 8 concurrent opens of a v2 graph with 200 __run__ refs: all succeeded, 199 swept once, __run__7 kept, stamp v3"
