"""train.api: train a small network, quantize it, and check the integer network against the
reference model on every test sample (predictions, spikes per layer, SOPs, trace); resume after
an interruption; encoder records; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ttfs.sim.encode import encode_ttfs
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import load_qnet
from ttfs.sim.reference import run
from ttfs.train.api import encode_for, load_checkpoint, load_split, quantize_model, train_model
from ttfs.train.loop import model_from_checkpoint
from ttfs.train.snn import events_to_dense, int_forward, predict

pytestmark = pytest.mark.train

# small and fast: a 4-16-3 layer-phased network over 16 steps (inputs in 0..9, hidden fires in
# 10..15), 2 epochs, the second quantization-aware
SMALL = dict(hidden=(16,), time_steps=16, t_in=10, th_hold=10, in_kernel=10, out_kernel=16,
             qat=0.5, batch_size=100)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    seen = []
    path = train_model("yinyang", "baseline", 2, 0, out, progress=seen.append, **SMALL)
    return path, seen


def test_progress_and_checkpoint_contents(trained):
    path, seen = trained
    assert [r["epoch"] for r in seen] == [1, 2]
    assert [r["mode"] for r in seen] == ["float", "qat"]
    for r in seen:
        assert 0.0 <= r["val_acc"] <= 1.0 and r["spikes_per_sample"] >= 0.0
    ck = load_checkpoint(path)
    assert ck["complete"] and ck["epoch"] == 2 and len(ck["history"]) == 2
    assert ck["encoder"] == {"kind": "ttfs", "time_steps": 16, "t_in": 10, "cutoff": 0.0,
                             "bias_steps": [0]}
    assert set(ck) >= {"net", "model", "optimizer", "options", "history"}


@pytest.mark.parametrize("method,reset,readout,leak", [
    ("baseline", "fire_once", "max_potential", 0),
    ("baseline", "fire_once", "first_spike", 0),
    ("excess", "subtract", "max_potential", 0),
    ("sop", "zero", "first_spike", 1),
])
def test_trained_integer_network_equals_reference_on_every_test_sample(tmp_path, method, reset,
                                                                       readout, leak):
    opts = dict(SMALL, readout=readout, reset=reset, out_reset=reset, leak_shift=leak,
                lam=0.1)
    if readout == "first_spike":  # a spiking output layer: ramp its threshold too, no kernel
        opts.update(out_kernel=1, th_hold=0, in_kernel=1, th_start=2.0, th_end=0.3)
    path = train_model("yinyang", method, 2, 1, tmp_path, **opts)
    qnet = quantize_model(path, tmp_path / "qnet.json")
    assert load_qnet(tmp_path / "qnet.json").equals(qnet)
    X, y = load_split("yinyang", "test")
    events = encode_for(qnet, X, y)
    x = events_to_dense(events, qnet.time_steps, qnet.n_inputs)
    got = int_forward(qnet, x)
    ref = run(qnet, events, trace=True)
    assert len(ref) == 1000
    for n, r in enumerate(ref):
        assert int(got.predictions[n]) == r.prediction, f"sample {n}"
        assert tuple(int(c) for c in got.spikes_per_layer[n]) == r.counters.spikes_per_layer
        assert int(got.sops[n]) == r.counters.sops
        assert int(got.saturations[n]) == r.counters.saturations
        assert np.array_equal(got.trace(n), r.trace), f"sample {n} trace"
    # the default network learned something in 2 small epochs: better than the 1/3 of chance
    acc = float(np.mean([r.prediction for r in ref] == y))
    if (method, readout) == ("baseline", "max_potential"):
        assert acc > 0.5
    # and the model's quantization-aware forward is the same integer network (no saturation here)
    assert got.saturations.sum() == 0
    model = model_from_checkpoint(load_checkpoint(path))
    with torch.no_grad():
        fwd = model(x, "qat")
    for a, b in zip(fwd.spikes, got.spikes, strict=True):
        assert torch.equal(a.to(torch.int64), b)
    assert np.array_equal(predict(fwd, readout).numpy(), got.predictions)
    # the penalty methods train through the same forward; their networks are as exact
    assert load_checkpoint(path)["method"] == method


def test_encode_for_uses_the_training_encoder(trained):
    path, _ = trained
    X, y = load_split("yinyang", "test")
    a = encode_for(path, X[:50], y[:50])
    b = encode_ttfs(X[:50], 16, t_in=10, bias_steps=(0,), labels=y[:50])
    assert all(np.array_equal(p, q) for p, q in zip(a.samples, b.samples, strict=True))
    assert np.array_equal(a.labels, y[:50])


class _Interrupt(Exception):
    pass


def test_resume_equals_an_uninterrupted_run(tmp_path, trained):
    path, _ = trained

    def stop_after_first(rec):
        if rec["epoch"] == 1:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        train_model("yinyang", "baseline", 2, 0, tmp_path, progress=stop_after_first, **SMALL)
    ck1 = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ck1["epoch"] == 1 and not ck1["complete"]
    assert not (tmp_path / "model.pt").exists()
    seen = []
    resumed = train_model("yinyang", "baseline", 2, 0, tmp_path, resume=True,
                          progress=seen.append, **SMALL)
    assert [r["epoch"] for r in seen] == [2]
    a, b = load_checkpoint(path)["model"], load_checkpoint(resumed)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with pytest.raises(ConfigError, match="cannot resume: .* 'baseline' run on 'yinyang' with "
                                          "seed 0, not 'baseline' on 'yinyang' with seed 5"):
        train_model("yinyang", "baseline", 2, 5, tmp_path, resume=True, **SMALL)


def test_bad_inputs(tmp_path):
    with pytest.raises(ConfigError) as exc:
        train_model("yinyang", "nope", 1, 0, tmp_path)
    assert str(exc.value).startswith("method must be one of ") and "'baseline'" in str(exc.value)
    with pytest.raises(ConfigError) as exc:
        train_model("yinyang", "baseline", 1, 0, tmp_path, hiddn=(3,))
    assert str(exc.value).startswith("method 'baseline' has no option 'hiddn'")
    with pytest.raises(ConfigError, match="epochs must be a positive integer or None, not 0"):
        train_model("yinyang", "baseline", 0, 0, tmp_path)
    with pytest.raises(ConfigError, match="needs hidden neurons that can spike more than once"):
        train_model("yinyang", "excess", 1, 0, tmp_path, reset="fire_once")
    with pytest.raises(ConfigError, match="does not exist"):
        quantize_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="cannot be read"):
        quantize_model(tmp_path / "junk.pt")


def test_evaluate_checkpoint_figures_agree_with_the_reference(trained):
    from ttfs.train.report import evaluate_checkpoint

    path, _ = trained
    fig = evaluate_checkpoint(path)
    qnet = quantize_model(path)
    X, y = load_split("yinyang", "test")
    ref = run(qnet, encode_for(qnet, X, y))
    assert fig["int_acc"] == float(np.mean(np.array([r.prediction for r in ref]) == y))
    assert fig["hidden_spikes"] == float(np.mean([r.counters.spikes_per_layer[0] for r in ref]))
    assert fig["sops"] == float(np.mean([r.counters.sops for r in ref]))
    assert fig["spikes_per_hidden_neuron"] == fig["hidden_spikes"] / 16
    assert fig["quantization_loss"] == fig["float_acc"] - fig["int_acc"]
    # a neuron counted as never firing has no spike in any sample's counters... and vice versa
    fired = np.zeros(16, dtype=bool)
    for r in run(qnet, encode_for(qnet, X, y), trace=True):
        fired[r.trace[r.trace[:, 0] == 1, 2]] = True
    assert fig["silent_fraction"] == float((~fired).sum()) / 16


def test_encode_for_rate_records_and_missing_records():
    from ttfs.sim.encode import encode_rate
    from ttfs.sim.ir import Layer, QNet

    enc = {"kind": "rate", "time_steps": 8, "seed": 3, "max_rate": 0.5, "bias_steps": [2]}
    qnet = QNet(5, 8, (Layer(np.ones((5, 2), dtype=np.int64), 3),), meta={"encoder": enc})
    X = np.linspace(0, 1, 12).reshape(3, 4)
    a = encode_for(qnet, X)
    b = encode_rate(X, 8, seed=3, max_rate=0.5, bias_steps=(2,))
    assert all(np.array_equal(p, q) for p, q in zip(a.samples, b.samples, strict=True))
    bare = QNet(5, 8, (Layer(np.ones((5, 2), dtype=np.int64), 3),))
    with pytest.raises(ConfigError, match="this qnet has no meta.encoder record"):
        encode_for(bare, X)
    odd = QNet(5, 8, (Layer(np.ones((5, 2), dtype=np.int64), 3),),
               meta={"encoder": {"kind": "phase", "time_steps": 8}})
    with pytest.raises(ConfigError, match="encoder kind must be 'ttfs' or 'rate', not 'phase'"):
        encode_for(odd, X)


def test_idx_dataset_trains_and_exports_end_to_end(tmp_path):
    import struct

    rng = np.random.default_rng(0)

    def idx(arr):
        head = bytes([0, 0, 8, arr.ndim]) + b"".join(struct.pack(">I", n) for n in arr.shape)
        return head + arr.astype(np.uint8).tobytes()

    for prefix, n in (("train", 120), ("t10k", 30)):
        labels = rng.integers(0, 3, n)
        images = rng.integers(0, 60, (n, 3, 3))
        images[np.arange(n), labels, 0] = 250  # a learnable pixel per class
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(idx(images))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(idx(labels))
    path = train_model(f"idx:{tmp_path}", "baseline", 1, 0, tmp_path / "run", **SMALL)
    qnet = quantize_model(path)
    assert qnet.n_inputs == 9 + 1 and qnet.n_outputs == 3
    X, y = load_split(f"idx:{tmp_path}", "test")
    events = encode_for(qnet, X, y)
    got = int_forward(qnet, events_to_dense(events, qnet.time_steps, qnet.n_inputs))
    ref = run(qnet, events, trace=True)
    assert [int(p) for p in got.predictions] == [r.prediction for r in ref]
    assert all(np.array_equal(got.trace(n), r.trace) for n, r in enumerate(ref))
