"""Shared set-up of the cosimulation tests: the core builds and their cache.

The HDL parameter sets (:data:`COSIM_CORES`) are what the cocotb tests parametrise over; each
gets its own Verilator build directory, keyed by the configuration and the Verilog text, under
``$TTFS_CACHE/cocotb`` (default ``~/.cache/ttfs/cocotb``), so a second run reuses the build.
Stimulus (random networks, bench seeds, idle and backpressure) varies inside the bench.
"""

from __future__ import annotations

import pytest

from sim.core import CoreConfig

#: name -> core: lanes 1, 3, 4 and 8, with widths that make saturation common on some of them.
COSIM_CORES = {
    "p1": CoreConfig(lanes=1, weight_bits=6, potential_bits=8, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=1536),
    "p3": CoreConfig(lanes=3, weight_bits=8, potential_bits=12, kernel_bits=4, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512),
    "p4": CoreConfig(lanes=4, weight_bits=8, potential_bits=16, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512),
    "p8": CoreConfig(lanes=8, weight_bits=4, potential_bits=10, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=256),
}

_builds: dict = {}


@pytest.fixture(scope="session")
def cocotb_build():
    """``cocotb_build(core)``: the cached :class:`sim.bench.cocotb_backend.Build` of ``core``."""
    from sim.bench.cocotb_backend import build_core

    def get(core: CoreConfig, trace: bool = True):
        key = (core, trace)
        if key not in _builds:
            _builds[key] = build_core(core, trace=trace)
        return _builds[key]

    return get
