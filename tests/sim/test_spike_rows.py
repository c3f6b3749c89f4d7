"""``Activity.spike_rows``: every spike ``[t, l-1, neuron]`` in emission order, the same in the
specification, the batched reference and the image model, and equal to the trace."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.image import pack, run_image
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import FAMILIES, random_case
from ttfs.sim.reference import run, run_sample


def check_rows(qnet: QNet, res, where: str) -> None:
    """``res.activity.spike_rows`` against the trace and the per-step spike counts."""
    act = res.activity
    rows = act.spike_rows
    assert rows.dtype == np.int64 and rows.ndim == 2 and rows.shape[1] == 3, where
    assert not rows.flags.writeable, where
    # trace rows are [layer (1-based), t, neuron]; spike rows [t, layer (0-based), neuron]
    assert res.trace is not None, where
    assert rows.shape == res.trace.shape, where
    assert np.array_equal(rows[:, 0], res.trace[:, 1]), f"{where}: t"
    assert np.array_equal(rows[:, 1], res.trace[:, 0] - 1), f"{where}: layer"
    assert np.array_equal(rows[:, 2], res.trace[:, 2]), f"{where}: neuron"
    # sorted by (t, layer, neuron), no spike twice
    T, L = act.spikes.shape
    assert T == act.steps, where
    sizes = np.array([layer.n_out for layer in qnet.layers], dtype=np.int64)
    if len(rows):
        assert rows[:, 0].min() >= 0 and rows[:, 0].max() < act.steps, where
        assert rows[:, 1].min() >= 0 and rows[:, 1].max() < L, where
        assert rows[:, 2].min() >= 0 and (rows[:, 2] < sizes[rows[:, 1]]).all(), where
    key = (rows[:, 0] * L + rows[:, 1]) * int(sizes.max()) + rows[:, 2]
    assert (np.diff(key) > 0).all(), f"{where}: order"
    # per (t, l): as many rows as activity.spikes[t, l]
    counts = np.bincount(rows[:, 0] * L + rows[:, 1], minlength=T * L).reshape(T, L)
    assert np.array_equal(counts, act.spikes), f"{where}: counts"


def check_case(case, where: str, block: int = 4096) -> None:
    q, ev = case.qnet, case.events
    batched = run(q, ev, trace=True, block=block)
    plain = run(q, ev, block=block)
    image = run_image(pack(q, ev, case.core), trace=True)
    for n, s in enumerate(ev.samples):
        w = f"{where} sample {n}"
        spec = run_sample(q, s, trace=True)
        for name, res in (("spec", spec), ("run", batched[n]), ("image", image[n])):
            check_rows(q, res, f"{w} ({name})")
        rows = spec.activity.spike_rows
        for name, res in (("run", batched[n]), ("run, no trace", plain[n]),
                          ("image", image[n])):
            got = res.activity.spike_rows
            assert got.shape == rows.shape and np.array_equal(got, rows), f"{w} ({name})"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_spike_rows_in_every_family(family):
    for seed in range(12):
        check_case(random_case(seed, n_samples=6, family=family),
                   f"{family} seed {seed}", block=1 + seed % 4 if seed % 3 == 0 else 4096)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), block=st.sampled_from([1, 3, 4096]))
def test_property_spike_rows_agree_everywhere(seed, block):
    check_case(random_case(seed, n_samples=5), f"seed {seed}", block=block)


def test_spike_rows_by_hand():
    # 2 -> 3 -> 1, T = 3: input 0 at t = 0 fires hidden neurons 0 and 2 at t = 0 (fire_once),
    # which fire the output at t = 0; input 1 at t = 1 fires hidden neuron 1
    w1 = np.array([[5, 0, 5], [0, 5, 0]])
    w2 = np.array([[3], [0], [3]])
    q = QNet(2, 3, (Layer(w1, 4), Layer(w2, 5)))
    ev = EventSet(([[0, 0], [1, 1]], [], [[2, 1]]))
    want = [[[0, 0, 0], [0, 0, 2], [0, 1, 0], [1, 0, 1]], [], [[2, 0, 1]]]
    for results in (run(q, ev), run(q, ev, block=1), [run_sample(q, s) for s in ev.samples],
                    run_image(pack(q, ev))):
        for n, res in enumerate(results):
            assert res.activity.spike_rows.reshape(-1, 3).tolist() == want[n]
            assert res.activity.spike_rows.shape == (len(want[n]), 3)
