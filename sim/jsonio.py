"""The JSON file helpers every ``ttfs.*`` file format shares: read a file, check its format tag,
version and keys, and test for a plain integer. Each raises :class:`sim.errors.ConfigError`.

The formats themselves (``ttfs.qnet``, ``ttfs.events``, ``ttfs.core``, ...) are described where
they are defined; the layers are in ``docs/architecture.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ttfs.sim.errors import ConfigError

__all__ = ["is_int", "check_format", "check_keys", "read_json"]


def is_int(x: Any) -> bool:
    """``x`` is a Python or numpy integer, and not a bool."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def check_format(obj: dict, fmt: str, versions: Sequence[int]) -> None:
    """Refuse ``obj`` unless its ``"format"`` is ``fmt`` and its ``"version"`` is in
    ``versions``."""
    if obj.get("format") != fmt:
        raise ConfigError(f"expected a file with \"format\": \"{fmt}\", got {obj.get('format')!r}")
    v = obj.get("version")
    if v not in versions:
        raise ConfigError(
            f"unsupported {fmt} version {v!r}; this tool reads version "
            + ", ".join(str(x) for x in versions)
        )


def check_keys(obj: dict, allowed: set, required: set, what: str) -> None:
    """Refuse a key of ``obj`` outside ``allowed`` and a missing key of ``required`` (the first,
    sorted, is named)."""
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ConfigError(f"{what} has unknown field {unknown[0]!r}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(obj))
    if missing:
        raise ConfigError(f"{what} is missing the field {missing[0]!r}")


def read_json(path: str | os.PathLike, what: str) -> Any:
    """The parsed JSON of the ``what`` file at ``path``."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} file {str(p)!r} does not exist")
    try:
        with open(p, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} file {str(p)!r} is not valid JSON: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} file {str(p)!r}: {exc}") from None
