"""The surrogate-gradient trainer shared by ``baseline``, ``excess``, ``count`` and ``sop``,
and their four :class:`~ttfs.train.method.Method` entries (``docs/training.md``).

One run encodes the dataset with :func:`ttfs.sim.encode.encode_ttfs` (the settings are stored in
the checkpoint), trains a :class:`ttfs.train.snn.TTFSNet` with Adam on ``task + penalty``
(:mod:`ttfs.train.penalties`), runs the last ``qat`` fraction of the epochs quantization-aware,
and writes ``out/checkpoint.pt`` atomically after every epoch; ``resume=True`` continues from it
and ends with the weights of an uninterrupted run.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ttfs.sim.encode import encode_ttfs
from ttfs.sim.errors import ConfigError
from ttfs.train.checkpoint import (
    CHECKPOINT_FORMAT,
    FINAL_NAME,
    PARTIAL_NAME,
    load_checkpoint,
    save_atomic,
)
from ttfs.train.data import dataset_info, load_split, parse_dataset
from ttfs.train.method import Method, TrainRequest
from ttfs.train.penalties import PENALTY_DEFAULTS, make_penalty
from ttfs.train.quant import quantize_network
from ttfs.train.snn import NetConfig, TTFSNet, events_to_dense, predict

__all__ = ["DEFAULTS", "DEFAULT_EPOCHS", "train_surrogate", "build_model", "encoder_settings",
           "encode", "evaluate", "model_from_checkpoint", "float_predictions",
           "quantize_checkpoint", "BASELINE", "EXCESS", "COUNT", "SOP"]

#: Options of the surrogate methods (every one can be overridden through ``**options``).
DEFAULTS: dict[str, Any] = {
    # the layer-phased TTFS network (train.snn.NetConfig): inputs arrive in steps 0..t_in-1 and
    # are weighted by the falling kernel K_1[t] = t_in - t (a linear layer on x); the hidden
    # layer holds its threshold until t_in, then fires as a ramp threshold falls from th_start
    # to th_end; the non-spiking output weights each hidden spike by K_2[t] = T - t
    "hidden": (120,),
    "time_steps": 80,
    "t_in": 48,
    "cutoff": 0.0,
    "bias_steps": (0,),
    "reset": "fire_once",
    "out_reset": "fire_once",
    "leak_shift": 0,
    "out_leak_shift": 0,
    "readout": "max_potential",
    "th_start": 2.0,
    "th_end": 0.05,
    "th_hold": 48,
    "in_kernel": 48,
    "out_kernel": 80,
    "tau": 2.0,
    "slope": 5.0,
    "lr": 3e-3,
    "batch_size": 50,
    "qat": 0.25,
    "weight_bits": 8,
    "potential_bits": 16,
    "early_exit": False,
    "init_mean": 1.0,
    "init_std": 1.0,
    "threads": 1,
    **PENALTY_DEFAULTS,
}

DEFAULT_EPOCHS = {"yinyang": 30, "digits": 30, "mnist1d": 30, "idx": 8}


def encoder_settings(opts: dict) -> dict:
    """The encoder record stored in checkpoints and ``QNet.meta["encoder"]``."""
    return {
        "kind": "ttfs",
        "time_steps": int(opts["time_steps"]),
        "t_in": int(opts["t_in"]),
        "cutoff": float(opts["cutoff"]),
        "bias_steps": [int(b) for b in opts["bias_steps"]],
    }


def encode(encoder: dict, X: np.ndarray, y: np.ndarray | None = None):
    """Events of ``X`` under an encoder record (``sim.encode.encode_ttfs``)."""
    if encoder.get("kind") != "ttfs":
        raise ConfigError(f"this trainer encodes with kind 'ttfs', not {encoder.get('kind')!r}")
    return encode_ttfs(X, encoder["time_steps"], t_in=encoder["t_in"], cutoff=encoder["cutoff"],
                       bias_steps=tuple(encoder["bias_steps"]), labels=y)


def build_model(opts: dict, n_features: int, n_classes: int, seed: int) -> TTFSNet:
    hidden = tuple(int(h) for h in opts["hidden"])
    L = len(hidden) + 1
    cfg = NetConfig(
        sizes=(n_features + len(opts["bias_steps"]),) + hidden + (n_classes,),
        time_steps=int(opts["time_steps"]),
        resets=(opts["reset"],) * len(hidden) + (opts["out_reset"],),
        leak_shifts=(int(opts["leak_shift"]),) * len(hidden) + (int(opts["out_leak_shift"]),),
        readout=opts["readout"],
        th_start=(float(opts["th_start"]),) * L,
        th_end=(float(opts["th_end"]),) * L,
        kernel_max=(int(opts["in_kernel"]),) + (1,) * (len(hidden) - 1)
        + (int(opts["out_kernel"]),),
        th_hold=(int(opts["th_hold"]),) * len(hidden) + (0,),
        weight_bits=int(opts["weight_bits"]),
        potential_bits=int(opts["potential_bits"]),
        tau=float(opts["tau"]),
        slope=float(opts["slope"]),
        early_exit=bool(opts["early_exit"]),
        init_mean=float(opts["init_mean"]),
        init_std=float(opts["init_std"]),
    )
    gen = torch.Generator().manual_seed(int(seed))
    return TTFSNet(cfg, generator=gen)


def evaluate(model: TTFSNet, x: torch.Tensor, y: torch.Tensor, mode: str,
             batch: int = 1000) -> dict:
    """Accuracy and hidden spikes per sample of ``model`` in ``mode`` on dense inputs."""
    correct = 0
    hidden_spikes = 0.0
    with torch.no_grad():
        for a in range(0, x.shape[1], batch):
            fwd = model(x[:, a:a + batch], mode)
            correct += int((predict(fwd, model.config.readout) == y[a:a + batch]).sum())
            hidden_spikes += float(sum(s.sum() for s in fwd.spikes[:-1]))
    n = x.shape[1]
    return {"acc": correct / n, "hidden_spikes": hidden_spikes / n}


def model_from_checkpoint(ck: dict) -> TTFSNet:
    model = TTFSNet(NetConfig.from_dict(ck["net"]))
    model.load_state_dict(ck["model"])
    return model


def float_predictions(ck: dict, X: np.ndarray) -> np.ndarray:
    """Predictions of the float model of checkpoint ``ck`` on features ``X``."""
    model = model_from_checkpoint(ck)
    enc = ck["encoder"]
    n_in = model.config.sizes[0]
    out = []
    for a in range(0, len(X), 1000):
        x = events_to_dense(encode(enc, X[a:a + 1000]), enc["time_steps"], n_in)
        out.append(predict(model(x, "float"), model.config.readout).numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


def train_surrogate(req: TrainRequest, method: str) -> Path:
    """Train with ``method``'s penalty (:mod:`ttfs.train.penalties`); returns ``out/model.pt``."""
    opts = dict(req.options)
    kind, _ = parse_dataset(req.dataset)
    epochs = req.epochs if req.epochs is not None else DEFAULT_EPOCHS[kind]
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, not {epochs}")
    if method == "excess" and opts["reset"] == "fire_once":
        raise ConfigError("method 'excess' needs hidden neurons that can spike more than once: "
                          "reset 'zero' or 'subtract', not 'fire_once'")
    torch.set_num_threads(int(opts["threads"]))
    out = Path(req.out)
    out.mkdir(parents=True, exist_ok=True)
    ck_path = out / PARTIAL_NAME
    info = dataset_info(req.dataset)
    enc = encoder_settings(opts)
    Xtr, ytr = load_split(req.dataset, "train")
    Xva, yva = load_split(req.dataset, "validation")
    n_in = info.n_features + len(enc["bias_steps"])
    xtr = events_to_dense(encode(enc, Xtr), enc["time_steps"], n_in)
    xva = events_to_dense(encode(enc, Xva), enc["time_steps"], n_in)
    ytr_t, yva_t = torch.from_numpy(ytr), torch.from_numpy(yva)

    model = build_model(opts, info.n_features, info.n_classes, req.seed)
    opt = torch.optim.Adam(model.parameters(), lr=float(opts["lr"]))
    history: list[dict] = []
    start = 0
    if req.resume and ck_path.exists():
        ck = load_checkpoint(ck_path)
        if ck["method"] != method or ck["dataset"] != req.dataset or ck["seed"] != req.seed:
            raise ConfigError(
                f"cannot resume: {str(ck_path)!r} is a {ck['method']!r} run on "
                f"{ck['dataset']!r} with seed {ck['seed']}, not {method!r} on "
                f"{req.dataset!r} with seed {req.seed}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        start, history = int(ck["epoch"]), list(ck["history"])
    penalty = make_penalty(method, opts)
    fan_outs = list(model.config.sizes[2:])
    qat_from = epochs - int(round(float(opts["qat"]) * epochs))
    bs = int(opts["batch_size"])
    N = xtr.shape[1]
    for epoch in range(start, epochs):
        t0 = time.perf_counter()
        mode = "qat" if epoch >= qat_from else "float"
        if epoch == qat_from:
            # fix the potential-range part of the quantization scale before fine-tuning with it
            model.calibrate(xtr)
        lr = float(opts["lr"]) * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
        for g in opt.param_groups:
            g["lr"] = lr
        gen = torch.Generator().manual_seed(int(req.seed) * 100_003 + epoch)
        perm = torch.randperm(N, generator=gen)
        tot_loss = tot_pen = 0.0
        correct = 0
        spikes = 0.0
        for a in range(0, N, bs):
            idx = perm[a:a + bs]
            fwd = model(xtr[:, idx], mode)
            task = F.cross_entropy(fwd.logits, ytr_t[idx])
            counts = [s.sum(dim=0) for s in fwd.spikes[:-1]]
            pen = penalty(counts, fan_outs, epoch, epochs)
            loss = task + pen
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            k = len(idx)
            tot_loss += float(loss.detach()) * k
            tot_pen += float(pen.detach()) * k
            correct += int((predict(fwd, model.config.readout) == ytr_t[idx]).sum())
            spikes += float(sum(c.detach().sum() for c in counts))
        train_s = time.perf_counter() - t0
        val = evaluate(model, xva, yva_t, mode)
        rec = {
            "epoch": epoch + 1,
            "epochs": epochs,
            "mode": mode,
            "lr": lr,
            "penalty_weight": penalty.weight(epoch, epochs),
            "loss": tot_loss / N,
            "penalty": tot_pen / N,
            "train_acc": correct / N,
            "val_acc": val["acc"],
            "spikes_per_sample": spikes / N,
            "val_spikes_per_sample": val["hidden_spikes"],
            "train_seconds": train_s,
            "seconds": time.perf_counter() - t0,
        }
        history.append(rec)
        save_atomic(_checkpoint(req, method, opts, enc, model, opt, epoch + 1, epochs,
                                 history, complete=False), ck_path)
        if req.progress is not None:
            req.progress(dict(rec))
    if qat_from >= epochs:
        model.calibrate(xtr)
    final = out / FINAL_NAME
    save_atomic(_checkpoint(req, method, opts, enc, model, opt, epochs, epochs, history,
                             complete=True), final)
    return final


def _checkpoint(req, method, opts, enc, model, opt, epoch, epochs, history, complete) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "method": method,
        "dataset": req.dataset,
        "seed": int(req.seed),
        "options": {k: (list(v) if isinstance(v, tuple) else v) for k, v in opts.items()},
        "net": model.config.to_dict(),
        "encoder": enc,
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "epoch": int(epoch),
        "epochs": int(epochs),
        "history": history,
        "complete": bool(complete),
        "scaling": req.scaling,
    }


def quantize_checkpoint(ck: dict, weight_bits: int | None = None,
                        potential_bits: int | None = None, **kw):
    """The integer network of a surrogate checkpoint (:func:`ttfs.train.quant.quantize_network`)."""
    model = model_from_checkpoint(ck)
    meta = {"method": ck["method"], "dataset": ck["dataset"], "seed": ck["seed"]}
    return quantize_network(model, encoder=ck["encoder"], weight_bits=weight_bits,
                            potential_bits=potential_bits, meta=meta, **kw)


def _surrogate(name: str, summary: str, **defaults) -> Method:
    return Method(name=name, summary=summary, train=partial(train_surrogate, method=name),
                  quantize=quantize_checkpoint, defaults={**DEFAULTS, **defaults},
                  predict=float_predictions)


BASELINE = _surrogate("baseline", "surrogate-gradient TTFS training, task loss only")
EXCESS = _surrogate("excess", "excess-spike penalty with 2-phase training (Fontanini et al. 2024)",
                    reset="subtract", lam=1.0)
COUNT = _surrogate("count", "spike-count penalty with an annealed weight (Allred et al. 2020)",
                   lam=1.0)
SOP = _surrogate("sop", "synaptic-operation penalty sum_l fan_out_l * spikes_l "
                 "(Suetake et al. 2023)", lam=1.0)
