"""Input encoders: real-valued features to input events (``docs/semantics.md``, "Input").

Every encoder returns a :class:`sim.ir.EventSet` whose samples are sorted by ``(t, input)``, so
the result can go straight into :func:`sim.reference.run` or an image. The rules below are the
contract the training code shares (torch code calls :func:`ttfs_times` on numpy copies, or
re-implements the one-line rule and tests it against this module).

**TTFS latency coding** (:func:`encode_ttfs`, :func:`ttfs_times`). A feature value ``x`` in
``[0, 1]`` becomes *one* event of its input at step::

    t = rint((1 - x) * (t_in - 1))        if x >= cutoff
    no event                              if x <  cutoff

computed in IEEE float64, where ``rint`` is :func:`numpy.rint`: round half to even (``0.5 -> 0``,
``1.5 -> 2``, ``2.5 -> 2``). ``x = 1`` fires at step 0, ``x = 0`` at step ``t_in - 1``. ``t_in``
(``1 <= t_in <= time_steps``, default ``time_steps``) is the encoding window: later steps are left
for the network to compute in. The default ``cutoff`` is ``0.0``: every input fires, including
``x = 0`` (at ``t_in - 1``). Values outside ``[0, 1]`` and NaN are refused, never clipped.

**Bias inputs** (``bias_steps``). Each entry ``b_k`` of ``bias_steps`` adds one extra input, with
index ``n_features + k``, that fires exactly once, at step ``b_k``, in every sample. A network
fed by an encoder with ``B`` bias steps therefore has ``n_inputs = n_features + B``. Bias events
are merged with the feature events in ``(t, input)`` order.

**Rate coding** (:func:`encode_rate`). Sample ``n`` (global index ``first_index + n``) draws
``u = default_rng([seed, first_index + n]).random((time_steps, n_features))`` and input ``i``
fires at step ``t`` when ``u[t, i] < x_i * max_rate`` (a Bernoulli trial per step with
probability ``x * max_rate``). Because every sample has its own generator keyed by its global
index, encoding any slice of a data set (with ``first_index`` set to the slice start) gives
exactly the events of the same samples in the whole, and runs are reproducible from ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet
from ttfs.sim.jsonio import is_int

__all__ = ["ttfs_times", "encode_ttfs", "encode_rate"]


def _features(X: Any) -> np.ndarray:
    """``X`` as a float64 ``(samples, features)`` array with every value in ``[0, 1]``."""
    if isinstance(X, (str, bytes)):
        raise TypeError(f"X must be an array of numbers, not {type(X).__name__}")
    try:
        arr = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ConfigError("X must be a rectangular 2-D array of shape (samples, features)") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"X must be an array of numbers, not an array of dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ConfigError(
            f"X must be a 2-D array of shape (samples, features), got shape {arr.shape}"
        )
    arr = arr.astype(np.float64)
    bad = ~((arr >= 0.0) & (arr <= 1.0))  # NaN compares false both ways: caught here
    if bad.any():
        n, f = (int(k) for k in np.argwhere(bad)[0])
        raise ConfigError(
            f"sample {n} feature {f} has value {float(arr[n, f])!r}; inputs must be in [0, 1]"
        )
    return arr


def _steps(name: str, value: Any, lo: int, hi: int, hi_name: str) -> int:
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{name} must be in {lo}..{hi} ({hi_name}), not {int(value)}")
    return int(value)


def _time_steps(time_steps: Any) -> int:
    if not is_int(time_steps):
        raise TypeError(f"time_steps must be an integer, not {time_steps!r}")
    if time_steps < 1:
        raise ConfigError(f"time_steps must be >= 1, not {int(time_steps)}")
    return int(time_steps)


def _bias(bias_steps: Any, time_steps: int) -> np.ndarray:
    if isinstance(bias_steps, (str, bytes)) or not isinstance(bias_steps, (Sequence, np.ndarray)):
        raise TypeError(f"bias_steps must be a sequence of integers, not {bias_steps!r}")
    out = []
    for k, b in enumerate(bias_steps):
        out.append(_steps(f"bias_steps[{k}]", b, 0, time_steps - 1, "time_steps - 1"))
    return np.array(out, dtype=np.int64)


def _fraction(name: str, value: Any, lo_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a real number, not {value!r}")
    v = float(value)
    ok = (0.0 < v <= 1.0) if lo_open else (0.0 <= v <= 1.0)
    if not ok or math.isnan(v):
        interval = "(0, 1]" if lo_open else "[0, 1]"
        raise ConfigError(f"{name} must be in {interval}, not {v!r}")
    return v


def ttfs_times(X: Any, t_in: int, cutoff: float = 0.0) -> np.ndarray:
    """The TTFS spike step of every feature: ``int64`` array shaped like ``X``, ``-1`` = no event.

    ``t = rint((1 - x) * (t_in - 1))`` in float64 with round half to even, for ``x >= cutoff``;
    ``-1`` where ``x < cutoff``. ``X`` is ``(samples, features)`` with values in ``[0, 1]``
    (NaN and out-of-range values raise :class:`ConfigError` naming sample, feature and value).
    """
    if not is_int(t_in):
        raise TypeError(f"t_in must be an integer, not {t_in!r}")
    if t_in < 1:
        raise ConfigError(f"t_in must be >= 1, not {int(t_in)}")
    cut = _fraction("cutoff", cutoff)
    arr = _features(X)
    t = np.rint((1.0 - arr) * float(int(t_in) - 1)).astype(np.int64)
    t[arr < cut] = -1
    return t


def _events_from_times(times: np.ndarray, labels: Any) -> EventSet:
    """One event per non-negative entry of ``times`` (``(N, n_inputs)``), sorted by (t, input)."""
    N = times.shape[0]
    n, i = np.nonzero(times >= 0)
    t = times[n, i]
    order = np.lexsort((i, t, n))
    rows = np.stack([t[order], i[order]], axis=1).astype(np.int64)
    bounds = np.searchsorted(n[order], np.arange(N + 1))
    samples = tuple(rows[bounds[k]:bounds[k + 1]] for k in range(N))
    return EventSet(samples, labels)


def encode_ttfs(
    X: Any,
    time_steps: int,
    t_in: int | None = None,
    cutoff: float = 0.0,
    bias_steps: Sequence[int] = (),
    labels: Any = None,
) -> EventSet:
    """TTFS latency coding of ``X`` (``(samples, features)``, values in ``[0, 1]``).

    Feature ``i`` of a sample fires once at ``t = rint((1 - x) * (t_in - 1))`` (float64, numpy
    ``rint``: round half to even), or not at all when ``x < cutoff`` (default ``0.0``: every
    input fires). ``t_in`` defaults to ``time_steps`` and must be in ``1..time_steps``. Each entry
    of ``bias_steps`` appends one input (index ``n_features + k``) that fires at that step in
    every sample. ``labels`` (optional) is carried into the :class:`EventSet`.
    """
    T = _time_steps(time_steps)
    tw = T if t_in is None else _steps("t_in", t_in, 1, T, "time_steps")
    bias = _bias(bias_steps, T)
    times = ttfs_times(X, tw, cutoff)
    if bias.size:
        times = np.concatenate([times, np.broadcast_to(bias, (times.shape[0], bias.size))], axis=1)
    return _events_from_times(times, labels)


def encode_rate(
    X: Any,
    time_steps: int,
    seed: int,
    max_rate: float = 1.0,
    bias_steps: Sequence[int] = (),
    labels: Any = None,
    first_index: int = 0,
) -> EventSet:
    """Seeded Bernoulli rate coding of ``X`` (``(samples, features)``, values in ``[0, 1]``).

    Sample ``n`` uses ``np.random.default_rng([seed, first_index + n])``: ``u = rng.random((T,
    n_features))`` and input ``i`` fires at step ``t`` iff ``u[t, i] < x_i * max_rate``
    (``max_rate`` in ``(0, 1]``). ``seed`` and ``first_index`` are integers ``>= 0``. Bias inputs
    as in :func:`encode_ttfs` (one event each per sample, not random).
    """
    T = _time_steps(time_steps)
    if not is_int(seed):
        raise TypeError(f"seed must be an integer, not {seed!r}")
    if seed < 0:
        raise ConfigError(f"seed must be >= 0, not {int(seed)}")
    if not is_int(first_index):
        raise TypeError(f"first_index must be an integer, not {first_index!r}")
    if first_index < 0:
        raise ConfigError(f"first_index must be >= 0, not {int(first_index)}")
    rate = _fraction("max_rate", max_rate, lo_open=True)
    bias = _bias(bias_steps, T)
    arr = _features(X)
    N, F = arr.shape
    p = arr * rate
    mask = np.zeros((T, F + bias.size), dtype=bool)
    samples = []
    for n in range(N):
        rng = np.random.default_rng([int(seed), int(first_index) + n])
        mask[:, :F] = rng.random((T, F)) < p[n]
        mask[:, F:] = False
        mask[bias, F + np.arange(bias.size)] = True
        samples.append(np.argwhere(mask).astype(np.int64))
    return EventSet(tuple(samples), labels)
