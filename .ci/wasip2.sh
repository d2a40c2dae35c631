#!/usr/bin/env bash
# WASI 0.2 check: freshen over wasi:http in a real WASI host.
#
# Builds examples/wasi-http (freshen-blocking's inline driver, an
# OAuthSource over freshen-wasi-http) as a wasm32-wasip2 component, prints
# its size and what it is made of, transpiles it with jco and runs it in
# Node with @bytecodealliance/preview2-shim (both pinned by
# examples/wasi-http/host/package-lock.json, installed with `npm ci`, the
# install timed), and then in Wasmtime's own host (pip's `wasmtime`,
# pinned in .ci/wasmtime-requirements.txt). The example's native tests
# drive the component in each host: testkit's whole transport conformance
# suite against FaultServers on 127.0.0.1, and a BlockingCache fetching
# short-lived tokens across two rotations (its transcript is printed). Also
# lints freshen-wasi-http and the example for wasm32-wasip2. Needs rustup,
# Node >= 20, npm and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EXAMPLE=$ROOT/examples/wasi-http
HOST=$EXAMPLE/host
TARGET=wasm32-wasip2
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

step() { echo; echo "=== $* ($(date +%T))"; }

step "toolchain"
if ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node $(node --version) is too old: the preview2 shim needs Node >= 20" >&2
  exit 1
fi
echo "rustc $(rustc --version | cut -d' ' -f2), node $(node --version), npm $(npm --version), target $TARGET"

step "the WASI host: npm ci (jco-transpile and preview2-shim, pinned by package-lock.json)"
started=$SECONDS
(cd "$HOST" && npm ci --no-audit --no-fund)
echo "host install took $((SECONDS - started)) s"

step "cargo fmt --check (examples/wasi-http, a workspace of its own)"
cargo fmt --manifest-path "$EXAMPLE/Cargo.toml" --check

step "clippy and docs for $TARGET: freshen-wasi-http, and the example (component and native tests)"
RUSTDOCFLAGS="-D warnings" cargo doc -p freshen-wasi-http --target "$TARGET" --no-deps
cargo clippy -p freshen-wasi-http --target "$TARGET" -- -D warnings
cargo clippy --manifest-path "$EXAMPLE/Cargo.toml" --target "$TARGET" -- -D warnings
cargo clippy --manifest-path "$EXAMPLE/Cargo.toml" --all-targets -- -D warnings

step "cargo build --target $TARGET --release (examples/wasi-http, opt-level s)"
WASM=$(bash .ci/wasm-artifact.sh "$EXAMPLE/Cargo.toml" "$TARGET")
echo "$WASM: $(wc -c <"$WASM") bytes"
node "$HOST/sizes.mjs" "$WASM"

step "jco transpile (the component into an ES module for Node)"
rm -rf "$HOST/component"
node "$HOST/transpile.mjs" "$WASM" "$HOST/component"
export FRESHEN_WASI_COMPONENT=$HOST/component

step "the example's own tests (the wire protocol, native)"
cargo test --manifest-path "$EXAMPLE/Cargo.toml" --lib

step "in Node: testkit's transport conformance suite over wasi:http"
cargo test --manifest-path "$EXAMPLE/Cargo.toml" --test transport_in_host -- --test-threads=2

step "in Node: a BlockingCache (inline) across two rotations of 4-second tokens"
cargo test --manifest-path "$EXAMPLE/Cargo.toml" --test rotation_in_host -- --nocapture

step "Wasmtime for Python (pip, pinned), in a venv: Wasmtime's own wasi:http host"
FRESHEN_WASI_WASMTIME=$(bash .ci/wasmtime-venv.sh)
export FRESHEN_WASI_WASMTIME FRESHEN_WASI_COMPONENT_WASM=$WASM

step "in Wasmtime: testkit's transport conformance suite over wasi:http"
cargo test --manifest-path "$EXAMPLE/Cargo.toml" --test transport_in_host -- --test-threads=2

step "in Wasmtime: a BlockingCache (inline) across two rotations of 4-second tokens"
cargo test --manifest-path "$EXAMPLE/Cargo.toml" --test rotation_in_host -- --nocapture

echo; echo "WASI 0.2 check passed (Node and Wasmtime)"
