"""Lockstep random differential testing: 200 random networks on the cocotb simulation.

Each build of :data:`verify.differential.COSIM_CORES` (lanes 1, 3, 4, 8; the 8-lane build
without the leak datapath, the subtract reset and a spiking output layer) runs 50 networks
from ``sim.random.random_case(seed, core=build)`` in one simulator invocation (the image is
reloaded between networks). Inside the bench every spike event (in order), every counter, the
prediction, steps and cycles of every sample are compared with the reference model. A failure
names the seed; ``benchmarks/diff_random.py --seed S --lanes P`` replays it.
"""

from __future__ import annotations

import pytest

from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.random_run import run_random

pytestmark = pytest.mark.cosim

PER_CORE = 50
#: one build also runs with idle input cycles and output backpressure
TRAFFIC = {"p1": (0.0, 0.0), "p3": (0.2, 0.3), "p4": (0.0, 0.0), "p8": (0.0, 0.0)}


@pytest.mark.parametrize("core_name", list(COSIM_CORES))
def test_random_networks_match_reference(core_name, cocotb_build):
    core = COSIM_CORES[core_name]
    seeds = range(core.lanes * 100_000, core.lanes * 100_000 + PER_CORE)
    idle, bp = TRAFFIC[core_name]
    print(f"{core_name}: seeds {seeds.start}..{seeds.stop - 1}, idle {idle}, backpressure {bp}")
    stats = run_random(core, seeds, n_samples=8, bench_seed=core.lanes, idle=idle,
                       backpressure=bp, per_job=PER_CORE, log=print, build=cocotb_build(core))
    print(stats.summary())
    assert not stats.mismatches, "\n".join(
        f"seed {s}: {m} (replay: benchmarks/diff_random.py --seed {s} --lanes {core.lanes}"
        f" --idle {idle} --backpressure {bp})"
        for s, m in stats.mismatches[:5])
    assert stats.networks == PER_CORE
    assert stats.samples == 8 * PER_CORE
    assert stats.spikes_compared > 0
