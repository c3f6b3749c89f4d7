"""The cycle-cost rule (sim.costmodel): hand-checked cycle counts, zero-cost steps, the subtract
re-sweep, counters, the breakdown, and the event-phase efficiency on a 5-120-3 network.
(That the RTL meets the rule exactly is tests/hw/test_amaranth_core_random.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import (
    EMIT_TAIL,
    FILL_CYCLES,
    REACH_CYCLES,
    SETTLE_CYCLES,
    WAIT_CYCLES,
    breakdown,
    cost,
    cost_hook,
    event_floor,
)
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import Activity, run

#: the settle wait after a layer-1 event phase: its phase-end cycle is the first of SETTLE_CYCLES
Z1 = SETTLE_CYCLES - 1
#: STEP: its own cycle and the first event word's way in (a core without a leaky layer)
STEP = 1 + FILL_CYCLES

CORE = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64, weight_depth=64)


def _one(net: QNet, events, core: CoreConfig = CORE):
    return run(net, EventSet((np.array(events, dtype=np.int64).reshape(-1, 2),)), trace=True,
               cost=cost_hook(core))[0]


def test_costmodel_single_layer_by_hand():
    # 2 inputs -> 3 neurons on 2 lanes: C = 2; input 0 makes neurons 0 and 2 fire
    net = QNet(2, 8, (Layer([[5, 0, 5], [0, 1, 0]], 5),))
    res = _one(net, [[3, 0]])
    assert res.trace.tolist() == [[1, 3, 0], [1, 3, 2]]
    C = 2
    # (nothing clears the membranes: the event's ops are the layer's first pass and read no
    # word, the lazy clear)
    expect = (STEP + 1              # STEP (jump to t=3), NEXT (picks layer 1, loads its
                                    # descriptor)
              + 1 * C + 1           # event phase; the cycle that sees the end word
              + Z1       # the bound settles; DECIDE issues the sweep's chunk 0
              + C                   # sweep
              + WAIT_CYCLES + 2 + EMIT_TAIL
              + 1)                  # NEXT: no more layers; the end word -> finish (prediction
                                    # from the spike)
    assert res.cycles == expect
    assert (res.counters.weight_reads, res.counters.membrane_reads,
            res.counters.membrane_writes, res.counters.sweeps) == (C, C, 2 * C, 1)


def test_costmodel_silent_sample_reads_out_by_potential():
    net = QNet(2, 8, (Layer([[1, 0, 1], [0, 1, 0]], 50),))
    res = _one(net, [[0, 0]])
    assert res.counters.spikes_per_layer == (0,)
    C, n = 2, 3
    # the bound after the event (at most 1) is below 50: no sweep, DECIDE moves on
    # STEP, NEXT, event, phase end, settle, DECIDE, NEXT (none: finish), readout
    assert res.cycles == STEP + 1 + C + 1 + Z1 + 1 + 1 + (2 * C + n)
    # the event's ops read nothing (the layer's first pass); the readout reads its C words
    assert res.counters.membrane_reads == C
    assert res.counters.sweeps == 0


def test_costmodel_idle_steps_cost_nothing():
    net = QNet(2, 64, (Layer([[1, 2, 3], [3, 2, 1]], 40),))
    near = _one(net, [[0, 0], [1, 1]])
    far = _one(net, [[0, 0], [60, 1]])
    assert near.cycles == far.cycles and near.counters == far.counters


def test_costmodel_leak_visits_every_step():
    def net(leak):
        return QNet(2, 64, (Layer([[1, 2, 3], [3, 2, 1]], 40, leak_shift=leak),))

    quiet, leaky = _one(net(0), [[0, 0]]), _one(net(1), [[0, 0]])
    C = 2
    # every step t = 1..63 adds NEXT + sweep + wait + the closing NEXT; at t = 0
    # the leaky layer sweeps straight after its event (C + wait) where the quiet one settles
    # its bound and decides not to (phase end, settle, DECIDE)
    # (and the leaky core's STEP does not wait for the first event word: it visits step 0)
    assert leaky.cycles - quiet.cycles == (63 * (1 + C + WAIT_CYCLES + 1)
                                           + (C + WAIT_CYCLES) - (1 + Z1 + 1) - FILL_CYCLES)
    assert leaky.counters.sweeps == 64


def test_costmodel_subtract_layer_is_swept_while_its_bound_reaches_the_threshold():
    net = QNet(1, 8, (Layer([[20]], 5, reset="subtract"),))
    res = _one(net, [[0, 0]])
    # V = 20 fires at t = 0..3 (20, 15, 10, 5); after the sweep at t = 3 the bound is 0 < 5,
    # so step 4 is neither visited nor swept
    assert res.trace[:, 1].tolist() == [0, 1, 2, 3]
    assert res.counters.sweeps == 4
    C = 1
    expect = (STEP + 1 + C + 1 + Z1 + C + WAIT_CYCLES + 1 + EMIT_TAIL + 1  # t = 0
              + 3 * (1 + C + WAIT_CYCLES + 1 + EMIT_TAIL + 1))     # t = 1..3: sweep, emit
    # (each step's closing NEXT chooses the next step; the last one finishes)
    assert res.cycles == expect
    zero = _one(QNet(1, 8, (Layer([[20]], 5, reset="zero"),)), [[0, 0]])
    assert zero.counters.sweeps == 1


def test_costmodel_breakdown_sums_and_event_phase_is_exact():
    rng = np.random.default_rng(0)
    T = 32
    net = QNet(5, T, (Layer(rng.integers(-20, 60, size=(5, 120)), 100),
                      Layer(rng.integers(-30, 60, size=(120, 3)), 400)), 8, 16)
    core = CoreConfig.for_network(net, lanes=8)
    samples = []
    for _ in range(50):
        t = np.round((1 - rng.random(5)) * (T - 1)).astype(int)
        samples.append(np.array(sorted((int(tt), i) for i, tt in enumerate(t))))
    results = run(net, EventSet(tuple(samples)), cost=cost_hook(core))
    ev = exc = 0
    for r in results:
        hw, b = breakdown(core, net, r.activity)
        assert b.cycles == r.cycles and hw["weight_reads"] == r.counters.weight_reads
        assert sum(v for k, v in b.to_json().items() if k not in ("cycles", "events_x_chunks")) \
            == b.cycles
        ev += b.event_phase
        exc += b.events_x_chunks
    # no fill or drain cycles inside event phases: the ratio is exactly 1
    assert exc > 0 and ev == exc


def test_costmodel_bad_arguments():
    net = QNet(1, 2, (Layer([[1]], 1),))
    act = Activity(np.zeros((2, 1), dtype=np.int64), np.zeros((2, 1), dtype=np.int64), 2,
                   np.zeros((0, 3), dtype=np.int64))
    with pytest.raises(TypeError, match="core must be a CoreConfig, not str"):
        cost_hook("core")
    with pytest.raises(TypeError, match="core must be a CoreConfig, not NoneType"):
        cost(None, net, act)


def test_costmodel_varying_threshold_is_swept_only_where_a_neuron_fires():
    # V = 10 after t = 0; the table is 100, 100, then 9: the layer fires at t = 2 and only then
    # (afterwards its one neuron has fired, so its bound is 0)
    table = [100, 100] + [9] * 6
    net = QNet(1, 8, (Layer([[10]], table),))
    res = _one(net, [[0, 0]])
    assert res.trace.tolist() == [[1, 2, 0]]
    assert res.counters.sweeps == 1  # t = 2, where it fires
    C = 1
    empty = 1  # the NEXT that finds no layer (and chooses the next step)
    expect = (STEP + 1 + C + 1 + Z1 + 1 + 1           # t = 0: event, no sweep
              + empty                                            # t = 1: bound 10 < 100
              + 1 + C + WAIT_CYCLES + 1 + EMIT_TAIL + 1)        # t = 2: sweep, emit
    # (t = 1 is visited: the layer fires before the end; after t = 2 nothing can fire any more,
    # the table never rises, so the NEXT at t = 2 ends the sample: t = 3 .. 7 cost nothing)
    assert res.cycles == expect
    assert res.counters.membrane_reads == C  # the sweep's (the event's op was the first pass)


def test_costmodel_steps_are_jumped_only_where_no_layer_can_fire():
    # a falling table (non-increasing): after the event at t = 0 (V = 10) the layer fires at
    # t = 4, the first step with Theta <= 10; the core visits t = 1 .. 4 one cycle each (something
    # fires before the end) and jumps nowhere. A table that rises again after t + 1 also makes
    # the core step, even where nothing fires.
    falling = QNet(1, 8, (Layer([[10]], [40, 30, 20, 15, 10, 5, 5, 5]),))
    res = _one(falling, [[0, 0]])
    assert res.trace.tolist() == [[1, 4, 0]]
    C = 1
    t0 = STEP + 1 + C + 1 + Z1 + 1 + 1  # STEP, NEXT, event, phase end, settle, DECIDE, NEXT
    fire = 1 + C + WAIT_CYCLES + 1 + EMIT_TAIL + 1
    assert res.cycles == t0 + 3 + fire  # t = 1, 2, 3 empty; t = 4 fires and ends
    # the same sample on a table that never reaches 10 but rises at t = 6: steps t = 1 .. 5 are
    # visited (the rise lies after t + 1), then nothing can fire: the NEXT at t = 5 ends
    rising = QNet(1, 8, (Layer([[10]], [40, 30, 20, 15, 12, 11, 20, 20]),))
    res = _one(rising, [[0, 0]])
    assert res.trace.size == 0
    assert res.cycles == t0 + 5 + (2 * C + 1)  # t = 1 .. 5, readout by potential
    # and a table that never rises and never reaches 10: the NEXT at t = 0 ends the sample
    never = QNet(1, 8, (Layer([[10]], [40, 30, 20, 15, 12, 11, 11, 11]),))
    res = _one(never, [[0, 0]])
    assert res.cycles == t0 + (2 * C + 1)


def test_event_floor_counts_ops_spikes_and_readout():
    # the hand example above: 1 event x 2 chunks, 2 spikes, no readout (it spiked)
    net = QNet(2, 8, (Layer([[5, 0, 5], [0, 1, 0]], 5),))
    res = _one(net, [[3, 0]])
    assert event_floor(CORE, net, res.counters) == 2 + 2
    assert res.cycles > event_floor(CORE, net, res.counters)
    # a silent sample is read out by potential: 2 C + n more
    silent = _one(QNet(2, 8, (Layer([[1, 0, 1], [0, 1, 0]], 50),)), [[0, 0]])
    assert event_floor(CORE, net, silent.counters) == 2 + 0 + (2 * 2 + 3)
    with pytest.raises(ValueError, match="needs the hardware counters"):
        event_floor(CORE, net, run(net, EventSet((np.zeros((0, 2), dtype=np.int64),)))[0]
                    .counters)


def test_costmodel_emission_of_a_hidden_layer_overlaps_its_sweep():
    # 1 input -> 3 hidden (2 lanes: C = 2) -> 1 output; the event at t = 0 makes all three
    # hidden neurons fire there; the output layer integrates their three spikes and fires too
    net = QNet(1, 8, (Layer([[5, 5, 5]], 5), Layer([[2], [2], [2]], 6)))
    res = _one(net, [[0, 0]])
    assert res.trace.tolist() == [[1, 0, 0], [1, 0, 1], [1, 0, 2], [2, 0, 0]]
    C1, C2 = 2, 1
    hidden = (1 + C1 + 1 + Z1       # NEXT, event, phase end, settle (DECIDE sweeps)
              + C1)                 # sweep; no drain: the emission overlaps
    # Cycles from the hidden sweep's last op (chunk 1, at 0; chunk 0 at -1): chunk 0's mask
    # (neurons 0, 1) enters the emitter at 4 and goes straight into its head; its spikes leave
    # at 5 and 6, chunk 1's (pushed at 5, in the head at 6) at 7. Each entry can be taken
    # EMIT_PIPE = 4 cycles after its spike leaves: at 9, 10, 11. The output layer's NEXT is at
    # 1, its event phase from 2: it waits 7 cycles, then takes one entry a cycle (9, 10, 11),
    # past TAIL_CYCLES (9), so the phase ends with its last op.
    waits = 9 - 2
    output = (1 + waits + 3 * C2    # NEXT, the waits, one queue entry a cycle
              + SETTLE_CYCLES       # the bound settles (DECIDE sweeps)
              + C2 + WAIT_CYCLES    # the last layer drains before it emits
              + 1 + EMIT_TAIL)      # the output spike, the emitter's fill and first stage
    assert res.cycles == STEP + hidden + output + 1
    _, b = breakdown(CORE, net, res.activity)
    assert b.emit == waits + 1 + EMIT_TAIL


def test_costmodel_overlapped_emission_ends_at_the_tail():
    # 1 input -> 5 hidden (C = 3 on 2 lanes), only neuron 0 fires -> 1 output that never does
    net = QNet(1, 8, (Layer([[5, 0, 0, 0, 0]], 5), Layer([[1], [0], [0], [0], [0]], 100)))
    res = _one(net, [[0, 0]])
    assert res.trace.tolist() == [[1, 0, 0]]
    C1, C2 = 3, 1
    hidden = 1 + C1 + 1 + Z1 + C1   # as above: the sweep's ops at -2, -1, 0
    # chunk 0's mask enters the emitter at 3, its spike leaves at 4, its entry can be taken
    # at 8; the output layer's phase starts at 2 and issues it at 8, before TAIL_CYCLES (9):
    # the phase waits one more cycle and ends at 9 (2 .. 9: 8 cycles, one op)
    output = (1 + (9 - 2 + 1)       # NEXT, the phase
              + SETTLE_CYCLES + 1)  # the bound (1) settles below 100: DECIDE moves on
    readout = 2 * C2 + 1            # no output spike: read by potential
    assert res.cycles == STEP + hidden + output + 1 + readout
    _, b = breakdown(CORE, net, res.activity)
    assert b.emit == 9 - 2 + 1 - C2


def test_costmodel_partial_sweep_by_hand():
    # the first test's network on a core with chunk bounds: neurons 0 and 2 fire (chunks 0
    # and 1 of 2); then a network where only chunk 1 of 3 fires
    net = QNet(2, 8, (Layer([[5, 0, 5], [0, 1, 0]], 5),))
    for sw, G in ((1, 2), (2, 1), (4, 1)):
        core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                          weight_depth=64, chunk_bounds=sw)
        res = _one(net, [[3, 0]], core)
        assert res.trace.tolist() == [[1, 3, 0], [1, 3, 2]]
        C, K = 2, 2
        expect = (STEP + 1 + 1 * C + 1
                  + Z1 + 1              # the bound settles; DECIDE (no sweep op of its own)
                  + G + K               # SCAN, SWEEP_M
                  + WAIT_CYCLES + 2 + EMIT_TAIL + 1)
        assert res.cycles == expect, sw
        assert (res.counters.membrane_reads, res.counters.membrane_writes,
                res.counters.sweeps) == (K, C + K, 1)
    net = QNet(1, 8, (Layer([[0, 0, 9, 9, 0, 0]], 5),))
    core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                      weight_depth=64, chunk_bounds=2)
    res = _one(net, [[0, 0]], core)
    assert res.trace.tolist() == [[1, 0, 2], [1, 0, 3]]
    C, G, K = 3, 2, 1
    hw, b = breakdown(core, net, res.activity)
    assert (b.sweep, b.scan) == (K, G)
    assert hw["membrane_reads"] == K and hw["sweeps"] == 1
    assert res.cycles == STEP + 1 + C + 1 + Z1 + 1 + G + K + WAIT_CYCLES + 2 + EMIT_TAIL + 1


def test_costmodel_partial_sweep_at_a_step_without_events():
    # a falling table meets a stored potential at t = 4 (no event there): NEXT, ENTER (the
    # scan's first read), the scan and one chunk; a leaky layer would sweep every chunk
    # instead
    th = [100, 100, 100, 100, 3, 3, 3, 3]
    net = QNet(1, 8, (Layer([[0, 0, 4, 0]], th),))
    core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                      weight_depth=64, chunk_bounds=1)
    res = _one(net, [[0, 0]], core)
    assert res.trace.tolist() == [[1, 4, 2]]
    hw, b = breakdown(core, net, res.activity)
    assert (b.sweep, b.scan) == (1, 2)  # chunk 1 of 2, after a scan of two cycles
    whole = _one(net, [[0, 0]])
    # ENTER 1, scan 2 and K 1 in place of C 2
    assert res.cycles == whole.cycles - 2 + 1 + 2 + 1


def test_costmodel_reach_test_by_hand():
    # one input -> 3 neurons on 2 lanes (C = 2), with chunk bounds (G = 2). Input events at
    # t = 0 and 2; each raises R by 2**(8-1) * K = 128. After t = 0, R = 128 is below Theta[1]
    # (the lowest threshold before the next event's step): the phase ends after REACH_CYCLES.
    # After t = 2 there is no later event and R = 256 reaches Theta[7] = 1: the bound settles
    # and DECIDE runs. Neuron 0 (potential 2) fires at t = 4.
    core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                      weight_depth=64, chunk_bounds=1)
    C, G, K = 2, 2, 1

    def cycles(th):
        res = _one(QNet(1, 8, (Layer([[1, 0, 0]], th),)), [[0, 0], [2, 0]], core)
        assert res.trace.tolist() == [[1, 4, 0]]
        return res.cycles

    t0_settled = 1 + C + 1 + Z1 + 1 + 1   # NEXT, events, phase end, settle, DECIDE, NEXT
    t0_reach = 1 + C + 1 + REACH_CYCLES + 1
    rest = (1 + C + 1 + Z1 + 1 + 1        # t = 2: the test fails, the bound settles
            + 1                           # t = 3: nothing can fire (Theta 300), NEXT only
            + 2 + G + K + WAIT_CYCLES + 1 + EMIT_TAIL + 1)  # t = 4: NEXT, ENTER, scan, sweep
    head = STEP
    assert cycles([300, 300, 300, 300, 1, 1, 1, 1]) == head + t0_reach + rest
    # R equal to the threshold is not below it
    assert cycles([300, 128, 128, 128, 1, 1, 1, 1]) == head + t0_settled + rest
    assert cycles([300, 129, 129, 129, 1, 1, 1, 1]) == head + t0_reach + rest
    # a table that rises after t: no test passes before its last rise (and t = 1 is visited:
    # a table that rises after t + 1 may be reached before the next event)
    assert cycles([300, 200, 300, 300, 1, 1, 1, 1]) == head + t0_settled + 1 + rest
    # the same on a core with whole-layer sweeps: the test saves Z' + 1 - 2 cycles there too
    def whole(th):
        return _one(QNet(1, 8, (Layer([[1, 0, 0]], th),)), [[0, 0], [2, 0]]).cycles

    assert (whole([300, 128, 128, 128, 1, 1, 1, 1]) - whole([300, 300, 300, 300, 1, 1, 1, 1])
            == Z1 + 1 - REACH_CYCLES)
    # a layer with a leak sweeps after every event phase: no reach test
    leaky = QNet(1, 8, (Layer([[1, 0, 0]], [300, 300, 300, 300, 1, 1, 1, 1], 1, 1),))
    res = _one(leaky, [[0, 0], [2, 0]], core)
    whole = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                       weight_depth=64)
    assert (breakdown(core, leaky, res.activity)[1].drain
            == breakdown(whole, leaky, res.activity)[1].drain)


def test_costmodel_reach_test_counts_every_event_and_saturates():
    core = CoreConfig(lanes=2, max_neurons=8, max_layers=2, max_time_steps=64,
                      weight_depth=64, chunk_bounds=2)
    net = QNet(2, 8, (Layer([[1, 0, 0], [1, 0, 0]], [300, 300, 300, 300, 1, 1, 1, 1],
                            [1, 2, 1, 1, 1, 1, 1, 1]),))
    # two events at t = 1 with K = 2: R = 512, above Theta[2] = 300 -> settled
    two = _one(net, [[1, 0], [1, 1], [3, 0]], core)
    one = _one(net, [[1, 0], [3, 0]], core)
    _, b2 = breakdown(core, net, two.activity)
    _, b1 = breakdown(core, net, one.activity)
    assert b1.drain == REACH_CYCLES + Z1 + WAIT_CYCLES  # t = 1 passes (R 256), t = 3 settles
    assert b2.drain == Z1 + Z1 + WAIT_CYCLES
    # R saturates at 2**(PB - 1): on an 8-bit core one event of kernel 1 already reaches it,
    # above every threshold (at most 127)
    small = CoreConfig(lanes=2, potential_bits=8, max_neurons=8, max_layers=2,
                       max_time_steps=64, weight_depth=64, chunk_bounds=2)
    net8 = QNet(1, 8, (Layer([[1, 0, 0]], [127, 127, 127, 127, 1, 1, 1, 1]),),
                potential_bits=8)
    res = _one(net8, [[0, 0], [2, 0]], small)
    assert breakdown(small, net8, res.activity)[1].drain == Z1 + Z1 + WAIT_CYCLES
