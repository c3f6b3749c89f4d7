"""train.snn: the integer forward equals sim.reference.run, spike for spike, on random networks.

Random networks cover every reset mode, leak shifts, threshold and kernel tables, both readouts,
early exit, and potentials narrow enough that saturation happens (the event-by-event path).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
import torch

from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import run, run_sample
from ttfs.train.snn import events_to_dense, int_forward

pytestmark = pytest.mark.train


def _random_case(seed: int, reset: str, readout: str, early_exit: bool, pb: int):
    rng = np.random.default_rng(seed)
    T, sizes = 12, (6, 9, 4)
    layers = []
    for li, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(Layer(
            weights=rng.integers(-60, 100, (a, b)),
            threshold=rng.integers(20, 120, T) if li == 0 else 70,
            kernel=rng.integers(0, 3, T) if li == 1 else 1,
            leak_shift=int(rng.integers(0, 4)),
            reset=reset,
        ))
    qnet = QNet(sizes[0], T, tuple(layers), weight_bits=8, potential_bits=pb,
                readout=readout, early_exit=early_exit)
    samples = []
    for _ in range(40):
        mask = rng.random((T, sizes[0])) < 0.3
        samples.append(np.argwhere(mask).astype(np.int64))
    return qnet, EventSet(tuple(samples))


def assert_int_equals_reference(qnet: QNet, events: EventSet) -> None:
    """Every sample: prediction, steps, every counter and the whole trace, integer-equal."""
    x = events_to_dense(events, qnet.time_steps, qnet.n_inputs)
    got = int_forward(qnet, x)
    ref = run(qnet, events, trace=True)
    for n, r in enumerate(ref):
        assert int(got.predictions[n]) == r.prediction, f"sample {n} prediction"
        assert int(got.steps[n]) == r.steps, f"sample {n} steps"
        assert tuple(int(c) for c in got.spikes_per_layer[n]) == r.counters.spikes_per_layer
        assert int(got.sops[n]) == r.counters.sops, f"sample {n} sops"
        assert int(got.input_events[n]) == r.counters.input_events
        assert int(got.saturations[n]) == r.counters.saturations, f"sample {n} saturations"
        tr = got.trace(n)
        assert tr.shape == r.trace.shape and np.array_equal(tr, r.trace), f"sample {n} trace"


@pytest.mark.parametrize("reset", ["fire_once", "zero", "subtract"])
@pytest.mark.parametrize("readout,early_exit", [("first_spike", False), ("first_spike", True),
                                                ("max_potential", False)])
@pytest.mark.parametrize("pb", [8, 16])
def test_int_forward_equals_reference_on_random_networks(reset, readout, early_exit, pb):
    seed = zlib.crc32(f"{reset}/{readout}/{early_exit}/{pb}".encode())  # stable across runs
    qnet, events = _random_case(seed, reset, readout, early_exit, pb)
    assert_int_equals_reference(qnet, events)


def test_saturation_path_is_exercised_and_matches_the_spec():
    qnet, events = _random_case(3, "subtract", "max_potential", False, 8)
    x = events_to_dense(events, qnet.time_steps, qnet.n_inputs)
    got = int_forward(qnet, x)
    assert got.saturations.sum() > 0  # the event-by-event path ran
    for n in range(5):
        spec = run_sample(qnet, events.samples[n])
        assert int(got.predictions[n]) == spec.prediction
        assert int(got.saturations[n]) == spec.counters.saturations
        assert np.array_equal(got.trace(n), spec.trace)


def test_dense_inputs_hold_exactly_the_events():
    qnet, events = _random_case(5, "zero", "first_spike", False, 16)
    x = events_to_dense(events, qnet.time_steps, qnet.n_inputs)
    for n, s in enumerate(events.samples):
        t, i = torch.nonzero(x[:, n], as_tuple=True)
        rows = np.stack([t.numpy(), i.numpy()], axis=1)
        assert np.array_equal(rows, s)
