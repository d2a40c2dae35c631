#!/usr/bin/env python3
"""Prints the read-path table of one `cargo bench` run from criterion's output.

Usage: python3 benches/summarize.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion next to benches/).

Figures are criterion's per-read estimates in ns: the median of the samples
(robust to a sample that lost its core to another process), with the mean
beside it. Ratios divide each contender by freshen's slowest driver, for the
same thread count.
"""

import json
import os
import sys
from pathlib import Path


def load(root: Path):
    out = {}
    for bench in root.rglob("new/benchmark.json"):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        out[(meta["group_id"], meta["function_id"], meta.get("value_str"))] = (
            est["median"]["point_estimate"],
            est["mean"]["point_estimate"],
        )
    return out


def fmt(ns: float) -> str:
    return f"{ns:.1f}" if ns < 100 else f"{ns:.0f}"


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    elif os.environ.get("CARGO_TARGET_DIR"):
        root = Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    else:
        root = Path(__file__).resolve().parent.parent / "target" / "criterion"
    data = load(root)
    off_path = root / "off-cpu.json"
    off = json.loads(off_path.read_text()) if off_path.exists() else {}

    def offcpu(key: str) -> str:
        return f"{off[key] * 100:.1f}%" if key in off else "–"
    names = []
    for group, name, _ in sorted(data):
        if group == "read" and name not in names:
            names.append(name)

    def order(name: str):
        kind = (
            0 if name.startswith("freshen")
            else 1 if name.startswith(("std ", "arc-swap"))
            else 3 if name.startswith("control")
            else 2
        )
        return (kind, name)

    names.sort(key=order)
    threads = ["1 thread", "2 threads"]
    slowest = {
        t: max(
            (data[("read", n, t)][0] for n in names if n.startswith("freshen") and ("read", n, t) in data),
            default=None,
        )
        for t in threads
    }
    print("| contender | 1 thread: median (mean) ns/read | 2 threads: median (mean) ns/read per thread "
          "| ÷ freshen slowest, 1 thread | ÷ freshen slowest, 2 threads | off-CPU 1 t / 2 t |")
    print("|---|---:|---:|---:|---:|---:|")
    for n in names:
        cells = []
        ratios = []
        for t in threads:
            v = data.get(("read", n, t))
            if v is None:
                cells.append("–")
                ratios.append("–")
                continue
            cells.append(f"{fmt(v[0])} ({fmt(v[1])})")
            ratios.append("" if n.startswith("freshen") or not slowest[t] else f"{v[0] / slowest[t]:.1f}×")
        quality = f"{offcpu(f'read/{n}/1 thread')} / {offcpu(f'read/{n}/2 threads')}"
        print(f"| {n} | {cells[0]} | {cells[1]} | {ratios[0]} | {ratios[1]} | {quality} |")
    micro = sorted((k, v) for k, v in data.items() if k[0] == "micro")
    if micro:
        print()
        print("| part (1 thread) | median (mean) ns | off-CPU |")
        print("|---|---:|---:|")
        for (_, name, _), v in micro:
            print(f"| {name} | {fmt(v[0])} ({fmt(v[1])}) | {offcpu(f'micro/{name}')} |")


if __name__ == "__main__":
    main()
