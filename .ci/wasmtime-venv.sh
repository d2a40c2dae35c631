#!/usr/bin/env bash
# Makes (once) a Python venv with pip's `wasmtime` package, pinned in
# .ci/wasmtime-requirements.txt (Wasmtime's own WASI hosts, preview 1 and
# 0.2 with wasi:http, through its C API), and prints its python's path.
# The venv lives in the target dir; python3-venv comes from apt if missing.
# Progress goes to stderr, so `PY=$(bash .ci/wasmtime-venv.sh)` works.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${CARGO_TARGET_DIR:-$(pwd)/target}/wasmtime-venv
if ! "$VENV/bin/python" -c 'import wasmtime' 2>/dev/null; then
  started=$SECONDS
  if ! python3 -m venv "$VENV" >&2 2>/dev/null; then
    apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
    python3 -m venv "$VENV" >&2
  fi
  "$VENV/bin/pip" install -q -r .ci/wasmtime-requirements.txt >&2
  echo "wasmtime venv made in $((SECONDS - started)) s" >&2
fi
"$VENV/bin/pip" show wasmtime | grep -E '^(Name|Version)' >&2
echo "$VENV/bin/python"
