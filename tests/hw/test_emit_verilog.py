"""Verilog emission: deterministic text, the contract's ports, blocks, the synthesis wrapper, and
a clean ``verilator --lint-only -Wall`` with the documented waivers."""

from __future__ import annotations

import re
import subprocess

import pytest

from ttfs.hw.emit import BLOCKS, block_verilog, core_ports, synth_wrapper, verilog
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError
from ttfs.verify.toolchain import lint_waivers

SMALL = CoreConfig(lanes=4, weight_bits=6, potential_bits=12, kernel_bits=3, max_neurons=16,
                   max_layers=3, max_time_steps=16, weight_depth=256)


@pytest.fixture(scope="module")
def small_text():
    return verilog(SMALL, trace=True)


def test_emit_verilog_is_deterministic_and_path_free(small_text):
    assert small_text == verilog(SMALL, trace=True)
    assert "module ttfs_core(" in small_text.replace(" (", "(")
    assert "/work/" not in small_text and "(* src" not in small_text
    assert not re.search(r"(/home/|/tmp/|site-packages|\.py:\d)", small_text)


def test_emit_verilog_top_ports_are_the_contract(small_text):
    expected = {
        "clk": ("input", 1), "rst": ("input", 1),
        "load__valid": ("input", 1), "load__ready": ("output", 1), "load__payload": ("input", 33),
        "events__valid": ("input", 1), "events__ready": ("output", 1),
        "events__payload": ("input", 33),
        "result__valid": ("output", 1), "result__ready": ("input", 1),
        "result__payload": ("output", 33),
        "trace__valid": ("output", 1), "trace__ready": ("input", 1),
        "trace__payload": ("output", 40),
    }
    assert {n: (d, w) for n, d, w in core_ports(SMALL, trace=True)} == expected
    top = small_text[small_text.index("module ttfs_core("):]
    top = top[:top.index("endmodule")]
    for name, (direction, width) in expected.items():
        rng = rf"\[{width - 1}:0\] " if width > 1 else ""
        assert re.search(rf"^\s*{direction} {rng}{name};", top, re.M), name
    no_trace = {n for n, _, _ in core_ports(SMALL, trace=False)}
    assert no_trace == set(expected) - {"trace__valid", "trace__ready", "trace__payload"}


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_emit_verilog_block_module(block):
    text = block_verilog(block, SMALL, trace=True)
    assert re.search(rf"^module {BLOCKS[block]}\s*\(", text, re.M)
    assert "(* src" not in text


def test_emit_verilog_bad_arguments():
    with pytest.raises(TypeError, match="config must be a CoreConfig, not dict"):
        verilog({})
    with pytest.raises(TypeError, match="trace must be True or False, not 1"):
        verilog(SMALL, trace=1)
    with pytest.raises(ConfigError, match="block must be one of .* not 'Adder'"):
        block_verilog("Adder", SMALL)
    with pytest.raises(ConfigError, match="wrapper name must be a Verilog identifier, not '1x'"):
        synth_wrapper(SMALL, name="1x")
    with pytest.raises(ConfigError, match="must differ from the core's module name"):
        synth_wrapper(SMALL, name="ttfs_core")


def test_emit_verilog_synth_wrapper_passes_every_port():
    text = synth_wrapper(SMALL, trace=True)
    assert text.startswith("// pass-through synthesis top")
    assert "module ttfs_top (" in text and "ttfs_core core (" in text
    for name, direction, width in core_ports(SMALL, trace=True):
        rng = f"[{width - 1}:0] " if width > 1 else ""
        assert f"  {direction} wire {rng}{name}" in text
        assert f".{name}({name})" in text


LINT_CORES = [
    (SMALL, True),
    (CoreConfig(), False),
    (CoreConfig(lanes=3, weight_bits=5, potential_bits=9, kernel_bits=2, max_neurons=10,
                max_layers=1, max_time_steps=5, weight_depth=100), True),
    # chunk bounds: several groups a layer, one lane a group, one group a layer
    (CoreConfig(chunk_bounds=4), False),
    (CoreConfig(lanes=2, max_neurons=24, max_layers=3, max_time_steps=16, weight_depth=1536,
                chunk_bounds=1), True),
    (CoreConfig(lanes=3, weight_bits=5, potential_bits=9, kernel_bits=2, max_neurons=10,
                max_layers=1, max_time_steps=5, weight_depth=100, chunk_bounds=16), True),
]


@pytest.mark.cosim
@pytest.mark.parametrize("core, trace", LINT_CORES)
def test_emit_verilog_lints_clean(core, trace, tmp_path):
    from ttfs.verify.toolchain import use_verilator

    use_verilator()
    (tmp_path / "ttfs_core.v").write_text(verilog(core, trace=trace))
    (tmp_path / "ttfs_top.v").write_text(synth_wrapper(core, trace=trace))
    waivers = lint_waivers()
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in waivers.values())
    r = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *[f"-Wno-{k}" for k in waivers],
         "--top-module", "ttfs_top", "ttfs_core.v", "ttfs_top.v"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[:3000]
