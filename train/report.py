"""Evaluation of a trained checkpoint: float, quantization-aware and integer accuracy, and the
hardware-relevant activity figures, with the integer figures taken from :func:`sim.reference.run`.

Figures (per sample means over the split; "hidden" = every layer but the output):

* ``float_acc``: the float model (``mode="float"``); ``qat_acc``: its quantization-aware forward;
  ``int_acc``: the exported :class:`sim.ir.QNet` run by the reference model;
  ``quantization_loss = float_acc - int_acc``;
* ``hidden_spikes``: hidden spikes per sample; ``spikes_per_hidden_neuron`` = that / neurons;
* ``sops``: synaptic operations per sample (the reference model's counter: each event into
  layer ``l`` costs ``n_l``);
* ``silent_fraction``: fraction of hidden neurons that never fire on any sample of the split;
* ``saturations``: saturating adds in the whole split.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ttfs.sim.reference import run
from ttfs.train.api import encode_for, load_checkpoint, load_split, quantize_model
from ttfs.train.loop import model_from_checkpoint
from ttfs.train.snn import events_to_dense, predict

__all__ = ["evaluate_checkpoint"]


def evaluate_checkpoint(path: str | os.PathLike, split: str = "test",
                        weight_bits: int = 8, potential_bits: int = 16) -> dict:
    """The figures of the module docstring for the checkpoint at ``path`` on ``split``."""
    ck = load_checkpoint(path)
    qnet = quantize_model(path, None, weight_bits=weight_bits, potential_bits=potential_bits)
    X, y = load_split(ck["dataset"], split)
    events = encode_for(qnet, X, y)
    res = run(qnet, events)
    pred = np.array([r.prediction for r in res])
    L = len(qnet.layers)
    spl = np.array([r.counters.spikes_per_layer for r in res])  # (N, L)
    hidden_n = sum(layer.n_out for layer in qnet.layers[:-1])
    model = model_from_checkpoint(ck)
    x = events_to_dense(events, qnet.time_steps, qnet.n_inputs)
    yt = torch.from_numpy(y)
    accs = {}
    fired = [torch.zeros(layer.n_out, dtype=torch.bool) for layer in qnet.layers[:-1]]
    with torch.no_grad():
        for mode in ("float", "qat"):
            correct = 0
            for a in range(0, x.shape[1], 1000):
                fwd = model(x[:, a:a + 1000], mode)
                correct += int((predict(fwd, qnet.readout) == yt[a:a + 1000]).sum())
                if mode == "qat":
                    for li in range(L - 1):
                        fired[li] |= fwd.spikes[li].sum(dim=(0, 1)) > 0
            accs[mode] = correct / len(y)
    int_acc = float(np.mean(pred == y))
    hidden_spikes = float(spl[:, :L - 1].sum(axis=1).mean()) if L > 1 else 0.0
    silent = (sum(int((~f).sum()) for f in fired) / hidden_n) if hidden_n else 0.0
    hist = ck["history"]
    return {
        "method": ck["method"],
        "dataset": ck["dataset"],
        "seed": ck["seed"],
        "options": {k: ck["options"][k]
                    for k in ("lam", "reset", "two_phase", "silence", "schedule")
                    if k in ck["options"]},
        "network": qnet.describe(),
        "epochs": ck["epoch"],
        "float_acc": accs["float"],
        "qat_acc": accs["qat"],
        "int_acc": int_acc,
        "quantization_loss": accs["float"] - int_acc,
        "hidden_spikes": hidden_spikes,
        "spikes_per_hidden_neuron": hidden_spikes / hidden_n if hidden_n else 0.0,
        "output_spikes": float(spl[:, L - 1].mean()),
        "sops": float(np.mean([r.counters.sops for r in res])),
        "silent_fraction": silent,
        "saturations": int(sum(r.counters.saturations for r in res)),
        "train_seconds": float(sum(h["train_seconds"] for h in hist)),
        "seconds_per_epoch": float(np.mean([h["seconds"] for h in hist])),
    }
