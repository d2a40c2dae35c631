#!/usr/bin/env bash
# rust-version (the workspace's, 1.85) holds for the dependencies too: no
# package in Cargo.lock that this host builds declares a newer rust-version.
#
# The code's side is clippy's `incompatible_msrv` (denied in the workspace
# lints, extended to tests by clippy.toml), run by the clippy step of
# .ci/run: no older toolchain can be installed on these machines, so a
# build on 1.85 itself is not possible here.
#
# Cargo.lock stays within it on its own: edition 2024 implies resolver 3,
# whose `incompatible-rust-versions = "fallback"` makes `cargo update` and
# `cargo add` prefer, for each dependency, the newest version whose
# rust-version the workspace allows. "Prefer" is not "only": a requirement
# that no allowed version meets (a raised minimum in a Cargo.toml) still
# resolves to a newer one, which is what this check catches.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

host=$(rustc -vV | sed -n 's/^host: //p')
cargo metadata --format-version 1 --offline --locked --filter-platform "$host" |
  node -e '
    const meta = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const parse = (v) => v.split(".").map(Number).concat([0, 0]).slice(0, 3);
    const newer = (a, b) => { for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i]; return false; };
    const members = new Set(meta.workspace_members);
    const msrvs = meta.packages.filter((p) => members.has(p.id)).map((p) => p.rust_version);
    if (msrvs.some((v) => !v)) { console.error("a workspace member has no rust-version"); process.exit(1); }
    const msrv = msrvs.map(parse).reduce((lo, v) => (newer(lo, v) ? v : lo));
    const resolved = new Set(meta.resolve.nodes.map((n) => n.id));
    const deps = meta.packages.filter((p) => resolved.has(p.id) && !members.has(p.id));
    const over = deps.filter((p) => p.rust_version && newer(parse(p.rust_version), msrv));
    const highest = deps.filter((p) => p.rust_version)
      .reduce((hi, p) => (!hi || newer(parse(p.rust_version), parse(hi.rust_version)) ? p : hi), null);
    console.log(`rust-version ${msrv.join(".")}: ${deps.length} dependencies resolved for this host; ` +
      `highest declared: ${highest ? `${highest.name} ${highest.version} (${highest.rust_version})` : "none"}`);
    for (const p of over) console.error(`${p.name} ${p.version} needs Rust ${p.rust_version}`);
    if (over.length) { console.error("pin an older version (cargo update -p NAME --precise VERSION) or raise rust-version"); process.exit(1); }
  '
