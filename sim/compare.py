"""The one comparator of results: what a sample must produce, and the first way it does not.

:func:`sample_divergence` compares one sample with its expectation, :func:`first_divergence`
two result lists in sample order, and :func:`check_equal` raises
:class:`sim.errors.MismatchError` with that message. The flows (``ttfs sim --check``, the
``cosim`` step) and the lockstep benches use the same functions, so a divergence reads the same
wherever it is found (``docs/verification.md``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ttfs.sim.errors import MismatchError
from ttfs.sim.protocol import status_names
from ttfs.sim.reference import SampleResult

__all__ = ["Expected", "sample_divergence", "first_divergence", "check_equal", "sample_message"]


@dataclass
class Expected:
    """What one sample must produce: a reference result, or an invalid status.

    For an invalid expectation, ``required`` flags must all be set in the status (or, when
    ``required`` is 0, at least one flag), and no flag outside ``allowed`` may be set; ``why``
    says what makes the sample invalid. The contract leaves an invalid sample's prediction and
    counters undefined, so they are not compared.
    """

    result: SampleResult | None = None
    required: int = 0
    allowed: int = 0
    why: str = ""

    @property
    def valid(self) -> bool:
        return self.result is not None

    @classmethod
    def of(cls, exp: Expected | SampleResult) -> Expected:
        """``exp`` as an expectation: a valid result, or an invalid one's exact status."""
        if isinstance(exp, Expected):
            return exp
        if exp.valid:
            return cls(result=exp)
        return cls(required=exp.status, allowed=exp.status)


def _trace_divergence(et: np.ndarray, gt: np.ndarray) -> str | None:
    for k in range(min(len(et), len(gt))):
        if not np.array_equal(et[k], gt[k]):
            (el, etk, en), (gl, gtk, gn) = et[k].tolist(), gt[k].tolist()
            return (f"trace event {k}: expected spike at step {etk}, layer {el}, neuron {en}; "
                    f"got step {gtk}, layer {gl}, neuron {gn}")
    k = min(len(et), len(gt))
    if len(et) > k:
        el, etk, en = et[k].tolist()
        return (f"trace ends after {k} events; expected another spike at step {etk}, "
                f"layer {el}, neuron {en}")
    if len(gt) > k:
        gl, gtk, gn = gt[k].tolist()
        return (f"trace has {len(gt) - k} extra events, first at step {gtk}, layer {gl}, "
                f"neuron {gn}")
    return None


def sample_divergence(exp: Expected | SampleResult, got: SampleResult, *,
                      compare_trace: bool = True, compare_cycles: bool = True) -> str | None:
    """The first way ``got`` differs from the expectation, as words; ``None`` when equal.

    Order: validity and status; then, for a valid sample, the trace event by event (naming
    step, layer and neuron; when both sides have one), prediction, steps, each counter and
    cycles. A counter neither side has (no cost model ran) is not compared.
    """
    exp = Expected.of(exp)
    if not exp.valid:
        ok = (not got.valid and got.status != 0
              and got.status & exp.required == exp.required
              and got.status & ~exp.allowed == 0)
        if ok:
            return None
        why = f" ({exp.why})" if exp.why else ""
        return (f"expected an invalid sample with status {status_names(exp.required)}{why}, "
                f"got valid={int(got.valid)} status {status_names(got.status)}")
    e = exp.result
    if not got.valid or got.status:
        return (f"expected a valid sample, got valid={int(got.valid)} status "
                f"{status_names(got.status)}")
    if compare_trace and e.trace is not None and got.trace is not None:
        msg = _trace_divergence(e.trace, got.trace)
        if msg:
            return msg
    for name, a, b in (("prediction", e.prediction, got.prediction),
                       ("steps", e.steps, got.steps)):
        if a != b:
            return f"{name}: expected {a}, got {b}"
    ec, gc = e.counters.to_json(), got.counters.to_json()
    for name in ec:
        if ec[name] != gc[name]:
            return f"counter {name}: expected {ec[name]}, got {gc[name]}"
    if compare_cycles and e.cycles != got.cycles:
        return f"cycles: expected {e.cycles}, got {got.cycles}"
    return None


def _where(backend: str, label: str) -> str:
    return f"{backend}: {label + ', ' if label else ''}"


def sample_message(msg: str, n: int, backend: str, label: str = "") -> str:
    """``"<backend>: <label>, sample <n>: <msg>"``: a divergence named where it was found."""
    return f"{_where(backend, label)}sample {n}: {msg}"


def first_divergence(expected: Sequence, got: Sequence[SampleResult], backend: str = "backend",
                     *, label: str = "", compare_trace: bool = True,
                     compare_cycles: bool = True) -> str | None:
    """The first sample where ``got`` diverges from ``expected`` (results or :class:`Expected`),
    as one line naming ``backend``, ``label`` and the sample; ``None`` when all are equal."""
    if len(expected) != len(got):
        return f"{_where(backend, label)}expected {len(expected)} results, got {len(got)}"
    for n, (e, g) in enumerate(zip(expected, got, strict=True)):
        msg = sample_divergence(e, g, compare_trace=compare_trace, compare_cycles=compare_cycles)
        if msg:
            return sample_message(msg, n, backend, label)
    return None


def check_equal(expected: Sequence, got: Sequence[SampleResult], backend: str = "backend", *,
                label: str = "", compare_trace: bool = True, compare_cycles: bool = True) -> None:
    """Raise :class:`MismatchError` naming the first divergence (:func:`first_divergence`)."""
    msg = first_divergence(expected, got, backend, label=label, compare_trace=compare_trace,
                           compare_cycles=compare_cycles)
    if msg is not None:
        raise MismatchError(msg)
