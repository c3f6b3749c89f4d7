"""Shared plumbing of the methods that train in one call and save one final checkpoint
(``kernel``, ``convert``): the ``threads`` option, resuming a completed run, and the checkpoint.

A resumed request returns the existing ``out/model.pt`` when it was completed by the same
method, dataset, seed and options, and is refused (:class:`ConfigError`) when any of them differ.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.checkpoint import CHECKPOINT_FORMAT, load_checkpoint, save_atomic

__all__ = ["config", "start", "save"]


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
    final = out / "model.pt"
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
    }, final)
    return final
