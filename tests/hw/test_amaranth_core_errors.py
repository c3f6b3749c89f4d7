"""Bad input in hardware: load-stream and event-stream faults raise the contract's status flags,
make results invalid, are consumed to their end, and a load error sticks until a good load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.image import checksum, pack
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.protocol import decode_record, event_payloads, load_payloads
from ttfs.sim.reference import run
from ttfs.verify.amaranth import simulate_streams

pytestmark = pytest.mark.amaranth

NO_IMAGE, TRUNC, LONG, CSUM, HEADER, ORDER, RANGE = (1 << k for k in range(7))
CORE = CoreConfig(lanes=2, weight_bits=4, potential_bits=10, kernel_bits=2, max_neurons=8,
                  max_layers=2, max_time_steps=8, weight_depth=64)


def _net(**kw) -> QNet:
    rng = np.random.default_rng(5)
    w1 = rng.integers(-2, 8, size=(4, 5))
    w2 = rng.integers(-2, 8, size=(5, 3))
    return QNet(4, 6, (Layer(w1, 9), Layer(w2, 7)), 4, 10, **kw)


SAMPLE = np.array([[0, 1], [1, 0], [1, 3], [3, 2]])


def _words() -> list[int]:
    return [int(x) for x in pack(_net(), EventSet((SAMPLE,)), CORE).net_words]


def _resum(words: list[int]) -> list[int]:
    return words[:-1] + [checksum(np.array(words[:-1], dtype=np.uint64))]


def _status(loads, samples, program, **kw):
    out = simulate_streams(CORE, [load_payloads(x) for x in loads], samples, program=program, **kw)
    return [decode_record(r) for r in out.records]


def _good() -> tuple[int, int]:
    res = run(_net(), EventSet((SAMPLE,)), cost=cost_hook(CORE))[0]
    return res.prediction, res.cycles


def test_amaranth_core_no_image_then_good_load():
    recs = _status([_words()], [event_payloads(SAMPLE)] * 2,
                   [("sample", 0), ("load", 0), ("sample", 1)])
    assert [(r.valid, r.status) for r in recs] == [(False, NO_IMAGE), (True, 0)]
    assert (recs[1].prediction, recs[1].cycles) == _good()


@pytest.mark.parametrize("fault, flag", [
    ("truncated", TRUNC), ("too_long", LONG), ("checksum", CSUM), ("magic", HEADER),
    ("other_core", HEADER), ("threshold_zero", HEADER), ("reserved_bits", HEADER),
    ("padding_lane", HEADER), ("net_words", HEADER), ("chunks", HEADER),
])
def test_amaranth_core_bad_load_sticks_until_good_load(fault, flag):
    w = _words()
    L, T = 2, 6
    tables = 11 + 4 * L
    if fault == "truncated":
        bad = w[:-3]
    elif fault == "too_long":
        bad = w + [0]
    elif fault == "checksum":
        bad = w[:-5] + [w[-5] ^ 0x10] + w[-4:]
    elif fault == "magic":
        bad = _resum([w[0] ^ 1] + w[1:])
    elif fault == "other_core":
        other = CoreConfig(lanes=4, weight_bits=4, potential_bits=10, kernel_bits=2,
                           max_neurons=8, max_layers=2, max_time_steps=8, weight_depth=64)
        bad = [int(x) for x in pack(_net(), EventSet((SAMPLE,)), other).net_words]
    elif fault == "threshold_zero":
        bad = _resum(w[:tables] + [0] + w[tables + 1:])
    elif fault == "reserved_bits":
        bad = _resum(w[:12] + [w[12] | 1 << 20] + w[13:])  # layer 1 d1
    elif fault == "padding_lane":
        # layer 1 has 5 neurons on 2 lanes: lane 1 of chunk 2 of source 0 is padding
        first_row = tables + 2 * L * T
        k = first_row + 2
        bad = _resum(w[:k] + [w[k] | 1 << 4] + w[k + 1:])
    elif fault == "net_words":
        bad = _resum(w[:6] + [w[6] + 1] + w[7:])
    else:  # chunks
        bad = _resum(w[:14] + [w[14] + 1] + w[15:])
    recs = _status([bad, w], [event_payloads(SAMPLE)] * 3,
                   [("load", 0), ("sample", 0), ("sample", 1), ("load", 1), ("sample", 2)])
    assert [(r.valid, r.status) for r in recs] == [(False, flag), (False, flag), (True, 0)], fault
    assert (recs[2].prediction, recs[2].cycles) == _good()


@pytest.mark.parametrize("events, flag", [
    ([[0, 1], [2, 0], [1, 3]], ORDER),
    ([[0, 1], [0, 1]], ORDER),
    ([[0, 1], [6, 0], [7, 1]], RANGE),
    ([[0, 4]], RANGE),
    ([[2, 9], [1, 0]], RANGE | ORDER),
])
def test_amaranth_core_bad_events_flagged_and_consumed(events, flag):
    recs = _status([_words()], [event_payloads(events), event_payloads(SAMPLE)],
                   [("load", 0), ("sample", 0), ("sample", 1)], idle=0.3, backpressure=0.3)
    assert [(r.valid, r.status) for r in recs] == [(False, flag), (True, 0)]
    assert (recs[1].prediction, recs[1].cycles) == _good()


def test_amaranth_core_events_after_early_exit_are_checked_not_integrated():
    net = _net(early_exit=True)
    packed = [int(x) for x in pack(net, EventSet((SAMPLE,)), CORE).net_words]
    # every input at t=0 makes the output spike early; later events must still be consumed
    dense = np.array([[0, i] for i in range(4)] + [[5, 0], [5, 3]])
    exp = run(net, EventSet((dense,)), trace=True, cost=cost_hook(CORE))[0]
    assert exp.steps < 6  # the case exercises an early exit
    bad = dense.tolist() + [[9, 0]]
    recs = _status([packed], [event_payloads(dense), event_payloads(bad), event_payloads(dense)],
                   [("load", 0), ("sample", 0), ("sample", 1), ("sample", 2)])
    assert [(r.valid, r.status) for r in recs] == [(True, 0), (False, RANGE), (True, 0)]
    for r in (recs[0], recs[2]):
        assert (r.prediction, r.steps, r.cycles) == (exp.prediction, exp.steps, exp.cycles)
        assert r.counters == exp.counters


LEAN = dataclasses.replace(CORE, leak=False, subtract=False)
NO_SPIKING_OUTPUT = dataclasses.replace(CORE, spiking_output=False)


def _check_refusal_then_good_load(build, net, ok, good_net):
    """Load ``net`` packed for ``CORE`` (every option) into ``build`` and run a sample, then load
    ``good_net`` packed for ``build`` and run it: the first is refused (``LOAD_BAD_HEADER``)
    unless ``ok``, when it runs exactly as the reference and the cost model of ``build`` say;
    the second always runs exactly."""
    image = [int(x) for x in pack(net, EventSet((SAMPLE,)), CORE).net_words]
    good = [int(x) for x in pack(good_net, EventSet((SAMPLE,)), build).net_words]
    out = simulate_streams(build, [load_payloads(image), load_payloads(good)],
                           [event_payloads(SAMPLE)] * 2,
                           program=[("load", 0), ("sample", 0), ("load", 1), ("sample", 1)])
    recs = [decode_record(r) for r in out.records]
    expect = [(net, recs[0])] if ok else []
    if not ok:
        assert (recs[0].valid, recs[0].status) == (False, HEADER)
    for q, rec in expect + [(good_net, recs[1])]:
        exp = run(q, EventSet((SAMPLE,)), trace=False, cost=cost_hook(build))[0]
        assert (rec.valid, rec.status) == (True, 0)
        assert (rec.prediction, rec.cycles, rec.counters) == (
            exp.prediction, exp.cycles, exp.counters)


@pytest.mark.parametrize("leak_shift, reset, ok", [
    (0, "fire_once", True), (0, "zero", True), (2, "fire_once", False), (0, "subtract", False),
])
def test_amaranth_lean_core_refuses_only_the_modes_it_lacks(leak_shift, reset, ok):
    """A build without the leak datapath and the subtract reset runs fire_once and zero layers,
    and refuses (``LOAD_BAD_HEADER``) an image whose layer leaks or subtracts, packed for the same
    core with both; a good load afterwards runs."""
    base = _net()
    l1, l2 = base.layers
    net = dataclasses.replace(base, layers=(l1, dataclasses.replace(l2, leak_shift=leak_shift,
                                                                        reset=reset)))
    _check_refusal_then_good_load(LEAN, net, ok, _net())


@pytest.mark.parametrize("readout, ok", [("max_potential", True), ("first_spike", False)])
def test_amaranth_core_without_a_spiking_output_layer_refuses_only_first_spike(readout, ok):
    """A build without a spiking output layer (no bound and no lookahead for its top layer slot)
    runs a max_potential network exactly as the reference model and the cost model say, and
    refuses (``LOAD_BAD_HEADER``) a first_spike image packed for the same core with the layer;
    a good load afterwards runs."""
    net = dataclasses.replace(_net(), readout=readout, early_exit=False)
    good = dataclasses.replace(_net(), readout="max_potential", early_exit=False)
    _check_refusal_then_good_load(NO_SPIKING_OUTPUT, net, ok, good)
