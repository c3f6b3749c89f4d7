"""train.kernel / train.convert through the method registry and train.api."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttfs.sim.errors import ConfigError
from ttfs.sim.reference import run
from ttfs.train.api import encode_for, load_split, quantize_model, train_model
from ttfs.train.methods import get_method
from ttfs.train.snn import int_forward

pytestmark = pytest.mark.train


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # tiny models: extra threads only contend (and spin) on a shared 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_kernel_and_convert_are_registered():
    assert get_method("kernel").defaults["window"] == 16
    assert get_method("convert").defaults["l4"] is True


@pytest.mark.parametrize("method,opts", [
    ("kernel", {"hidden": (8,), "window": 6}),
    ("convert", {"hidden": (8,), "time_steps": 12}),
])
def test_kernel_convert_train_quantize_encode_run(tmp_path, method, opts):
    ck = train_model("yinyang", method, epochs=1, seed=0, out=tmp_path, **opts)
    qnet = quantize_model(ck, tmp_path / "q.json")
    assert qnet.meta["method"] == method and qnet.meta["dataset"] == "yinyang"
    X, y = load_split("yinyang", "test")
    events = encode_for(tmp_path / "q.json", X[:40], y[:40])
    ref = run(qnet, events)
    mine = int_forward(qnet, events)
    assert [r.prediction for r in ref] == mine.predictions.tolist()
    assert [r.counters.spikes_per_layer for r in ref] == [
        tuple(int(c) for c in row) for row in mine.spikes_per_layer]


def test_kernel_unknown_option_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="^method 'kernel' has no option 'lam'"):
        train_model("yinyang", "kernel", epochs=1, seed=0, out=tmp_path, lam=1.0)


def test_convert_quantize_overrides_time_steps(tmp_path):
    ck = train_model("yinyang", "convert", epochs=1, seed=0, out=tmp_path, hidden=(6,))
    q8 = quantize_model(ck, time_steps=8)
    q16 = quantize_model(ck, time_steps=16, l4=False)
    assert (q8.time_steps, q16.time_steps) == (8, 16)
    assert q8.meta["encoder"]["time_steps"] == 8 and q16.meta["l4"] is False
    with pytest.raises(ConfigError, match="^convert quantization has no option 'window'"):
        quantize_model(ck, window=3)
    assert np.all(q8.layers[0].kernel == 1)


def test_convert_resume_refuses_other_options(tmp_path):
    ck = train_model("yinyang", "convert", epochs=1, seed=0, out=tmp_path, hidden=(4,))
    again = train_model("yinyang", "convert", epochs=1, seed=0, out=tmp_path, resume=True,
                        hidden=(4,))
    assert again == ck
    with pytest.raises(ConfigError, match="it was trained with other options"):
        train_model("yinyang", "convert", epochs=1, seed=0, out=tmp_path, resume=True,
                    hidden=(5,))
