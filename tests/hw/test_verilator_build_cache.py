"""Harness builds: cached by content, safe under concurrent builds, clear errors.

The cache entry's key hashes the Verilog, the wrapper, the C++ shim, the Verilator version and
the flags; a second build of the same core returns ``cached=True`` (asserted on the flag, not
on timing). Two processes building the same key at once: one compiles, the other waits for it
and uses the same entry.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ToolchainError
from ttfs.verify.verilator import Harness, build_for_core, build_harness, cache_root, core_verilog

pytestmark = pytest.mark.cosim

#: a small core: these tests compile from an empty cache every time
CORE = CoreConfig(lanes=2, weight_bits=4, potential_bits=8, kernel_bits=2, max_neurons=8,
                  max_layers=2, max_time_steps=8, weight_depth=64)


def _entries(root) -> list[str]:
    """What the cache root holds, less the per-key lock files."""
    return sorted(p.name for p in root.iterdir() if not p.name.endswith(".lock"))


def _build_in_child(cache: str, queue) -> None:
    try:
        b = build_for_core(CORE, cache_dir=cache)
        with Harness(b) as h:
            h.reset()
        queue.put((str(b.path), b.cached, None))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
        queue.put((None, None, repr(exc)))


def test_verilator_concurrent_builds_then_a_cache_hit(tmp_path):
    core_verilog(CORE, False)  # emit once here; the children inherit the memo (fork)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_build_in_child, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [queue.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert [o[2] for o in outcomes] == [None, None]
    assert outcomes[0][0] == outcomes[1][0]
    # one compiled, the other waited for it and found the entry
    assert sorted(o[1] for o in outcomes) == [False, True]
    entries = _entries(tmp_path)
    assert len(entries) == 1 and not entries[0].startswith(".build")
    # and in this process: a cache hit on the same entry, which is complete
    again = build_for_core(CORE, cache_dir=tmp_path)
    assert again.cached and str(again.path) == outcomes[0][0]
    assert again.path.parent == tmp_path / again.key == tmp_path / entries[0]
    names = sorted(p.name for p in again.path.parent.iterdir())
    assert names == ["build.json", "harness.cpp", "libttfs_harness.so", "ttfs_core.v",
                     "ttfs_harness.v"]


def test_verilator_build_error_carries_the_compiler_message(tmp_path):
    broken = "module ttfs_core(input wire clk);\n  wire x = ;\nendmodule\n"
    with pytest.raises(ToolchainError) as info:
        build_harness(broken, has_trace=False, cache_dir=tmp_path)
    msg = str(info.value)
    assert msg.startswith("the Verilator harness build failed (exit 1):")
    assert "ttfs_core.v:2" in msg and "syntax error" in msg
    assert _entries(tmp_path) == []  # nothing half-built left in the cache


def test_verilator_cache_root_follows_ttfs_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TTFS_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "verilator"
    monkeypatch.delenv("TTFS_CACHE")
    assert cache_root() == Path.home() / ".cache" / "ttfs" / "verilator"
