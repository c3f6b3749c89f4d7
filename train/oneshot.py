"""Shared plumbing of the methods that train in one call and save one final checkpoint
(``kernel``, ``convert``): the options, the ``threads`` setting, the data, resuming a completed
run, progress, the checkpoint, and the method's registry entry (:func:`method`).

A resumed request returns the existing ``out/model.pt`` when it was completed by the same
method, dataset, seed and options, and is refused (:class:`ConfigError`) when any of them differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.checkpoint import CHECKPOINT_FORMAT, FINAL_NAME, load_checkpoint, save_atomic
from ttfs.train.data import dataset_info, load_split, parse_dataset
from ttfs.train.method import Method, TrainRequest

__all__ = ["config", "start", "save", "Fit", "Fitted", "train", "method"]


def _listed(d: dict) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def config(cls, method: str, defaults: dict, options: dict, epochs: int, seed: int):
    """``cls(epochs, seed, **options)`` after refusing options ``defaults`` does not name;
    ``threads`` is a run setting, not part of the config, and ``hidden`` may be one integer."""
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(f"method {method!r} has no option {unknown[0]!r}; "
                          f"options: {sorted(defaults)}")
    opts = {k: v for k, v in options.items() if k != "threads"}
    if "hidden" in opts:
        h = opts["hidden"]
        opts["hidden"] = (h,) if isinstance(h, (int, np.integer)) else tuple(h)
    return cls(epochs=int(epochs), seed=int(seed), **opts)


def start(req, method: str) -> tuple[Path, bool]:
    """Apply ``threads``, make ``out/``; returns ``(final checkpoint path, already complete)``."""
    threads = req.options.get("threads", 1)
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigError(f"threads must be a positive integer, not {threads!r}")
    torch.set_num_threads(threads)  # small nets: more threads only contend
    out = Path(req.out)
    out.mkdir(parents=True, exist_ok=True)
    final = out / FINAL_NAME
    if req.resume and final.is_file():
        ck = load_checkpoint(final)
        if (ck.get("method"), ck.get("dataset"), ck.get("seed")) != (method, req.dataset,
                                                                     req.seed):
            raise ConfigError(f"cannot resume {str(final)!r}: it was trained with another "
                              "method, dataset or seed")
        if ck.get("options") != _listed(dict(req.options)):
            raise ConfigError(f"cannot resume {str(final)!r}: it was trained with other "
                              "options (train again without resuming)")
        if ck.get("complete"):
            return final, True
    return final, False


def save(req, method: str, final: Path, cfg: Any, n_features: int, n_classes: int,
         encoder: dict, model: torch.nn.Module, history: list, epochs: int) -> Path:
    """Write the completed checkpoint of a one-shot method to ``final``."""
    save_atomic({
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "method": method,
        "dataset": req.dataset,
        "seed": int(req.seed),
        "options": _listed(dict(req.options)),
        "config": _listed(asdict(cfg)),
        "n_features": int(n_features),
        "n_classes": int(n_classes),
        "encoder": encoder,
        "model": model.state_dict(),
        "history": history,
        "epoch": int(epochs),
        "epochs": int(epochs),
        "complete": True,
        "scaling": req.scaling,
    }, final)
    return final


@dataclass(frozen=True)
class Fit:
    """What a one-shot method's ``fit`` trains from: its config, the training and validation
    splits, the class count and the epoch count; :meth:`report` hands a progress record on."""

    cfg: Any
    X: np.ndarray
    y: np.ndarray
    Xv: np.ndarray
    yv: np.ndarray
    n_classes: int
    epochs: int
    progress: Callable[[dict], None] | None
    t0: float

    def report(self, **fields) -> None:
        """Pass ``{"epochs": ..., **fields, "seconds": ...}`` to the progress callback, if any."""
        if self.progress is not None:
            self.progress({"epochs": self.epochs, **fields, "seconds": time.time() - self.t0})


@dataclass(frozen=True)
class Fitted:
    """What ``fit`` returns: the trained model, its history and its input encoder record."""

    model: torch.nn.Module
    history: list
    encoder: dict


def train(req: TrainRequest, name: str, config_cls, defaults: Mapping[str, Any],
          epochs_by_kind: Mapping[str, int], fit: Callable[[Fit], Fitted]) -> Path:
    """Train method ``name`` for ``req`` with ``fit`` and save its checkpoint (or return the one
    a completed earlier run left); ``epochs_by_kind`` is the default epoch count per dataset
    kind."""
    kind, _ = parse_dataset(req.dataset)
    epochs = req.epochs if req.epochs is not None else epochs_by_kind[kind]
    cfg = config(config_cls, name, dict(defaults), dict(req.options), epochs, req.seed)
    final, done = start(req, name)
    if done:
        return final
    info = dataset_info(req.dataset)
    X, y = load_split(req.dataset, "train")
    Xv, yv = load_split(req.dataset, "validation")
    out = fit(Fit(cfg, X, y, Xv, yv, info.n_classes, epochs, req.progress, time.time()))
    return save(req, name, final, cfg, X.shape[1], info.n_classes, out.encoder, out.model,
                out.history, epochs)


def method(name: str, summary: str, config_cls, defaults: Mapping[str, Any],
           epochs_by_kind: Mapping[str, int], fit: Callable[[Fit], Fitted],
           quantize: Callable[..., Any], predict: Callable[[dict, Any], Any]) -> Method:
    """The registry entry of a one-shot method (``ttfs.train.methods``)."""
    return Method(
        name=name, summary=summary,
        train=lambda req: train(req, name, config_cls, defaults, epochs_by_kind, fit),
        quantize=quantize, defaults=dict(defaults), predict=predict,
    )
