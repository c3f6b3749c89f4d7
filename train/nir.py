"""NIR (Neuromorphic Intermediate Representation) export and import of integer networks.

The rules, their bounds and the pitfalls are in ``docs/nir.md``; in short:

**Export** (:func:`export_nir`): layer ``k`` becomes ``fc{k}`` (``nir.Linear``, the qnet weights
transposed to NIR's ``(out, in)``, kept as an ``int64`` array) and ``neuron{k}``: ``nir.IF``
without leak, ``nir.LIF`` with leak shift ``s`` (``beta = 1 - 2**-s``, i.e. ``tau = dt * 2**s``
and ``r = tau / dt`` so the input gain ``r * dt / tau`` is 1), ``nir.I`` for a ``max_potential``
output layer (it neither fires nor leaks). ``v_threshold = Theta[0] - 0.5``: NIR fires on
``v > v_threshold``, we on ``V >= Theta``, and the two agree on integer potentials. What NIR
cannot express is in node metadata under the key ``"ttfs"`` (a JSON string, :data:`META_KEY`).

**Import** (:func:`import_nir`): a graph with the ``ttfs`` metadata of an export (and integer
``Linear`` weights) restores the identical qnet; any other feed-forward chain of
``Linear``/``Affine`` + ``IF``/``LIF``/``LI``/``I``/``CubaLIF`` is mapped to the integer semantics
and quantized layer by layer. Everything else is refused with one :class:`ConfigError` line.

This module needs numpy and ``nir`` only (no torch).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nir
import numpy as np

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.jsonio import is_int
from ttfs.sim.numeric import fits_signed, smax

__all__ = [
    "META_KEY",
    "META_FORMAT",
    "LEAK_ERROR_BOUND",
    "CALIBRATION_PERCENTILE",
    "ImportResult",
    "export_nir",
    "export_notes",
    "save_nir",
    "load_nir",
    "import_nir",
    "leak_shift_for",
    "float_predict",
    "CALIBRATION_SAMPLES",
    "dataset_calibration",
    "events_to_nir",
]

#: The metadata key of every node (and of the graph) that carries what NIR cannot express.
META_KEY = "ttfs"
META_FORMAT = "ttfs.nir"
#: The largest relative error of the per-step leak fraction ``dt / tau`` an import accepts when it
#: approximates it by ``2**-s``: the best shift is within 1/3 for every ``tau >= 4/3 * dt``.
LEAK_ERROR_BOUND = 1.0 / 3.0
#: Tolerance of "equal" float parameters (unit gain, one threshold per layer, tau_syn = dt).
REL_TOL = 1e-6
#: With calibration data, the potential scale keeps this percentile of per-sample peaks in range.
CALIBRATION_PERCENTILE = 99.9
#: :func:`dataset_calibration` encodes at most this many training samples (the first ones).
CALIBRATION_SAMPLES = 1000

_SPIKING = ("IF", "LIF", "CubaLIF")
_NEURONS = ("IF", "LIF", "CubaLIF", "I", "LI")


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_nir` made: the network and human-readable notes (one line each)."""

    qnet: QNet
    notes: tuple[str, ...]


# -- export ----------------------------------------------------------------------------------


def _table(arr: np.ndarray) -> int | list[int]:
    return int(arr[0]) if np.all(arr == arr[0]) else [int(x) for x in arr]


def _dumps(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True)


def export_nir(qnet: QNet, *, dt: float = 1.0) -> nir.NIRGraph:
    """The NIR graph of ``qnet``: ``input -> fc1 -> neuron1 -> ... -> output``.

    ``dt`` is the time step the ``LIF`` time constants are written for (``tau = dt * 2**s``);
    snnTorch reads NIR with ``dt = 1e-4`` hard-coded (``docs/nir.md``).
    """
    if not dt > 0 or not math.isfinite(dt):
        raise ConfigError(f"dt must be a positive number, not {dt!r}")
    L = len(qnet.layers)
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([qnet.n_inputs]))}
    for k, layer in enumerate(qnet.layers, start=1):
        n = layer.n_out
        nodes[f"fc{k}"] = nir.Linear(
            weight=np.ascontiguousarray(layer.weights.T).astype(np.int64),
            metadata={META_KEY: _dumps({"layer": k, "weight_bits": qnet.weight_bits,
                                        "orientation": "(out, in): the qnet weights transposed"})},
        )
        info = {
            "layer": k,
            "threshold": _table(layer.threshold),
            "kernel": _table(layer.kernel),
            "leak_shift": layer.leak_shift,
            "reset": layer.reset,
            "fire_once": layer.reset == "fire_once",
            "potential_bits": qnet.potential_bits,
            "saturating": True,
            "fires_on": "V >= Theta (v_threshold = Theta[0] - 0.5)",
        }
        meta = {META_KEY: _dumps(info)}
        ones = np.ones(n)
        th = np.full(n, float(layer.threshold[0]) - 0.5)
        if k == L and qnet.readout == "max_potential":
            node = nir.I(r=ones, metadata=meta)
        elif layer.leak_shift == 0:
            node = nir.IF(r=ones, v_threshold=th, v_reset=np.zeros(n), metadata=meta)
        else:
            f = float(2 ** layer.leak_shift)
            node = nir.LIF(tau=np.full(n, dt * f), r=np.full(n, f), v_leak=np.zeros(n),
                           v_threshold=th, v_reset=np.zeros(n), metadata=meta)
        nodes[f"neuron{k}"] = node
    nodes["output"] = nir.Output(output_type=np.array([qnet.n_outputs]))
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    head = {
        "format": META_FORMAT,
        "version": 1,
        "n_inputs": qnet.n_inputs,
        "time_steps": qnet.time_steps,
        "weight_bits": qnet.weight_bits,
        "potential_bits": qnet.potential_bits,
        "readout": qnet.readout,
        "early_exit": qnet.early_exit,
        "dt": float(dt),
        "meta": qnet.meta,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: _dumps(head)})


def export_notes(qnet: QNet) -> tuple[str, ...]:
    """What of ``qnet`` NIR's own fields do not carry (it is only in the ``ttfs`` metadata)."""
    notes = ["in NIR fields: weights (Linear, (out, in)), Theta[0] - 0.5 as v_threshold, leak "
             "shift s as LIF tau = dt * 2**s (beta = 1 - 2**-s), reset to 0"]
    only = [f"time_steps {qnet.time_steps}, weight_bits {qnet.weight_bits}, potential_bits "
            f"{qnet.potential_bits} (saturation width), readout {qnet.readout}, early_exit "
            f"{str(qnet.early_exit).lower()}" + (", the input encoding (qnet meta)"
                                                 if qnet.meta else "")]
    for k, layer in enumerate(qnet.layers, start=1):
        parts = []
        if not layer.threshold_constant:
            parts.append("the threshold table")
        if not (layer.kernel_constant and int(layer.kernel[0]) == 1):
            parts.append("the kernel table")
        if layer.reset != "zero":
            parts.append(f"the {layer.reset} reset")
        if k == len(qnet.layers) and qnet.readout == "max_potential":
            parts.append("the threshold, reset and leak of the non-spiking output")
        if parts:
            only.append(f"layer {k}: " + ", ".join(parts))
    return (notes[0], "only in metadata ('ttfs'): " + "; ".join(only))


def save_nir(qnet: QNet, path: str | os.PathLike, *, dt: float = 1.0) -> tuple[str, ...]:
    """Write ``qnet`` as a NIR (HDF5) file; returns :func:`export_notes`."""
    graph = export_nir(qnet, dt=dt)
    try:
        nir.write(str(path), graph)
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc}") from None
    return export_notes(qnet)


def load_nir(path: str | os.PathLike) -> nir.NIRGraph:
    """Read a NIR file; a missing or unreadable file is a :class:`ConfigError`."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such NIR file")
    try:
        graph = nir.read(str(p))
    except Exception as exc:  # h5py and nir raise OSError, KeyError, ValueError, AssertionError
        raise ConfigError(f"{path}: not a readable NIR file ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"{path}: holds a {type(graph).__name__}, not a NIRGraph")
    return graph


# -- graph structure -------------------------------------------------------------------------


def _meta(node: Any) -> dict | None:
    md = getattr(node, "metadata", None)
    if not isinstance(md, dict) or META_KEY not in md:
        return None
    raw = md[META_KEY]
    if isinstance(raw, bytes):
        raw = raw.decode("utf8")
    try:
        obj = json.loads(raw) if isinstance(raw, str) else None
    except json.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _chain(graph: nir.NIRGraph) -> list[str]:
    """The node names from the Input to the Output, refusing anything but one feed-forward chain."""
    nodes, edges = graph.nodes, [(str(a), str(b)) for a, b in graph.edges]
    supported = {"Input", "Output", "Linear", "Affine", "Flatten", *_NEURONS}
    for name, node in nodes.items():
        kind = type(node).__name__
        if kind in ("Conv1d", "Conv2d"):
            raise ConfigError(f"node {name!r}: {kind} is not supported (the core has fully "
                              "connected layers only)")
        if isinstance(node, nir.NIRGraph):
            raise ConfigError(f"node {name!r}: a nested NIRGraph is not supported (snnTorch "
                              "writes recurrent layers this way)")
        if kind not in supported:
            raise ConfigError(f"node {name!r}: node type {kind} is not supported (supported: "
                              "Linear, Affine, IF, LIF, LI, I, CubaLIF, Flatten after the Input)")
    for a, b in edges:
        for x in (a, b):
            if x not in nodes:
                raise ConfigError(f"edge ({a!r}, {b!r}) names a node {x!r} the graph lacks")
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    pred: dict[str, list[str]] = {n: [] for n in nodes}
    for a, b in edges:
        succ[a].append(b)
        pred[b].append(a)
    # cycles (recurrence) first: their message says more than "two incoming edges"
    state: dict[str, int] = {}
    for start in nodes:
        if state.get(start):
            continue
        stack = [(start, iter(succ[start]))]
        state[start] = 1
        while stack:
            n, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[n] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                raise ConfigError(f"node {nxt!r}: recurrent edge {n!r} -> {nxt!r} (a cycle); "
                                  "only feed-forward graphs import")
            elif not state.get(nxt):
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    inputs = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outputs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"the graph has {len(inputs)} Input and {len(outputs)} Output nodes; "
                          "one of each imports")
    for n in nodes:
        if len(succ[n]) > 1 or len(pred[n]) > 1:
            way = "outgoing" if len(succ[n]) > 1 else "incoming"
            count = max(len(succ[n]), len(pred[n]))
            raise ConfigError(f"node {n!r}: {count} {way} edges; only a chain without branches "
                              "or merges imports")
    order = [inputs[0]]
    while succ[order[-1]]:
        order.append(succ[order[-1]][0])
    if order[-1] != outputs[0]:
        raise ConfigError(f"node {order[-1]!r}: the chain from the Input ends here, not at the "
                          "Output")
    left = sorted(set(nodes) - set(order))
    if left:
        raise ConfigError(f"node {left[0]!r}: not on the chain from the Input to the Output")
    return order


def _pairs(graph: nir.NIRGraph, order: list[str]) -> list[tuple[str, str]]:
    """``(affine name, neuron name)`` per layer along ``order``."""
    body = order[1:-1]
    if body and isinstance(graph.nodes[body[0]], nir.Flatten):
        body = body[1:]
    pairs = []
    for k in range(0, len(body), 2):
        a = body[k]
        if not isinstance(graph.nodes[a], (nir.Linear, nir.Affine)):
            raise ConfigError(f"node {a!r}: a {type(graph.nodes[a]).__name__} where a Linear or "
                              "Affine must come (layers are Linear/Affine then a neuron node)")
        if k + 1 >= len(body):
            raise ConfigError(f"node {a!r}: a Linear/Affine with no neuron node after it")
        b = body[k + 1]
        if type(graph.nodes[b]).__name__ not in _NEURONS:
            raise ConfigError(f"node {b!r}: a {type(graph.nodes[b]).__name__} where a neuron "
                              "node (IF, LIF, LI, I, CubaLIF) must come")
        pairs.append((a, b))
    if not pairs:
        raise ConfigError("the graph has no Linear/Affine + neuron layer")
    return pairs


# -- float layer specs -----------------------------------------------------------------------


@dataclass
class _FloatLayer:
    name: str                 # the neuron node's name
    weight: np.ndarray        # (out, in) float64
    bias: np.ndarray | None   # (out,) or None
    threshold: float          # NIR v_threshold (fires on v > threshold)
    beta: float               # per-step decay factor 1 - dt/tau (1.0: no leak)
    spiking: bool


def _param(node: Any, name: str, field_name: str, n: int) -> np.ndarray:
    arr = np.asarray(getattr(node, field_name), dtype=np.float64).reshape(-1)
    if arr.size == 1:
        arr = np.full(n, float(arr[0]))
    if arr.size != n:
        raise ConfigError(f"node {name!r}: {field_name} has {arr.size} entries for {n} neurons")
    return arr


def _uniform(node: Any, name: str, field_name: str, n: int) -> float:
    arr = _param(node, name, field_name, n)
    v = float(arr[0])
    if np.any(np.isnan(arr)):
        raise ConfigError(f"node {name!r}: {field_name} is NaN")
    if not np.all(arr == v) and not np.allclose(arr, v, rtol=REL_TOL, atol=0.0):
        raise ConfigError(f"node {name!r}: {field_name} differs between neurons "
                          f"({arr.min():g} .. {arr.max():g}); a layer has one value")
    return v


def _close(x: float, y: float) -> bool:
    return math.isclose(x, y, rel_tol=REL_TOL, abs_tol=0.0)


def _unit_gain(name: str, gain: float, what: str) -> None:
    if not (math.isfinite(gain) and _close(gain, 1.0)):
        raise ConfigError(f"node {name!r}: input gain {what} = {gain:g}, not 1; a non-unit r or "
                          "input weight is not supported (fold it into the weights)")


def _float_layer(graph, aname: str, nname: str, dt: float, n_prev: int) -> _FloatLayer:
    lin, neu = graph.nodes[aname], graph.nodes[nname]
    w = np.asarray(lin.weight, dtype=np.float64)
    if w.ndim != 2:
        raise ConfigError(f"node {aname!r}: weight must be 2-D (out, in), not shape {w.shape}")
    if w.shape[1] != n_prev:
        raise ConfigError(f"node {aname!r}: weight has {w.shape[1]} inputs; expected {n_prev}")
    if not np.all(np.isfinite(w)):
        raise ConfigError(f"node {aname!r}: weight holds NaN or infinity")
    n = w.shape[0]
    bias = None
    if isinstance(lin, nir.Affine):
        b = np.asarray(lin.bias, dtype=np.float64).reshape(-1)
        if b.size == 1:
            b = np.full(n, float(b[0]))
        if b.size != n or not np.all(np.isfinite(b)):
            raise ConfigError(f"node {aname!r}: bias must be {n} finite numbers")
        bias = b if np.any(b != 0) else None
    kind = type(neu).__name__
    beta = 1.0
    if kind in ("IF", "I"):
        _unit_gain(nname, _uniform(neu, nname, "r", n), "r")
    else:
        tau_field = "tau_mem" if kind == "CubaLIF" else "tau"
        tau = _uniform(neu, nname, tau_field, n)
        r = _uniform(neu, nname, "r", n)
        if not tau > 0:
            raise ConfigError(f"node {nname!r}: {tau_field} = {tau:g}; it must be positive")
        if math.isinf(tau):  # no leak; snnTorch's beta = 1 writes tau = r = inf
            _unit_gain(nname, 1.0 if math.isinf(r) else r, "r (tau = inf)")
        else:
            _unit_gain(nname, r * dt / tau, f"r*dt/{tau_field}")
            beta = 1.0 - dt / tau
        if _uniform(neu, nname, "v_leak", n) != 0.0:
            raise ConfigError(f"node {nname!r}: v_leak != 0 (a resting potential) has no integer "
                              "equivalent")
        if kind == "CubaLIF":
            tau_syn = _uniform(neu, nname, "tau_syn", n)
            if not _close(tau_syn, dt):
                raise ConfigError(f"node {nname!r}: CubaLIF with tau_syn = {tau_syn:g} filters "
                                  f"its input; only tau_syn = dt = {dt:g} (alpha = 0) is "
                                  "equivalent to a LIF")
            _unit_gain(nname, _uniform(neu, nname, "w_in", n) * dt / tau_syn, "w_in*dt/tau_syn")
    spiking = kind in _SPIKING
    threshold = 0.0
    if spiking:
        threshold = _uniform(neu, nname, "v_threshold", n)
        if not threshold >= 0 or math.isinf(threshold):
            raise ConfigError(f"node {nname!r}: v_threshold = {threshold:g}; it must be finite "
                              "and >= 0")
        if _uniform(neu, nname, "v_reset", n) != 0.0:
            raise ConfigError(f"node {nname!r}: v_reset != 0 is not supported (resets go to 0 "
                              "or subtract the threshold)")
    return _FloatLayer(nname, w, bias, threshold, beta, spiking)


def leak_shift_for(beta: float, potential_bits: int, name: str = "node") -> tuple[int, float]:
    """``(s, relative error)``: the shift whose ``2**-s`` is nearest the leak fraction ``1 - beta``.

    ``beta == 1`` (no leak) and a leak fraction below ``2**-(potential_bits - 1)`` (less than one
    LSB of any potential) give ``(0, 0.0)``. Otherwise ``s`` in ``1 .. potential_bits - 1`` with
    the smallest ``|2**-s / (1 - beta) - 1|``; above :data:`LEAK_ERROR_BOUND` it is refused.
    """
    frac = 1.0 - beta
    if frac == 0.0:
        return 0, 0.0
    if not 0.0 < frac < 1.0:
        raise ConfigError(f"node {name!r}: the per-step leak dt/tau = {frac:g} is outside (0, 1) "
                          "(tau <= dt); no shift approximates it")
    if frac < 2.0 ** -(potential_bits - 1):
        return 0, 0.0
    best = min(range(1, potential_bits), key=lambda s: abs(2.0 ** -s / frac - 1.0))
    err = abs(2.0 ** -best / frac - 1.0)
    if err > LEAK_ERROR_BOUND:
        raise ConfigError(f"node {name!r}: the per-step leak dt/tau = {frac:g} is {err:.0%} from "
                          f"the nearest shift 2**-{best}; the bound is {LEAK_ERROR_BOUND:.0%} "
                          "(tau must be >= 4/3 dt)")
    return best, err


# -- the float simulation (calibration, and the reference of the tests) ----------------------


def _dense(events: EventSet, T: int, n: int) -> np.ndarray:
    x = np.zeros((len(events), T, n), dtype=np.float64)
    for k, s in enumerate(events.samples):
        if len(s):
            x[k, s[:, 0], s[:, 1]] = 1.0
    return x


def _float_run(layers: list[_FloatLayer], events: EventSet, T: int, reset: str,
               readout: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Predictions and per-sample peak ``|v|`` of each layer, with our step order (integrate,
    fire ``v > threshold``, reset, leak ``v *= beta``) in float64."""
    N = len(events)
    x = _dense(events, T, layers[0].weight.shape[1])
    v = [np.zeros((N, lay.weight.shape[0])) for lay in layers]
    done = [np.zeros((N, lay.weight.shape[0]), dtype=bool) for lay in layers]
    peaks = [np.zeros(N) for _ in layers]
    first = np.full(N, -1)
    L = len(layers)
    for t in range(T):
        s = x[:, t, :]
        for li, lay in enumerate(layers):
            v[li] += s @ lay.weight.T
            if lay.bias is not None:
                v[li] += lay.bias
            peaks[li] = np.maximum(peaks[li], np.abs(v[li]).max(axis=1))
            if li == L - 1 and readout == "max_potential":
                break
            fire = (v[li] > lay.threshold) & ~done[li]
            if reset == "fire_once":
                done[li] |= fire
            elif reset == "zero":
                v[li][fire] = 0.0
            else:
                v[li][fire] -= lay.threshold
            v[li] *= np.where(done[li], 1.0, lay.beta)
            s = fire.astype(np.float64)
            if li == L - 1:
                hit = (first < 0) & fire.any(axis=1)
                first[hit] = np.argmax(fire[hit], axis=1)
    pred = np.where(first >= 0, first, np.argmax(v[-1], axis=1))
    return pred, peaks


def float_predict(graph_or_path: Any, events: EventSet, *, time_steps: int, dt: float = 1.0,
                  reset: str | None = None, readout: str | None = None) -> np.ndarray:
    """The predictions of the float NIR graph (as :func:`import_nir` reads it) on ``events``
    (feature events only, without bias inputs): the float model the import quantizes."""
    graph = load_nir(graph_or_path) if isinstance(graph_or_path, (str, os.PathLike)) \
        else graph_or_path
    layers, _ = _float_layers(graph, dt)
    mode = reset or "zero"
    out = _readout(layers, readout)
    events.check(time_steps, layers[0].weight.shape[1])
    return _float_run(layers, events, time_steps, mode, out)[0]


def _float_layers(graph: nir.NIRGraph, dt: float) -> tuple[list[_FloatLayer], list[str]]:
    order = _chain(graph)
    pairs = _pairs(graph, order)
    inp = graph.nodes[order[0]]
    n_in = int(np.prod(np.asarray(inp.input_type["input"]).reshape(-1)))
    first_w = np.asarray(graph.nodes[pairs[0][0]].weight)
    if first_w.ndim == 2 and first_w.shape[1] != n_in:
        raise ConfigError(f"node {order[0]!r}: the Input has {n_in} elements; the first layer "
                          f"takes {first_w.shape[1]}")
    layers, n_prev = [], n_in
    for a, b in pairs:
        lay = _float_layer(graph, a, b, dt, n_prev)
        layers.append(lay)
        n_prev = lay.weight.shape[0]
    for lay in layers[:-1]:
        if not lay.spiking:
            raise ConfigError(f"node {lay.name!r}: a non-spiking I/LI node can only be the "
                              "output layer")
    for (a, _), lay in zip(pairs[1:], layers[1:], strict=True):
        if lay.bias is not None:
            raise ConfigError(f"node {a!r}: a bias on a hidden layer is not supported (only the "
                              "first layer's bias becomes bias inputs); use Linear there")
    return layers, [a for a, _ in pairs]


def _readout(layers: list[_FloatLayer], readout: str | None) -> str:
    if readout is not None and readout not in READOUTS:
        raise ConfigError(f"readout must be one of {', '.join(READOUTS)}, not {readout!r}")
    if readout == "first_spike" and not layers[-1].spiking:
        raise ConfigError(f"node {layers[-1].name!r}: readout first_spike needs a spiking output "
                          "node (IF, LIF, CubaLIF), not I/LI")
    return readout or ("first_spike" if layers[-1].spiking else "max_potential")


# -- import ----------------------------------------------------------------------------------


def _from_metadata(graph: nir.NIRGraph, head: dict) -> QNet | str:
    """The qnet the ``ttfs`` metadata restores, or the reason it cannot (then the float path)."""
    try:
        order = _chain(graph)
        pairs = _pairs(graph, order)
    except ConfigError as exc:
        return str(exc)
    layers = []
    for a, b in pairs:
        info = _meta(graph.nodes[b])
        w = np.asarray(graph.nodes[a].weight)
        if info is None:
            return f"node {b!r} has no ttfs metadata"
        if isinstance(graph.nodes[a], nir.Affine) and np.any(np.asarray(graph.nodes[a].bias)):
            return f"node {a!r} has a bias"
        if w.ndim != 2 or not np.all(np.isfinite(w)) or not np.all(w == np.rint(w)):
            return f"node {a!r} holds weights that are not integers"
        try:
            layers.append(Layer(np.rint(w.T).astype(np.int64), info["threshold"],
                                info["kernel"], info["leak_shift"], info["reset"]))
        except (KeyError, ConfigError) as exc:
            return f"node {b!r}: bad ttfs metadata ({exc})"
    try:
        qnet = QNet(head["n_inputs"], head["time_steps"], tuple(layers), head["weight_bits"],
                    head["potential_bits"], head["readout"], head["early_exit"],
                    head.get("meta") or {})
        again = export_nir(qnet, dt=float(head["dt"]))
    except (KeyError, TypeError, ValueError) as exc:
        return f"bad ttfs metadata ({exc})"
    # the NIR fields must still say what the metadata says (an edited threshold or tau wins)
    for (_, b), k in zip(pairs, range(1, len(pairs) + 1), strict=True):
        have, want = graph.nodes[b], again.nodes[f"neuron{k}"]
        if type(have) is not type(want):
            return f"node {b!r} is a {type(have).__name__}; the metadata makes a " \
                   f"{type(want).__name__}"
        for name in ("r", "tau", "v_leak", "v_threshold", "v_reset"):
            if hasattr(want, name):
                x = np.asarray(getattr(have, name), dtype=np.float64)
                y = np.asarray(getattr(want, name), dtype=np.float64)
                if x.shape != y.shape or not np.allclose(x, y, rtol=REL_TOL, atol=0.0):
                    return f"node {b!r}: {name} disagrees with the ttfs metadata"
    return qnet


def import_nir(
    graph_or_path: Any,
    *,
    time_steps: int,
    dt: float = 1.0,
    reset: str | None = None,
    weight_bits: int = 8,
    potential_bits: int = 16,
    calibration: EventSet | None = None,
    readout: str | None = None,
) -> ImportResult:
    """A :class:`QNet` from a NIR graph (or a ``.nir`` path); the rules are in ``docs/nir.md``.

    With the ``ttfs`` metadata of :func:`export_nir` the exported qnet comes back identical (the
    arguments it contradicts are reported in the notes). Otherwise: ``reset`` (default ``zero``,
    NIR's ``v <- v_reset = 0``) applies to every layer, leaks become the nearest shift, the first
    layer's bias becomes ``time_steps`` bias inputs (one per step), and each layer is scaled on
    its own (``calibration``: feature events, no bias inputs, bounds the potentials).
    """
    graph = load_nir(graph_or_path) if isinstance(graph_or_path, (str, os.PathLike)) \
        else graph_or_path
    if not isinstance(graph, nir.NIRGraph):
        raise ConfigError(f"expected a NIRGraph, not {type(graph).__name__}")
    if not is_int(time_steps) or time_steps < 1:
        raise ConfigError(f"time_steps must be a positive integer, not {time_steps!r}")
    if not (isinstance(dt, (int, float)) and dt > 0 and math.isfinite(dt)):
        raise ConfigError(f"dt must be a positive number, not {dt!r}")
    if reset is not None and reset not in RESET_MODES:
        raise ConfigError(f"reset must be one of {', '.join(RESET_MODES)}, not {reset!r}")
    notes: list[str] = []
    head = _meta(graph)
    if head is not None and head.get("format") == META_FORMAT:
        got = _from_metadata(graph, head)
        if isinstance(got, QNet):
            asked = {"time_steps": time_steps, "weight_bits": weight_bits,
                     "potential_bits": potential_bits, "readout": readout}
            for key, value in asked.items():
                if value is not None and value != getattr(got, key):
                    notes.append(f"{key} {getattr(got, key)} from the ttfs metadata (not "
                                 f"{value})")
            if reset is not None:
                notes.append(f"reset {reset} not used: the ttfs metadata sets each layer's reset")
            if calibration is not None:
                notes.append("calibration not used: the weights are the exported integers")
            notes.insert(0, "restored from the ttfs metadata (threshold and kernel tables, resets, "
                            "leak shifts, widths, readout, meta): identical to the exported qnet")
            return ImportResult(got, tuple(notes))
        notes.append(f"ttfs metadata present but not used: {got}")
    return _import_float(graph, int(time_steps), float(dt), reset, weight_bits, potential_bits,
                         calibration, readout, notes)


def _import_float(graph, T, dt, reset, wb, pb, calibration, readout, notes) -> ImportResult:
    for name, v, lo, hi in (("weight_bits", wb, 2, 16), ("potential_bits", pb, 2, 32)):
        if not is_int(v) or not lo <= v <= hi:
            raise ConfigError(f"{name} must be in {lo}..{hi}, not {v!r}")
    layers, lin_names = _float_layers(graph, dt)
    mode = reset or "zero"
    out = _readout(layers, readout)
    n_feat = layers[0].weight.shape[1]
    notes.append(f"reset {mode} for every layer" + ("" if reset else
                 " (NIR's v <- v_reset = 0; snnTorch writes v_reset = 0 whatever its reset: "
                 "pass --reset to choose)") + f"; readout {out}")
    peaks = None
    if calibration is not None:
        calibration.check(T, n_feat)
        if len(calibration) == 0:
            raise ConfigError("the calibration set has no samples")
        _, peaks = _float_run(layers, calibration, T, mode, out)
    qlayers = []
    L = len(layers)
    for k, lay in enumerate(layers, start=1):
        fires = not (k == L and out == "max_potential")
        shift, err = leak_shift_for(lay.beta, pb, lay.name)
        if lay.beta != 1.0:
            if shift:
                notes.append(f"layer {k}: leak beta = {lay.beta:.6g} -> shift {shift} "
                             f"(beta {1 - 2.0 ** -shift:.6g}), relative error of the per-step "
                             f"leak {err:.1%}" + ("" if fires else "; the max_potential output "
                                                  "does not leak, the leak is dropped"))
            else:
                notes.append(f"layer {k}: leak beta = {lay.beta:.9g} is below one LSB; no leak")
        ws = lay.weight if lay.bias is None else np.concatenate([lay.weight, lay.bias[:, None]],
                                                                axis=1)
        m = float(np.abs(ws).max())
        integral = bool(np.all(ws == np.rint(ws))) and fits_signed(ws, wb)
        caps = {"max-abs weight": smax(wb) / m if m > 0 else 1.0}
        if integral:
            caps = {"integer-valued weights kept": 1.0}
        if fires and lay.threshold > 0:
            caps["threshold fits potential_bits"] = smax(pb) / lay.threshold
        if peaks is not None and np.percentile(peaks[k - 1], CALIBRATION_PERCENTILE) > 0:
            p = float(np.percentile(peaks[k - 1], CALIBRATION_PERCENTILE))
            caps[f"{CALIBRATION_PERCENTILE:g}th percentile of calibration |v| ({p:.4g}) "
                 "fits potential_bits"] = smax(pb) / p
        why, scale = min(caps.items(), key=lambda kv: kv[1])
        w_int = np.rint(lay.weight * scale).astype(np.int64)
        theta = 1
        if fires:
            theta = int(min(max(math.floor(lay.threshold * scale) + 1, 1), smax(pb)))
        notes.append(f"layer {k}: scale {scale:.6g} ({why}); threshold {lay.threshold:g} -> "
                     f"Theta {theta}" + ("" if fires else " (unused: max_potential output)"))
        rows = w_int.T
        if lay.bias is not None:
            b_int = np.rint(lay.bias * scale).astype(np.int64)
            rows = np.concatenate([rows, np.broadcast_to(b_int, (T, b_int.size))], axis=0)
            notes.append(f"layer {k}: the bias of {lin_names[k - 1]!r} became {T} bias inputs "
                         f"(indices {n_feat}..{n_feat + T - 1}, one firing at each step 0..{T - 1}"
                         ", encoder bias_steps)")
        if not np.any(rows):
            notes.append(f"layer {k}: every weight rounds to 0 at this scale")
        qlayers.append(Layer(rows, theta, 1, shift if fires else 0, mode))
    if calibration is None:
        notes.append("no calibration data: potentials are not bounded by data (saturation "
                     "possible); pass --calibrate or --dataset")
    bias_steps = list(range(T)) if layers[0].bias is not None else []
    meta = {"encoder": {"kind": "ttfs", "time_steps": T, "t_in": T, "cutoff": 0.0,
                        "bias_steps": bias_steps},
            "nir": {"dt": dt, "reset": mode}}
    qnet = QNet(n_feat + len(bias_steps), T, tuple(qlayers), wb, pb, out, False, meta)
    return ImportResult(qnet, tuple(notes))


def dataset_calibration(dataset: str, time_steps: int) -> EventSet:
    """Calibration events from a dataset's training split (its first :data:`CALIBRATION_SAMPLES`
    samples): TTFS-encoded over the whole window (``t_in = time_steps``, ``cutoff = 0``, the
    encoder record :func:`import_nir` writes to ``qnet.meta``), without bias inputs."""
    from ttfs.sim.encode import encode_ttfs
    from ttfs.train.data import load_split

    X, y = load_split(dataset, "train")
    X, y = X[:CALIBRATION_SAMPLES], y[:CALIBRATION_SAMPLES]
    return encode_ttfs(X, time_steps, t_in=time_steps, cutoff=0.0, labels=y)


def events_to_nir(events: EventSet, n_inputs: int, time_steps: int, *,
                  dt: float = 1.0) -> nir.EventData:
    """Encoded samples as NIR ``EventData``: ``idx`` and ``time`` of shape ``(samples, most
    events)``, event ``(t, i)`` as ``idx = i``, ``time = t * dt``, padded with ``-1`` / ``inf``;
    ``n_neurons = n_inputs``, ``t_max = time_steps * dt`` (``to_time_gridded(dt)`` gives back the
    steps)."""
    events.check(time_steps, n_inputs)
    width = max((len(s) for s in events.samples), default=0)
    idx = np.full((len(events), width), -1, dtype=np.int64)
    time = np.full((len(events), width), np.inf)
    for k, s in enumerate(events.samples):
        idx[k, :len(s)] = s[:, 1]
        time[k, :len(s)] = s[:, 0] * float(dt)
    return nir.EventData(idx=idx, time=time, n_neurons=int(n_inputs),
                         t_max=float(time_steps) * float(dt))
