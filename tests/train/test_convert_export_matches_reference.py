"""train.convert: the exported rate-coded IF network validates, fits a core, and the integer
forward of train (train.snn.int_forward) equals sim.reference on it spike for spike, with and
without the L4 adjustment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttfs.sim.core import CoreConfig
from ttfs.sim.ir import QNet
from ttfs.sim.reference import run, run_sample
from ttfs.train.convert import (
    ConvertConfig,
    ann_predict,
    encode_convert,
    export_convert,
    train_convert,
)
from ttfs.train.snn import int_forward

pytestmark = pytest.mark.train


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # tiny models: extra threads only contend (and spin) on a shared 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.random((n, 4)).astype(np.float32)
    y = (X[:, 0] > X[:, 1]).astype(np.int64) + (X[:, 2] > 0.6).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def trained():
    X, y = _data(300, 1)
    cfg = ConvertConfig(hidden=(12, 8), epochs=6, batch_size=32, seed=2)
    return X, train_convert(X, y, cfg).model


@pytest.mark.parametrize("l4", [False, True])
def test_convert_export_equals_reference_spike_for_spike(trained, l4):
    X, model = trained
    Xt, yt = _data(50, 3)
    cfg = ConvertConfig(hidden=(12, 8), time_steps=16, l4=l4, encode_seed=5)
    qnet = export_convert(model, X, cfg)
    assert QNet.from_json(qnet.to_json()).equals(qnet)
    assert qnet.sizes == (4, 12, 8, 3)
    assert all(layer.reset == "subtract" for layer in qnet.layers)
    CoreConfig.for_network(qnet).check_fits(qnet)

    events = encode_convert(qnet, Xt, yt)
    mine = int_forward(qnet, events)
    ref = run(qnet, events, trace=True)
    assert mine.spikes_per_layer[:, :2].sum() > 0
    for n, r in enumerate(ref):
        assert r.prediction == mine.predictions[n]
        assert r.counters.spikes_per_layer == tuple(int(c) for c in mine.spikes_per_layer[n])
        assert r.counters.sops == mine.sops[n]
        assert r.counters.input_events == mine.input_events[n]
        assert r.counters.saturations == 0
        assert np.array_equal(r.trace, mine.trace(n))
    spec = run_sample(qnet, events.samples[0])
    assert np.array_equal(spec.trace, mine.trace(0))
    # the converted SNN follows its ANN on most samples even at T = 16
    assert np.mean(ann_predict(model, Xt) == mine.predictions) >= 0.7


def test_convert_l4_changes_the_weights(trained):
    X, model = trained
    plain = export_convert(model, X, ConvertConfig(hidden=(12, 8), time_steps=8, l4=False))
    adj = export_convert(model, X, ConvertConfig(hidden=(12, 8), time_steps=8, l4=True))
    assert plain.meta["l4_factors_mean"] == [1.0, 1.0]
    assert all(0 < m < 1 for m in adj.meta["l4_factors_mean"])
    assert not np.array_equal(plain.layers[0].weights, adj.layers[0].weights)
    # the output layer is not adjusted (only hidden, rectifying layers are)
    assert adj.meta["l4"] is True and plain.meta["l4"] is False


def test_convert_uniform_damping_scales_every_hidden_layer(trained):
    """The control for the L4 rule: one factor for every hidden neuron, the output untouched."""
    from ttfs.sim.errors import ConfigError
    from ttfs.train.convert import normalised_weights

    X, model = trained
    cfg = ConvertConfig(hidden=(12, 8), time_steps=8, l4=False)
    plain, _ = normalised_weights(model, X, cfg)
    damped, factors = normalised_weights(
        model, X, ConvertConfig(hidden=(12, 8), time_steps=8, l4=False, damping=0.7))
    assert [float(np.max(np.abs(c - 0.7))) for c in factors] == [0.0, 0.0]
    for w, d in zip(plain[:-1], damped[:-1], strict=True):
        assert np.allclose(d, 0.7 * w, rtol=1e-12, atol=0)
    assert np.array_equal(plain[-1], damped[-1])
    # with the L4 rule the damping multiplies its factors
    _, f4 = normalised_weights(model, X, ConvertConfig(hidden=(12, 8), time_steps=8))
    _, f4d = normalised_weights(model, X, ConvertConfig(hidden=(12, 8), time_steps=8,
                                                          damping=0.5))
    assert np.allclose(f4d[0], 0.5 * f4[0], rtol=1e-12, atol=0)
    q = export_convert(model, X, ConvertConfig(hidden=(12, 8), time_steps=8, l4=False,
                                               damping=0.7))
    assert q.meta["damping"] == 0.7 and q.meta["l4_factors_mean"] == pytest.approx([0.7, 0.7])
    with pytest.raises(ConfigError, match=r"^damping must be > 0, not 0$"):
        ConvertConfig(damping=0)


def test_convert_events_are_seeded(trained):
    X, model = trained
    q = export_convert(model, X, ConvertConfig(hidden=(12, 8), time_steps=8, encode_seed=9))
    a = encode_convert(q, X[:5])
    b = encode_convert(q, X[:5])
    assert all(np.array_equal(s, t) for s, t in zip(a.samples, b.samples, strict=True))
    # a slice encodes to the same events as in the whole set; another seed to other events
    part = encode_convert(q, X[2:5], first_index=2)
    assert all(np.array_equal(s, t) for s, t in zip(part.samples, a.samples[2:], strict=True))
    q2 = export_convert(model, X, ConvertConfig(hidden=(12, 8), time_steps=8, encode_seed=10))
    c = encode_convert(q2, X[:5])
    assert not all(np.array_equal(s, t) for s, t in zip(a.samples, c.samples, strict=True))
