"""The core in Amaranth's simulator equals the reference model (with the cycle-cost rule) on
seeded random networks: predictions, every counter, cycles and the spike trace, exactly."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ttfs.sim.costmodel import cost_hook
from ttfs.sim.image import pack
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.amaranth import AmaranthBackend
from ttfs.verify.differential import COSIM_CORES

pytestmark = pytest.mark.amaranth


def _first_difference(exp, got) -> str | None:
    for n, (e, g) in enumerate(zip(exp, got, strict=True)):
        if not g.valid or g.status:
            return f"sample {n}: valid={g.valid} status={g.status:#x}"
        for what, a, b in (("prediction", e.prediction, g.prediction), ("steps", e.steps, g.steps),
                           ("cycles", e.cycles, g.cycles),
                           ("counters", e.counters.as_tuple(), g.counters.as_tuple())):
            if a != b:
                return f"sample {n}: {what} expected {a}, got {b}"
        if not np.array_equal(e.trace, g.trace):
            return f"sample {n}: trace expected {e.trace.tolist()}, got {g.trace.tolist()}"
    return None


def _check(seed: int, idle: float = 0.0, backpressure: float = 0.0, n_samples: int = 4,
           core=None, family=None):
    case = random_case(seed, n_samples=n_samples, core=core, family=family)
    image = pack(case.qnet, case.events, case.core)
    got = AmaranthBackend(idle=idle, backpressure=backpressure, seed=seed).run(image, trace=True)
    exp = run(case.qnet, case.events, trace=True, cost=cost_hook(case.core))
    assert len(got) == len(exp)
    diff = _first_difference(exp, got)
    assert diff is None, (f"seed {seed} ({case.qnet.describe()}, P={case.core.lanes}, "
                          f"idle={idle}, backpressure={backpressure}): {diff}")


@pytest.mark.parametrize("seed", range(0, 12))
def test_amaranth_core_random_equals_reference(seed):
    _check(seed)


#: builds with chunk bounds (partial sweeps): every scan width from one chunk bound a cycle to
#: more than a layer has chunks, on 1, 3, 4 and 8 lanes
CHUNK_BUILDS = [("p1", 1), ("p3", 2), ("p4", 4), ("p4", 16), ("p8", 2), ("p8", 8)]


@pytest.mark.parametrize("seed", range(200, 212))
def test_amaranth_core_partial_sweeps_equal_reference(seed):
    name, sw = CHUNK_BUILDS[seed % len(CHUNK_BUILDS)]
    core = dataclasses.replace(COSIM_CORES[name], chunk_bounds=sw)
    _check(seed, core=core, idle=0.3 if seed % 2 else 0.0, backpressure=0.3 if seed % 2 else 0.0)


REACH_BUILDS = [("p1", 0), ("p3", 2), ("p4", 4), ("p8", 0), ("p4", 16), ("p8", 2)]


@pytest.mark.parametrize("seed", range(300, 312))
def test_amaranth_core_reach_test_equals_reference(seed):
    # the reach family: input phases whose bound stays below, lands on or passes the first
    # layer's thresholds, tables that rise again (the reach test), with and without chunk bounds
    name, sw = REACH_BUILDS[seed % len(REACH_BUILDS)]
    core = dataclasses.replace(COSIM_CORES[name], chunk_bounds=sw)
    _check(seed, core=core, family="reach", idle=0.3 if seed % 2 else 0.0,
           backpressure=0.3 if seed % 2 else 0.0)


@pytest.mark.parametrize("seed", range(100, 106))
def test_amaranth_core_random_idle_and_backpressure(seed):
    _check(seed, idle=0.4, backpressure=0.4)


def test_amaranth_core_backend_name_and_type_check():
    backend = AmaranthBackend()
    assert backend.name == "amaranth"
    with pytest.raises(TypeError, match="image must be a sim.image.Image, not list"):
        backend.run([])


def test_amaranth_core_results_without_trace_have_no_trace():
    case = random_case(3, n_samples=2)
    got = AmaranthBackend().run(pack(case.qnet, case.events, case.core))
    exp = run(case.qnet, case.events, cost=cost_hook(case.core))
    assert [g.trace for g in got] == [None, None]
    assert [(g.prediction, g.cycles) for g in got] == [(e.prediction, e.cycles) for e in exp]
