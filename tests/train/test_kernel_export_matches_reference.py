"""train.kernel: the exported layer-phased network validates, fits a core, and the integer
forward of train (train.snn.int_forward) equals sim.reference (spec and batched) on it spike for
spike on every sample."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import QNet
from ttfs.sim.reference import run, run_sample
from ttfs.train.kernel import (
    CLIP_PERCENTILES,
    KernelConfig,
    calibrate_export,
    encode_kernel,
    export_kernel,
    float_predict,
    train_kernel,
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


@pytest.mark.parametrize("hidden,window", [((12,), 6), ((10, 7), 5)])
def test_kernel_export_equals_reference_spike_for_spike(hidden, window):
    X, y = _data(240, 1)
    Xt, yt = _data(60, 2)
    cfg = KernelConfig(hidden=hidden, window=window, epochs=3, batch_size=32, ramp_epochs=2,
                       bn_loss_weight=1e-3, bn_loss_start=1, seed=3)
    model = train_kernel(X, y, cfg).model
    qnet = export_kernel(model)
    assert QNet.from_json(qnet.to_json()).equals(qnet)
    assert qnet.time_steps == (len(hidden) + 1) * window
    assert qnet.sizes == (5,) + tuple(h + 1 for h in hidden) + (3,)
    CoreConfig.for_network(qnet).check_fits(qnet)

    events = encode_kernel(qnet, Xt, yt)
    mine = int_forward(qnet, events)
    ref = run(qnet, events, trace=True)
    hidden_spikes = mine.spikes_per_layer[:, :-1]
    # not a vacuous comparison: some hidden neurons fire, and not all of them
    assert 0 < hidden_spikes.sum() < len(Xt) * sum(h + 1 for h in hidden)
    for n, r in enumerate(ref):
        assert r.prediction == mine.predictions[n]
        assert r.counters.spikes_per_layer == tuple(int(c) for c in mine.spikes_per_layer[n])
        assert r.counters.sops == mine.sops[n]
        assert r.counters.input_events == mine.input_events[n]
        assert r.counters.saturations == 0
        assert np.array_equal(r.trace, mine.trace(n))
    for n in range(0, len(Xt), 7):  # the one-sample specification too
        spec = run_sample(qnet, events.samples[n])
        assert np.array_equal(spec.trace, mine.trace(n))
        assert spec.prediction == mine.predictions[n]
    # the integer network tracks the float surrogate it came from
    fpred, _ = float_predict(model, Xt)
    assert np.mean(fpred == mine.predictions) >= 0.8


def test_kernel_export_tables_are_phased():
    X, y = _data(120, 4)
    model = train_kernel(X, y, KernelConfig(hidden=(6,), window=8, epochs=1, seed=0)).model
    q = export_kernel(model)
    k1, k2 = q.layers[0].kernel, q.layers[1].kernel
    assert k1[:8].tolist() == [255, 219, 182, 146, 109, 73, 36, 0]  # round(255 (1 - u/7))
    assert not k1[8:].any() and not k2[:8].any()
    assert k2[8] == 255 and np.all(np.diff(k2[8:]) <= 0)
    th = q.layers[0].threshold
    top = (1 << (q.potential_bits - 1)) - 1
    assert np.all(th[:8] == top)
    assert np.all(np.diff(th[8:]) <= 0) and th[15] < th[8] < top
    # the bias neuron (last of layer 1) fires at the first step of its window in every sample
    f = int_forward(q, encode_kernel(q, X[:20]))
    bias = f.spikes[0][:, :, -1].numpy()  # (T, samples)
    assert np.all(bias.any(axis=0)) and np.all(bias.argmax(axis=0) == 8)


def test_kernel_clipped_export_is_exact_and_calibration_picks_a_listed_percentile():
    X, y = _data(200, 6)
    model = train_kernel(X, y, KernelConfig(hidden=(9,), window=6, epochs=2, seed=1)).model
    with torch.no_grad():  # one outlier weight, as BN folding can produce
        model.linears[0].weight[0, 0] = 40.0
    full = export_kernel(model)
    clipped = export_kernel(model, clip_percentile=95.0)
    w_full, w_clip = full.layers[0].weights[:4, :9], clipped.layers[0].weights[:4, :9]
    assert w_full[0, 0] == 127 and w_clip[0, 0] == 127
    # the other weights get more levels once the outlier no longer sets the scale
    assert np.abs(w_clip).sum() - 127 > np.abs(w_full).sum() - 127
    events = encode_kernel(clipped, X[:40])
    mine = int_forward(clipped, events)
    for n, r in enumerate(run(clipped, events, trace=True)):
        assert r.prediction == mine.predictions[n]
        assert np.array_equal(r.trace, mine.trace(n))
    q = calibrate_export(model, X[:100])
    assert q.meta["clip_percentile"] in CLIP_PERCENTILES
    assert 0.0 <= q.meta["calibration"]["clip_percentile_score"] <= 1.0
    with pytest.raises(ConfigError, match="^clip_percentile must be in 50..100, not 20.0$"):
        export_kernel(model, clip_percentile=20.0)
