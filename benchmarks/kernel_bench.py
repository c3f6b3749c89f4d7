"""Temporal-kernel TTFS (Park & Yoon 2021) on Yin-Yang and digits: accuracy, hardware spikes and
cycles per sample, with and without the kernel-aware BN spike loss.

For every dataset, seed and BN-loss weight: train the surrogate (train.kernel), export the
layer-phased integer network, run the test split through sim.reference with the cost model of
the smallest core that fits (CoreConfig.for_network, 8 lanes), and check that the integer
evaluation equals the reference spike for spike. The BN-loss weight reported as "with loss" is
the one whose *validation* spikes are lowest while its validation accuracy stays within 1 point
of the no-loss run (chosen on validation, reported on test).

    .venv/bin/python benchmarks/kernel_bench.py                 # both datasets, 2 seeds
    .venv/bin/python benchmarks/kernel_bench.py --datasets yinyang --seeds 0 --epochs 10

Prints one line per run and a summary table; writes docs/figures/kernel_*.png with --plot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.reference import run
from ttfs.train.data import dataset_info, load_split
from ttfs.train.kernel import (
    KernelConfig,
    calibrate_export,
    encode_kernel,
    float_predict,
    train_kernel,
)
from ttfs.train.snn import int_forward

HIDDEN = {"yinyang": (120,), "digits": (120,)}


def evaluate(qnet, X, y, with_cost=True):
    events = encode_kernel(qnet, X, y)
    core = CoreConfig.for_network(qnet)
    res = run(qnet, events, trace=True, cost=cost_hook(core) if with_cost else None)
    mine = int_forward(qnet, events)
    for n, r in enumerate(res):
        if r.prediction != mine.predictions[n] or not np.array_equal(r.trace, mine.trace(n)):
            raise SystemExit(f"MISMATCH sample {n}: integer evaluation != sim.reference")
    pred = np.array([r.prediction for r in res])
    spikes = np.array([sum(r.counters.spikes_per_layer) for r in res])
    cycles = np.array([r.cycles for r in res]) if with_cost else np.zeros(len(res))
    sops = np.array([r.counters.sops for r in res])
    return {"acc": float(np.mean(pred == y)), "spikes": float(spikes.mean()),
            "cycles": float(cycles.mean()), "sops": float(sops.mean()),
            "input_events": float(np.mean([r.counters.input_events for r in res]))}


def one(ds, seed, bn_w, epochs, window, bn_start):
    X, y = load_split(ds, "train")
    Xv, yv = load_split(ds, "validation")
    Xt, yt = load_split(ds, "test")
    cfg = KernelConfig(hidden=HIDDEN[ds], window=window, epochs=epochs, lr=1e-2, seed=seed,
                       ramp_epochs=max(1, epochs // 4), bn_loss_weight=bn_w,
                       bn_loss_start=bn_start)
    t0 = time.time()
    model = train_kernel(X, y, cfg, n_classes=dataset_info(ds).n_classes).model
    secs = time.time() - t0
    q = calibrate_export(model, X[:1000])  # weight-clip percentile chosen on training data
    fpred, _ = float_predict(model, Xt)
    val = evaluate(q, Xv, yv, with_cost=False)
    test = evaluate(q, Xt, yt)
    return {"dataset": ds, "seed": seed, "bn_w": bn_w, "train_s": secs,
            "float_acc": float(np.mean(fpred == yt)), "val": val, "test": test,
            "net": q.describe(), "potential_bits": q.potential_bits, "T": q.time_steps,
            "tau": q.meta["tau"], "t_d": q.meta["t_d"], "clip": q.meta["clip_percentile"]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["yinyang", "digits"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--bn-start", type=int, default=10)
    ap.add_argument("--bn-weights", nargs="+", type=float, default=[0.0, 1e-3, 3e-3, 1e-2, 3e-2])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--json", help="write all runs to this JSON file")
    ap.add_argument("--from-json", nargs="+",
                    help="skip training: summarise (and plot) the runs in these files")
    ap.add_argument("--plot", action="store_true", help="write docs/figures/kernel_*.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)  # small nets: threads only contend on a shared machine
    rows = []
    if args.from_json:
        for path in args.from_json:
            with open(path) as f:
                rows += json.load(f)
        args.datasets = [d for d in args.datasets if any(r["dataset"] == d for r in rows)]
        args.bn_weights = sorted({r["bn_w"] for r in rows})
    for ds in args.datasets if not args.from_json else []:
        for seed in args.seeds:
            for w in args.bn_weights:
                r = one(ds, seed, w, args.epochs, args.window, args.bn_start)
                rows.append(r)
                t = r["test"]
                print(f"{ds:8s} seed {seed} bn_w {w:<7g} float {r['float_acc']:.4f} "
                      f"int {t['acc']:.4f} val {r['val']['acc']:.4f} "
                      f"spikes {t['spikes']:.2f} (val {r['val']['spikes']:.2f}) "
                      f"cycles {t['cycles']:.1f} sops {t['sops']:.0f} [{r['train_s']:.0f}s]",
                      flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("\nsummary (test split, mean over seeds; 'with loss' weight chosen on validation)")
    print("| dataset | BN loss | weight | float acc | int acc | spikes/sample | cycles/sample |")
    print("|---|---|---|---|---|---|---|")
    for ds in args.datasets:
        base = [r for r in rows if r["dataset"] == ds and r["bn_w"] == 0.0]
        if not base:
            continue
        bval = np.mean([r["val"]["acc"] for r in base])
        best = None
        for w in args.bn_weights:
            if w == 0.0:
                continue
            rs = [r for r in rows if r["dataset"] == ds and r["bn_w"] == w]
            if not rs:
                continue
            vacc = np.mean([r["val"]["acc"] for r in rs])
            vspk = np.mean([r["val"]["spikes"] for r in rs])
            if vacc >= bval - 0.01 and (best is None or vspk < best[1]):
                best = (w, vspk)
        for label, w in (("off", 0.0), ("on", None if best is None else best[0])):
            if w is None:
                print(f"| {ds} | on | none within 1 point on validation | | | | |")
                continue
            rs = [r for r in rows if r["dataset"] == ds and r["bn_w"] == w]
            m = {k: np.mean([r["test"][k] for r in rs]) for k in ("acc", "spikes", "cycles")}
            fa = np.mean([r["float_acc"] for r in rs])
            print(f"| {ds} | {label} | {w:g} | {fa:.4f} | {m['acc']:.4f} | {m['spikes']:.2f} | "
                  f"{m['cycles']:.1f} |")
    if args.plot:
        plot(rows, args.datasets)
    return 0


def plot(rows, datasets, path="docs/figures/kernel_spikes_vs_accuracy.png"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        ws = sorted({r["bn_w"] for r in rows if r["dataset"] == ds})
        for w in ws:
            rs = [r for r in rows if r["dataset"] == ds and r["bn_w"] == w]
            sp = [r["test"]["spikes"] for r in rs]
            ac = [100 * r["test"]["acc"] for r in rs]
            ax.scatter(sp, ac, label=f"BN loss {w:g}" if w else "no BN loss",
                       marker="o" if w else "s")
        ax.set_xlabel("hardware spikes per sample (test)")
        ax.set_ylabel("integer-network accuracy (%)")
        ax.set_title(f"temporal kernel, {ds}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
