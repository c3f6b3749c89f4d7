"""train.kernel / train.convert: exports of random (untrained) networks, with random kernel
parameters, BN statistics, widths and clip percentiles: the integer forward of train
(train.snn.int_forward) equals sim.reference on them spike for spike."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.core import CoreConfig
from ttfs.sim.reference import run
from ttfs.train.convert import (
    ConvertConfig,
    ReluNet,
    encode_convert,
    export_convert,
)
from ttfs.train.kernel import KernelNet, encode_kernel, export_kernel
from ttfs.train.snn import int_forward

pytestmark = pytest.mark.train


def _same(qnet, events, mine):
    ref = run(qnet, events, trace=True)
    for n, r in enumerate(ref):
        assert r.prediction == mine.predictions[n]
        assert np.array_equal(r.trace, mine.trace(n))
        assert r.counters.sops == mine.sops[n]
        assert r.counters.saturations == 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 6),
       hidden=st.lists(st.integers(1, 9), min_size=0, max_size=2), window=st.integers(2, 9),
       clip=st.sampled_from([100.0, 99.0, 90.0]), kbits=st.integers(4, 10))
def test_kernel_random_export_equals_reference(seed, n_in, hidden, window, clip, kbits):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = KernelNet(n_in, tuple(hidden), 3, window)
    with torch.no_grad():
        for bn in model.bns:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.05, 2.0)
            bn.weight.uniform_(0.3, 2.0)
            bn.bias.uniform_(-0.5, 1.0)
        for t, d in zip(model.taus, model.tds, strict=True):
            t.fill_(float(rng.uniform(0.5, 6.0)))
            d.fill_(float(rng.uniform(-1.0, 2.0)))
    model.eval()
    qnet = export_kernel(model, kernel_bits=kbits, clip_percentile=clip)
    CoreConfig.for_network(qnet).check_fits(qnet)
    X = rng.random((25, n_in))
    events = encode_kernel(qnet, X)
    _same(qnet, events, int_forward(qnet, events))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_in=st.integers(1, 6),
       hidden=st.lists(st.integers(1, 9), min_size=1, max_size=2), T=st.integers(1, 24),
       l4=st.booleans(), max_rate=st.sampled_from([1.0, 0.5]))
def test_convert_random_export_equals_reference(seed, n_in, hidden, T, l4, max_rate):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = ReluNet(n_in, tuple(hidden), 3)
    X = rng.random((30, n_in))
    cfg = ConvertConfig(hidden=tuple(hidden), time_steps=T, l4=l4, max_rate=max_rate,
                        encode_seed=seed % 1000)
    qnet = export_convert(model, X, cfg)
    CoreConfig.for_network(qnet).check_fits(qnet)
    events = encode_convert(qnet, X)
    _same(qnet, events, int_forward(qnet, events))
