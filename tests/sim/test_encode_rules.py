"""The encoders of sim.encode: the TTFS rule, bias inputs, seeded rate coding, refusals."""

import numpy as np
import pytest

from ttfs.sim.encode import encode_rate, encode_ttfs, ttfs_times
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet


def rows(events: EventSet, n: int) -> list:
    return events.samples[n].tolist()


def test_ttfs_times_rule_with_half_to_even():
    # t_in = 8: t = rint((1 - x) * 7)
    # x=1 -> 0; x=0 -> 7; x=0.5 -> rint(3.5) = 4 (half to even); x=0.25 -> rint(5.25) = 5
    X = np.array([[1.0, 0.0, 0.5, 0.25]])
    assert ttfs_times(X, 8).tolist() == [[0, 7, 4, 5]]
    # t_in = 5: t = rint((1 - x) * 4) (all products exact in binary):
    # x=0.375 -> rint(2.5) = 2, x=0.875 -> rint(0.5) = 0, x=0.625 -> rint(1.5) = 2, x=0 -> 4
    X = np.array([[0.375, 0.875, 0.625, 0.0]])
    assert ttfs_times(X, 5).tolist() == [[2, 0, 2, 4]]
    # t_in = 1: every value fires at step 0
    assert ttfs_times(np.array([[0.0, 0.3, 1.0]]), 1).tolist() == [[0, 0, 0]]


def test_ttfs_cutoff_drops_small_values():
    # cutoff 0.3: 0.2 < 0.3 -> -1; 0.3 is not below the cutoff -> rint(0.7 * 9) = rint(6.3) = 6
    X = np.array([[0.2, 0.3, 1.0]])
    assert ttfs_times(X, 10, cutoff=0.3).tolist() == [[-1, 6, 0]]
    # default cutoff 0.0: x = 0 still fires at t_in - 1 = 9
    assert ttfs_times(np.array([[0.0]]), 10).tolist() == [[9]]


def test_encode_ttfs_events_sorted_with_bias_inputs():
    # T = 8, t_in = 8: x = [0.5, 1.0, 0.0] -> t = [4, 0, 7]; bias inputs 3 and 4 fire at 2 and 0
    X = np.array([[0.5, 1.0, 0.0], [1.0, 1.0, 0.0]])
    ev = encode_ttfs(X, 8, bias_steps=(2, 0), labels=[2, 1])
    assert rows(ev, 0) == [[0, 1], [0, 4], [2, 3], [4, 0], [7, 2]]
    assert rows(ev, 1) == [[0, 0], [0, 1], [0, 4], [2, 3], [7, 2]]
    assert ev.labels.tolist() == [2, 1]
    ev.check(8, 5)


def test_encode_ttfs_window_shorter_than_time_steps():
    # T = 10, t_in = 3: t = rint((1 - x) * 2): x = 0 -> 2, x = 0.5 -> 1, x = 1 -> 0
    ev = encode_ttfs(np.array([[0.0, 0.5, 1.0]]), 10, t_in=3)
    assert rows(ev, 0) == [[0, 2], [1, 1], [2, 0]]


def test_encode_ttfs_cutoff_can_leave_a_sample_empty():
    ev = encode_ttfs(np.array([[0.1, 0.2]]), 4, cutoff=0.5)
    assert ev.samples[0].shape == (0, 2)


@pytest.mark.parametrize(
    "X, message",
    [
        ([[0.5, float("nan")]], "sample 0 feature 1 has value nan; inputs must be in [0, 1]"),
        ([[0.5, 0.5], [1.5, 0.0]], "sample 1 feature 0 has value 1.5; inputs must be in [0, 1]"),
        ([[-0.25]], "sample 0 feature 0 has value -0.25; inputs must be in [0, 1]"),
        ([0.5, 0.5], "X must be a 2-D array of shape (samples, features), got shape (2,)"),
    ],
)
def test_bad_values_are_refused(X, message):
    with pytest.raises(ConfigError) as exc:
        encode_ttfs(X, 8)
    assert str(exc.value) == message
    with pytest.raises(ConfigError) as exc:
        encode_rate(X, 8, seed=0)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(time_steps=8, t_in=9), ConfigError, "t_in must be in 1..8 (time_steps), not 9"),
        (dict(time_steps=8, t_in=0), ConfigError, "t_in must be in 1..8 (time_steps), not 0"),
        (dict(time_steps=0), ConfigError, "time_steps must be >= 1, not 0"),
        (dict(time_steps=8.0), TypeError, "time_steps must be an integer, not 8.0"),
        (dict(time_steps=8, cutoff=1.5), ConfigError, "cutoff must be in [0, 1], not 1.5"),
        (dict(time_steps=8, cutoff="0"), TypeError, "cutoff must be a real number, not '0'"),
        (dict(time_steps=8, bias_steps=(3, 8)), ConfigError,
         "bias_steps[1] must be in 0..7 (time_steps - 1), not 8"),
        (dict(time_steps=8, bias_steps=(True,)), TypeError,
         "bias_steps[0] must be an integer, not True"),
        (dict(time_steps=8, bias_steps=3), TypeError,
         "bias_steps must be a sequence of integers, not 3"),
    ],
)
def test_bad_parameters_are_refused(kwargs, error, message):
    with pytest.raises(error) as exc:
        encode_ttfs([[0.5]], **kwargs)
    assert str(exc.value) == message


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError) as exc:
        encode_ttfs([["a"]], 4)
    assert str(exc.value) == "X must be an array of numbers, not an array of dtype <U1"


def test_rate_coding_draws_from_the_documented_generator():
    X = np.array([[0.3, 0.9, 0.0], [1.0, 0.5, 0.2]])
    ev = encode_rate(X, 6, seed=7, max_rate=0.5, bias_steps=(1,))
    for n in range(2):
        u = np.random.default_rng([7, n]).random((6, 3))
        expect = [[t, i] for t in range(6) for i in range(3) if u[t, i] < X[n, i] * 0.5]
        expect = sorted(expect + [[1, 3]])
        assert rows(ev, n) == expect


def test_rate_coding_any_slice_equals_the_whole():
    X = np.random.default_rng(0).random((9, 4))
    whole = encode_rate(X, 10, seed=3, labels=np.arange(9) % 3)
    part = encode_rate(X[4:7], 10, seed=3, first_index=4, labels=(np.arange(9) % 3)[4:7])
    for k in range(3):
        assert rows(part, k) == rows(whole, 4 + k)
    assert part.labels.tolist() == whole.labels[4:7].tolist()
    again = encode_rate(X, 10, seed=3)
    assert all(rows(again, n) == rows(whole, n) for n in range(9))


def test_rate_coding_extremes():
    # x = 1 at max_rate 1 fires every step (u < 1 always); x = 0 never fires
    ev = encode_rate(np.array([[1.0, 0.0]]), 4, seed=0)
    assert rows(ev, 0) == [[0, 0], [1, 0], [2, 0], [3, 0]]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(seed=-1), ConfigError, "seed must be >= 0, not -1"),
        (dict(seed=1.0), TypeError, "seed must be an integer, not 1.0"),
        (dict(seed=1, max_rate=0.0), ConfigError, "max_rate must be in (0, 1], not 0.0"),
        (dict(seed=1, first_index=-2), ConfigError, "first_index must be >= 0, not -2"),
    ],
)
def test_rate_bad_parameters(kwargs, error, message):
    with pytest.raises(error) as exc:
        encode_rate([[0.5]], 4, **kwargs)
    assert str(exc.value) == message
