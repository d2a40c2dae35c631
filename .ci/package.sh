#!/usr/bin/env bash
# Packages every crate freshen publishes, as `cargo publish` would, without
# uploading anything: each crate's manifest is checked for the metadata
# the crate registry shows (description, keywords, categories, documentation, readme,
# license) and for its own copies of the root's LICENSE-MIT and
# LICENSE-APACHE, then `cargo package` builds each .crate and verifies it
# (a build of the unpacked crate, against its dependencies as a registry
# would serve them).
#
# Verification and unpublished siblings: `cargo package -p a` on its own
# resolves a's path dependencies against the registry (the packaged manifest
# names them by version, and the packaged Cargo.lock must resolve), where a
# sibling of this version is not published yet; one crate at a time, only
# freshen-core could be packaged, and the others would fail even with
# `--no-verify` (`--exclude-lockfile` as well would skip that check, and with
# it the build). Cargo 1.90 and later package several crates in one
# invocation (`-p a -p b ...`, or `--workspace`): they are ordered by
# dependency and each is "published" into a temporary local registry laid
# over the crate registry, so every crate's lockfile and build resolve its siblings
# from their packaged sources, offline. So no crate here needs `--no-verify`.
# The list below is in dependency order all the same, for a human (or an
# older cargo) publishing one crate at a time.
#
# freshen-testkit (tests only) and the benches, fuzz and WASI example crates
# are `publish = false`: they are dev-dependencies or workspaces of their
# own, never a dependency of a published crate (checked below).
#
# Env: PACKAGE_ONLINE=1 lets cargo reach the crate registry (by default it works
# offline, from what the build and test steps already fetched).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

# Every published crate, each after the siblings it depends on. A new crate
# goes here (and gets LICENSE-MIT, LICENSE-APACHE and the metadata below).
PUBLISHED=(
  freshen-core
  freshen-oauth
  freshen-metadata
  freshen-store
  freshen-cache
  freshen-tokio
  freshen-smol
  freshen-blocking
  freshen-ureq
  freshen-reqwest
  freshen-surf
  freshen-wasi-http
  freshen-jwt
  freshen-http
  freshen-tower
  freshen-reqwest-middleware
  freshen-fleet
  freshen
  freshen-sim
  freshen-cli
)

OFFLINE=--offline

# Cargo extracts each packaged sibling into its registry's source cache and
# reuses an extraction it finds there under the same name and version, so a
# second run on one machine (same target directory) would verify against the
# first run's sources. These crates are not on a registry yet: their
# extractions are only ever this script's, and are dropped first.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/freshen-*
[ "${PACKAGE_ONLINE:-0}" = 1 ] && OFFLINE=

step() { echo; echo "=== $* ($(date +%T))"; }

step "metadata and license files of ${#PUBLISHED[@]} published crates"
# The workspace's own view of each crate (paths resolved, workspace values
# inherited), read with node, which the tests need anyway.
cargo metadata --format-version 1 --no-deps $OFFLINE |
  PUBLISHED="${PUBLISHED[*]}" node -e '
    const meta = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const fs = require("fs"), path = require("path");
    const root = meta.workspace_root;
    const published = process.env.PUBLISHED.split(" ");
    const byName = new Map(meta.packages.map((p) => [p.name, p]));
    const licenses = ["LICENSE-MIT", "LICENSE-APACHE"].map((f) => [f, fs.readFileSync(path.join(root, f))]);
    const problems = [];
    for (const name of published) {
      const p = byName.get(name);
      if (!p) { problems.push(`${name}: listed in .ci/package.sh but not a workspace member`); continue; }
      const dir = path.dirname(p.manifest_path);
      const need = {
        description: p.description, documentation: p.documentation, readme: p.readme,
        license: p.license, repository: p.repository, "rust-version": p.rust_version,
        keywords: p.keywords.length ? p.keywords : null,
        categories: p.categories.length ? p.categories : null,
      };
      for (const [field, value] of Object.entries(need)) {
        if (!value) problems.push(`${name}: no ${field} in ${path.relative(root, p.manifest_path)}`);
      }
      if (Array.isArray(p.publish) && p.publish.length === 0) problems.push(`${name}: publish = false`);
      for (const [file, text] of licenses) {
        const copy = path.join(dir, file);
        if (!fs.existsSync(copy)) problems.push(`${name}: no ${path.relative(root, copy)} (copy the root ${file})`);
        else if (!fs.readFileSync(copy).equals(text)) problems.push(`${name}: ${path.relative(root, copy)} differs from the root ${file}`);
      }
      // A published crate can depend only on published crates (dev-dependencies
      // without a version are dropped from the package).
      for (const d of p.dependencies) {
        const local = byName.get(d.name);
        if (local && d.kind !== "dev" && !published.includes(d.name)) {
          problems.push(`${name}: depends on ${d.name}, which is not in the list at the top of .ci/package.sh`);
        }
      }
      console.log(`${name}: ok (${p.keywords.join(", ")} | ${p.categories.join(", ")})`);
    }
    const unlisted = meta.packages.filter((p) => !published.includes(p.name) &&
      !(Array.isArray(p.publish) && p.publish.length === 0));
    for (const p of unlisted) problems.push(`${p.name}: publishable but not in .ci/package.sh (add it, or set publish = false)`);
    if (problems.length) { for (const m of problems) console.error(m); process.exit(1); }
  '

args=()
for crate in "${PUBLISHED[@]}"; do args+=(-p "$crate"); done

cargo_minor=$(cargo --version | sed -E 's/^cargo 1\.([0-9]+).*/\1/')
if [ "$cargo_minor" -lt 90 ]; then
  echo "cargo $(cargo --version | cut -d' ' -f2) cannot package crates that depend on unpublished siblings: 1.90 or later is needed" >&2
  exit 1
fi

# What an earlier run left: cargo extracts each sibling a crate is verified
# against from the temporary registry into
# $CARGO_HOME/registry/src/-<hash>/<crate>-<version>/ and builds it as it
# builds any registry crate, which it takes as immutable. With the versions
# unchanged, the next run would reuse those sources and artifacts whatever the
# siblings' sources have become since, and verify against stale siblings.
# This target dir's dep-info names both: forget them.
deps_dir=$CARGO_TARGET_DIR/debug/deps
stale=0
if [ -d "$deps_dir" ]; then
  for info in $(grep -lE "/registry/src/-[0-9a-f]+/freshen-" "$deps_dir"/freshen_*.d 2>/dev/null || true); do
    grep -ohE "[^ :]*/registry/src/-[0-9a-f]+/freshen-[a-z-]+-[0-9][^/ :]*" "$info" | sort -u | xargs -r rm -rf
    stem=$(basename "$info" .d)
    rm -rf "$deps_dir"/*"$stem".* "$CARGO_TARGET_DIR/debug/.fingerprint/$(echo "${stem%-*}" | tr _ -)-${stem##*-}"
    stale=$((stale + 1))
  done
fi
echo "(forgot $stale sibling builds of earlier runs)"

step "cargo package: ${#PUBLISHED[@]} crates in one invocation, each verified against its packaged siblings"
# --allow-dirty: this checks what would be published from the tree as it is
# (a local run may have uncommitted edits); nothing is uploaded. Cargo notes
# each example and test of the facade that its `include` leaves out.
cargo package --allow-dirty $OFFLINE "${args[@]}"

step "packages"
for crate in "${PUBLISHED[@]}"; do
  ls -l "$CARGO_TARGET_DIR/package/$crate-"[0-9]*.crate | awk '{print $5, $NF}'
done
