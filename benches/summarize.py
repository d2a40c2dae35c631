#!/usr/bin/env python3
"""Prints the tables of one `cargo bench` run from criterion's output.

Usage: python3 benches/summarize.py [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else benches/target/criterion).
Only the benchmarks of the last run are shown (those in its off-cpu.json).

Figures are criterion's per-read estimates in ns: the median of the samples
(robust to a sample that lost its core to another process), with the mean
beside it. One table per group (read, handoff, tasks), then the parts, then
issue #8's targets.

Ratios divide a contender by freshen's slowest row of the same group and
case. In the handoff and tasks groups the control row (the ring alone, the
scheduler alone) is what every row pays before its token's own cost: those
tables also give each row net of the control, and the ratio of the nets in
brackets.
"""

import json
import os
import sys
from pathlib import Path

GROUPS = ["read", "handoff", "tasks"]
# The control row every contender of a group pays too.
CONTROL = {
    "handoff": "control: a word through the ring (no token)",
    "tasks": "control: yield_now() with no token",
}
CASE_ORDER = ["1 thread", "2 threads", "one way", "both ways", "one way, batches of 64"]
# Peers for the ≥ 10× target (the baselines and controls are not).
PEERS = ("aws-smithy-runtime", "google-cloud-auth", "azure_core BearerTokenAuthorizationPolicy")


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
    return f"{ns:.1f}" if abs(ns) < 100 else f"{ns:.0f}"


def kind(name: str) -> int:
    if name.startswith("freshen"):
        return 0
    if name.startswith(("std ", "arc-swap")):
        return 1
    if name.startswith("control"):
        return 3
    return 2


def main() -> None:
    if len(sys.argv) > 1:
        root = Path(sys.argv[1])
    elif os.environ.get("CARGO_TARGET_DIR"):
        root = Path(os.environ["CARGO_TARGET_DIR"]) / "criterion"
    else:
        # benches/ is a workspace of its own: its target is benches/target.
        root = Path(__file__).resolve().parent / "target" / "criterion"
    data = load(root)
    off_path = root / "off-cpu.json"
    off = json.loads(off_path.read_text()) if off_path.exists() else {}
    if off:
        # Only the benchmarks of the last run (older ones stay on disk).
        data = {k: v for k, v in data.items() if "/".join(p for p in k if p) in off}

    def offcpu(key: str) -> str:
        return f"{off[key] * 100:.1f}%" if key in off else "–"

    slowest = {}  # (group, case) -> freshen's slowest median
    nets = {}  # (group, name, case) -> median net of the control
    for group in GROUPS:
        names = sorted({n for g, n, _ in data if g == group}, key=lambda n: (kind(n), n))
        cases = sorted({c for g, _, c in data if g == group and c},
                       key=lambda c: (CASE_ORDER.index(c) if c in CASE_ORDER else len(CASE_ORDER), c))
        if not names:
            continue
        control = CONTROL.get(group)
        for case in cases:
            fr = [data[(group, n, case)][0] for n in names
                  if kind(n) == 0 and (group, n, case) in data]
            if fr:
                slowest[(group, case)] = max(fr)
            base = data.get((group, control, case)) if control else None
            for n in names:
                v = data.get((group, n, case))
                if v is not None and base is not None and n != control:
                    nets[(group, n, case)] = v[0] - base[0]
        print(f"\n### {group}\n")
        head = ["contender"]
        for case in cases:
            head.append(f"{case}: median (mean)")
            if control:
                head.append(f"{case}: net of control")
        head += [f"÷ freshen slowest, {case}" for case in cases]
        head.append("off-CPU " + " / ".join(cases))
        print("| " + " | ".join(head) + " |")
        print("|---|" + "---:|" * (len(head) - 1))
        for n in names:
            cells = [f"**{n}**" if kind(n) == 0 else n]
            ratios = []
            for case in cases:
                v = data.get((group, n, case))
                cells.append("–" if v is None else f"{fmt(v[0])} ({fmt(v[1])})")
                net = nets.get((group, n, case))
                if control:
                    cells.append("" if net is None else fmt(net))
                s = slowest.get((group, case))
                if v is None or kind(n) in (0, 3) or not s:
                    ratios.append("")
                    continue
                r = f"{v[0] / s:.1f}×"
                fr_net = max((nets[(group, m, case)] for m in names
                              if kind(m) == 0 and (group, m, case) in nets), default=None)
                if net is not None and fr_net and fr_net > 0:
                    r += f" [{net / fr_net:.1f}×]"
                ratios.append(r)
            cells += ratios
            cells.append(" / ".join(offcpu(f"{group}/{n}/{c}") for c in cases))
            print("| " + " | ".join(cells) + " |")

    micro = sorted((k, v) for k, v in data.items() if k[0] == "micro")
    if micro:
        print("\n### parts\n")
        print("| part (1 thread) | median (mean) ns | off-CPU |")
        print("|---|---:|---:|")
        for (_, name, _), v in micro:
            print(f"| {name} | {fmt(v[0])} ({fmt(v[1])}) | {offcpu(f'micro/{name}')} |")

    targets(data, slowest, nets)


def targets(data, slowest, nets) -> None:
    """Issue #8's targets, from this run."""
    def freshen_max(group, case, pick=lambda n: True):
        vals = [(v[0], n) for (g, n, c), v in data.items()
                if g == group and c == case and n.startswith("freshen") and pick(n)]
        return max(vals) if vals else None

    print("\n### targets (issue #8)\n")
    print("| target | freshen's slowest row | result |")
    print("|---|---|---|")
    for case, limit in (("1 thread", 15), ("2 threads", 20)):
        m = freshen_max("read", case)
        if m:
            print(f"| ≤ {limit} ns per read, {case}, every driver | {fmt(m[0])} ({m[1]}) "
                  f"| {'met' if m[0] <= limit else 'missed'} |")
    for case in ("1 thread", "2 threads"):
        m = freshen_max("read", case, lambda n: n.endswith("tokio token()") or n.endswith("smol token()"))
        if m:
            print(f"| async token() polled once ≤ 15 ns, {case} | {fmt(m[0])} ({m[1]}) "
                  f"| {'met' if m[0] <= 15 else 'missed'} |")
    for (group, case), s in sorted(slowest.items()):
        if group == "read":
            continue
        peers = [(v[0], n) for (g, n, c), v in data.items()
                 if g == group and c == case and n.startswith(PEERS)]
        if not peers:
            continue
        nearest = min(peers)
        raw = nearest[0] / s
        line = f"raw {raw:.1f}×"
        fr_net = max((x for (g, n, c), x in nets.items()
                      if g == group and c == case and n.startswith("freshen")), default=None)
        peer_net = nets.get((group, nearest[1], case))
        ok = raw >= 10
        if fr_net and fr_net > 0 and peer_net is not None:
            line += f", net of control {peer_net / fr_net:.1f}×"
        print(f"| ≥ 10× faster than every peer, {group} {case} | {fmt(s)} vs nearest peer "
              f"{nearest[1]} {fmt(nearest[0])} | {line}: {'met' if ok else 'missed'} (raw) |")


if __name__ == "__main__":
    main()
