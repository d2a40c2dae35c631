#!/usr/bin/env bash
# Loom models of freshen-cache's concurrency (cache/tests/loom.rs), on the
# code that ships: under --cfg loom the cache's primitives are loom's
# (cache/src/sync.rs). The read path with its spares, the hand-off of an
# attempt's outcome to its waiters, single flight, deadlines, close. Every model runs exhaustively within a preemption bound
# (LOOM_MAX_PREEMPTIONS, default 3), under a per-model cap on interleavings
# and wall time set in the test file; each prints how many it explored.
# Exits non-zero if a model fails, or on the overall time limit.
#
# Builds with RUSTFLAGS="--cfg loom" in a target dir of its own
# (${CARGO_TARGET_DIR:-target}-loom), so the normal build is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
case $TARGET in
  *-loom) ;;
  *) TARGET=$TARGET-loom ;;
esac
export CARGO_TARGET_DIR=$TARGET
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
export CARGO_TERM_COLOR=never

echo "loom: preemption bound $LOOM_MAX_PREEMPTIONS, target dir $CARGO_TARGET_DIR"
start=$(date +%s)
# The limit covers the build (loom and its dependencies on a fresh machine)
# and the run (about 20 s on two cores).
timeout "${LOOM_TIME_LIMIT:-900}" \
  cargo test -p freshen-cache --test loom --release -- --nocapture
echo "loom: passed in $(( $(date +%s) - start )) s"
