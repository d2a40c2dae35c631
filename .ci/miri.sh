#!/usr/bin/env bash
# Miri over the only unsafe code of freshen-cache: the read path's counted
# handles (cache/src/handles.rs) and the per-thread memo of its spares
# (cache/src/per_thread.rs). Runs their unit tests and the read path's
# integration tests (threads, rotations, address reuse, caches freed and
# made again) and those of `token()`'s future (whose slow path is dropped
# out of line, by hand) under Miri, which reports any use of freed memory,
# any reference count taken back twice, any pointer used beyond its
# provenance, and any leak.
#
# Miri needs a nightly toolchain with the miri and rust-src components,
# installed here with rustup (pinned by date: a known-good Miri). Where rustup cannot install them, the step
# says SKIPPED and the rest of CI goes on (every other step holds).
# Builds in a target dir of its own (${CARGO_TARGET_DIR:-target}-miri).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLCHAIN=${MIRI_TOOLCHAIN:-nightly-2026-10-29}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}-miri
export CARGO_TERM_COLOR=never

if ! rustup toolchain install "$TOOLCHAIN" --profile minimal --component miri,rust-src >/dev/null 2>&1 \
  || ! cargo "+$TOOLCHAIN" miri --version >/dev/null 2>&1; then
  echo "miri: SKIPPED: rustup could not install $TOOLCHAIN with miri and rust-src"
  exit 0
fi
cargo "+$TOOLCHAIN" miri --version
start=$(date +%s)
cargo "+$TOOLCHAIN" miri setup >/dev/null 2>&1
cargo "+$TOOLCHAIN" miri test -p freshen-cache --lib handles
cargo "+$TOOLCHAIN" miri test -p freshen-cache --test read_path
cargo "+$TOOLCHAIN" miri test -p freshen-cache --test token_future
echo "miri: passed in $(( $(date +%s) - start )) s"
