#!/usr/bin/env bash
# WASI check: builds examples/wasi (freshen-blocking's inline driver, no
# threads, no sockets) for wasm32-wasip1, runs it in a real WASI host (Node's
# node:wasi, preview1) and compares its transcript with
# examples/wasi/expected.txt byte for byte. Fails on any difference and on a
# non-zero exit of the module. Needs rustup and Node >= 20.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EXAMPLE=$ROOT/examples/wasi
TARGET=wasm32-wasip1
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

step() { echo; echo "=== $* ($(date +%T))"; }

step "toolchain"
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi
if ! command -v node >/dev/null 2>&1; then
  echo "node not found: Node >= 20 is needed for node:wasi preview1" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node $(node --version) is too old: node:wasi preview1 needs Node >= 20" >&2
  exit 1
fi
echo "rustc $(rustc --version | cut -d' ' -f2), node $(node --version), target $TARGET"

step "cargo build --target $TARGET --release (examples/wasi)"
WASM=$(bash .ci/wasm-artifact.sh "$EXAMPLE/Cargo.toml" "$TARGET")
echo "$WASM ($(wc -c <"$WASM") bytes)"

step "run in node:wasi (preview1)"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
status=0
node --no-warnings "$EXAMPLE/run.mjs" "$WASM" >"$OUT" || status=$?
cat "$OUT"

step "compare with examples/wasi/expected.txt"
fail=0
if [ "$status" -ne 0 ]; then
  echo "the module exited with status $status" >&2
  fail=1
fi
if ! diff -u "$EXAMPLE/expected.txt" "$OUT"; then
  echo "the transcript differs from examples/wasi/expected.txt (- expected, + got)" >&2
  fail=1
fi
if [ "$fail" -ne 0 ]; then
  echo; echo "WASI check FAILED"
  exit 1
fi
echo; echo "WASI check passed"
