#!/usr/bin/env bash
# WASI check: builds examples/wasi (freshen-blocking's inline driver, no
# threads, no sockets) for wasm32-wasip1, runs it in two real WASI hosts
# (Node's node:wasi, preview1; and Wasmtime, through pip's `wasmtime`
# package, pinned in .ci/wasmtime-requirements.txt, in a venv) and compares
# each transcript with examples/wasi/expected.txt byte for byte. Fails on
# any difference and on a non-zero exit of the module. Needs rustup, Node
# >= 20 and python3 (with venv; installed from apt if missing).
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

step "Wasmtime for Python (pip, pinned), in a venv"
PY=$(bash .ci/wasmtime-venv.sh)

OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
fail=0
# Runs the module in host $1 (a command line ending in the runner's path)
# and compares its transcript.
check_host() {
  local name=$1; shift
  step "run in $name"
  local status=0
  "$@" "$WASM" >"$OUT" || status=$?
  cat "$OUT"
  if [ "$status" -ne 0 ]; then
    echo "$name: the module exited with status $status" >&2
    fail=1
  fi
  if ! diff -u "$EXAMPLE/expected.txt" "$OUT"; then
    echo "$name: the transcript differs from examples/wasi/expected.txt (- expected, + got)" >&2
    fail=1
  fi
}
check_host "node:wasi (preview1)" node --no-warnings "$EXAMPLE/run.mjs"
check_host "Wasmtime (preview1)" "$PY" "$EXAMPLE/run.py"
if [ "$fail" -ne 0 ]; then
  echo; echo "WASI check FAILED"
  exit 1
fi
echo; echo "WASI check passed (node:wasi and Wasmtime)"
