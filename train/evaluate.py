"""Float accuracy of a trained checkpoint, for any registered method.

The flow reports three accuracies side by side: the float model (here), the integer network on
the reference model, and the RTL. Each method keeps its own float model; this module knows how
to run each one on a split.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.loop import load_checkpoint

__all__ = ["float_predictions", "float_accuracy"]


def float_predictions(model_path: str | os.PathLike, X: np.ndarray) -> np.ndarray:
    """Predictions of the float model in the checkpoint ``model_path`` on features ``X``."""
    ck = load_checkpoint(model_path)
    method = ck.get("method")
    with torch.no_grad():
        if method == "kernel":
            from ttfs.train.kernel import float_predict, model_from_checkpoint

            return np.asarray(float_predict(model_from_checkpoint(ck), X)[0])
        if method == "convert":
            from ttfs.train.convert import ann_predict, model_from_checkpoint

            return np.asarray(ann_predict(model_from_checkpoint(ck), X))
        if method in ("baseline", "excess", "count", "sop"):
            from ttfs.train.loop import encode, model_from_checkpoint
            from ttfs.train.snn import events_to_dense, predict

            model = model_from_checkpoint(ck)
            enc = ck["encoder"]
            n_in = model.config.sizes[0]
            out = []
            for a in range(0, len(X), 1000):
                x = events_to_dense(encode(enc, X[a:a + 1000]), enc["time_steps"], n_in)
                out.append(predict(model(x, "float"), model.config.readout).numpy())
            return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)
    raise ConfigError(f"no float evaluation for checkpoints of method {method!r}")


def float_accuracy(model_path: str | os.PathLike, X: np.ndarray, y: np.ndarray) -> float:
    """Fraction of ``X`` the float model classifies as ``y``."""
    pred = float_predictions(model_path, X)
    return float(np.mean(pred == np.asarray(y))) if len(y) else 0.0
