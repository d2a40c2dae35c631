#!/usr/bin/env bash
# Builds a WASI example in release for a target and prints the path of the
# .wasm cargo made. Cargo names the artifact; asking it (instead of guessing
# the path) keeps any target-dir configuration working. Needs Node.
# Usage: .ci/wasm-artifact.sh MANIFEST TARGET
set -euo pipefail
cargo build --manifest-path "$1" --target "$2" --release --message-format=json-render-diagnostics |
  node -e '
    let out = "";
    for (const line of require("fs").readFileSync(0, "utf8").split("\n")) {
      if (!line.startsWith("{")) continue;
      const m = JSON.parse(line);
      if (m.reason === "compiler-artifact" && m.executable) out = m.executable;
    }
    if (!out) { console.error("cargo reported no executable"); process.exit(1); }
    console.log(out);
  '
