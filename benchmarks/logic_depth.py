"""LUT levels into every register of a synthesized core: the census behind a timing target.

nextpnr names one critical path per run, and another seed names another; this counts how many
register and memory pins sit behind many LUT levels (``hw.depth``), so a change can be judged by
how many deep paths it removes before placing it again.

Usage: first ``.venv/bin/ttfs synth --core CORE.json --target ice40-up5k --workdir W`` (or any
target; the folder keeps yosys's ``netlist.json``), then
``.venv/bin/python benchmarks/logic_depth.py W [--min-levels 6] [--rows 40] [--paths 2]``.
It prints the number of path ends at each depth, the registers with ends at ``--min-levels`` or
more (deepest first; yosys's names after technology mapping), and the deepest paths net by net.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections import Counter

from ttfs.hw.depth import by_register, endpoint_levels, load_netlist
from ttfs.sim.errors import ConfigError


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("netlist", help="yosys netlist.json, or a 'ttfs synth --workdir' folder")
    ap.add_argument("--top", help="top module (default: the one yosys marked top)")
    ap.add_argument("--min-levels", type=float, default=6.0)
    ap.add_argument("--rows", type=int, default=40, help="registers to list")
    ap.add_argument("--paths", type=int, default=2, help="deepest paths to print net by net")
    args = ap.parse_args(argv)
    try:
        ends = endpoint_levels(load_netlist(args.netlist), args.top)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    hist = Counter(math.floor(e.levels) for e in ends)
    print(f"{len(ends)} path ends; by LUT levels (floor):")
    for lv in sorted(hist, reverse=True):
        print(f"  {lv:2d}: {hist[lv]}")
    rows = by_register(ends, args.min_levels)
    deep = sum(n for _, n, _, _ in rows)
    print(f"\n{deep} ends at {args.min_levels:g} levels or more, {len(rows)} registers/pins "
          f"(showing {min(args.rows, len(rows))}):")
    for lv, n, pin, reg in rows[:args.rows]:
        print(f"  {lv:5.2f}  x{n:<4d} {pin:<6s} {reg}")
    for e in ends[:args.paths]:
        print(f"\n{e.levels:.2f} levels into {e.cell}.{e.pin}:")
        print("    " + "\n <- ".join(e.path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
