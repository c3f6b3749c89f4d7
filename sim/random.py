"""Seeded random networks and inputs for differential testing.

``random_case(seed)`` draws one network and its samples from ``numpy`` generators seeded with
``seed``, so any failing case is replayed by its seed alone. A case belongs to one *family*
(:data:`FAMILIES`); each family aims at a rule of ``docs/semantics.md`` or at a decision of the
core (the skip of a layer or chunk whose neurons cannot fire at a step):

``classic``
    the original distribution (every ``random_case(seed, family="classic")`` is the case the
    generator drew for ``seed`` before the families existed): all reset modes, both readouts,
    early exit, leak, time-varying threshold and kernel tables, sizes that are not multiples of
    the lane count, weights large enough to saturate, empty samples and samples where every input
    fires at every step.
``at_threshold``
    small integer weights (-1..2), kernels 0/1 and small thresholds, constant or falling by one
    per step, with sparse or early-only input: potentials land exactly on the threshold at a
    sweep, also at steps where the layer has no input event (a falling table meets a stored
    potential).
``push_back``
    the low-index sources of every layer push up and the high-index ones pull down, and inputs
    fire densely: within one step a neuron rises to or over the threshold and a later event of
    the same step pushes it back below before the sweep (the maximum of the layer falls after it
    was the maximum).
``tables``
    threshold tables of four shapes: constant, a valley (falls, then rises again), a
    "cannot fire" prefix at ``2**(potential_bits-1) - 1`` followed by a linear fall (the trained
    default network's shape), and i.i.d. per step; kernel tables with zeros; input mostly early.
``saturate``
    the widest weights the limits allow, large kernels, an amplifier layer in front (many
    events per step), thresholds at or next to the largest potential, sources ordered
    down-then-up or up-then-down and input phased the same way: the potential saturates at both
    ends, and ``V == Theta == 2**(potential_bits-1) - 1`` at sweeps.
``chunks``
    layer sizes drawn around the lane count P (1, P-1, P, P+1, 2P-1, 2P, ...) and whole chunks
    of P neurons whose incoming weights are all zero or negative: chunks that never fire beside
    chunks that do, and partial last chunks.
``far_above``
    large positive weights, large kernels and small thresholds, input only in the first steps:
    with the subtract reset a neuron stays above its threshold and fires for several steps with
    no input event; with ``fire_once`` a fired neuron stays far above the threshold.
``leaky``
    every layer leaks (``leak_shift`` 1..4), constant or falling thresholds, both readouts.
``reach``
    the reach test's decisions (every core): the first layer's table holds, over
    an input window, levels at whole multiples of what one event can add at most
    (``2**(weight_bits-1)`` times a kernel of 1) give or take one, and falls after it; some
    tables rise within the window or again after it; small kernels, and samples of a few events
    at a few steps, so the test's bound lands below, on and above the thresholds.

Every family draws the reset of each layer from all modes the limits allow, both readouts and
early exit (as in ``classic``). :data:`DEFAULT_MIX` gives each family its share of seeds; a
family that the limits rule out (``leaky`` without the leak datapath) is dropped from the mix
and the others keep their proportions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.ir import RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.numeric import smax, smin

__all__ = [
    "RandomCase", "random_qnet", "random_events", "random_case", "pick_family",
    "FAMILIES", "DEFAULT_MIX",
]


@dataclass(frozen=True, eq=False)
class RandomCase:
    seed: int
    qnet: QNet
    events: EventSet
    core: CoreConfig
    family: str = "classic"


@dataclass(frozen=True)
class _Limits:
    max_layers: int = 3
    max_neurons: int = 20
    max_inputs: int = 12
    max_time_steps: int = 16
    potential_bits: int | None = None
    max_weight_bits: int = 8
    max_kernel: int = 5
    leak: bool = True
    subtract: bool = True


# -- the classic distribution (unchanged: the same draws in the same order) --------------------


def _classic_qnet(rng: np.random.Generator, lim: _Limits, lanes: int) -> QNet:
    T = int(rng.integers(1, lim.max_time_steps + 1))
    n_in = int(rng.integers(1, lim.max_inputs + 1))
    n_layers = int(rng.integers(1, lim.max_layers + 1))
    sizes = [n_in] + [int(rng.integers(1, lim.max_neurons + 1)) for _ in range(n_layers)]
    pb = lim.potential_bits or int(rng.choice([4, 6, 8, 10, 12, 16]))
    wb = int(rng.integers(2, min(pb, lim.max_weight_bits) + 1))
    readout = "max_potential" if rng.random() < 0.3 else "first_spike"
    early_exit = readout == "first_spike" and rng.random() < 0.4
    # "hot" networks push potentials into saturation: big weights, small potentials
    hot = rng.random() < 0.3
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(smin(wb), smax(wb) + 1, size=(a, b))
        if not hot:
            # bias weights positive so that activity propagates
            w = np.clip(w + int(rng.integers(0, max(1, smax(wb) // 2) + 1)), smin(wb), smax(wb))
        th_hi = max(1, min(smax(pb), (smax(wb) * max(1, a // 2)) if not hot else smax(pb)))
        if rng.random() < 0.7:
            threshold = int(rng.integers(1, th_hi + 1))
        else:
            threshold = rng.integers(1, th_hi + 1, size=T)
        if rng.random() < 0.6:
            kernel = 1
        elif rng.random() < 0.5:
            kernel = int(rng.integers(0, min(3, lim.max_kernel) + 1))
        else:
            kernel = rng.integers(0, lim.max_kernel + 1, size=T)
        leak_shift = int(rng.integers(1, min(pb, 6))) if rng.random() < 0.3 and lim.leak else 0
        reset = str(rng.choice(RESET_MODES if lim.subtract else RESET_MODES[:2]))
        layers.append(Layer(w, threshold, kernel, leak_shift, reset))
    return QNet(n_in, T, tuple(layers), wb, pb, readout, early_exit)


def _classic_events(rng: np.random.Generator, qnet: QNet, n_samples: int) -> EventSet:
    samples = []
    for _ in range(n_samples):
        r = rng.random()
        if r < 0.1:
            samples.append(np.zeros((0, 2), dtype=np.int64))
            continue
        density = 1.0 if r > 0.95 else float(rng.random()) * 0.6
        mask = rng.random((qnet.time_steps, qnet.n_inputs)) < density
        samples.append(np.argwhere(mask).astype(np.int64))
    return EventSet(tuple(samples))


# -- helpers shared by the other families ----------------------------------------------------


def _steps(rng, lim: _Limits, lo: int = 1) -> int:
    return int(rng.integers(min(lo, lim.max_time_steps), lim.max_time_steps + 1))


def _sizes(rng, lim: _Limits, n_in_lo: int = 1, n_max: int | None = None) -> list[int]:
    n_in = int(rng.integers(min(n_in_lo, lim.max_inputs), lim.max_inputs + 1))
    n_layers = int(rng.integers(1, lim.max_layers + 1))
    hi = min(lim.max_neurons, n_max or lim.max_neurons)
    return [n_in] + [int(rng.integers(1, hi + 1)) for _ in range(n_layers)]


def _pb(rng, lim: _Limits, choices) -> int:
    return lim.potential_bits or int(rng.choice(choices))


def _wb(rng, lim: _Limits, pb: int, lo: int = 2) -> int:
    top = min(pb, lim.max_weight_bits)
    return int(rng.integers(min(lo, top), top + 1))


def _readout(rng, p_max: float = 0.3, p_exit: float = 0.4) -> tuple[str, bool]:
    readout = "max_potential" if rng.random() < p_max else "first_spike"
    return readout, readout == "first_spike" and rng.random() < p_exit


def _reset(rng, lim: _Limits, p_subtract: float | None = None) -> str:
    modes = RESET_MODES if lim.subtract else tuple(m for m in RESET_MODES if m != "subtract")
    if p_subtract is not None and lim.subtract:
        if rng.random() < p_subtract:
            return "subtract"
        modes = tuple(m for m in modes if m != "subtract")
    return str(rng.choice(modes))


def _leak_shift(rng, lim: _Limits, pb: int, p: float, hi: int = 5) -> int:
    if lim.leak and rng.random() < p:
        return int(rng.integers(1, max(1, min(pb - 1, hi)) + 1))
    return 0


def _th(values, pb: int) -> np.ndarray:
    """A threshold table clipped to the legal range ``1 .. smax(pb)``."""
    return np.clip(np.asarray(values, dtype=np.int64), 1, smax(pb))


def _falling(rng, T: int, start: int, pb: int) -> np.ndarray:
    """``start, start - 1, ...`` down to 1: every integer below ``start`` is a threshold once."""
    return _th(start - np.arange(T), pb)


def _mask_events(rng, T: int, n_in: int, density, steps: slice | None = None) -> np.ndarray:
    mask = rng.random((T, n_in)) < density
    if steps is not None:
        keep = np.zeros(T, dtype=bool)
        keep[steps] = True
        mask &= keep[:, None]
    return np.argwhere(mask).astype(np.int64)


_EMPTY = np.zeros((0, 2), dtype=np.int64)


def _samples(rng, qnet: QNet, n_samples: int, draw) -> EventSet:
    """``n_samples`` samples, each ``draw(rng, T, n_inputs, r)`` with ``r`` a fresh uniform
    draw (the family's choice of kind of sample)."""
    T, n = qnet.time_steps, qnet.n_inputs
    return EventSet(tuple(draw(rng, T, n, rng.random()) for _ in range(n_samples)))


# -- at_threshold ------------------------------------------------------------------------------


def _at_threshold_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 4)
    sizes = _sizes(rng, lim)
    pb = _pb(rng, lim, [6, 8, 10, 12, 16])
    wb = _wb(rng, lim, pb)
    readout, early_exit = _readout(rng)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.choice(np.array([-1, 0, 1, 1, 1, 2]), size=(a, b))
        w = np.clip(w, smin(wb), smax(wb))
        kernel = 1 if rng.random() < 0.7 else rng.choice(np.array([0, 1, 1, 1]), size=T)
        shape = rng.random()
        if shape < 0.45:  # a small constant threshold, reached by sums of small weights
            threshold = _th(int(rng.integers(1, 7)), pb)
        elif shape < 0.85:  # falling by one per step: meets every stored potential below it
            threshold = _falling(rng, T, int(rng.integers(2, T + 4)), pb)
        else:  # a staircase, one step down at random steps
            threshold = _th(int(rng.integers(2, 8)) - np.cumsum(rng.random(T) < 0.4), pb)
        layers.append(Layer(w, threshold, kernel, _leak_shift(rng, lim, pb, 0.15),
                            _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _at_threshold_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    def draw(rng, T, n, r):
        if r < 0.08:
            return _EMPTY
        if r < 0.55:  # about one event per step: potentials climb in steps of 1 or 2
            return _mask_events(rng, T, n, min(1.0, (0.3 + rng.random()) / n))
        # input in the first half only; falling thresholds then meet stored potentials
        return _mask_events(rng, T, n, min(1.0, (0.5 + 2 * rng.random()) / n),
                            slice(0, max(1, T // 2)))

    return _samples(rng, qnet, n_samples, draw)


# -- push_back ---------------------------------------------------------------------------------


def _push_back_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim)
    sizes = _sizes(rng, lim, n_in_lo=2)
    pb = _pb(rng, lim, [8, 10, 12, 16])
    wb = _wb(rng, lim, pb, lo=3)
    readout, early_exit = _readout(rng)
    hi, lo = smax(wb), smin(wb)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        # sources below ``split`` push up, the others pull down: in queue order (ascending
        # source index) a step's pushes come before its pulls
        split = int(rng.integers(1, a)) if a > 1 else 1
        up = rng.integers(hi // 2 + 1, hi + 1, size=(a, b))
        down = -rng.integers(-lo // 4 + 1, -lo + 1, size=(a, b))
        w = np.where(np.arange(a)[:, None] < split, up, down)
        # some neurons feel the pulls only weakly, so the layer's maximum moves between neurons
        weak = rng.random(b) < 0.3
        w[:, weak] = np.where(w[:, weak] < 0, w[:, weak] // 4, w[:, weak] // 2)
        noise = rng.random((a, b)) < 0.1
        w[noise] = rng.integers(lo, hi + 1, size=int(noise.sum()))
        k = 1 if rng.random() < 0.7 else int(rng.integers(1, min(3, lim.max_kernel) + 1))
        # one or two pushes reach the threshold; the pulls of the same step undo it
        th = int(rng.integers(hi // 2 + 1, 2 * hi * k + 1))
        threshold = _th(th, pb) if rng.random() < 0.8 else _th(
            rng.integers(max(1, th // 2), th + 1, size=T), pb)
        layers.append(Layer(np.clip(w, lo, hi), threshold, k,
                            _leak_shift(rng, lim, pb, 0.15), _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _push_back_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    def draw(rng, T, n, r):
        return _EMPTY if r < 0.05 else _mask_events(rng, T, n, 0.25 + 0.5 * rng.random())

    return _samples(rng, qnet, n_samples, draw)


# -- tables ------------------------------------------------------------------------------------

#: The shapes of the ``tables`` family, with their shares.
TABLE_SHAPES = {"constant": 0.2, "valley": 0.3, "prefix": 0.3, "iid": 0.2}


def _table(rng, shape: str, T: int, th_hi: int, pb: int) -> np.ndarray:
    t = np.arange(T)
    if shape == "constant" or T < 3:
        return _th(np.full(T, int(rng.integers(1, th_hi + 1))), pb)
    if shape == "valley":  # falls to a minimum at step m, then rises again
        m = int(rng.integers(1, T - 1))
        low = int(rng.integers(1, th_hi + 1))
        d_fall = int(rng.integers(1, max(1, th_hi // 2) + 1))
        d_rise = int(rng.integers(1, max(1, th_hi // 2) + 1))
        return _th(low + np.where(t < m, (m - t) * d_fall, (t - m) * d_rise), pb)
    if shape == "prefix":  # cannot fire before step k, then falls linearly
        k = int(rng.integers(1, T - 1))
        top = int(rng.integers(th_hi, max(th_hi, smax(pb) // 2) + 1))
        end = int(rng.integers(1, th_hi + 1))
        fall = np.rint(np.linspace(top, end, T - k)).astype(np.int64)
        return _th(np.concatenate([np.full(k, smax(pb)), fall]), pb)
    return _th(rng.integers(1, th_hi + 1, size=T), pb)


def _tables_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 4)
    sizes = _sizes(rng, lim)
    pb = _pb(rng, lim, [6, 8, 10, 12, 16])
    wb = _wb(rng, lim, pb)
    readout, early_exit = _readout(rng)
    shapes, shares = list(TABLE_SHAPES), np.array(list(TABLE_SHAPES.values()))
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(smin(wb), smax(wb) + 1, size=(a, b))
        w = np.clip(w + int(rng.integers(0, max(1, smax(wb) // 2) + 1)), smin(wb), smax(wb))
        th_hi = max(1, min(smax(pb), smax(wb) * max(1, a // 2)))
        threshold = _table(rng, str(rng.choice(shapes, p=shares)), T, th_hi, pb)
        r = rng.random()
        if r < 0.5:
            kernel = 1
        elif r < 0.75:  # no input counts before step k (a kernel prefix of zeros)
            kernel = np.where(np.arange(T) < int(rng.integers(0, T)), 0,
                              int(rng.integers(1, lim.max_kernel + 1)))
        else:
            kernel = rng.integers(0, lim.max_kernel + 1, size=T)
        layers.append(Layer(w, threshold, kernel, _leak_shift(rng, lim, pb, 0.2),
                            _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _early_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    """Half the samples with input in the first part of the steps only, the rest spread."""
    def draw(rng, T, n, r):
        if r < 0.08:
            return _EMPTY
        if r < 0.55:
            end = int(rng.integers(1, max(1, (2 * T) // 3) + 1))
            return _mask_events(rng, T, n, 0.2 + 0.5 * rng.random(), slice(0, end))
        return _mask_events(rng, T, n, 0.6 * rng.random())

    return _samples(rng, qnet, n_samples, draw)


# -- saturate ----------------------------------------------------------------------------------


def _saturate_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 4)
    sizes = _sizes(rng, lim, n_in_lo=2, n_max=max(1, (2 * lim.max_neurons) // 3))
    if len(sizes) == 2 and lim.max_layers > 1 and rng.random() < 0.6:
        # an amplifier layer in front: the output layer then saturates even at 16 bits
        sizes.insert(1, int(rng.integers(max(1, lim.max_neurons // 3), lim.max_neurons // 2 + 2)))
    pb = _pb(rng, lim, [4, 6, 8])
    wb = min(pb, lim.max_weight_bits)
    readout, early_exit = _readout(rng)
    hi, lo = smax(wb), smin(wb)
    hot_resets = [m for m in ("zero", "subtract") if m != "subtract" or lim.subtract]
    layers = []
    for n, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mag = rng.integers(max(1, hi // 2), hi + 1, size=(a, b))
        if n == 0 and len(sizes) > 2 and rng.random() < 0.8:
            # an amplifier: positive weights, a threshold that two or three events cross, so the
            # next layer sees many events per step and saturates even with wide potentials
            k = lim.max_kernel
            threshold = _th(int(rng.integers(hi * k // 2 + 1, 2 * hi * k + 1)), pb)
            layers.append(Layer(mag, threshold, k, 0, str(rng.choice(hot_resets))))
            continue
        # the sign pattern of each neuron's incoming weights: mostly up, mostly down, or down
        # from the low-index sources then up from the high-index ones (queue order), or the
        # reverse: the potential saturates at one end and climbs or falls to the other
        pattern = rng.choice(4, size=b, p=[0.3, 0.3, 0.2, 0.2])
        low = np.arange(a)[:, None] < a // 2
        coin = rng.random((a, b))
        up = np.select([pattern == 0, pattern == 1, pattern == 2],
                       [coin < 0.85, coin < 0.15, ~low], low)
        w = np.clip(np.where(up, mag, -mag - (coin < 0.5)), lo, hi)
        r = rng.random()
        if r < 0.6:
            kernel = lim.max_kernel
        elif r < 0.8:
            kernel = rng.integers(0, lim.max_kernel + 1, size=T)
        else:
            kernel = 1
        r = rng.random()
        if r < 0.45:  # only a saturated potential fires, and it fires at V == Theta
            threshold = smax(pb)
        elif r < 0.75:
            threshold = _th(smax(pb) - int(rng.integers(0, 4)), pb)
        else:
            threshold = _th(np.where(rng.random(T) < 0.5, smax(pb),
                                     rng.integers(1, smax(pb) + 1, size=T)), pb)
        layers.append(Layer(w, threshold, kernel, _leak_shift(rng, lim, pb, 0.15),
                            _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _saturate_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    """Dense input; in half the samples the low-index inputs fire first, then the high-index
    ones (or the reverse), so a neuron driven down then up crosses the whole range."""
    def draw(rng, T, n, r):
        if r < 0.05:
            return _EMPTY
        if r < 0.3:
            return _mask_events(rng, T, n, 1.0)
        if r < 0.75 and T > 1:
            m = int(rng.integers(1, T))
            first = np.arange(n) < n // 2
            if rng.random() < 0.5:
                first = ~first
            mask = rng.random((T, n)) < 0.6 + 0.4 * rng.random()
            mask &= np.where(np.arange(T)[:, None] < m, first[None, :], ~first[None, :])
            return np.argwhere(mask).astype(np.int64)
        return _mask_events(rng, T, n, 0.3 + 0.6 * rng.random())

    return _samples(rng, qnet, n_samples, draw)


# -- chunks ------------------------------------------------------------------------------------


def _lane_size(rng, P: int, hi: int) -> int:
    """A size near a multiple of ``P`` (1, P-1, P, P+1, 2P-1, ...) up to ``hi``, sometimes any."""
    sizes = sorted({s for m in range(1, 4) for s in (m * P - 1, m * P, m * P + 1)
                    if 1 <= s <= hi} | {1})
    if rng.random() < 0.2:
        return int(rng.integers(1, hi + 1))
    return int(rng.choice(sizes))


def _chunks_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    P = lanes
    T = _steps(rng, lim)
    n_layers = int(rng.integers(1, lim.max_layers + 1))
    sizes = [_lane_size(rng, P, lim.max_inputs)]
    sizes += [_lane_size(rng, P, lim.max_neurons) for _ in range(n_layers)]
    pb = _pb(rng, lim, [6, 8, 10, 12, 16])
    wb = _wb(rng, lim, pb)
    readout, early_exit = _readout(rng)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(smin(wb), smax(wb) + 1, size=(a, b))
        w = np.clip(w + int(rng.integers(1, max(1, smax(wb) // 2) + 1)), smin(wb), smax(wb))
        n_chunks = -(-b // P)
        dead = rng.random(n_chunks) < 0.35
        if n_chunks > 1 and not dead.any() and rng.random() < 0.8:
            dead[int(rng.integers(0, n_chunks))] = True
        if dead.all() and n_chunks > 1:
            dead[int(rng.integers(0, n_chunks))] = False
        for c in np.flatnonzero(dead):
            cols = slice(c * P, min(b, (c + 1) * P))
            # a dead chunk: no positive weight reaches it, so it never fires
            w[:, cols] = 0 if rng.random() < 0.3 else -np.abs(w[:, cols])
        th_hi = max(1, min(smax(pb), smax(wb) * max(1, a // 2)))
        if rng.random() < 0.7:
            threshold = int(rng.integers(1, th_hi + 1))
        else:
            threshold = _table(rng, str(rng.choice(["valley", "prefix", "iid"])), T, th_hi, pb)
        kernel = 1 if rng.random() < 0.7 else int(rng.integers(1, min(3, lim.max_kernel) + 1))
        layers.append(Layer(w, threshold, kernel, _leak_shift(rng, lim, pb, 0.2),
                            _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


# -- far_above ---------------------------------------------------------------------------------


def _far_above_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 4)
    sizes = _sizes(rng, lim, n_max=max(1, lim.max_neurons // 2))
    pb = _pb(rng, lim, [8, 10, 12, 16])
    wb = _wb(rng, lim, pb, lo=4)
    readout, early_exit = _readout(rng, p_max=0.15, p_exit=0.25)
    hi = smax(wb)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(hi // 2, hi + 1, size=(a, b))
        w[rng.random((a, b)) < 0.2] = 0
        k = int(rng.integers(1, lim.max_kernel + 1))
        # one event lifts a neuron to about 2..8 thresholds above zero
        th_lo, th_hi = max(1, hi * k // 8), max(1, hi * k // 3)
        threshold = _th(int(rng.integers(th_lo, th_hi + 1)), pb) if rng.random() < 0.8 else (
            _th(rng.integers(th_lo, th_hi + 1, size=T), pb))
        layers.append(Layer(w, threshold, k, _leak_shift(rng, lim, pb, 0.1, hi=3),
                            _reset(rng, lim, p_subtract=0.75)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _burst_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    """Input in the first one to three steps only, then silence."""
    def draw(rng, T, n, r):
        if r < 0.05:
            return _EMPTY
        end = int(rng.integers(1, min(3, T) + 1))
        return _mask_events(rng, T, n, 0.2 + 0.6 * rng.random(), slice(0, end))

    return _samples(rng, qnet, n_samples, draw)


# -- leaky -------------------------------------------------------------------------------------


def _leaky_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 2)
    sizes = _sizes(rng, lim, n_max=max(1, (2 * lim.max_neurons) // 3))
    pb = _pb(rng, lim, [6, 8, 10, 12, 16])
    wb = _wb(rng, lim, pb, lo=3)
    readout, early_exit = _readout(rng, p_max=0.4)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(smin(wb), smax(wb) + 1, size=(a, b))
        w = np.clip(w + int(rng.integers(0, max(1, smax(wb) // 2) + 1)), smin(wb), smax(wb))
        th_hi = max(1, min(smax(pb), smax(wb) * max(1, a // 2)))
        r = rng.random()
        if r < 0.5:
            threshold = int(rng.integers(1, th_hi + 1))
        elif r < 0.8:  # falling: a decaying potential may still meet it
            threshold = _th(np.rint(np.linspace(th_hi, 1, T)), pb)
        else:
            threshold = _table(rng, "valley", T, th_hi, pb)
        kernel = 1 if rng.random() < 0.7 else int(rng.integers(1, min(3, lim.max_kernel) + 1))
        shift = int(rng.integers(1, max(1, min(pb - 1, 4)) + 1)) if lim.leak else 0
        layers.append(Layer(w, threshold, kernel, shift, _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


# -- reach -------------------------------------------------------------------------------------


def _reach_table(rng, T: int, unit: int, pb: int) -> np.ndarray:
    """The first layer's table for the reach test: over an input window of ``k`` steps,
    non-increasing levels at whole multiples of ``unit`` (the most one event of kernel 1 adds,
    as the test counts it) give or take one, so the test's bound lands below, on and above
    them; falling after the window so that the layer fires. In about a third of the tables the
    levels rise within the window or the table rises again after it (the test then cannot
    pass before the last rise)."""
    k = int(rng.integers(1, max(2, T)))
    m = int(rng.integers(1, 13))
    d = int(rng.choice([-1, 0, 0, 0, 1]))
    rising = rng.random() < 0.15
    levels = np.empty(k, dtype=np.int64)
    for t in range(k):
        levels[t] = m * unit + d
        if rng.random() < 0.3:  # the next level
            m = m + 1 if rising else max(1, m - 1)
            d = int(rng.choice([-1, 0, 0, 0, 1]))
    low = max(1, int(levels[-1]))
    after = np.rint(np.linspace(int(rng.integers(1, low + 1)), 1, T - k)).astype(np.int64)
    table = np.concatenate([levels, after])
    if rng.random() < 0.2 and T - k > 2:  # rises again after the window
        j = int(rng.integers(k + 1, T))
        table[j:] = table[j:] + (np.arange(T - j) + 1) * max(1, unit // 4)
    return _th(table, pb)


def _reach_qnet(rng, lim: _Limits, lanes: int) -> QNet:
    T = _steps(rng, lim, 4)
    sizes = _sizes(rng, lim)
    pb = _pb(rng, lim, [6, 8, 10, 12, 16])
    # the widest weights: the test counts an event as the most the core's weight width allows
    wb = min(pb, lim.max_weight_bits)
    readout, early_exit = _readout(rng)
    unit = 1 << (wb - 1)
    shapes, shares = list(TABLE_SHAPES), np.array(list(TABLE_SHAPES.values()))
    layers = []
    for n, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        w = rng.integers(smin(wb), smax(wb) + 1, size=(a, b))
        w = np.clip(w + int(rng.integers(0, max(1, smax(wb) // 2) + 1)), smin(wb), smax(wb))
        r = rng.random()
        if r < 0.5:
            kernel = 1
        elif r < 0.75:
            kernel = int(rng.integers(0, min(3, lim.max_kernel) + 1))
        else:
            kernel = rng.integers(0, min(3, lim.max_kernel) + 1, size=T)
        if n == 0:
            threshold = _reach_table(rng, T, unit, pb)
        else:
            th_hi = max(1, min(smax(pb), smax(wb) * max(1, a // 2)))
            threshold = _table(rng, str(rng.choice(shapes, p=shares)), T, th_hi, pb)
        layers.append(Layer(w, threshold, kernel, _leak_shift(rng, lim, pb, 0.1),
                            _reset(rng, lim)))
    return QNet(sizes[0], T, tuple(layers), wb, pb, readout, early_exit)


def _sparse_events(rng, qnet: QNet, n_samples: int) -> EventSet:
    """A few events at a few steps, mostly early (the reach test's bound grows by one event's
    most at a time); some samples dense, some empty."""
    def draw(rng, T, n, r):
        if r < 0.06:
            return _EMPTY
        if r < 0.2:
            return _mask_events(rng, T, n, 0.5 * rng.random())
        n_steps = int(rng.integers(1, min(T, 5) + 1))
        end = T if r > 0.8 else max(1, (2 * T) // 3)
        steps = rng.choice(end, size=min(n_steps, end), replace=False)
        rows = [(int(t), int(i)) for t in steps
                for i in rng.choice(n, size=1 + int(n > 1 and rng.random() < 0.25),
                                    replace=False)]
        return np.array(sorted(rows), dtype=np.int64).reshape(-1, 2)

    return _samples(rng, qnet, n_samples, draw)


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """A case family: how it draws a network (``qnet(rng, limits, lanes)``) and its samples
    (``events(rng, qnet, n_samples)``); ``needs`` names the core options it cannot do without."""

    name: str
    qnet: Callable
    events: Callable
    needs: tuple[str, ...] = ()


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("classic", _classic_qnet, _classic_events),
    Family("at_threshold", _at_threshold_qnet, _at_threshold_events),
    Family("push_back", _push_back_qnet, _push_back_events),
    Family("tables", _tables_qnet, _early_events),
    Family("saturate", _saturate_qnet, _saturate_events),
    Family("chunks", _chunks_qnet, _classic_events),
    Family("far_above", _far_above_qnet, _burst_events),
    Family("leaky", _leaky_qnet, _classic_events, needs=("leak",)),
    Family("reach", _reach_qnet, _sparse_events),
)}

#: The share of seeds each family gets in :func:`random_case` (and so in
#: ``benchmarks/diff_random.py``) when no family is named.
DEFAULT_MIX: dict[str, float] = {
    "classic": 0.24,
    "at_threshold": 0.12,
    "push_back": 0.10,
    "tables": 0.12,
    "saturate": 0.08,
    "chunks": 0.10,
    "far_above": 0.08,
    "leaky": 0.08,
    "reach": 0.08,
}

#: Mixed into the family seed so that the family draw is independent of the case's own draws
#: (``random_case(seed, family="classic")`` is the pre-family case of ``seed``).
_FAMILY_STREAM = 0x46414D


def _check_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown case family {name!r}; one of {sorted(FAMILIES)}") from None


def pick_family(seed: int, mix: Mapping[str, float] | None = None, *, leak: bool = True,
                subtract: bool = True) -> str:
    """The family of ``random_case(seed)``: drawn from ``mix`` (default :data:`DEFAULT_MIX`)
    by a generator of its own, leaving out families that need a core option that is off."""
    mix = DEFAULT_MIX if mix is None else mix
    have = {"leak": leak, "subtract": subtract}
    names = [n for n, p in mix.items() if p > 0 and all(have[k] for k in _check_family(n).needs)]
    if not names:
        raise ValueError("the mix has no family that these limits allow")
    p = np.array([mix[n] for n in names], dtype=float)
    rng = np.random.default_rng([_FAMILY_STREAM, seed])
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def random_qnet(
    rng: np.random.Generator,
    max_layers: int = 3,
    max_neurons: int = 20,
    max_inputs: int = 12,
    max_time_steps: int = 16,
    potential_bits: int | None = None,
    max_weight_bits: int = 8,
    max_kernel: int = 5,
    leak: bool = True,
    subtract: bool = True,
    family: str = "classic",
    lanes: int = 8,
    spiking_output: bool = True,
) -> QNet:
    """A random network of ``family``; ``potential_bits`` fixed or drawn, weights at most
    ``max_weight_bits``. ``lanes`` is the lane count the ``chunks`` family sizes layers around.

    ``leak`` / ``subtract`` false: no layer leaks / uses the subtract reset (a core built
    without them runs the network). ``spiking_output`` false: the readout is ``max_potential``
    (a network drawn with ``first_spike`` gets ``max_potential`` and no early exit instead, so
    the draws, and every other network, stay as they were).
    """
    lim = _Limits(max_layers, max_neurons, max_inputs, max_time_steps, potential_bits,
                  max_weight_bits, max_kernel, leak, subtract)
    qnet = _check_family(family).qnet(rng, lim, lanes)
    if not spiking_output and qnet.readout == "first_spike":
        qnet = dataclasses.replace(qnet, readout="max_potential", early_exit=False)
    return qnet


def random_events(rng: np.random.Generator, qnet: QNet, n_samples: int,
                  family: str = "classic") -> EventSet:
    """``n_samples`` random samples for ``qnet``, drawn as ``family`` draws them."""
    return _check_family(family).events(rng, qnet, n_samples)


def random_case(
    seed: int,
    n_samples: int = 8,
    core: CoreConfig | None = None,
    lanes: int | None = None,
    family: str | None = None,
    mix: Mapping[str, float] | None = None,
    **limits,
) -> RandomCase:
    """One reproducible random network with its samples, and a core it fits.

    ``family`` names the case family (:data:`FAMILIES`); ``None`` draws it from ``mix``
    (default :data:`DEFAULT_MIX`) with :func:`pick_family`. With ``core``, the network is drawn
    to fit that (already built) core: same potential width, weights no wider, sizes, layers,
    steps and kernels within its maxima. Without, a core is made to measure with ``lanes`` lanes
    (drawn from 1, 2, 3, 4, 8 when ``None``).
    """
    if core is not None:
        limits = dict(
            max_layers=min(core.max_layers, limits.get("max_layers", 3)),
            max_neurons=min(core.max_neurons, limits.get("max_neurons", 20)),
            max_inputs=min(core.max_neurons, limits.get("max_inputs", 12)),
            max_time_steps=min(core.max_time_steps, limits.get("max_time_steps", 16)),
            potential_bits=core.potential_bits,
            max_weight_bits=core.weight_bits,
            max_kernel=min(5, (1 << core.kernel_bits) - 1),
            leak=core.leak,
            subtract=core.subtract,
            spiking_output=core.spiking_output,
        )
    if family is None:
        family = pick_family(seed, mix, leak=limits.get("leak", True),
                             subtract=limits.get("subtract", True))
    fam = _check_family(family)
    rng = np.random.default_rng(seed)
    if family == "classic":  # the pre-family order of draws: network, lanes, samples
        if core is not None:
            while True:
                qnet = random_qnet(rng, **limits)
                if core.fits(qnet):
                    break
        else:
            qnet = random_qnet(rng, **limits)
            if lanes is None:
                lanes = int(rng.choice([1, 2, 3, 4, 8]))
            core = CoreConfig.for_network(qnet, lanes=lanes)
    else:
        if core is not None:
            lanes = core.lanes
        elif lanes is None:
            lanes = int(rng.choice([1, 2, 3, 4, 8]))
        while True:
            qnet = random_qnet(rng, family=family, lanes=lanes, **limits)
            if core is None or core.fits(qnet):
                break
        if core is None:
            core = CoreConfig.for_network(qnet, lanes=lanes)
    events = fam.events(rng, qnet, n_samples)
    return RandomCase(seed, qnet, events, core, family)
