"""Seeded random networks and inputs for differential testing.

``random_case(seed)`` draws one network and its samples from a ``numpy`` generator seeded with
``seed``, so any failing case is replayed by its seed alone. The generator covers every rule of
``docs/semantics.md``: all reset modes, both readouts, early exit, leak, time-varying threshold and
kernel tables, layer sizes that are not multiples of the lane count, weights large enough to
saturate the potential, empty samples and samples where every input fires at every step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.ir import RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.numeric import smax, smin

__all__ = ["RandomCase", "random_qnet", "random_events", "random_case"]


@dataclass(frozen=True, eq=False)
class RandomCase:
    seed: int
    qnet: QNet
    events: EventSet
    core: CoreConfig


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
) -> QNet:
    """A random network; ``potential_bits`` fixed or drawn, weights at most ``max_weight_bits``.

    ``leak`` / ``subtract`` false: no layer leaks / uses the subtract reset (a core built
    without them runs the network).
    """
    T = int(rng.integers(1, max_time_steps + 1))
    n_in = int(rng.integers(1, max_inputs + 1))
    n_layers = int(rng.integers(1, max_layers + 1))
    sizes = [n_in] + [int(rng.integers(1, max_neurons + 1)) for _ in range(n_layers)]
    pb = potential_bits or int(rng.choice([4, 6, 8, 10, 12, 16]))
    wb = int(rng.integers(2, min(pb, max_weight_bits) + 1))
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
            kernel = int(rng.integers(0, min(3, max_kernel) + 1))
        else:
            kernel = rng.integers(0, max_kernel + 1, size=T)
        leak_shift = int(rng.integers(1, min(pb, 6))) if rng.random() < 0.3 and leak else 0
        reset = str(rng.choice(RESET_MODES if subtract else RESET_MODES[:2]))
        layers.append(Layer(w, threshold, kernel, leak_shift, reset))
    return QNet(n_in, T, tuple(layers), wb, pb, readout, early_exit)


def random_events(rng: np.random.Generator, qnet: QNet, n_samples: int) -> EventSet:
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


def random_case(
    seed: int,
    n_samples: int = 8,
    core: CoreConfig | None = None,
    lanes: int | None = None,
    **limits,
) -> RandomCase:
    """One reproducible random network with its samples, and a core it fits.

    With ``core``, the network is drawn to fit that (already built) core: same potential width,
    weights no wider, sizes, layers, steps and kernels within its maxima. Without, a core is made
    to measure with ``lanes`` lanes (drawn from 1, 2, 3, 4, 8 when ``None``).
    """
    rng = np.random.default_rng(seed)
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
        )
        while True:
            qnet = random_qnet(rng, **limits)
            if core.fits(qnet):
                break
    else:
        qnet = random_qnet(rng, **limits)
        if lanes is None:
            lanes = int(rng.choice([1, 2, 3, 4, 8]))
        core = CoreConfig.for_network(qnet, lanes=lanes)
    events = random_events(rng, qnet, n_samples)
    return RandomCase(seed, qnet, events, core)
