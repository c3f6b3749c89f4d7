"""Image figures: pack / save / load speed and the image model against the reference model.

Usage: ``python benchmarks/bench_image.py [--samples N] [--lanes P] [--seed S]``

Builds a random 784-128-10 network (8-bit weights, 16-bit potentials, T = 32) and N TTFS-like
samples (each input fires at most once, at a random step, 30% of inputs silent), packs it,
round-trips it through a file, runs the reference model (batched ``sim.reference.run``) and the
image model, checks them equal on every sample, and prints sizes and timings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.image import load_image, pack, run_image, save_image
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import run


def network(rng: np.random.Generator, sizes=(784, 128, 10), T: int = 32) -> QNet:
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = rng.integers(-40, 64, size=(a, b))
        layers.append(Layer(w, int(rng.integers(200, 600)), 1, 0, "fire_once"))
    return QNet(sizes[0], T, tuple(layers), 8, 16, "first_spike", False)


def samples(rng: np.random.Generator, qnet: QNet, n: int) -> EventSet:
    out = []
    for _ in range(n):
        t = rng.integers(0, qnet.time_steps, size=qnet.n_inputs)
        keep = rng.random(qnet.n_inputs) > 0.3
        ev = np.stack([t[keep], np.flatnonzero(keep)], axis=1)
        out.append(ev[np.lexsort((ev[:, 1], ev[:, 0]))])
    return EventSet(tuple(out))


def timed(f):
    t0 = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--lanes", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    qnet = network(rng)
    events = samples(rng, qnet, args.samples)
    core = CoreConfig.for_network(qnet, lanes=args.lanes)
    image, t_pack = timed(lambda: pack(qnet, events, core))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.img"
        _, t_save = timed(lambda: save_image(image, path))
        back, t_load = timed(lambda: load_image(path))
    assert back.equals(image) and back.qnet.equals(qnet)
    ref, t_ref = timed(lambda: run(qnet, events, trace=True))
    got, t_img = timed(lambda: run_image(image, trace=True))
    for n, (r, g) in enumerate(zip(ref, got, strict=True)):
        same = (r.prediction == g.prediction and r.counters == g.counters and r.steps == g.steps
                and np.array_equal(r.trace, g.trace))
        if not same:
            raise SystemExit(f"MISMATCH at sample {n}: reference {r} image model {g}")
    n_ev = sum(len(s) for s in events.samples)
    spikes = sum(sum(r.counters.spikes_per_layer) for r in ref)
    print(f"network {qnet.describe()}, T={qnet.time_steps}, core {core.lanes} lanes, "
          f"{args.samples} samples, {n_ev} input events, {spikes} spikes")
    print(f"image: {len(image.net_words)} network words + {len(image.event_words)} event words "
          f"= {4 * len(image.words)} bytes")
    print(f"pack {t_pack * 1e3:.1f} ms, save {t_save * 1e3:.1f} ms, load+validate "
          f"{t_load * 1e3:.1f} ms")
    print(f"reference model (batched): {t_ref:.2f} s ({args.samples / t_ref:.0f} samples/s)")
    print(f"image model:               {t_img:.2f} s ({args.samples / t_img:.0f} samples/s)")
    print(f"equal on all {args.samples} samples (prediction, counters, steps, trace)")


if __name__ == "__main__":
    main()
