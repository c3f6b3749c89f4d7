"""The Python API the command line calls: train, quantize, load data, encode for a model
(``docs/training.md``).

::

    from ttfs.train.api import train_model, quantize_model, load_split, encode_for

    ckpt = train_model("yinyang", "baseline", epochs=None, seed=0, out=Path("run/train"),
                       resume=False, progress=print)              # -> run/train/model.pt
    qnet = quantize_model(ckpt, "run/qnet.json")                  # integer network, saved
    X, y = load_split("yinyang", "test")
    events = encode_for(qnet, X, y)                               # the encoder it was trained with

Datasets: ``yinyang``, ``digits``, ``idx:PATH``, ``npz:PATH``, ``csv:PATH``
(:mod:`ttfs.train.data`). A model path is a checkpoint file or the directory ``train_model``
wrote (:func:`resolve_checkpoint`). Methods: those of
the registry :mod:`ttfs.train.methods`. Options (``**options``) override a method's defaults
(``get_method(name).defaults``); an unknown option is a :class:`ConfigError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ttfs.sim.encode import encode_rate, encode_ttfs
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, QNet, check_labels, load_qnet, save_qnet
from ttfs.sim.jsonio import is_int
from ttfs.train import data as _data
from ttfs.train.checkpoint import (
    FINAL_NAME,
    PARTIAL_NAME,
    load_checkpoint,
    resolve_checkpoint,
)
from ttfs.train.method import TrainRequest
from ttfs.train.methods import get_method

__all__ = ["train_model", "quantize_model", "load_split", "encode_for", "load_checkpoint",
           "resolve_checkpoint"]


def train_model(
    dataset: str,
    method: str,
    epochs: int | None,
    seed: int,
    out: Path,
    resume: bool = False,
    progress: Callable[[dict], None] | None = None,
    **options: Any,
) -> Path:
    """Train ``method`` on ``dataset``; returns the final checkpoint ``out/model.pt``.

    For a ``csv:`` dataset the checkpoints also record the training split's feature range
    (``scaling``, :func:`ttfs.train.data.dataset_scaling`), and resuming a run whose file no
    longer gives that range is a :class:`ConfigError`.

    ``epochs=None`` takes the method's default for the dataset. A checkpoint
    ``out/checkpoint.pt`` is written after every epoch; ``resume=True`` continues from it (same
    method, dataset and seed, else :class:`ConfigError`). ``progress`` is called after every
    epoch with a dict (``epoch``, ``epochs``, ``loss``, ``train_acc``, ``val_acc``,
    ``spikes_per_sample`` (hidden spikes per training sample), ``seconds``, ...).
    """
    _data.parse_dataset(dataset)
    if not isinstance(method, str):
        raise ConfigError(f"method must be a string, not {type(method).__name__}")
    m = get_method(method)
    if epochs is not None and (not is_int(epochs) or epochs < 1):
        raise ConfigError(f"epochs must be a positive integer or None, not {epochs!r}")
    if not is_int(seed) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, not {seed!r}")
    unknown = sorted(set(options) - set(m.defaults))
    if unknown:
        raise ConfigError(
            f"method {method!r} has no option {unknown[0]!r}; options: {sorted(m.defaults)}")
    opts = {**m.defaults, **options}
    scaling = _data.dataset_scaling(dataset)
    if scaling is not None and resume:  # the file must still give the range it was trained with
        for f in (Path(out) / FINAL_NAME, Path(out) / PARTIAL_NAME):
            ck = load_checkpoint(f) if f.is_file() else {}
            if ck.get("dataset") == dataset:
                _data.check_scaling(dataset, ck.get("scaling"))
    req = TrainRequest(dataset, None if epochs is None else int(epochs), int(seed), Path(out),
                       bool(resume), progress, opts, scaling)
    return Path(m.train(req))


def quantize_model(
    model_path: str | os.PathLike,
    out_json: str | os.PathLike | None = None,
    weight_bits: int = 8,
    potential_bits: int = 16,
    **options: Any,
) -> QNet:
    """The integer network of a trained checkpoint; written to ``out_json`` when given.

    The method that trained the checkpoint quantizes it (for the surrogate methods:
    :func:`ttfs.train.quant.quantize_network`). ``QNet.meta`` carries the method, dataset, seed and
    the encoder record, so :func:`encode_for` can reproduce the inputs.
    """
    ck = load_checkpoint(model_path)
    m = get_method(ck["method"])
    qnet = m.quantize(ck, weight_bits=weight_bits, potential_bits=potential_bits, **options)
    if ck.get("scaling") is not None:
        qnet.meta["scaling"] = ck["scaling"]
    if out_json is not None:
        save_qnet(qnet, out_json)
    return qnet


def load_split(dataset: str, split: str,
               model: QNet | str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of a split (``train``, ``validation``, ``test``) of a dataset string.

    With ``model`` (a :class:`QNet`, a ``qnet.json``, a checkpoint or a model directory), the
    data is also checked against it: a ``csv:`` dataset's training range must be the one the
    model recorded (``scaling``), and every label must be one of the network's outputs.
    """
    X, y = _data.load_split(dataset, split)
    if model is not None:
        record = _model_record(model)
        _data.check_scaling(dataset, record.get("scaling"))
        _check_labels(y, record.get("n_out"))
    return X, y


def _model_record(model: Any) -> dict:
    """``{"encoder", "scaling", "n_out"}`` of a model (what of it is known)."""
    if isinstance(model, QNet):
        enc = model.meta.get("encoder")
        if not isinstance(enc, dict):
            raise ConfigError("this qnet has no meta.encoder record; it was not made by "
                              "train.api.quantize_model, so its input encoding is unknown")
        return {"encoder": enc, "scaling": model.meta.get("scaling"), "n_out": model.n_outputs}
    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if p.suffix == ".json" and not p.is_dir():
            return _model_record(load_qnet(p))
        ck = load_checkpoint(p)
        sizes = (ck.get("net") or {}).get("sizes")
        n_out = ck.get("n_classes", sizes[-1] if sizes else None)
        return {"encoder": ck["encoder"], "scaling": ck.get("scaling"), "n_out": n_out}
    raise TypeError(f"model must be a QNet or a path, not {type(model).__name__}")


def _check_labels(y: np.ndarray | None, n_out: int | None) -> None:
    if y is not None and n_out is not None:
        check_labels(y, n_out)


def encode_for(model: QNet | str | os.PathLike, X: np.ndarray,
               y: np.ndarray | None = None) -> EventSet:
    """Input events of ``X`` under the encoder a model was trained with.

    ``model`` is a :class:`QNet` (its ``meta["encoder"]``), a ``qnet.json`` path, a checkpoint
    path or a model directory (``ttfs train -o``). A label ``>= `` the network's outputs is a
    :class:`ConfigError`. Encoder records: ``{"kind": "ttfs", "time_steps", "t_in", "cutoff",
    "bias_steps"}`` (:func:`sim.encode.encode_ttfs`) or ``{"kind": "rate", "time_steps",
    "seed", "max_rate", "bias_steps"}`` (:func:`sim.encode.encode_rate`).
    """
    record = _model_record(model)
    _check_labels(y, record["n_out"])
    enc = record["encoder"]
    kind = enc.get("kind")
    try:
        if kind == "ttfs":
            return encode_ttfs(X, enc["time_steps"], t_in=enc["t_in"], cutoff=enc["cutoff"],
                               bias_steps=tuple(enc["bias_steps"]), labels=y)
        if kind == "rate":
            return encode_rate(X, enc["time_steps"], seed=enc["seed"],
                               max_rate=enc.get("max_rate", 1.0),
                               bias_steps=tuple(enc.get("bias_steps", ())), labels=y)
    except KeyError as exc:
        raise ConfigError(f"encoder record {enc!r} is missing the field {exc.args[0]!r}") from None
    raise ConfigError(f"encoder kind must be 'ttfs' or 'rate', not {kind!r}")
