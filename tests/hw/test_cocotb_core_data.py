"""Whole-core data tests: cocotb on the Verilog core equals the reference model, record by
record and spike by spike, on several networks per build, with plain traffic, with idle input
cycles and with result/trace backpressure.

Each build (:data:`verify.differential.COSIM_CORES`) runs one network that fills the core
(``max_neurons``-wide layers, ``max_time_steps`` steps, a layer size that is not a multiple of
the lanes) and random networks from :func:`sim.random.random_case` drawn to fit it. The bench
seed and the network seeds are printed and named in any failure message;
``benchmarks/diff_random.py --seed S --lanes P`` replays a random network.
"""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case, random_events
from ttfs.sim.reference import run
from ttfs.verify.cocotb_backend import run_job
from ttfs.verify.differential import COSIM_CORES, BenchOptions, program_for

pytestmark = pytest.mark.cosim

TRAFFIC = {
    "plain": dict(idle=0.0, backpressure=0.0),
    "idle": dict(idle=0.3, backpressure=0.0),
    "backpressure": dict(idle=0.0, backpressure=0.4),
}
N_RANDOM = 5


def full_network(core, seed: int) -> QNet:
    """A network as large as ``core`` allows, with a second layer one short of a chunk multiple."""
    rng = np.random.default_rng(seed)
    lim = (1 << (core.weight_bits - 1)) - 1
    n_in, n1 = core.max_neurons, core.max_neurons
    n2 = max(1, n1 - 1)
    while core.lanes > 1 and n2 > 1 and n2 % core.lanes == 0:
        n2 -= 1
    w1 = rng.integers(-lim // 2, lim + 1, size=(n_in, n1))
    w2 = rng.integers(-lim // 2, lim + 1, size=(n1, n2))
    th = max(1, lim * 2)
    T = core.max_time_steps
    # the first layer leaks and subtracts where the build has those datapaths
    layers = (Layer(w1, threshold=th, leak_shift=int(core.leak),
                    reset="subtract" if core.subtract else "zero"),
              Layer(w2, threshold=th, reset="fire_once"))
    # (a build without a spiking output layer runs the max_potential readout only)
    readout = "first_spike" if core.spiking_output else "max_potential"
    return QNet(n_in, T, layers, core.weight_bits, core.potential_bits, readout, False)


def programs_for(core, name: str):
    """The images of one data test: the full network, then random ones; with their seeds."""
    q = full_network(core, seed=core.lanes)
    rng = np.random.default_rng(core.lanes)
    images = [("full network", pack(q, random_events(rng, q, 6), core))]
    seeds = [10_000 * core.lanes + k for k in range(N_RANDOM)]
    for s in seeds:
        case = random_case(s, n_samples=6, core=core)
        images.append((f"seed {s}", pack(case.qnet, case.events, core)))
    return images


@pytest.mark.parametrize("traffic", list(TRAFFIC))
@pytest.mark.parametrize("core_name", list(COSIM_CORES))
def test_core_matches_reference(core_name, traffic, cocotb_build):
    core = COSIM_CORES[core_name]
    images = programs_for(core, core_name)
    bench_seed = core.lanes * 100 + list(TRAFFIC).index(traffic)
    print(f"{core_name} {traffic}: bench seed {bench_seed}; networks: "
          + ", ".join(name for name, _ in images))
    opts = BenchOptions(seed=bench_seed, check=True, stop_on_mismatch=True, **TRAFFIC[traffic])
    programs = [program_for(img, name=f"{core_name} {name}") for name, img in images]
    results, stats = run_job(core, programs, opts, build=cocotb_build(core))
    assert len(results) == len(images)
    spikes = 0
    for (name, img), pr in zip(images, results, strict=True):
        # the bench checked in lockstep; check again here, from the returned records
        ref = run(img.qnet, img.events, trace=True, cost=cost_hook(core))
        check_equal(ref, pr.results, backend="cocotb", label=f"{core_name} {name}")
        spikes += pr.spikes_compared
    assert spikes > 0
    assert stats["cycles"] > 0


def test_empty_and_dense_samples_on_one_core(cocotb_build):
    """An empty sample (just the end word) and a sample with every input at every step."""
    core = COSIM_CORES["p3"]
    q = full_network(core, seed=5)
    dense = np.argwhere(np.ones((q.time_steps, q.n_inputs), dtype=bool)).astype(np.int64)
    ev = EventSet((np.zeros((0, 2), dtype=np.int64), dense, np.zeros((0, 2), dtype=np.int64)))
    img = pack(q, ev, core)
    results, _ = run_job(core, [program_for(img, name="empty/dense")],
                         BenchOptions(seed=1), build=cocotb_build(core))
    ref = run(q, ev, trace=True, cost=cost_hook(core))
    check_equal(ref, results[0].results, backend="cocotb", label="empty/dense")
    assert ref[1].counters.input_events == q.time_steps * q.n_inputs
    assert results[0].results[0].counters.input_events == 0
