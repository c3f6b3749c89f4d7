"""The interface every execution target implements, and the reference model as one of them.

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

The registry that maps these names to classes is :mod:`ttfs.verify.backends`, one layer up: the
targets beyond ``reference`` and ``image`` need ``hw``, cocotb or Verilator. Layers:
``docs/architecture.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ttfs.sim.image import Image
    from ttfs.sim.reference import SampleResult

__all__ = ["Backend", "ReferenceBackend"]


@runtime_checkable
class Backend(Protocol):
    """What every execution target implements."""

    name: str

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        """Run all samples of ``image``; results in sample order."""
        ...


class ReferenceBackend:
    """The reference model run on the network and events an image holds."""

    name = "reference"

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        from ttfs.sim.costmodel import cost_hook
        from ttfs.sim.reference import run

        return run(image.qnet, image.events, trace=trace, cost=cost_hook(image.core))
