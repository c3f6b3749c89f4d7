"""Shared set-up of the cosimulation tests: the core builds and their cache.

The HDL parameter sets (:data:`verify.differential.COSIM_CORES`) are what the cocotb
tests parametrise over; each gets its own Verilator build directory, keyed by the
configuration and the Verilog text, under ``$TTFS_CACHE/cocotb`` (default
``~/.cache/ttfs/cocotb``), so a second run reuses the build. Stimulus (random networks, bench
seeds, idle and backpressure) varies inside the bench.
"""

from __future__ import annotations

import pytest

from ttfs.sim.core import CoreConfig

_builds: dict = {}


@pytest.fixture(scope="session")
def cocotb_build():
    """``cocotb_build(core)``: the cached :class:`verify.cocotb_backend.Build` of ``core``."""
    from ttfs.verify.cocotb_backend import build_core

    def get(core: CoreConfig, trace: bool = True):
        key = (core, trace)
        if key not in _builds:
            _builds[key] = build_core(core, trace=trace)
        return _builds[key]

    return get
