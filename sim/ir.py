"""The quantized-network IR and the input-event sets, with their JSON forms.

A :class:`QNet` is the integer network of ``docs/semantics.md``: ``L`` fully connected layers over
``time_steps`` discrete steps. Every stage of the flow (the quantizer, the reference model, the
image compiler, the RTL) reads and writes this one type. It validates itself on construction, so
a ``QNet`` that exists is a network the semantics are defined for.

JSON form (``qnet.json``, format ``ttfs.qnet``, version 1)::

    {"format": "ttfs.qnet", "version": 1,
     "n_inputs": 5, "time_steps": 32, "weight_bits": 8, "potential_bits": 16,
     "readout": "first_spike", "early_exit": false,
     "layers": [{"weights": [[1, -3, 7], [0, 2, -8], ...],   # n_in rows of n_out ints
                 "threshold": 40,          # one int, or a list of time_steps ints (Theta_l[t])
                 "kernel": 1,              # one int, or a list of time_steps ints (K_l[t])
                 "leak_shift": 0,          # 0 = no leak
                 "reset": "fire_once"}],   # "fire_once" | "zero" | "subtract"
     "meta": {...}}                        # optional, free-form, carried along unread

``readout`` and ``early_exit`` may be omitted (defaults ``"first_spike"`` and ``false``), and so may
a layer's ``kernel`` (1), ``leak_shift`` (0) and ``reset`` (``"fire_once"``). Unknown keys are
refused, so a misspelt field never silently falls back to its default.

Input events (``ttfs.events``, version 1)::

    {"format": "ttfs.events", "version": 1,
     "samples": [[[0, 3], [2, 0], [2, 4]], [], ...],   # [t, input] pairs sorted by (t, input)
     "labels": [1, 0, ...]}                              # optional
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ttfs.sim.errors import ConfigError
from ttfs.sim.jsonio import check_format, check_keys, is_int, read_json
from ttfs.sim.numeric import fits_signed, smax

__all__ = [
    "RESET_MODES",
    "READOUTS",
    "Layer",
    "QNet",
    "EventSet",
    "check_events",
    "check_labels",
    "load_qnet",
    "save_qnet",
    "load_events",
    "save_events",
]

RESET_MODES = ("fire_once", "zero", "subtract")
READOUTS = ("first_spike", "max_potential")

#: Kernel entries are non-negative and below this bound (the IR limit; a core may allow fewer).
KERNEL_LIMIT = 1 << 16
MAX_TIME_STEPS = 1 << 16
MAX_NEURONS = 1 << 16

QNET_FORMAT = "ttfs.qnet"
EVENTS_FORMAT = "ttfs.events"
QNET_VERSIONS = (1,)
EVENTS_VERSIONS = (1,)


def _int_array(value: Any, what: str, ndim: int) -> np.ndarray:
    """Convert ``value`` to an ``int64`` array of ``ndim`` dimensions, refusing non-integers."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "iu":
            raise ConfigError(f"{what} must be integers, not an array of dtype {value.dtype}")
        arr = value.astype(np.int64)
    else:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{what} must be a {ndim}-D list of integers, not {value!r}")
        try:
            arr = np.array(value, dtype=object)
        except ValueError as exc:  # ragged
            raise ConfigError(f"{what} must be a rectangular {ndim}-D list of integers") from exc
        if arr.ndim != ndim:
            raise ConfigError(
                f"{what} must be a rectangular {ndim}-D list of integers, "
                f"got {arr.ndim}-D data of shape {arr.shape}"
            )
        flat = arr.reshape(-1)
        for k, x in enumerate(flat):
            if not is_int(x):
                idx = np.unravel_index(k, arr.shape) if arr.ndim else ()
                where = "".join(f"[{int(i)}]" for i in idx)
                raise ConfigError(f"{what}{where} must be an integer, not {x!r}")
        arr = arr.astype(np.int64)
    if arr.ndim != ndim:
        raise ConfigError(f"{what} must be {ndim}-D, got shape {arr.shape}")
    return arr


def _table(value: Any, time_steps: int, what: str) -> np.ndarray:
    """A per-step table from one integer or a list of ``time_steps`` integers."""
    if is_int(value):
        return np.full(time_steps, int(value), dtype=np.int64)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ConfigError(
            f"{what} must be one integer or a list of time_steps={time_steps} integers, "
            f"not {value!r}"
        )
    arr = _int_array(value, what, 1)
    if arr.shape[0] != time_steps:
        raise ConfigError(
            f"{what} must be one integer or a list of time_steps={time_steps} integers, "
            f"got a list of {arr.shape[0]}"
        )
    return arr


@dataclass(frozen=True, eq=False)
class Layer:
    """One fully connected layer of a :class:`QNet`.

    ``weights[j, i]`` is the weight from source ``j`` (an input or a neuron of the previous
    layer) to neuron ``i`` of this layer: shape ``(n_in, n_out)``. ``threshold`` and ``kernel``
    are the per-step tables ``Theta_l[t]`` and ``K_l[t]``; an ``int`` is accepted and expanded
    by :class:`QNet` to a constant table. The update equations are in :mod:`sim.reference`.
    """

    weights: np.ndarray
    threshold: Any = 1
    kernel: Any = 1
    leak_shift: int = 0
    reset: str = "fire_once"

    def __post_init__(self):
        object.__setattr__(self, "weights", _int_array(self.weights, "weights", 2))
        if not is_int(self.leak_shift):
            raise ConfigError(f"leak_shift must be an integer, not {self.leak_shift!r}")
        object.__setattr__(self, "leak_shift", int(self.leak_shift))
        if self.reset not in RESET_MODES:
            raise ConfigError(
                "Reset mode must be one of 'fire_once', 'zero', 'subtract', "
                f"not {self.reset!r}"
            )

    @property
    def n_in(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_out(self) -> int:
        return int(self.weights.shape[1])

    @property
    def threshold_constant(self) -> bool:
        """Whether ``Theta_l[t]`` is the same at every step (needs a :class:`QNet`-owned layer)."""
        th = np.asarray(self.threshold)
        return bool(th.ndim == 0 or np.all(th == th[0]))

    @property
    def kernel_constant(self) -> bool:
        k = np.asarray(self.kernel)
        return bool(k.ndim == 0 or np.all(k == k[0]))


@dataclass(frozen=True, eq=False)
class QNet:
    """A quantized TTFS network: the integer semantics (``docs/semantics.md``) apply exactly.

    On construction every layer's ``threshold`` and ``kernel`` become ``int64`` arrays of length
    ``time_steps``, and every value is range-checked:

    * weights fit ``weight_bits`` (2..16) signed bits;
    * thresholds are in ``[1, 2**(potential_bits-1) - 1]`` (``potential_bits`` 2..32);
    * kernel entries are in ``[0, 2**16 - 1]``;
    * ``0 <= leak_shift < potential_bits``;
    * layer ``l``'s ``n_in`` is layer ``l-1``'s ``n_out`` (``n_inputs`` for the first layer);
    * ``early_exit`` needs the ``first_spike`` readout.
    """

    n_inputs: int
    time_steps: int
    layers: tuple
    weight_bits: int = 8
    potential_bits: int = 16
    readout: str = "first_spike"
    early_exit: bool = False
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        for name in ("n_inputs", "time_steps", "weight_bits", "potential_bits"):
            v = getattr(self, name)
            if not is_int(v):
                raise ConfigError(f"{name} must be an integer, not {v!r}")
            object.__setattr__(self, name, int(v))
        if not isinstance(self.early_exit, (bool, np.bool_)):
            raise ConfigError(f"early_exit must be true or false, not {self.early_exit!r}")
        object.__setattr__(self, "early_exit", bool(self.early_exit))
        if not 1 <= self.n_inputs <= MAX_NEURONS:
            raise ConfigError(f"n_inputs must be in 1..{MAX_NEURONS}, not {self.n_inputs}")
        if not 1 <= self.time_steps <= MAX_TIME_STEPS:
            raise ConfigError(f"time_steps must be in 1..{MAX_TIME_STEPS}, not {self.time_steps}")
        if not 2 <= self.weight_bits <= 16:
            raise ConfigError(f"weight_bits must be in 2..16, not {self.weight_bits}")
        if not 2 <= self.potential_bits <= 32:
            raise ConfigError(f"potential_bits must be in 2..32, not {self.potential_bits}")
        if self.readout not in READOUTS:
            raise ConfigError(
                f"readout must be one of 'first_spike', 'max_potential', not {self.readout!r}"
            )
        if self.early_exit and self.readout != "first_spike":
            raise ConfigError("early_exit needs readout 'first_spike', not 'max_potential'")
        if not isinstance(self.meta, dict):
            raise ConfigError(f"meta must be a JSON object, not {type(self.meta).__name__}")
        layers = tuple(self.layers)
        if not layers:
            raise ConfigError("a network needs at least one layer")
        fixed = []
        n_prev = self.n_inputs
        for k, layer in enumerate(layers, start=1):
            if not isinstance(layer, Layer):
                raise ConfigError(f"layer {k} must be a Layer, not {type(layer).__name__}")
            if layer.n_in != n_prev:
                src = "n_inputs" if k == 1 else f"layer {k - 1}'s n_out"
                raise ConfigError(
                    f"layer {k} weights have {layer.n_in} rows; expected {n_prev} ({src})"
                )
            if not 1 <= layer.n_out <= MAX_NEURONS:
                raise ConfigError(
                    f"layer {k} must have 1..{MAX_NEURONS} neurons, not {layer.n_out}"
                )
            if not fits_signed(layer.weights, self.weight_bits):
                bad = layer.weights.flat[
                    np.argmax(
                        (layer.weights < -(1 << (self.weight_bits - 1)))
                        | (layer.weights > smax(self.weight_bits))
                    )
                ]
                raise ConfigError(
                    f"layer {k} weight {int(bad)} does not fit weight_bits={self.weight_bits}"
                )
            th = _table(layer.threshold, self.time_steps, f"layer {k} threshold")
            hi = smax(self.potential_bits)
            if th.min() < 1 or th.max() > hi:
                bad = th[(th < 1) | (th > hi)][0]
                raise ConfigError(
                    f"layer {k} threshold {int(bad)} is outside 1..{hi} "
                    f"(potential_bits={self.potential_bits})"
                )
            kern = _table(layer.kernel, self.time_steps, f"layer {k} kernel")
            if kern.min() < 0 or kern.max() >= KERNEL_LIMIT:
                bad = kern[(kern < 0) | (kern >= KERNEL_LIMIT)][0]
                raise ConfigError(
                    f"layer {k} kernel entry {int(bad)} is outside 0..{KERNEL_LIMIT - 1}"
                )
            if not 0 <= layer.leak_shift < self.potential_bits:
                raise ConfigError(
                    f"layer {k} leak_shift must be in 0..{self.potential_bits - 1}, "
                    f"not {layer.leak_shift}"
                )
            th.setflags(write=False)
            kern.setflags(write=False)
            layer.weights.setflags(write=False)
            fixed.append(
                Layer(layer.weights, th, kern, layer.leak_shift, layer.reset)
            )
            n_prev = layer.n_out
        object.__setattr__(self, "layers", tuple(fixed))

    @property
    def sizes(self) -> tuple[int, ...]:
        """``(n_inputs, n_1, ..., n_L)``."""
        return (self.n_inputs,) + tuple(layer.n_out for layer in self.layers)

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    def describe(self) -> str:
        return "-".join(str(n) for n in self.sizes)

    def equals(self, other: QNet) -> bool:
        """Exact equality of every field (``meta`` excluded)."""
        if not isinstance(other, QNet):
            return False
        head = ("n_inputs", "time_steps", "weight_bits", "potential_bits", "readout", "early_exit")
        if any(getattr(self, k) != getattr(other, k) for k in head):
            return False
        if len(self.layers) != len(other.layers):
            return False
        for a, b in zip(self.layers, other.layers, strict=True):
            if a.reset != b.reset or a.leak_shift != b.leak_shift:
                return False
            for x, y in ((a.weights, b.weights), (a.threshold, b.threshold), (a.kernel, b.kernel)):
                if x.shape != y.shape or not np.array_equal(x, y):
                    return False
        return True

    # -- JSON -------------------------------------------------------------------------------

    def to_json(self) -> dict:
        def table(arr: np.ndarray):
            return int(arr[0]) if np.all(arr == arr[0]) else [int(x) for x in arr]

        return {
            "format": QNET_FORMAT,
            "version": 1,
            "n_inputs": self.n_inputs,
            "time_steps": self.time_steps,
            "weight_bits": self.weight_bits,
            "potential_bits": self.potential_bits,
            "readout": self.readout,
            "early_exit": self.early_exit,
            "layers": [
                {
                    "weights": layer.weights.tolist(),
                    "threshold": table(layer.threshold),
                    "kernel": table(layer.kernel),
                    "leak_shift": layer.leak_shift,
                    "reset": layer.reset,
                }
                for layer in self.layers
            ],
            **({"meta": self.meta} if self.meta else {}),
        }

    @classmethod
    def from_json(cls, obj: Any) -> QNet:
        if not isinstance(obj, dict):
            raise ConfigError(f"a qnet file must hold a JSON object, not {type(obj).__name__}")
        check_format(obj, QNET_FORMAT, QNET_VERSIONS)
        allowed = {"format", "version", "n_inputs", "time_steps", "weight_bits", "potential_bits",
                   "readout", "early_exit", "layers", "meta"}
        check_keys(obj, allowed, {"n_inputs", "time_steps", "weight_bits", "potential_bits",
                                   "layers"}, "qnet")
        if not isinstance(obj["layers"], list):
            raise ConfigError("qnet 'layers' must be a list of layer objects")
        layers = []
        for k, lobj in enumerate(obj["layers"], start=1):
            if not isinstance(lobj, dict):
                raise ConfigError(f"layer {k} must be a JSON object")
            check_keys(lobj, {"weights", "threshold", "kernel", "leak_shift", "reset"},
                        {"weights", "threshold"}, f"layer {k}")
            try:
                layers.append(Layer(
                    weights=_int_array(lobj["weights"], f"layer {k} weights", 2),
                    threshold=lobj["threshold"],
                    kernel=lobj.get("kernel", 1),
                    leak_shift=lobj.get("leak_shift", 0),
                    reset=lobj.get("reset", "fire_once"),
                ))
            except ConfigError as exc:
                msg = str(exc)
                raise ConfigError(msg if msg.startswith("layer") else f"layer {k}: {msg}") from None
        return cls(
            n_inputs=obj["n_inputs"],
            time_steps=obj["time_steps"],
            layers=tuple(layers),
            weight_bits=obj["weight_bits"],
            potential_bits=obj["potential_bits"],
            readout=obj.get("readout", "first_spike"),
            early_exit=obj.get("early_exit", False),
            meta=obj.get("meta", {}),
        )


# -- events ---------------------------------------------------------------------------------


def check_labels(labels, n_outputs: int, error: type[Exception] = ConfigError) -> None:
    """Raise ``error`` naming the first sample whose label is not one of the network's outputs
    ``0 .. n_outputs-1``."""
    labels = np.asarray(labels)
    bad = np.flatnonzero(labels >= n_outputs)
    if bad.size:
        n = int(bad[0])
        raise error(f"sample {n} has label {int(labels[n])}, outside the network's "
                    f"{n_outputs} outputs (labels 0..{n_outputs - 1})")


def check_events(events: np.ndarray, time_steps: int, n_inputs: int, what: str = "sample") -> None:
    """Raise :class:`ConfigError` unless ``events`` is a valid ``(n, 2)`` array sorted by (t, i)."""
    if events.ndim != 2 or events.shape[1] != 2:
        raise ConfigError(f"{what} must be a list of [t, input] pairs, got shape {events.shape}")
    if events.shape[0] == 0:
        return
    t, i = events[:, 0], events[:, 1]
    bad = np.flatnonzero((t < 0) | (t >= time_steps))
    if bad.size:
        k = int(bad[0])
        raise ConfigError(
            f"{what} event {k} has time {int(t[k])}; times must be in 0..{time_steps - 1}"
        )
    bad = np.flatnonzero((i < 0) | (i >= n_inputs))
    if bad.size:
        k = int(bad[0])
        raise ConfigError(
            f"{what} event {k} has input {int(i[k])}; inputs must be in 0..{n_inputs - 1}"
        )
    key = t * n_inputs + i
    bad = np.flatnonzero(np.diff(key) <= 0)
    if bad.size:
        k = int(bad[0]) + 1
        raise ConfigError(
            f"{what} event {k} {events[k].tolist()} does not come after "
            f"{events[k - 1].tolist()}; events must be strictly increasing in (t, input)"
        )


@dataclass(frozen=True, eq=False)
class EventSet:
    """Input events of N samples: ``samples[n]`` is an ``int64`` array of shape ``(k, 2)``
    holding ``[t, input]`` rows sorted by ``(t, input)``; ``labels`` is optional.

    Construction checks shapes and integer types; :meth:`check` checks ranges and order against
    a network (``time_steps``, ``n_inputs``).
    """

    samples: tuple
    labels: np.ndarray | None = None

    def __post_init__(self):
        fixed = []
        for n, s in enumerate(self.samples):
            arr = np.asarray(s) if isinstance(s, np.ndarray) else s
            if isinstance(arr, np.ndarray) and arr.size == 0:
                arr = np.zeros((0, 2), dtype=np.int64)
            elif isinstance(arr, list) and len(arr) == 0:
                arr = np.zeros((0, 2), dtype=np.int64)
            else:
                arr = _int_array(arr, f"sample {n} events", 2)
            if arr.shape[1] != 2:
                raise ConfigError(
                    f"sample {n} must be a list of [t, input] pairs, got rows of {arr.shape[1]}"
                )
            arr.setflags(write=False)
            fixed.append(arr)
        object.__setattr__(self, "samples", tuple(fixed))
        if self.labels is not None:
            labels = _int_array(self.labels, "labels", 1)
            if labels.shape[0] != len(fixed):
                raise ConfigError(
                    f"labels has {labels.shape[0]} entries for {len(fixed)} samples"
                )
            if labels.size and labels.min() < 0:
                raise ConfigError(f"labels must be >= 0, got {int(labels.min())}")
            labels.setflags(write=False)
            object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.samples)

    def check(self, time_steps: int, n_inputs: int, n_outputs: int | None = None) -> None:
        """Times, inputs and order of every sample; with ``n_outputs``, also that every label is
        one of the network's outputs ``0 .. n_outputs-1`` (naming the first sample that is not)."""
        for n, s in enumerate(self.samples):
            check_events(s, time_steps, n_inputs, f"sample {n}")
        if n_outputs is not None:
            self.check_labels(n_outputs)

    def check_labels(self, n_outputs: int, error: type[Exception] = ConfigError) -> None:
        """:func:`check_labels` of this set's labels (nothing to check without labels)."""
        if self.labels is not None:
            check_labels(self.labels, n_outputs, error)

    def subset(self, indices) -> EventSet:
        idx = list(indices)
        return EventSet(
            tuple(self.samples[k] for k in idx),
            None if self.labels is None else self.labels[idx],
        )

    def to_json(self) -> dict:
        obj: dict = {
            "format": EVENTS_FORMAT,
            "version": 1,
            "samples": [s.tolist() for s in self.samples],
        }
        if self.labels is not None:
            obj["labels"] = [int(x) for x in self.labels]
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> EventSet:
        if not isinstance(obj, dict):
            raise ConfigError(f"an events file must hold a JSON object, not {type(obj).__name__}")
        check_format(obj, EVENTS_FORMAT, EVENTS_VERSIONS)
        check_keys(obj, {"format", "version", "samples", "labels"}, {"samples"}, "events file")
        if not isinstance(obj["samples"], list):
            raise ConfigError("events 'samples' must be a list of samples")
        return cls(tuple(obj["samples"]), obj.get("labels"))


# -- files ----------------------------------------------------------------------------------


def load_qnet(path: str | os.PathLike) -> QNet:
    return QNet.from_json(read_json(path, "qnet"))


def save_qnet(qnet: QNet, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(qnet.to_json()) + "\n", encoding="utf-8")


def load_events(path: str | os.PathLike, qnet: QNet | None = None) -> EventSet:
    """Read a ``ttfs.events`` file; with ``qnet``, also check times, inputs, order and labels
    against it."""
    events = EventSet.from_json(read_json(path, "events"))
    if qnet is not None:
        events.check(qnet.time_steps, qnet.n_inputs, qnet.n_outputs)
    return events


def save_events(events: EventSet, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(events.to_json()) + "\n", encoding="utf-8")
