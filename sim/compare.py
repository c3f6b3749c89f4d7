"""Comparing two backends' results: integer equality, and the first divergence named.

:func:`first_divergence` walks two result lists in sample order and returns a message for the
first difference (``None`` when they are equal): the sample, then for traces the first differing
spike (step, layer, neuron; expected vs got), then prediction, validity, steps, cycles and each
counter. :func:`check_equal` raises :class:`sim.errors.MismatchError` with that message.

Only ``valid`` and ``status`` are compared for samples the expected side marks invalid: the
contract leaves an invalid sample's prediction and counters undefined.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ttfs.sim.errors import MismatchError
from ttfs.sim.reference import SampleResult

__all__ = ["first_divergence", "check_equal"]

_COUNTERS = ("input_events", "sops", "saturations", "weight_reads", "membrane_reads",
             "membrane_writes", "sweeps")


def _trace_divergence(exp: np.ndarray, got: np.ndarray) -> str | None:
    n = min(len(exp), len(got))
    for k in range(n):
        if not np.array_equal(exp[k], got[k]):
            el, et, ei = (int(x) for x in exp[k])
            gl, gt, gi = (int(x) for x in got[k])
            return (f"spike {k}: expected layer {el} step {et} neuron {ei}, "
                    f"got layer {gl} step {gt} neuron {gi}")
    if len(exp) > n:
        el, et, ei = (int(x) for x in exp[n])
        return f"spike {n}: expected layer {el} step {et} neuron {ei}, got no more spikes"
    if len(got) > n:
        gl, gt, gi = (int(x) for x in got[n])
        return f"spike {n}: expected no more spikes, got layer {gl} step {gt} neuron {gi}"
    return None


def first_divergence(
    expected: Sequence[SampleResult],
    got: Sequence[SampleResult],
    backend: str = "backend",
    reference: str = "reference",
    compare_cycles: bool = True,
) -> str | None:
    """The first difference between ``expected`` and ``got``, as one line; ``None`` if equal."""
    if len(expected) != len(got):
        return f"{backend} returned {len(got)} results for {len(expected)} samples"
    for n, (e, g) in enumerate(zip(expected, got, strict=True)):
        where = f"{backend} vs {reference}, sample {n}"
        if e.valid != g.valid or e.status != g.status:
            return (f"{where}: expected valid={e.valid} status={e.status:#04x}, "
                    f"got valid={g.valid} status={g.status:#04x}")
        if not e.valid:
            continue
        if e.trace is not None and g.trace is not None:
            msg = _trace_divergence(e.trace, g.trace)
            if msg:
                return f"{where}: {msg}"
        if e.prediction != g.prediction:
            return f"{where}: prediction expected {e.prediction}, got {g.prediction}"
        if e.steps != g.steps:
            return f"{where}: steps run expected {e.steps}, got {g.steps}"
        ec, gc = e.counters, g.counters
        if tuple(ec.spikes_per_layer) != tuple(gc.spikes_per_layer):
            for li, (a, b) in enumerate(zip(ec.spikes_per_layer, gc.spikes_per_layer,
                                            strict=False), start=1):
                if a != b:
                    return f"{where}: layer {li} spikes expected {a}, got {b}"
            return (f"{where}: spikes_per_layer expected {list(ec.spikes_per_layer)}, "
                    f"got {list(gc.spikes_per_layer)}")
        for name in _COUNTERS:
            a, b = getattr(ec, name), getattr(gc, name)
            if a is None and b is None:
                continue  # neither side ran a cost model: no hardware counters to compare
            if a != b:
                return f"{where}: counter {name} expected {a}, got {b}"
        if compare_cycles and e.cycles != g.cycles:
            return f"{where}: cycles expected {e.cycles}, got {g.cycles}"
    return None


def check_equal(expected, got, backend: str = "backend", reference: str = "reference",
                compare_cycles: bool = True) -> None:
    """Raise :class:`MismatchError` naming the first divergence, if any."""
    msg = first_divergence(expected, got, backend, reference, compare_cycles)
    if msg is not None:
        raise MismatchError(msg)
