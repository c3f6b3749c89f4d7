"""Checkpoint files of every training method: the format tag, an atomic write, and loading.

A checkpoint is a ``torch.save`` dict with ``format`` ``ttfs.train.checkpoint`` and ``version``
1; ``docs/training.md`` lists its fields.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ttfs.sim.errors import ConfigError

__all__ = ["CHECKPOINT_FORMAT", "save_atomic", "load_checkpoint"]

CHECKPOINT_FORMAT = "ttfs.train.checkpoint"


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` ``obj`` to ``path`` through a temporary file, so no reader sees half of it."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint written by a trainer; :class:`ConfigError` if it is not one."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"checkpoint {str(p)!r} does not exist")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise ConfigError(f"checkpoint {str(p)!r} cannot be read: {exc}") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{str(p)!r} is not a {CHECKPOINT_FORMAT} file")
    if ck.get("version") != 1:
        raise ConfigError(f"unsupported {CHECKPOINT_FORMAT} version {ck.get('version')!r}")
    return ck
