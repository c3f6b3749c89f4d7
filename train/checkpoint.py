"""Checkpoint files of every training method: the format tag, an atomic write, and loading.

A checkpoint is a ``torch.save`` dict with ``format`` ``ttfs.train.checkpoint`` and ``version``
1; ``docs/training.md`` lists its fields.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ttfs.sim.errors import ConfigError

__all__ = ["CHECKPOINT_FORMAT", "FINAL_NAME", "PARTIAL_NAME", "save_atomic", "resolve_checkpoint",
           "load_checkpoint"]

CHECKPOINT_FORMAT = "ttfs.train.checkpoint"
#: The names of a training run's files in its output directory: the finished model, and the
#: checkpoint written after every epoch.
FINAL_NAME = "model.pt"
PARTIAL_NAME = "checkpoint.pt"


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary file, so no reader sees half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """The checkpoint file a model path names: a file is itself, a directory that ``ttfs train
    -o`` wrote is its ``model.pt``. :class:`ConfigError` for a missing path, or a directory
    without ``model.pt`` (saying whether an unfinished run's ``checkpoint.pt`` is there)."""
    p = Path(path)
    if p.is_dir():
        final = p / FINAL_NAME
        if final.is_file():
            return final
        if (p / PARTIAL_NAME).is_file():
            raise ConfigError(
                f"model directory {str(p)!r} has no {FINAL_NAME}, only the {PARTIAL_NAME} of an "
                "unfinished training run (run the same ttfs train again to finish it)")
        raise ConfigError(f"model directory {str(p)!r} has no {FINAL_NAME} (nor {PARTIAL_NAME}); "
                          "it is not a directory written by ttfs train -o")
    if not p.exists():
        raise ConfigError(f"checkpoint {str(p)!r} does not exist")
    if not p.is_file():
        raise ConfigError(f"checkpoint {str(p)!r} is not a file")
    return p


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint written by a trainer: a checkpoint file, or a model directory
    (:func:`resolve_checkpoint`); :class:`ConfigError` if it is not one."""
    p = resolve_checkpoint(path)
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"checkpoint {str(p)!r} cannot be read (it is not a torch.save file "
                          f"written by ttfs train): {first}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{str(p)!r} is not a {CHECKPOINT_FORMAT} file")
    if ck.get("version") != 1:
        raise ConfigError(f"unsupported {CHECKPOINT_FORMAT} version {ck.get('version')!r}")
    return ck
