"""TTFS (temporal kernel, one spike per neuron) vs rate coding (converted IF network) on the
same dataset and the same core model: accuracy, input events, spikes, synaptic operations and
cycles per sample, all from sim.reference with the cost model of CoreConfig.for_network.

    .venv/bin/python benchmarks/coding_schemes.py                      # Yin-Yang
    .venv/bin/python benchmarks/coding_schemes.py --dataset digits --Ts 16 64
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.reference import run
from ttfs.train.convert import ConvertConfig, encode_convert, export_convert, train_convert
from ttfs.train.data import dataset_info, load_split
from ttfs.train.kernel import KernelConfig, calibrate_export, encode_kernel, train_kernel


def measure(qnet, events, y):
    res = run(qnet, events, cost=cost_hook(CoreConfig.for_network(qnet)))
    m = {
        "acc": np.mean([r.prediction for r in res] == y),
        "input_events": np.mean([r.counters.input_events for r in res]),
        "spikes": np.mean([sum(r.counters.spikes_per_layer) for r in res]),
        "sops": np.mean([r.counters.sops for r in res]),
        "cycles": np.mean([r.cycles for r in res]),
    }
    return {k: float(v) for k, v in m.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="yinyang")
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=120)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--Ts", nargs="+", type=int, default=[16, 32, 64, 128])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)  # small nets: threads only contend on a shared machine
    X, y = load_split(args.dataset, "train")
    Xt, yt = load_split(args.dataset, "test")
    nc = dataset_info(args.dataset).n_classes
    rows = []
    kcfg = KernelConfig(hidden=(args.hidden,), window=args.window, epochs=args.epochs, lr=1e-2,
                        ramp_epochs=max(1, args.epochs // 4), seed=args.seed)
    q = calibrate_export(train_kernel(X, y, kcfg, n_classes=nc).model, X[:1000])
    rows.append((f"TTFS, temporal kernel (T={q.time_steps})", q,
                 measure(q, encode_kernel(q, Xt, yt), yt)))
    ccfg = ConvertConfig(hidden=(args.hidden,), epochs=args.epochs, seed=args.seed)
    ann = train_convert(X, y, ccfg, n_classes=nc).model
    for T in args.Ts:
        for l4 in (False, True):
            c = ConvertConfig(hidden=(args.hidden,), time_steps=T, l4=l4)
            q = export_convert(ann, X, c)
            rows.append((f"rate, converted IF (T={T}{', L4' if l4 else ''})", q,
                         measure(q, encode_convert(q, Xt, yt), yt)))
    print(f"dataset {args.dataset}, hidden {args.hidden}, test split ({len(yt)} samples)")
    print("| coding | network | accuracy | input events | spikes | SOPs | cycles |")
    print("|---|---|---|---|---|---|---|")
    for name, q, m in rows:
        print(f"| {name} | {q.describe()} | {100 * m['acc']:.1f} | {m['input_events']:.1f} | "
              f"{m['spikes']:.1f} | {m['sops']:.0f} | {m['cycles']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
