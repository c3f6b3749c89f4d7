"""ANN-to-SNN conversion with and without the L4-norm adjustment (Allred & Roy 2021) on
Yin-Yang and digits: SNN accuracy vs time steps T, several training and encoding seeds.

For every dataset and training seed: train a bias-free ReLU network (train.convert), then for
each T in 8..128 export the rate-coded IF network (threshold balancing at the 99.9th percentile)
without the adjustment, with the rectified L4 rule at beta = 1 (the bound itself), with the
Wiener variant at beta = 1, and with the rectified rule at the beta in {0.1, 0.25, 0.5, 1} that
scores best on the *validation* split; test accuracy, spikes and cycles come from
sim.reference.run (cost model of CoreConfig.for_network, 8 lanes) and the integer forward of
train (train.snn.int_forward) is checked against it spike count for spike count.

    .venv/bin/python benchmarks/convert_bench.py
    .venv/bin/python benchmarks/convert_bench.py --datasets yinyang --seeds 0 --Ts 8 16
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.reference import run
from ttfs.train.convert import (
    ConvertConfig,
    ann_predict,
    encode_convert,
    export_convert,
    train_convert,
)
from ttfs.train.data import dataset_info, load_split
from ttfs.train.snn import int_forward

HIDDEN = {"yinyang": (64,), "digits": (100,)}
BETAS = (0.1, 0.25, 0.5, 1.0)


def snn_eval(model, X, cfg, Xe, ye, reference=False):
    q = export_convert(model, X, cfg)
    ev = encode_convert(q, Xe, ye)
    res = run(q, ev, cost=cost_hook(CoreConfig.for_network(q)) if reference else None)
    pred = np.array([r.prediction for r in res])
    spl = np.array([r.counters.spikes_per_layer for r in res])
    out = {"acc": float(np.mean(pred == ye)), "spikes": float(spl.sum(1).mean())}
    if reference:
        mine = int_forward(q, ev)
        if not (np.array_equal(pred, mine.predictions) and np.array_equal(spl,
                                                                          mine.spikes_per_layer)):
            raise SystemExit("MISMATCH: integer evaluation != sim.reference")
        out["cycles"] = float(np.mean([r.cycles for r in res]))
        out["input_events"] = float(np.mean([r.counters.input_events for r in res]))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["yinyang", "digits"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--encode-seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--Ts", nargs="+", type=int, default=[8, 16, 32, 64, 128])
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--json", help="write all results to this JSON file")
    ap.add_argument("--from-json", help="skip training: summarise (and plot) results from a file")
    ap.add_argument("--plot", action="store_true", help="write docs/figures/convert_*.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)  # small nets: threads only contend on a shared machine
    rows = []
    if args.from_json:
        with open(args.from_json) as f:
            rows = json.load(f)
        args.datasets = [d for d in args.datasets if any(r["dataset"] == d for r in rows)]
        args.Ts = sorted({r["T"] for r in rows})
    for ds in args.datasets if not args.from_json else []:
        X, y = load_split(ds, "train")
        Xv, yv = load_split(ds, "validation")
        Xt, yt = load_split(ds, "test")
        for seed in args.seeds:
            base = ConvertConfig(hidden=HIDDEN[ds], epochs=args.epochs, seed=seed)
            model = train_convert(X, y, base, n_classes=dataset_info(ds).n_classes).model
            ann = float(np.mean(ann_predict(model, Xt) == yt))
            for T in args.Ts:
                variants = {"none": dict(l4=False), "rect_b1": dict(l4=True, l4_beta=1.0),
                            "wiener_b1": dict(l4=True, l4_beta=1.0, l4_rule="wiener")}
                vbest = max(BETAS, key=lambda b, T=T: np.mean([
                    snn_eval(model, X, ConvertConfig(hidden=HIDDEN[ds], time_steps=T, l4=True,
                                                     l4_beta=b, encode_seed=100 + e),
                             Xv, yv)["acc"] for e in args.encode_seeds]))
                variants["rect_val"] = dict(l4=True, l4_beta=vbest)
                for name, kw in variants.items():
                    res = [snn_eval(model, X, ConvertConfig(hidden=HIDDEN[ds], time_steps=T,
                                                            encode_seed=e, **kw), Xt, yt,
                                    reference=True) for e in args.encode_seeds]
                    row = {"dataset": ds, "seed": seed, "T": T, "variant": name,
                           "beta": kw.get("l4_beta"), "ann_acc": ann,
                           **{k: float(np.mean([r[k] for r in res])) for k in res[0]}}
                    rows.append(row)
                    print(f"{ds:8s} seed {seed} T {T:4d} {name:10s} beta {kw.get('l4_beta')} "
                          f"ann {ann:.4f} snn {row['acc']:.4f} spikes {row['spikes']:.1f} "
                          f"cycles {row['cycles']:.0f}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    print("\nsummary: test accuracy (mean +- std over training seeds; each the mean of "
          f"{len(args.encode_seeds)} encoding seeds)")
    names = ["none", "rect_b1", "wiener_b1", "rect_val"]
    print("| dataset | T | ANN | no L4 | L4 rect beta=1 | L4 Wiener beta=1 | L4 rect, beta on val |"
          " spikes (no L4 / rect beta=1) |")
    print("|---|---|---|---|---|---|---|---|")
    for ds in args.datasets:
        for T in args.Ts:
            sel = {n: [r for r in rows if r["dataset"] == ds and r["T"] == T
                       and r["variant"] == n] for n in names}
            ann = np.mean([r["ann_acc"] for r in sel["none"]])
            cells = [f"{100 * np.mean([r['acc'] for r in sel[n]]):.1f} +- "
                     f"{100 * np.std([r['acc'] for r in sel[n]]):.1f}" for n in names]
            spk = (np.mean([r["spikes"] for r in sel["none"]]),
                   np.mean([r["spikes"] for r in sel["rect_b1"]]))
            print(f"| {ds} | {T} | {100 * ann:.1f} | " + " | ".join(cells)
                  + f" | {spk[0]:.0f} / {spk[1]:.0f} |")
    if args.plot:
        plot(rows, args.datasets, args.Ts)
    return 0


def plot(rows, datasets, Ts, path="docs/figures/convert_accuracy_vs_T.png"):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"none": "no L4", "rect_b1": "L4 rectified, beta=1",
              "wiener_b1": "L4 Wiener, beta=1", "rect_val": "L4 rectified, beta on val"}
    fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 3.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        for name, lab in labels.items():
            m = [100 * np.mean([r["acc"] for r in rows if r["dataset"] == ds and r["T"] == T
                                and r["variant"] == name]) for T in Ts]
            s = [100 * np.std([r["acc"] for r in rows if r["dataset"] == ds and r["T"] == T
                               and r["variant"] == name]) for T in Ts]
            ax.errorbar(Ts, m, yerr=s, label=lab, capsize=2, marker="o", ms=3)
        ann = 100 * np.mean([r["ann_acc"] for r in rows if r["dataset"] == ds])
        ax.axhline(ann, color="k", ls="--", lw=0.8, label="ReLU ANN")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("time steps T")
        ax.set_ylabel("SNN test accuracy (%)")
        ax.set_title(f"conversion, {ds}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
