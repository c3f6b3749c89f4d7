"""Bad input through the native harness: the core's status flags, and the sample invalid.

A corrupted or truncated load stream, no image at all, and events out of order or out of
range each raise their flag of docs/core-interface.md; a good image loaded afterwards clears
a load error (the next samples are valid and equal the reference model).
"""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.image import pack
from ttfs.sim.protocol import (
    EVENT_ORDER,
    EVENT_RANGE,
    LOAD_CHECKSUM,
    LOAD_TRUNCATED,
    NO_IMAGE,
    batch_payloads,
    record_words,
)
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.verilator import (
    Harness,
    build_for_core,
    pair_records,
)

pytestmark = pytest.mark.cosim

CORE = COSIM_CORES["p4"]


@pytest.fixture(scope="module")
def build():
    return build_for_core(CORE, trace=True)


@pytest.fixture(scope="module")
def case():
    return random_case(321, n_samples=4, core=CORE)


def _run(h: Harness, samples, trace=True):
    raw = h.run(batch_payloads(samples), len(samples), record_words(CORE), trace=trace)
    return pair_records(raw, trace)


def _flags(results):
    return [(r.valid, r.status) for r in results]


def test_verilator_no_image_flags_every_sample(build, case):
    with Harness(build) as h:
        got = _run(h, case.events.samples[:2])
    assert _flags(got) == [(False, NO_IMAGE), (False, NO_IMAGE)]


def test_verilator_checksum_error_then_good_image(build, case):
    image = pack(case.qnet, case.events, CORE)
    bad = image.net_words.copy()
    bad[-1] ^= 1 << 5  # the checksum word itself: every other word is well formed
    with Harness(build) as h:
        h.load(bad)
        got = _run(h, case.events.samples[:2])
        assert all(not r.valid and r.status & LOAD_CHECKSUM for r in got), _flags(got)
        h.load(image.net_words)
        got = _run(h, case.events.samples)
    from ttfs.sim.costmodel import cost_hook

    check_equal(run(case.qnet, case.events, trace=True, cost=cost_hook(CORE)), got,
                backend="verilator", label="after a corrupt load")


def test_verilator_truncated_load(build, case):
    image = pack(case.qnet, case.events, CORE)
    with Harness(build) as h:
        h.load(image.net_words[:-3])  # `last` set three words early
        got = _run(h, case.events.samples[:1])
    assert not got[0].valid
    assert got[0].status & LOAD_TRUNCATED, _flags(got)


def test_verilator_event_order_and_range(build, case):
    q = case.qnet
    image = pack(q, case.events, CORE)
    # (1, 0) then (0, 0); with a single step, (0, 0) twice: not increasing either way
    out_of_order = np.array([[min(1, q.time_steps - 1), 0], [0, 0]])
    out_of_range = np.array([[q.time_steps, 0]])
    bad_input = np.array([[0, q.n_inputs]])
    samples = [out_of_order, out_of_range, bad_input, case.events.samples[0]]
    with Harness(build) as h:
        h.load(image.net_words)
        got = _run(h, samples)
    assert (got[0].valid, got[0].status) == (False, EVENT_ORDER)
    assert (got[1].valid, got[1].status) == (False, EVENT_RANGE)
    assert (got[2].valid, got[2].status) == (False, EVENT_RANGE)
    # a bad sample does not poison the next one
    assert got[3].valid and got[3].status == 0
