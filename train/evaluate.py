"""Float accuracy of a trained checkpoint, for any registered method.

The flow reports three accuracies side by side: the float model (here), the integer network on
the reference model, and the RTL. Each method's ``predict`` runs its own float model
(:class:`ttfs.train.method.Method`); see ``docs/training.md``.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.checkpoint import load_checkpoint
from ttfs.train.methods import get_method, method_names

__all__ = ["float_predictions", "float_accuracy"]


def float_predictions(model_path: str | os.PathLike, X: np.ndarray) -> np.ndarray:
    """Predictions of the float model in the checkpoint ``model_path`` on features ``X``.

    ``model_path`` is a checkpoint file or the directory ``train_model`` wrote (its ``model.pt``,
    :func:`ttfs.train.checkpoint.resolve_checkpoint`)."""
    ck = load_checkpoint(model_path)
    name = ck.get("method")
    predict = get_method(name).predict if name in method_names() else None
    if predict is None:
        raise ConfigError(f"no float evaluation for checkpoints of method {name!r}")
    with torch.no_grad():
        return np.asarray(predict(ck, X))


def float_accuracy(model_path: str | os.PathLike, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``X`` the float model classifies as ``y``."""
    pred = float_predictions(model_path, X)
    return float(np.mean(pred == np.asarray(y))) if len(y) else 0.0
