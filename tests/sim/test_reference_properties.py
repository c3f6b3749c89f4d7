"""Properties of the reference model on random networks: the batched ``run`` equals the literal
``run_sample`` in everything, and the counters obey their definitions."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim import reference
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case
from ttfs.sim.reference import run, run_sample

seeds = st.integers(min_value=0, max_value=2**32 - 1)


def assert_same(spec, batched, where: str) -> None:
    assert spec.prediction == batched.prediction, where
    assert spec.steps == batched.steps, where
    assert spec.valid == batched.valid, where
    assert spec.counters == batched.counters, where
    assert spec.trace.shape == batched.trace.shape, where
    assert np.array_equal(spec.trace, batched.trace), where
    assert spec.activity.steps == batched.activity.steps, where
    assert np.array_equal(spec.activity.events_in, batched.activity.events_in), where
    assert np.array_equal(spec.activity.spikes, batched.activity.spikes), where


@settings(max_examples=80, deadline=None)
@given(seed=seeds)
def test_batched_run_equals_the_specification(seed):
    case = random_case(seed, n_samples=6)
    batched = run(case.qnet, case.events, trace=True)
    for n, s in enumerate(case.events.samples):
        assert_same(run_sample(case.qnet, s, trace=True), batched[n], f"seed {seed} sample {n}")


PATHS = {  # (SMALL_WORK, SPARSE_DENSITY) forcing each integrate path of the batched model
    "int64 product": (1 << 62, 0.0),
    "gather": (0, 1.0),
    "float64 product": (0, 0.0),
}


@settings(max_examples=90, deadline=None)
@given(seed=seeds, path=st.sampled_from(sorted(PATHS)))
def test_every_integrate_path_equals_the_specification(seed, path):
    case = random_case(seed, n_samples=6)
    saved = reference.SMALL_WORK, reference.SPARSE_DENSITY
    reference.SMALL_WORK, reference.SPARSE_DENSITY = PATHS[path]
    try:
        batched = run(case.qnet, case.events, trace=True)
    finally:
        reference.SMALL_WORK, reference.SPARSE_DENSITY = saved
    for n, s in enumerate(case.events.samples):
        where = f"seed {seed} sample {n} ({path})"
        assert_same(run_sample(case.qnet, s, trace=True), batched[n], where)


@settings(max_examples=30, deadline=None)
@given(seed=seeds, block=st.integers(min_value=1, max_value=5))
def test_block_size_does_not_change_results(seed, block):
    case = random_case(seed, n_samples=7)
    whole = run(case.qnet, case.events, trace=True)
    blocked = run(case.qnet, case.events, trace=True, block=block)
    for n, (a, b) in enumerate(zip(whole, blocked, strict=True)):
        assert_same(a, b, f"seed {seed} sample {n}")


@settings(max_examples=60, deadline=None)
@given(seed=seeds)
def test_sops_are_events_times_receiving_layer_size(seed):
    case = random_case(seed, n_samples=6)
    q = case.qnet
    sizes = [layer.n_out for layer in q.layers]
    for n, res in enumerate(run(q, case.events, trace=True)):
        ev = case.events.samples[n]
        # input events integrated: those at steps the sample ran
        n_in = int(np.count_nonzero(ev[:, 0] < res.steps))
        assert res.counters.input_events == n_in
        spikes = [int(np.count_nonzero(res.trace[:, 0] == k + 1)) for k in range(len(sizes))]
        assert list(res.counters.spikes_per_layer) == spikes
        # each event into layer l adds n_l: inputs into layer 1, spikes of l into layer l+1
        expect = n_in * sizes[0] + sum(spikes[k] * sizes[k + 1] for k in range(len(sizes) - 1))
        assert res.counters.sops == expect
        assert int(res.activity.events_in[:, 0].sum()) == n_in
        # a fire_once layer never spikes twice from the same neuron
        for k, layer in enumerate(q.layers):
            if layer.reset == "fire_once":
                idx = res.trace[res.trace[:, 0] == k + 1, 2]
                assert idx.size == np.unique(idx).size


@settings(max_examples=80, deadline=None)
@given(seed=seeds, which=st.integers(0, 5), how=st.sampled_from(
    ["none", "swap", "duplicate", "late", "negative", "input", "empty-first"]))
def test_run_refuses_exactly_the_samples_check_refuses(seed, which, how):
    case = random_case(seed, n_samples=6)
    q = case.qnet
    samples = [s.copy() for s in case.events.samples]
    s = samples[which]
    if how == "swap" and len(s) >= 2:
        s[[0, 1]] = s[[1, 0]]
    elif how == "duplicate" and len(s) >= 1:
        s = np.concatenate([s[:1], s])
    elif how == "late" and len(s) >= 1:
        s[-1, 0] = q.time_steps
    elif how == "negative" and len(s) >= 1:
        s[0, 0] = -1
    elif how == "input" and len(s) >= 1:
        s[-1, 1] = q.n_inputs
    elif how == "empty-first":
        samples[0] = np.zeros((0, 2), dtype=np.int64)
    samples[which] = s
    ev = EventSet(tuple(samples))
    try:
        ev.check(q.time_steps, q.n_inputs)
    except ConfigError as exc:
        with pytest.raises(ConfigError) as got:
            run(q, ev)
        assert str(got.value) == str(exc)
    else:
        assert len(run(q, ev)) == 6


def test_wide_layers_with_saturation_equal_the_specification():
    # sparse and dense steps through every integrate path; 10-bit potentials and 6-bit weights
    # so that some samples saturate, leak, subtract reset and a kernel table with 0, 2 and 3

    rng = np.random.default_rng(7)
    w1 = rng.integers(-32, 32, size=(300, 64)) + 8
    w2 = rng.integers(-32, 32, size=(64, 10))
    q = QNet(300, 8, (Layer(np.clip(w1, -32, 31), 120, [1, 2, 1, 0, 1, 3, 1, 1], 1, "subtract"),
                      Layer(w2, 60, 1, 0, "zero")), 6, 10)
    samples = []
    for n in range(24):
        density = [0.005, 0.02, 0.3][n % 3]
        samples.append(np.argwhere(rng.random((8, 300)) < density).astype(np.int64))
    ev = EventSet(tuple(samples))
    spec = [run_sample(q, s, trace=True) for s in ev.samples]
    assert sum(r.counters.saturations for r in spec) > 0
    saved = reference.SMALL_WORK, reference.SPARSE_DENSITY
    for path, (small, density) in PATHS.items():
        reference.SMALL_WORK, reference.SPARSE_DENSITY = small, density
        try:
            batched = run(q, ev, trace=True)
        finally:
            reference.SMALL_WORK, reference.SPARSE_DENSITY = saved
        for n in range(len(spec)):
            assert_same(spec[n], batched[n], f"sample {n} ({path})")
