"""Logic depth of a synthesized netlist: how many LUT levels feed each register and memory pin.

nextpnr reports one critical path per clock, and placement noise moves it from seed to seed; to
see how many paths a change would have to shorten, count levels instead. :func:`endpoint_levels`
walks the combinational cells of a yosys JSON netlist (the ``netlist.json`` that
``ttfs synth --workdir DIR`` keeps) from every path start (flip-flop and memory outputs, DSP
outputs, top-level inputs) to every path end (a data, enable, reset or address pin of a
flip-flop, memory or DSP) and gives each end the most LUT levels on a path into it.

A LUT counts 1, a wide-function multiplexer 0.5 and a carry cell 0.12 (iCE40 ``SB_CARRY``) or
0.25 (ECP5 ``CCU2C``, whose carry-in to sum path is short): a carry chain is fast next to a LUT
plus its route. Memory and DSP delays are not counted; they start and end paths. On the UP5K a
LUT level costs about 3.5 ns with its route (0.9 ns logic), so at 40 MHz (25 ns, 1.5 ns for the
clock-to-out and setup) about 6 levels fit.
"""

from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from ttfs.sim.errors import ConfigError

__all__ = ["LEVEL_WEIGHTS", "Endpoint", "endpoint_levels", "load_netlist", "by_register"]

#: levels a combinational cell adds on a path through it (any input to any output)
LEVEL_WEIGHTS = {
    "SB_LUT4": 1.0, "SB_CARRY": 0.12,  # iCE40
    "LUT4": 1.0, "PFUMX": 0.5, "L6MUX21": 0.5, "CCU2C": 0.25,  # ECP5
}

#: clock pins: not path ends
_CLOCK_PINS = {"C", "CLK", "RCLK", "WCLK", "CLKA", "CLKB", "CLK0", "CLK1", "WCK"}


@dataclass(frozen=True)
class Endpoint:
    """A path end: ``levels`` on its deepest input path; ``cell``/``pin`` where it ends, and
    ``register``, the name of the net the cell drives (the register a flip-flop belongs to, bit
    index dropped), which groups the bits of one register."""

    levels: float
    cell: str
    pin: str
    register: str
    path: tuple  # net names from the end back to the path start


def load_netlist(path: str | os.PathLike) -> dict:
    """A yosys JSON netlist; ``path`` may be the file or a ``ttfs synth --workdir`` folder."""
    p = Path(path)
    if p.is_dir():
        p = p / "netlist.json"
    if not p.is_file():
        raise ConfigError(f"no yosys netlist at {p} (run 'ttfs synth --workdir DIR' first)")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{p} is not a JSON netlist: {exc}") from None


def _top(netlist: dict, top: str | None) -> dict:
    mods = netlist.get("modules") if isinstance(netlist, dict) else None
    if not isinstance(mods, dict) or not mods:
        raise ConfigError("the netlist has no modules (is it a yosys 'write_json' file?)")
    if top is None:
        tops = [n for n, m in mods.items() if str(m.get("attributes", {}).get("top", "0"))
                .strip("0") != ""]
        if len(tops) != 1:
            raise ConfigError(f"cannot tell the top module ({len(tops)} marked 'top'); name it")
        top = tops[0]
    if top not in mods:
        raise ConfigError(f"the netlist has no module {top!r}")
    return mods[top]


def _bits(cell: dict, direction: str) -> list[int]:
    """The net bits on ``cell``'s pins of ``direction`` (constants left out)."""
    dirs = cell.get("port_directions", {})
    return [b for pin, bits in cell.get("connections", {}).items()
            if dirs.get(pin) == direction for b in bits if isinstance(b, int)]


def endpoint_levels(netlist: dict, top: str | None = None) -> list[Endpoint]:
    """Every path end of the flattened module ``top`` (default: the one marked top), deepest
    first."""
    mod = _top(netlist, top)
    cells = mod.get("cells", {})
    names: dict[int, tuple[str, int]] = {}
    for name, net in mod.get("netnames", {}).items():
        for i, bit in enumerate(net.get("bits", [])):
            if isinstance(bit, int) and (bit not in names or len(name) < len(names[bit][0])):
                names[bit] = (name, i)
    driver = {bit: cname for cname, cell in cells.items() for bit in _bits(cell, "output")}

    # arrival level of each net bit and the input bit it came through (iterative DFS: the
    # cones are thousands of cells deep in total, too deep for recursion)
    level: dict[int, tuple[float, int | None]] = {}

    def arrival(bit: int) -> tuple[float, int | None]:
        stack, expanded = [bit], set()  # expanded: on the current path, inputs pushed
        while stack:
            b = stack[-1]
            if b in level:
                stack.pop()
                continue
            cname = driver.get(b)
            cell = cells.get(cname) if cname is not None else None
            weight = LEVEL_WEIGHTS.get(cell["type"]) if cell is not None else None
            if weight is None:  # a path start
                level[b] = (0.0, None)
                stack.pop()
            elif b in expanded:  # its inputs are done
                best, via = 0.0, None
                for i in _bits(cell, "input"):
                    if via is None or level[i][0] > best:
                        best, via = level[i][0], i
                level[b] = (best + weight, via)
                expanded.discard(b)
                stack.pop()
            else:
                expanded.add(b)
                for i in _bits(cell, "input"):
                    if i in expanded:
                        raise ConfigError(f"combinational loop through cell {cname}")
                    if i not in level:
                        stack.append(i)
        return level[bit]

    def net_name(bit) -> str:
        n = names.get(bit)
        return f"{n[0]}[{n[1]}]" if n else str(bit)

    ends = []
    for cname, cell in cells.items():
        if cell["type"] in LEVEL_WEIGHTS:
            continue
        dirs = cell.get("port_directions", {})
        conns = cell.get("connections", {})
        outs = _bits(cell, "output")
        register = re.sub(r"\[\d+\]$", "", net_name(outs[0])) if outs else cname
        for pin, bits in conns.items():
            if dirs.get(pin) != "input" or pin in _CLOCK_PINS:
                continue
            for bit in bits:
                if not isinstance(bit, int):
                    continue
                lv, _ = arrival(bit)
                path, b = [], bit
                while b is not None:
                    path.append(net_name(b))
                    b = level[b][1]
                ends.append(Endpoint(lv, cname, pin, register, tuple(path)))
    ends.sort(key=lambda e: (-e.levels, e.register, e.pin, e.cell))
    return ends


def by_register(ends: list[Endpoint], min_levels: float) -> list[tuple[float, int, str, str]]:
    """``(deepest levels, ends, pin, register)`` for the ends at ``min_levels`` or more, one row
    per register and pin kind, deepest first."""
    groups: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in ends:
        if e.levels >= min_levels:
            groups[(e.register, e.pin)].append(e.levels)
    rows = [(max(v), len(v), pin, reg) for (reg, pin), v in groups.items()]
    rows.sort(key=lambda r: (-r[0], -r[1], r[3], r[2]))
    return rows
