"""hw.depth: LUT levels into each path end of a yosys JSON netlist (hand-built netlists)."""

import json

import pytest

from ttfs.hw.depth import by_register, endpoint_levels, load_netlist
from ttfs.sim.errors import ConfigError


def _cell(kind, ins, outs):
    conns = {**ins, **outs}
    dirs = {**{p: "input" for p in ins}, **{p: "output" for p in outs}}
    return {"type": kind, "connections": conns, "port_directions": dirs}


def _netlist(cells, names):
    return {"modules": {"top": {"attributes": {"top": "00000000000000000000000000000001"},
                                "cells": cells, "netnames": {n: {"bits": b}
                                                             for n, b in names.items()}}}}


def _chain():
    # q (bit 2) -> LUT -> LUT -> CARRY -> r.D; q -> LUT -> r.E; a second short LUT into s.D
    cells = {
        "ff_q": _cell("SB_DFF", {"C": [1], "D": [9]}, {"Q": [2]}),
        "l1": _cell("SB_LUT4", {"I0": [2], "I1": ["0"], "I2": [2], "I3": [2]}, {"O": [3]}),
        "l2": _cell("SB_LUT4", {"I0": [3], "I1": [2], "I2": ["0"], "I3": ["0"]}, {"O": [4]}),
        "cy": _cell("SB_CARRY", {"I0": [4], "I1": [2], "CI": ["0"]}, {"CO": [5]}),
        "ff_r": _cell("SB_DFFE", {"C": [1], "D": [5], "E": [6]}, {"Q": [7]}),
        "l3": _cell("SB_LUT4", {"I0": [2], "I1": [7], "I2": ["0"], "I3": ["0"]}, {"O": [6]}),
        "ff_s": _cell("SB_DFF", {"C": [1], "D": [6]}, {"Q": [8]}),
        "l4": _cell("SB_LUT4", {"I0": [8], "I1": ["0"], "I2": ["0"], "I3": ["0"]}, {"O": [9]}),
    }
    names = {"clk": [1], "q": [2], "a": [3], "b": [4], "carry": [5], "en": [6], "r": [7],
             "s": [8], "d_q": [9]}
    return _netlist(cells, names)


def test_depth_counts_luts_and_carries_per_pin():
    ends = {(e.cell, e.pin): e for e in endpoint_levels(_chain())}
    # the clock pin is not a path end
    assert ("ff_q", "C") not in ends
    deep = ends[("ff_r", "D")]
    assert deep.levels == pytest.approx(2.12)
    assert deep.register == "r"
    assert deep.path == ("carry[0]", "b[0]", "a[0]", "q[0]")
    assert ends[("ff_r", "E")].levels == 1.0 and ends[("ff_s", "D")].levels == 1.0
    assert ends[("ff_q", "D")].levels == 1.0
    # deepest first
    assert endpoint_levels(_chain())[0].cell == "ff_r"


def test_depth_groups_by_register():
    rows = by_register(endpoint_levels(_chain()), 1.0)
    assert rows[0] == (pytest.approx(2.12), 1, "D", "r")
    assert sorted((r[3], r[2]) for r in rows) == [("q", "D"), ("r", "D"), ("r", "E"),
                                                   ("s", "D")]
    assert by_register(endpoint_levels(_chain()), 3.0) == []


def test_depth_refuses_a_combinational_loop_and_bad_files(tmp_path):
    cells = {
        "l1": _cell("SB_LUT4", {"I0": [3]}, {"O": [2]}),
        "l2": _cell("SB_LUT4", {"I0": [2]}, {"O": [3]}),
        "ff": _cell("SB_DFF", {"C": [1], "D": [3]}, {"Q": [4]}),
    }
    with pytest.raises(ConfigError, match="combinational loop"):
        endpoint_levels(_netlist(cells, {"x": [2], "y": [3]}))
    with pytest.raises(ConfigError, match="no yosys netlist"):
        load_netlist(tmp_path)
    (tmp_path / "netlist.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not a JSON netlist"):
        load_netlist(tmp_path)
    with pytest.raises(ConfigError, match="no modules"):
        endpoint_levels({"modules": {}})
    (tmp_path / "netlist.json").write_text(json.dumps(_chain()))
    with pytest.raises(ConfigError, match="no module 'nope'"):
        endpoint_levels(load_netlist(tmp_path), "nope")
