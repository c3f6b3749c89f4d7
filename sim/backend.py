"""One interface for every execution target (DESIGN section 6).

A backend runs every sample of an image and returns one :class:`sim.reference.SampleResult`
per sample: prediction, validity, counters, cycles and, on request, the spike trace. The flows
and the tests only ever talk to this interface, so any of them runs on any target:

=============  =====================================================================
``reference``  the batched reference model of :mod:`sim.reference` with the cycle-cost rule
``image``      the image model: runs straight from the packed words (:mod:`sim.image`)
``amaranth``   the Amaranth simulator on the ``hw`` core
``cocotb``     cocotb driving Verilator on the emitted Verilog
``verilator``  the native Verilator harness (C++, driven through ctypes)
=============  =====================================================================

Backends beyond ``reference`` and ``image`` import ``hw``/``cocotb``/Verilator lazily, so
``import sim`` stays numpy-only.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .errors import ConfigError

if TYPE_CHECKING:
    from .image import Image
    from .reference import SampleResult

__all__ = ["Backend", "BACKENDS", "get_backend"]


@runtime_checkable
class Backend(Protocol):
    """What every execution target implements."""

    name: str

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        """Run all samples of ``image``; results in sample order."""
        ...


#: name -> "module:class"; imported on first use.
BACKENDS = {
    "reference": "sim.backend:ReferenceBackend",
    "image": "sim.image:ImageBackend",
    "amaranth": "hw.simulate:AmaranthBackend",
    "cocotb": "sim.bench.cocotb_backend:CocotbBackend",
    "verilator": "sim.bench.verilator:VerilatorBackend",
}


def get_backend(name: str, **options) -> Backend:
    """The backend called ``name``, constructed with ``options``."""
    if name not in BACKENDS:
        raise ConfigError(
            f"backend must be one of {', '.join(repr(b) for b in BACKENDS)}, not {name!r}"
        )
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)


class ReferenceBackend:
    """The reference model run on the network and events an image holds."""

    name = "reference"

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        from .costmodel import cost_hook
        from .reference import run

        return run(image.qnet, image.events, trace=trace, cost=cost_hook(image.core))
