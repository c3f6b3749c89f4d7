"""Number formats and saturating integer arithmetic.

Every quantity in the core is a two's-complement integer of a fixed width:

* weights are ``weight_bits`` wide, in ``[-2**(weight_bits-1), 2**(weight_bits-1) - 1]``;
* membrane potentials are ``potential_bits`` wide and *saturate* at both ends;
* thresholds are in ``[1, 2**(potential_bits-1) - 1]`` and kernel entries are ``>= 0``.

All functions work on Python ints and on numpy ``int64`` arrays alike. ``int64`` holds every
intermediate value: potentials are at most 32 bits, ``W * K`` at most 16 + 31 bits.
"""

from __future__ import annotations

import numpy as np

__all__ = ["smin", "smax", "fits_signed", "sat", "sat_add", "leak"]


def smin(bits: int) -> int:
    """The most negative value of a ``bits``-wide two's-complement integer."""
    return -(1 << (bits - 1))


def smax(bits: int) -> int:
    """The most positive value of a ``bits``-wide two's-complement integer."""
    return (1 << (bits - 1)) - 1


def fits_signed(value, bits: int) -> bool:
    """Whether every element of ``value`` is representable in ``bits`` signed bits."""
    arr = np.asarray(value)
    if arr.size == 0:
        return True
    return bool(arr.min() >= smin(bits) and arr.max() <= smax(bits))


def sat(value, bits: int):
    """Clamp ``value`` to the ``bits``-wide signed range (the saturating cast)."""
    return np.clip(value, smin(bits), smax(bits)) if isinstance(value, np.ndarray) else (
        min(max(value, smin(bits)), smax(bits))
    )


def sat_add(v, x, bits: int):
    """``sat(v + x)``: the saturating add of the integrate step.

    Returns ``(result, saturated)`` where ``saturated`` is the number of elements that clipped
    (an ``int``), i.e. the hardware ``saturations`` counter increment.
    """
    s = v + x
    r = sat(s, bits)
    if isinstance(s, np.ndarray):
        return r, int(np.count_nonzero(r != s))
    return r, int(r != s)


def leak(v, shift: int):
    """The leak step ``v - (v >> shift)`` (arithmetic shift); identity when ``shift == 0``.

    It never leaves the range of ``v``: for ``v >= 0`` it maps into ``[0, v]``; for ``v < 0``,
    ``v >> s`` rounds toward minus infinity, so the result is in ``[v, 0]``.
    """
    if shift == 0:
        return v
    return v - (v >> shift)
