"""The result counters' widths (hw.params.counter_bounds): no valid sample exceeds them.

The bound is derived from the cycle-cost rule at a build's maxima; here it is checked against the
reference model on the busiest networks a small build can run (every input at every step, every
neuron firing at every step) and on random cases, and it must not be loose by more than 2x on the
busiest ones (a bound that is far too large would waste the bits it is meant to save).
"""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.hw.params import Widths, counter_bounds, counter_width
from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case
from ttfs.sim.reference import run

CORE = CoreConfig(lanes=2, weight_bits=8, potential_bits=16, kernel_bits=2, max_neurons=5,
                  max_layers=2, max_time_steps=8, weight_depth=64)


def _fields(res) -> dict[str, int]:
    c = res.counters
    out = {"cycles": res.cycles, "input_events": c.input_events, "sops": c.sops,
           "weight_reads": c.weight_reads, "membrane_reads": c.membrane_reads,
           "membrane_writes": c.membrane_writes, "sweeps": c.sweeps,
           "saturations": c.saturations}
    out["spikes"] = max(c.spikes_per_layer)
    return out


def _busiest(readout: str) -> QNet:
    n = CORE.max_neurons
    T = CORE.max_time_steps
    # huge weights, threshold 1, subtract reset and a leak: every neuron fires at every step,
    # every layer is swept at every step, potentials saturate
    layers = tuple(Layer(np.full((n, n), 127), 1, 3, 1, "subtract") for _ in range(2))
    return QNet(n, T, layers, 8, 16, readout)


@pytest.mark.parametrize("readout", ["first_spike", "max_potential"])
def test_busiest_network_stays_within_the_counter_bounds(readout):
    q = _busiest(readout)
    dense = np.argwhere(np.ones((q.time_steps, q.n_inputs), dtype=bool)).astype(np.int64)
    res = run(q, EventSet((dense,)), cost=cost_hook(CORE))[0]
    bound = counter_bounds(Widths(CORE))
    got = _fields(res)
    for name, value in got.items():
        assert value <= bound[name], (name, value, bound[name])
        assert value < 1 << counter_width(bound[name])
    # the busiest sample comes within 2x of the cycle bound (the bound is not vacuous)
    assert got["cycles"] * 2 > bound["cycles"], (got["cycles"], bound["cycles"])
    assert got["input_events"] == bound["input_events"]


def test_random_cases_stay_within_the_counter_bounds():
    bound = counter_bounds(Widths(CORE))
    hook = cost_hook(CORE)
    for seed in range(60):
        case = random_case(seed, n_samples=4, core=CORE)
        for res in run(case.qnet, case.events, cost=hook):
            for name, value in _fields(res).items():
                assert value <= bound[name], (seed, name, value, bound[name])


def test_counter_widths_are_capped_at_the_record_word():
    big = CoreConfig(max_neurons=1 << 16, max_time_steps=1 << 16, max_layers=64)
    b = counter_bounds(Widths(big))
    assert counter_width(b["sops"]) == 32
    # sweeps <= 2**16 steps * 64 layers = 2**22: 23 bits and the spare one
    assert counter_width(b["sweeps"]) == 24
    assert counter_width(1) == 2


@pytest.mark.parametrize("sw", [1, 2, 4])
def test_busiest_partial_sweeps_stay_within_the_counter_bounds(sw):
    # a core with chunk bounds: layers without a leak scan before they sweep; with the zero
    # reset and every input at every step every neuron fires at every step
    core = CoreConfig(lanes=2, weight_bits=8, potential_bits=16, kernel_bits=2, max_neurons=5,
                      max_layers=2, max_time_steps=8, weight_depth=64, chunk_bounds=sw)
    n, T = core.max_neurons, core.max_time_steps
    q = QNet(n, T, tuple(Layer(np.full((n, n), 127), 1, 3, 0, "zero") for _ in range(2)),
             8, 16, "max_potential")
    dense = np.argwhere(np.ones((T, n), dtype=bool)).astype(np.int64)
    res = run(q, EventSet((dense,)), cost=cost_hook(core))[0]
    bound = counter_bounds(Widths(core))
    assert res.counters.sweeps == T  # the hidden layer swept (scanned) at every step
    for name, value in _fields(res).items():
        assert value <= bound[name], (name, value, bound[name])
