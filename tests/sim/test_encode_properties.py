"""Properties of the encoders on random inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.encode import encode_rate, encode_ttfs, ttfs_times

unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@settings(max_examples=100, deadline=None)
@given(
    X=st.lists(st.lists(unit, min_size=3, max_size=3), min_size=1, max_size=6),
    T=st.integers(1, 40),
    data=st.data(),
)
def test_ttfs_one_event_per_feature_in_the_window(X, T, data):
    X = np.array(X)
    t_in = data.draw(st.integers(1, T))
    cutoff = data.draw(unit)
    bias = data.draw(st.lists(st.integers(0, T - 1), max_size=3))
    ev = encode_ttfs(X, T, t_in=t_in, cutoff=cutoff, bias_steps=bias)
    ev.check(T, 3 + len(bias))  # sorted, in range, no duplicates
    times = ttfs_times(X, t_in, cutoff)
    for n in range(X.shape[0]):
        s = ev.samples[n]
        for f in range(3):
            rows = s[s[:, 1] == f]
            if X[n, f] < cutoff:
                assert rows.shape[0] == 0
                assert times[n, f] == -1
            else:
                assert rows[:, 0].tolist() == [times[n, f]]
                # the nearest step to (1 - x)(t_in - 1), inside the window
                assert 0 <= times[n, f] <= t_in - 1
                assert abs(times[n, f] - (1 - X[n, f]) * (t_in - 1)) <= 0.5
        for k, b in enumerate(bias):
            assert s[s[:, 1] == 3 + k].tolist() == [[b, 3 + k]]


@settings(max_examples=50, deadline=None)
@given(x=st.lists(unit, min_size=2, max_size=20), t_in=st.integers(1, 64))
def test_ttfs_larger_values_fire_no_later(x, t_in):
    x = np.sort(np.array(x))
    t = ttfs_times(x[None, :], t_in)[0]
    assert np.all(np.diff(t) <= 0)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), T=st.integers(1, 20), start=st.integers(0, 5))
def test_rate_events_valid_and_slices_agree(seed, T, start):
    X = np.random.default_rng(seed).random((8, 4))
    whole = encode_rate(X, T, seed=seed, max_rate=0.7, bias_steps=(0,))
    whole.check(T, 5)
    part = encode_rate(X[start:], T, seed=seed, max_rate=0.7, bias_steps=(0,), first_index=start)
    for k in range(8 - start):
        assert np.array_equal(part.samples[k], whole.samples[start + k])
