"""Where a run directory keeps the artifacts the flow's steps share, and how they are read.

The list of steps and their artifacts is in :mod:`ttfs.flows.flow`.
"""

from __future__ import annotations

import json
from pathlib import Path

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import load_events, load_qnet

__all__ = ["train_dir", "model_path", "qnet_path", "relative", "read_json", "read_events"]


def train_dir(run, method: str) -> Path:
    """The folder ``method`` trains in."""
    return run.path(f"train/{method}")


def model_path(run, method: str) -> Path:
    """The final checkpoint of ``method``."""
    return train_dir(run, method) / "model.pt"


def qnet_path(run, method: str) -> Path:
    """The integer network of ``method``."""
    return run.path(f"qnet_{method}.json")


def relative(run, p: Path) -> str:
    """``p`` relative to the run directory (how the manifest names artifacts)."""
    return str(Path(p).relative_to(run.root))


def read_json(path: Path) -> dict | None:
    """A JSON artifact, or ``None`` when it was not written; :class:`ConfigError` if corrupt."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None


def read_events(run):
    """``(qnet, events)`` of the network the hardware steps run (the first method's)."""
    qnet = load_qnet(qnet_path(run, run.config.methods[0]))
    return qnet, load_events(run.path("events.json"), qnet)
