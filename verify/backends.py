"""The backend registry: every execution target by name (``docs/architecture.md``).

The interface is :class:`ttfs.sim.backend.Backend`. A new target is one module with a class that
implements it, plus one line in :data:`BACKENDS`; the classes are imported on first use, so
naming a backend costs nothing until it runs.
"""

from __future__ import annotations

import importlib

from ttfs.sim.backend import Backend
from ttfs.sim.errors import ConfigError

__all__ = ["BACKENDS", "get_backend"]


#: name -> "module:class"; imported on first use.
BACKENDS = {
    "reference": "ttfs.sim.backend:ReferenceBackend",
    "image": "ttfs.sim.image:ImageBackend",
    "amaranth": "ttfs.verify.amaranth:AmaranthBackend",
    "cocotb": "ttfs.verify.cocotb_backend:CocotbBackend",
    "verilator": "ttfs.verify.verilator:VerilatorBackend",
}


def get_backend(name: str, **options) -> Backend:
    """The backend called ``name``, constructed with ``options``."""
    if name not in BACKENDS:
        raise ConfigError(
            f"backend must be one of {', '.join(repr(b) for b in BACKENDS)}, not {name!r}"
        )
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)
