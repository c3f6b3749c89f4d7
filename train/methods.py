"""The training-method registry: every method by name (``docs/training.md``).

The interface is :class:`ttfs.train.method.Method`. A new method is one module that builds its
``Method`` plus one line in :data:`METHODS`; the modules are imported on first use, so listing
the methods (the command line's help) does not load PyTorch. :func:`register` adds a method
built elsewhere (a plug-in) at run time.
"""

from __future__ import annotations

import importlib

from ttfs.sim.errors import ConfigError
from ttfs.train.method import Method

__all__ = ["METHODS", "register", "get_method", "method_names"]

#: name -> "module:attribute" of its :class:`Method`; imported on first use.
METHODS = {
    "baseline": "ttfs.train.loop:BASELINE",
    "excess": "ttfs.train.loop:EXCESS",
    "count": "ttfs.train.loop:COUNT",
    "sop": "ttfs.train.loop:SOP",
    "kernel": "ttfs.train.kernel:METHOD",
    "convert": "ttfs.train.convert:METHOD",
}

_LOADED: dict[str, Method] = {}


def register(method: Method) -> Method:
    """Add ``method`` to the registry (a second registration of a name replaces the first)."""
    if not isinstance(method, Method):
        raise TypeError(f"register needs a Method, not {type(method).__name__}")
    _LOADED[method.name] = method
    return method


def method_names() -> list[str]:
    """Every method's name, sorted."""
    return sorted(set(METHODS) | set(_LOADED))


def get_method(name: str) -> Method:
    """The registered method ``name``; :class:`ConfigError` naming the known ones otherwise."""
    if name not in _LOADED:
        if name not in METHODS:
            known = ", ".join(repr(k) for k in method_names())
            raise ConfigError(f"method must be one of {known}, not {name!r}")
        module, attr = METHODS[name].split(":")
        _LOADED[name] = getattr(importlib.import_module(module), attr)
    return _LOADED[name]
