"""Every rule of docs/semantics.md on hand-made networks, in the Amaranth-simulated core, against
the reference model with the cycle-cost rule (integer equality, trace included)."""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import run
from ttfs.verify.amaranth import AmaranthBackend

pytestmark = pytest.mark.amaranth


def _check(net: QNet, samples, core: CoreConfig, idle=0.0, backpressure=0.0):
    events = EventSet(tuple(np.array(s, dtype=np.int64).reshape(-1, 2) for s in samples))
    exp = run(net, events, trace=True, cost=cost_hook(core))
    got = AmaranthBackend(idle=idle, backpressure=backpressure, seed=7).run(
        pack(net, events, core), trace=True)
    for n, (e, g) in enumerate(zip(exp, got, strict=True)):
        assert (g.valid, g.status) == (True, 0), n
        assert (g.prediction, g.steps, g.cycles) == (e.prediction, e.steps, e.cycles), n
        assert g.counters == e.counters, (n, e.counters, g.counters)
        assert g.trace.tolist() == e.trace.tolist(), n
    return exp


def test_amaranth_core_modes_back_to_back_events_on_one_chunk():
    # 8 inputs all at t=0 into 8 hidden neurons (1 chunk of 8 lanes), then 3 outputs (1 chunk):
    # every cycle of both event phases hits the same membrane word (forwarding)
    rng = np.random.default_rng(1)
    net = QNet(8, 4, (Layer(rng.integers(-3, 9, size=(8, 8)), 6),
                      Layer(rng.integers(-3, 9, size=(8, 3)), 9)))
    core = CoreConfig(lanes=8, max_neurons=8, max_layers=2, max_time_steps=4, weight_depth=16)
    exp = _check(net, [[[0, i] for i in range(8)], [[1, i] for i in range(0, 8, 2)]], core)
    assert exp[0].counters.spikes_per_layer[0] >= 4


def test_amaranth_core_modes_subtract_leak_tables():
    T = 10
    net = QNet(3, T, (
        Layer([[30, 2, 9, 1], [4, 25, 0, 3], [7, 7, 7, 7]], 6, reset="subtract"),
        Layer([[5, -2, 3], [1, 6, 2], [3, 3, 3], [2, 0, 9]],
              threshold=list(range(12, 12 + T)), kernel=[1, 2, 3, 0, 1, 2, 3, 0, 1, 2],
              leak_shift=2, reset="zero"),
    ), 6, 10)
    core = CoreConfig(lanes=3, weight_bits=6, potential_bits=10, kernel_bits=2, max_neurons=4,
                      max_layers=2, max_time_steps=16, weight_depth=32)
    _check(net, [[[0, 0], [2, 1]], [[1, 2], [4, 0], [4, 2]], []], core)


def test_amaranth_core_modes_max_potential_negative_outputs():
    # all output potentials negative: the padding lane (V = 0) must never be the argmax
    net = QNet(2, 4, (Layer([[-3, -1, -2], [-4, -5, -1]], 10),), 4, 8, readout="max_potential")
    core = CoreConfig(lanes=4, weight_bits=4, potential_bits=8, kernel_bits=1, max_neurons=4,
                      max_layers=1, max_time_steps=4, weight_depth=8)
    exp = _check(net, [[[0, 0], [1, 1]], [[2, 1]], []], core)
    assert [e.prediction for e in exp] == [2, 2, 0]


def test_amaranth_core_modes_early_exit_and_saturation():
    net = QNet(4, 12, (
        Layer(np.full((4, 5), 7), 30, leak_shift=1),
        Layer([[7, -8, 7], [7, -8, 7], [-8, 7, 7], [7, 7, 7], [-8, -8, 7]], 31),
    ), 4, 6, early_exit=True)
    core = CoreConfig(lanes=2, weight_bits=4, potential_bits=6, kernel_bits=1, max_neurons=5,
                      max_layers=2, max_time_steps=12, weight_depth=32)
    exp = _check(net, [[[t, i] for t in range(12) for i in range(4)], [[0, 3], [5, 1]]], core)
    assert exp[0].counters.saturations > 0
    assert exp[0].steps < 12


def test_amaranth_core_modes_one_lane_with_stalls():
    rng = np.random.default_rng(3)
    net = QNet(3, 6, (Layer(rng.integers(0, 5, size=(3, 4)), 4, reset="zero"),
                      Layer(rng.integers(0, 5, size=(4, 2)), 3)), 4, 8)
    core = CoreConfig(lanes=1, weight_bits=4, potential_bits=8, kernel_bits=1, max_neurons=4,
                      max_layers=2, max_time_steps=8, weight_depth=32)
    _check(net, [[[0, 0], [0, 2], [3, 1]], [[t, i] for t in range(6) for i in range(3)]], core,
           idle=0.6, backpressure=0.7)


def test_amaranth_core_modes_deep_membrane_memory_forwarding():
    # a membrane memory deeper than MEMB_LUTRAM_DEPTH is read a stage earlier with its output
    # registered and two forwarding sources: back-to-back events into one chunk exercise both
    from ttfs.hw.blocks import MEMB_LUTRAM_DEPTH
    from ttfs.hw.params import Widths

    rng = np.random.default_rng(11)
    net = QNet(8, 4, (Layer(rng.integers(-3, 9, size=(8, 3)), 6, reset="subtract", leak_shift=1),
                      Layer(rng.integers(-3, 9, size=(3, 2)), 9)))
    core = CoreConfig(lanes=2, max_neurons=40, max_layers=2, max_time_steps=4, weight_depth=64)
    assert Widths(core).memb_depth > MEMB_LUTRAM_DEPTH
    exp = _check(net, [[[0, i] for i in range(8)], [[1, i] for i in range(0, 8, 2)], []], core)
    assert exp[0].counters.spikes_per_layer[0] >= 2


def test_amaranth_core_modes_skip_rule_hand_cases():
    # the hand-checked cases of tests/sim/test_costmodel_rule.py, on the RTL: a falling table
    # (fires at t = 4 without events; steps 1..3 cost a cycle each), one that rises after the
    # window (steps visited to t = 5, then the sample ends), one that never reaches the potential
    # (the sample ends at t = 0), a subtract layer that keeps firing from its remainder, and a
    # two-layer net whose second layer fires from its bound alone at the step an event arrives
    core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=8, weight_depth=64)
    for table in ([40, 30, 20, 15, 10, 5, 5, 5], [40, 30, 20, 15, 12, 11, 20, 20],
                  [40, 30, 20, 15, 12, 11, 11, 11], [100, 100] + [9] * 6):
        _check(QNet(1, 8, (Layer([[10]], table),)), [[[0, 0]], []], core)
    _check(QNet(1, 8, (Layer([[20]], 5, reset="subtract"),)), [[[0, 0]]], core)
    two = QNet(2, 8, (Layer([[6, 0], [0, 1]], [5, 5, 5, 5, 5, 5, 5, 5]),
                      Layer([[4], [0]], [9, 9, 9, 9, 3, 3, 3, 3])), readout="first_spike")
    exp = _check(two, [[[0, 0], [4, 1]], [[0, 0], [2, 1], [6, 1]]], core)
    # sample 0: layer 1 fires at t = 0 (V = 6), layer 2 integrates 4 < 9; its bound (4) meets
    # the falling table at t = 4, where the input event arrives: it fires there
    assert exp[0].trace.tolist() == [[1, 0, 0], [2, 4, 0]]


@pytest.mark.parametrize("leak_shift,chunk_bounds", [(0, 0), (0, 1), (1, 0)])
def test_amaranth_core_modes_lazy_clear_leaves_nothing_behind(leak_shift, chunk_bounds):
    # Nothing clears the membranes between samples (docs/microarchitecture.md, "The lazy
    # clear"): a layer's first pass in a sample takes 0 instead of the last sample's words.
    # Sample 1 leaves the output layer's potentials at [3, 3, 17] (prediction 2); in sample 2 the
    # hidden layer does not fire, so the output layer has no op and is read out as 0 (prediction
    # 0, no word read), and sample 3 has no event at all. A stale word would give 2.
    net = QNet(2, 6, (
        Layer([[9, 9, 1, 1], [1, 0, 1, 0]], 8, leak_shift=leak_shift),
        Layer([[1, 2, 9], [2, 1, 8], [0, 0, 0], [0, 0, 0]], 100),
    ), readout="max_potential")
    core = CoreConfig(lanes=2, max_neurons=4, max_layers=2, max_time_steps=8, weight_depth=16,
                      chunk_bounds=chunk_bounds)
    exp = _check(net, [[[0, 0]], [[1, 1]], [], [[0, 0]]], core)
    assert [r.prediction for r in exp] == [2, 0, 0, 2]
    # sample 2: without a leak the hidden layer's event pass is its first (no read), nothing
    # else reads it, and the readout reads nothing. With a leak it is swept at every step from
    # step 0, whose sweep is the first pass: 6 sweeps and the event's pass, less the first
    # pass, 2 chunks each. Sample 3: the sweeps alone.
    assert exp[1].counters.membrane_reads == ((6 + 1 - 1) * 2 if leak_shift else 0)
    assert exp[2].counters.membrane_reads == ((6 - 1) * 2 if leak_shift else 0)


@pytest.mark.parametrize("chunk_bounds", [0, 2])
def test_amaranth_core_modes_overlapped_emission_waits_for_the_swept_bound(chunk_bounds):
    # A hidden layer of 16 neurons on 2 lanes (8 chunks) sweeps at t = 0, where neuron 0 fires:
    # its spike's queue entry is ready early, so the output layer's phase ends at the
    # emission's tail (TAIL_CYCLES after the sweep's last op), and the step's choice comes
    # next. Neuron 15, in the last chunk, holds 9: it fires at t = 2 when the table falls to 8.
    # While the sweep's last chunk is still in the bound's pipeline the layer's bound reads 5
    # (neuron 1), below the gap's threshold (8): a choice made then would jump to the next
    # event at t = 6 and fire neuron 15 there. (With TAIL_CYCLES = 8 in both the RTL and the
    # cost model the whole-layer build fails that way: the trace has [1, 6, 15]. The partial
    # sweep, chunk 0 alone, is a second timing of the same case.)
    w1 = [[20, 5] + [0] * 13 + [9]]
    net = QNet(1, 8, (Layer(w1, [10, 10, 8, 8, 8, 8, 8, 8]), Layer([[1]] * 16, 100)),
               readout="max_potential")
    core = CoreConfig(lanes=2, max_neurons=16, max_layers=2, max_time_steps=8, weight_depth=32,
                      spiking_output=False, chunk_bounds=chunk_bounds)
    exp = _check(net, [[[0, 0], [6, 0]]], core)
    assert exp[0].trace.tolist() == [[1, 0, 0], [1, 2, 15], [1, 6, 1]]
