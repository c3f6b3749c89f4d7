"""train.convert: the L4 Wiener factor on a hand-computed example, its limits, and the variance
bound it rests on."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.errors import ConfigError
from ttfs.train.convert import ConvertConfig, l4_factors, l4_factors_wiener

pytestmark = pytest.mark.train


def test_convert_l4_wiener_factor_hand_example():
    w = np.array([[1.0, 0.25], [-1.0, 0.25], [2.0, 0.0], [0.0, -3.0]])  # (in, out)
    r = np.array([[0.5, 0.5, 0.5, 0.0]])  # one sample of input rates
    # mu = r @ w = [1.0, 0.25] -> P = [1, 1/16]; ||r||_2 = sqrt(0.75)
    # ||w_0||_4^2 = sqrt(1 + 1 + 16) = sqrt(18); ||w_1||_4^2 = sqrt(2/256 + 81)
    T = 4
    n0 = math.sqrt(18) * math.sqrt(0.75) / T
    n1 = math.sqrt(2 / 256 + 81) * math.sqrt(0.75) / T
    expected = [1 / (1 + n0), (1 / 16) / (1 / 16 + n1)]
    got = l4_factors_wiener(w, r, T)
    assert got == pytest.approx(expected, rel=1e-12)
    assert l4_factors(w, r, T, rule="wiener").tolist() == got.tolist()
    assert l4_factors_wiener(w, r, T, beta=0.5) == pytest.approx(
        [1 / (1 + 0.5 * n0), (1 / 16) / (1 / 16 + 0.5 * n1)], rel=1e-12)


def test_convert_l4_rectified_factor_hand_example():
    # one input, one sample: mu = 0.5 * 1 = 0.5; ||w||_4^2 = 1, ||r||_2 = 0.5, T = 2:
    # s^2 = 0.25, s = 0.5, z = 1; c = mu m / q with m = mu Phi(1) + s phi(1),
    # q = (mu^2 + s^2) Phi(1) + mu s phi(1)
    Phi1 = 0.5 * (1 + math.erf(1 / math.sqrt(2)))
    phi1 = math.exp(-0.5) / math.sqrt(2 * math.pi)
    m = 0.5 * Phi1 + 0.5 * phi1
    q = 0.5 * Phi1 + 0.25 * phi1
    got = l4_factors(np.array([[1.0]]), np.array([[0.5]]), 2)
    assert got.tolist() == pytest.approx([0.5 * m / q], rel=1e-12)


def test_convert_l4_rectified_factor_minimises_its_model_error():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 3))
    r = rng.random((40, 6)) * 0.5
    T = 8
    c = l4_factors(w, r, T)
    mu = r @ w
    s = np.sqrt(np.sqrt((w ** 4).sum(0)) * np.linalg.norm(r, axis=1).mean() / T)
    e = rng.normal(size=(4000, 1, 1)) * s[None, None, :]
    rhat = np.maximum(mu[None] + e, 0)
    target = np.maximum(mu, 0)[None]

    def mse(f):
        return ((f[None, None, :] * rhat - target) ** 2).mean(axis=(0, 1))

    for delta in (0.9, 1.1):  # Monte Carlo: moving c either way makes the error worse
        assert np.all(mse(c) < mse(c * delta))


def test_convert_l4_factor_limits():
    w = np.array([[1.0, -1.0], [0.5, -2.0]])
    r = np.array([[0.2, 0.9], [1.0, 0.0]])
    # neuron 1 is never active (mu <= 0 on every sample): it is silenced
    assert l4_factors(w, r, 8)[1] == 0.0
    assert l4_factors(w, r, 8, beta=0.0)[0] == 1.0
    big = l4_factors(w, r, 10**9)[0]
    assert 1 - 1e-6 < big < 1.0
    assert l4_factors(w, r, 4)[0] < l4_factors(w, r, 16)[0] < l4_factors(w, r, 64)[0]


def test_convert_l4_factor_rejects_bad_arguments():
    w = np.ones((2, 2))
    r = np.ones((1, 2))
    with pytest.raises(ConfigError, match="^time_steps must be >= 1, not 0$"):
        l4_factors(w, r, 0)
    with pytest.raises(ConfigError, match="^beta must be >= 0, not -1.0$"):
        l4_factors(w, r, 4, beta=-1.0)
    with pytest.raises(ConfigError, match="^l4 rule must be 'rectified' or 'wiener', not 'x'$"):
        l4_factors(w, r, 4, rule="x")


def test_convert_config_rejects_bad_values():
    with pytest.raises(ConfigError, match=r"^percentile must be in \(0, 100\], not 101$"):
        ConvertConfig(percentile=101)
    with pytest.raises(ConfigError, match=r"^max_rate must be in \(0, 1\], not 0$"):
        ConvertConfig(max_rate=0)
    with pytest.raises(ConfigError, match="^hidden\\[1\\] must be a positive integer, not 0$"):
        ConvertConfig(hidden=(4, 0))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 64), st.integers(0, 2**31 - 1))
def test_convert_bernoulli_variance_within_l4_bound(n, T, seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=n) * rng.choice([0.1, 1.0, 10.0])
    r = rng.random(n)
    exact_var = T * np.sum(w ** 2 * r * (1 - r))  # variance of sum_t sum_j w_j s_jt
    bound = math.sqrt(T * np.linalg.norm(r)) * np.sum(w ** 4) ** 0.25
    assert exact_var <= bound ** 2 * (1 + 1e-12)
