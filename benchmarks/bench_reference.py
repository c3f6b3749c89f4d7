"""Reference-model throughput on a 5-120-3 TTFS network (T = 32, 1,000 TTFS-encoded samples).

Run: ``.venv/bin/python benchmarks/bench_reference.py [--samples N] [--repeat R] [--check]
[--wide]``

Prints samples/s of :func:`sim.reference.run` without trace, with trace, and with the cycle-cost
hook when :mod:`sim.costmodel` is available; plus the network's activity (hidden spikes per
sample, fraction of hidden neurons that fire) so the figure can be judged against realistic
rates. ``--check`` also runs the literal :func:`sim.reference.run_sample` on every sample and
asserts equality (slow; the property tests are the real guard). ``--wide`` adds a 784-128-10
network (MNIST-sized, TTFS-encoded random images) for the wide-layer integrate paths. The target
for 5-120-3 is >= 10,000
samples/s on a 2-core machine. Wall-clock figures vary with machine load: the best of
``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import importlib
import time

import numpy as np

from ttfs.sim.encode import encode_ttfs
from ttfs.sim.ir import Layer, QNet
from ttfs.sim.reference import run, run_sample


def bench_network(seed: int = 0) -> QNet:
    """5-120-3, 8-bit weights, 16-bit potentials, T = 32, fire_once, first_spike readout.

    Weights are drawn so that about a fifth of the hidden neurons fire per sample (each input
    fires once, so a hidden neuron sees at most five events) and the output layer usually
    fires before T.
    """
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-60, 121, size=(5, 120))
    w2 = rng.integers(-30, 61, size=(120, 3))
    return QNet(5, 32, (Layer(w1, 260), Layer(w2, 120)), 8, 16)


def bench_inputs(n: int, seed: int = 1):
    X = np.random.default_rng(seed).random((n, 5))
    return encode_ttfs(X, 32, t_in=16)


def wide_network(seed: int = 0) -> QNet:
    """784-128-10, T = 32: a stand-in for an MNIST network (about 40 of 128 hidden spikes)."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-30, 31, size=(784, 128))
    w2 = rng.integers(-30, 61, size=(128, 10))
    return QNet(784, 32, (Layer(w1, 250), Layer(w2, 150)), 8, 16)


def best_rate(fn, n: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return n / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--wide", action="store_true")
    args = ap.parse_args()
    q = bench_network()
    ev = bench_inputs(args.samples)
    res = run(q, ev)
    hidden = np.array([r.counters.spikes_per_layer[0] for r in res])
    out_fired = np.mean([r.counters.spikes_per_layer[1] > 0 for r in res])
    print(f"network {q.describe()}, T = {q.time_steps}, {args.samples} samples")
    print(f"hidden spikes per sample: mean {hidden.mean():.1f} of 120 "
          f"({hidden.mean() / 120:.0%}); samples with an output spike: {out_fired:.0%}")
    print(f"mean SOPs per sample: {np.mean([r.counters.sops for r in res]):.0f}")
    rate = best_rate(lambda: run(q, ev), args.samples, args.repeat)
    print(f"run, no trace:   {rate:10,.0f} samples/s")
    rate = best_rate(lambda: run(q, ev, trace=True), args.samples, args.repeat)
    print(f"run, with trace: {rate:10,.0f} samples/s")
    try:
        costmodel = importlib.import_module("ttfs.sim.costmodel")
    except ModuleNotFoundError:
        print("run, cost hook:  (sim.costmodel not available)")
    else:
        from ttfs.sim.core import CoreConfig

        hook = costmodel.cost_hook(CoreConfig.for_network(q))
        rate = best_rate(lambda: run(q, ev, cost=hook), args.samples, args.repeat)
        print(f"run, cost hook:  {rate:10,.0f} samples/s")
    n_spec = min(args.samples, 200)
    rate = best_rate(lambda: [run_sample(q, s) for s in ev.samples[:n_spec]], n_spec, 1)
    print(f"run_sample (spec): {rate:8,.0f} samples/s")
    if args.wide:
        qw = wide_network()
        X = np.random.default_rng(2).random((args.samples, 784)) ** 3
        evw = encode_ttfs(X, 32, cutoff=0.2)
        resw = run(qw, evw)
        hid = np.mean([r.counters.spikes_per_layer[0] for r in resw])
        rate = best_rate(lambda: run(qw, evw), args.samples, args.repeat)
        print(f"{qw.describe()} (hidden spikes {hid:.1f} of 128, "
              f"{np.mean([len(s) for s in evw.samples]):.0f} input events): "
              f"{rate:10,.0f} samples/s")
    if args.check:
        traced = run(q, ev, trace=True)
        for n, s in enumerate(ev.samples):
            spec = run_sample(q, s)
            b = traced[n]
            assert spec.prediction == b.prediction and spec.counters == b.counters, n
            assert np.array_equal(spec.trace, b.trace), n
        print(f"check: run == run_sample on all {args.samples} samples")


if __name__ == "__main__":
    main()
