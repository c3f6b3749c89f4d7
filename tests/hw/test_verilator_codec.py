"""The harness's Python side without a simulator: stream words, the wrapper, record pairing."""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.errors import ImageError, MismatchError
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet
from ttfs.sim.protocol import LAST, batch_payloads, encode_record
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.verilator import (
    RawBatch,
    event_section_payloads,
    pair_records,
    wrapper_verilog,
)


def test_verilator_event_section_gives_the_stream_words():
    case = random_case(5, n_samples=12)
    image = pack(case.qnet, case.events, case.core)
    payloads, n = event_section_payloads(image.event_words)
    assert n == 12
    expected = []
    for s in case.events.samples:
        expected += [(int(t) << 16) | int(i) for t, i in s] + [LAST]
    assert payloads.tolist() == expected
    assert batch_payloads(case.events.samples).tolist() == expected


def test_verilator_event_section_with_labels_and_empty_samples():
    case = random_case(5, n_samples=2)
    empty = np.zeros((0, 2), dtype=np.int64)
    samples = (empty, case.events.samples[0], empty, empty, case.events.samples[1], empty)
    events = EventSet(samples, np.arange(len(samples)))
    payloads, n = event_section_payloads(pack(case.qnet, events, case.core).event_words)
    assert n == len(samples)
    assert payloads.tolist() == batch_payloads(samples).tolist()


def test_verilator_event_section_refuses_a_short_section():
    case = random_case(6, n_samples=3)
    words = pack(case.qnet, case.events, case.core).event_words
    with pytest.raises(ImageError) as info:
        event_section_payloads(words[:6])
    assert str(info.value) == "truncated after word 5; 3 samples need at least 3 more words"
    bad = words.copy()
    bad[0] = 0x1234
    with pytest.raises(ImageError) as info:
        event_section_payloads(bad)
    assert str(info.value) == "bad magic 0x00001234 at word 0; not a TTFS event section"


@pytest.mark.parametrize("edge_clock, clock", [(True, "core_clk"), (False, "clk")])
def test_verilator_wrapper_connects_every_port(edge_clock, clock):
    with_trace = wrapper_verilog(True, edge_clock=edge_clock)
    without = wrapper_verilog(False, edge_clock=edge_clock)
    for s in ("load", "events", "result", "trace"):
        for m in ("valid", "ready", "payload"):
            # the core's inputs come from the wrapper's registers (``_q``), its outputs are wired
            registered = (m == "ready") == (s in ("result", "trace"))
            port = f"{s}_{m}_q" if registered else f"{s}_{m}"
            assert f".{s}__{m}({port})" in with_trace
            assert (f".{s}__{m}(" in without) == (s != "trace")
            if registered:
                assert f"always @(posedge {clock}) {port} <= {s}_{m};" in with_trace
    assert ".rst(rst_q)" in with_trace and "reg rst_q = 1'd1;" in with_trace
    assert f".clk({clock})" in with_trace and f".clk({clock})" in without
    assert ("wire core_clk = clk ^ phase;" in with_trace) == edge_clock
    assert "assign trace_valid = 1'b0;" in without
    assert "input wire [32:0] events_payload" in with_trace
    assert "output wire [39:0] trace_payload" in with_trace


def _batch(results, trace_rows, extra=()):
    recs = [encode_record(r) for r in results]
    width = max(len(r) for r in recs)
    records = np.zeros((len(recs), width), dtype=np.uint32)
    for k, r in enumerate(recs):
        records[k, :len(r)] = r
    words = [int(layer) | int(t) << 8 | int(i) << 24 for layer, t, i in trace_rows] + list(extra)
    return RawBatch(records, np.array([len(r) for r in recs], dtype=np.uint32),
                    np.array(words, dtype=np.uint64), np.zeros(len(words), dtype=np.uint32), 1)


def _counting_hook(qnet, activity):
    """Hardware counters made up from the activity: enough to encode a full record."""
    n = int(activity.events_in.sum())
    return {"weight_reads": n, "membrane_reads": 2 * n, "membrane_writes": 3 * n,
            "sweeps": activity.steps}, 7 * n + activity.steps


def test_verilator_pairs_trace_events_by_spike_counters():
    case = random_case(7, n_samples=6)
    exp = run(case.qnet, case.events, trace=True, cost=_counting_hook)
    rows = np.concatenate([r.trace for r in exp])
    got = pair_records(_batch(exp, rows), trace=True)
    for e, g in zip(exp, got, strict=True):
        assert np.array_equal(e.trace, g.trace)
        assert (g.prediction, g.cycles, g.counters) == (e.prediction, e.cycles, e.counters)
    with pytest.raises(MismatchError, match="trace events arrived after the last record"):
        pair_records(_batch(exp, rows, extra=[1]), trace=True)
    if len(rows):
        with pytest.raises(MismatchError, match="the record announces"):
            pair_records(_batch(exp, rows[:-1]), trace=True)
