#!/usr/bin/env bash
# A bounded smoke run of the response-parser fuzz target (libFuzzer via
# cargo-fuzz). cargo-fuzz needs nightly features; the stable toolchain is
# allowed to use them here with RUSTC_BOOTSTRAP=1, since no other toolchain
# can be installed on these machines.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_BUDGET=${FUZZ_SECONDS:-30}
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$(pwd)/../target}-fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run parse_response --fuzz-dir . -- \
  -max_total_time="$SECONDS_BUDGET" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
