"""Penalty comparison on Yin-Yang: baseline, count-annealed, SOP, excess with and without 2 phases.

All runs use the same neuron model and reset mode (``subtract``: hidden neurons may spike more
than once, which the excess penalty needs). Figures are those of the integer network on the test
split (train.report.evaluate_checkpoint, via sim.reference.run).

    # 1. the lambda sweep (seed 0), split over two processes
    .venv/bin/python benchmarks/train_penalties.py sweep --part 0/2 &
    .venv/bin/python benchmarks/train_penalties.py sweep --part 1/2
    # 2. more seeds at the lambda chosen on the *validation* split (largest lambda whose
    #    validation accuracy is within 1 point of the baseline's)
    .venv/bin/python benchmarks/train_penalties.py seeds --part 0/2 & ...
    # 3. optional: the strong end of the sweep over seeds 1 and 2 too
    .venv/bin/python benchmarks/train_penalties.py extra --part 0/2 & ...
    # 4. tables (markdown) and plots (docs/figures/train_pareto.png)
    .venv/bin/python benchmarks/train_penalties.py report

Every run writes ``runs/penalties/<name>/figures.json`` and is skipped when that exists.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path("runs/penalties")
EPOCHS = 12
#: batch 100 halves the per-epoch Python overhead of the default 50 on this shared 2-core machine
COMMON = {"reset": "subtract", "batch_size": 100}
LAMBDAS = (0.03, 0.1, 0.3, 1.0)
#: the single-phase excess ablation is swept where silence is expected (high lambda) only
LAMBDAS_1PHASE = (0.3, 1.0, 3.0)
HIGH = 3.0
#: row name -> (method, extra options)
ROWS = {
    "baseline": ("baseline", {}),
    "count": ("count", {}),
    "sop": ("sop", {}),
    "excess-2phase": ("excess", {"two_phase": True}),
    "excess-1phase": ("excess", {"two_phase": False}),
}


def row_lambdas(row: str) -> tuple:
    return {"excess-1phase": LAMBDAS_1PHASE, "excess-2phase": LAMBDAS + (HIGH,)}.get(row, LAMBDAS)


def run_name(row: str, lam: float | None, seed: int) -> str:
    return f"{row}_s{seed}" if lam is None else f"{row}_l{lam:g}_s{seed}"


def sweep_jobs() -> list[tuple[str, str, dict, int]]:
    jobs = [(run_name("baseline", None, 0), "baseline", {}, 0)]
    for row, (method, extra) in ROWS.items():
        if row == "baseline":
            continue
        lams = row_lambdas(row)
        for lam in lams:
            jobs.append((run_name(row, lam, 0), method, {**extra, "lam": lam}, 0))
    return jobs


def figures(name: str) -> dict | None:
    p = ROOT / name / "figures.json"
    return json.loads(p.read_text()) if p.exists() else None


def val_acc(name: str) -> float:
    from train.api import load_checkpoint

    return float(load_checkpoint(ROOT / name / "model.pt")["history"][-1]["val_acc"])


def chosen_lambda(row: str) -> float:
    """Largest swept lambda whose final validation accuracy is within 1 point of baseline's."""
    base = val_acc(run_name("baseline", None, 0))
    lams = LAMBDAS_1PHASE if row == "excess-1phase" else LAMBDAS
    ok = [lam for lam in lams if val_acc(run_name(row, lam, 0)) >= base - 0.01]
    return max(ok) if ok else min(lams)


def seed_jobs() -> list[tuple[str, str, dict, int]]:
    jobs = []
    for seed in (1, 2):
        jobs.append((run_name("baseline", None, seed), "baseline", {}, seed))
        for row, (method, extra) in ROWS.items():
            if row == "baseline":
                continue
            lam = chosen_lambda(row)
            jobs.append((run_name(row, lam, seed), method, {**extra, "lam": lam}, seed))
    return jobs


#: rows repeated over seeds at a fixed, larger lambda (the strong end of the sweep)
EXTRA = (("count", 0.3), ("count", 1.0), ("excess-1phase", 1.0), ("sop", 0.3))


def extra_jobs() -> list[tuple[str, str, dict, int]]:
    jobs = []
    for seed in (1, 2):
        for row, lam in EXTRA:
            method, extra = ROWS[row]
            jobs.append((run_name(row, lam, seed), method, {**extra, "lam": lam}, seed))
    return jobs


def run_jobs(jobs, part: str) -> None:
    from train.api import train_model
    from train.report import evaluate_checkpoint

    k, n = (int(a) for a in part.split("/"))
    for i, (name, method, opts, seed) in enumerate(jobs):
        if i % n != k or figures(name) is not None:
            continue
        out = ROOT / name
        print(f"== {name}", flush=True)
        train_model("yinyang", method, EPOCHS, seed, out, resume=True, **{**COMMON, **opts})
        fig = evaluate_checkpoint(out / "model.pt")
        (out / "figures.json").write_text(json.dumps(fig, indent=1) + "\n")
        print(f"   int acc {fig['int_acc']:.4f} hidden spikes {fig['hidden_spikes']:.1f} "
              f"sops {fig['sops']:.0f} silent {fig['silent_fraction']:.3f}", flush=True)


def report() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base0 = figures(run_name("baseline", None, 0))
    print("### Lambda sweep (seed 0, integer network, test split)\n")
    print("| row | lambda | int acc | hidden spikes/sample | SOPs/sample | never-firing hidden |")
    print("|---|---|---|---|---|---|")
    print(f"| baseline | - | {100 * base0['int_acc']:.1f}% | {base0['hidden_spikes']:.1f} | "
          f"{base0['sops']:.0f} | {100 * base0['silent_fraction']:.0f}% |")
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.scatter([base0["hidden_spikes"]], [100 * base0["int_acc"]], marker="*", s=160,
               color="k", label="baseline", zorder=3)
    for row in ROWS:
        if row == "baseline":
            continue
        lams = row_lambdas(row)
        pts = []
        for lam in lams:
            f = figures(run_name(row, lam, 0))
            if f is None:
                continue
            pts.append((f["hidden_spikes"], 100 * f["int_acc"], lam))
            print(f"| {row} | {lam:g} | {100 * f['int_acc']:.1f}% | {f['hidden_spikes']:.1f} | "
                  f"{f['sops']:.0f} | {100 * f['silent_fraction']:.0f}% |")
        if pts:
            xs, ys, ls = zip(*pts, strict=True)
            ax.plot(xs, ys, "o-", label=row)
            for x, y, lam in pts:
                ax.annotate(f"{lam:g}", (x, y), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.set_xlabel("hidden spikes per sample (integer network, test split)")
    ax.set_ylabel("integer test accuracy (%)")
    ax.set_title("Yin-Yang: accuracy vs spikes over lambda (labels: lambda)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    Path("docs/figures").mkdir(parents=True, exist_ok=True)
    fig.savefig("docs/figures/train_pareto.png", dpi=120)
    print("\nwrote docs/figures/train_pareto.png")

    fig, axs = plt.subplots(1, 2, figsize=(9.6, 3.8))
    for row in ROWS:
        if row == "baseline":
            continue
        pts = [(lam, figures(run_name(row, lam, 0))) for lam in row_lambdas(row)]
        pts = [(lam, f) for lam, f in pts if f is not None]
        if not pts:
            continue
        lams = [lam for lam, _ in pts]
        axs[0].plot(lams, [100 * f["silent_fraction"] for _, f in pts], "o-", label=row)
        axs[1].plot(lams, [100 * f["int_acc"] for _, f in pts], "o-", label=row)
    axs[0].axhline(100 * base0["silent_fraction"], color="k", ls="--", label="baseline")
    axs[1].axhline(100 * base0["int_acc"], color="k", ls="--", label="baseline")
    axs[0].set_ylabel("hidden neurons never firing on the test set (%)")
    axs[1].set_ylabel("integer test accuracy (%)")
    for ax in axs:
        ax.set_xscale("log")
        ax.set_xlabel("lambda")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=8)
    fig.suptitle("Yin-Yang, seed 0: silent neurons and accuracy vs penalty weight")
    fig.tight_layout()
    fig.savefig("docs/figures/train_silent.png", dpi=120)
    print("wrote docs/figures/train_silent.png")

    print("\n### Comparison (seeds 0-2, lambda chosen on validation; mean ± std)\n")
    print("| row | lambda | int acc | hidden spikes/sample | vs baseline | SOPs/sample | "
          "never-firing hidden | seeds |")
    print("|---|---|---|---|---|---|---|---|")
    rows = {}
    for row in ROWS:
        lam = None if row == "baseline" else chosen_lambda(row)
        fs = [figures(run_name(row, lam, s)) for s in (0, 1, 2)]
        fs = [f for f in fs if f is not None]
        if not fs:
            continue
        rows[row] = (lam, fs)
    base_spk = np.mean([f["hidden_spikes"] for f in rows["baseline"][1]])
    seed_table(rows, base_spk)
    extra = {}
    for row, lam in EXTRA:
        fs = [figures(run_name(row, lam, s)) for s in (0, 1, 2)]
        fs = [f for f in fs if f is not None]
        if fs:
            extra[f"{row} (lambda {lam:g})"] = (lam, fs)
    if extra:
        print("\n### Stronger penalties (fixed lambda, seeds 0-2; mean ± std)\n")
        print("| row | lambda | int acc | hidden spikes/sample | vs baseline | SOPs/sample | "
              "never-firing hidden | seeds |")
        print("|---|---|---|---|---|---|---|---|")
        seed_table({"baseline": rows["baseline"], **extra}, base_spk)


def seed_table(rows: dict, base_spk: float) -> None:
    for row, (lam, fs) in rows.items():
        acc = np.array([100 * f["int_acc"] for f in fs])
        spk = np.array([f["hidden_spikes"] for f in fs])
        sop = np.array([f["sops"] for f in fs])
        sil = np.array([100 * f["silent_fraction"] for f in fs])
        red = 100 * (1 - spk.mean() / base_spk)
        print(f"| {row} | {'-' if lam is None else f'{lam:g}'} | {acc.mean():.1f} ± "
              f"{acc.std():.1f}% | {spk.mean():.1f} ± {spk.std():.1f} | {-red:+.0f}% | "
              f"{sop.mean():.0f} ± {sop.std():.0f} | {sil.mean():.0f}% | {len(fs)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("sweep", "seeds", "extra", "report"))
    ap.add_argument("--part", default="0/1")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.stage == "sweep":
        run_jobs(sweep_jobs(), args.part)
    elif args.stage == "seeds":
        run_jobs(seed_jobs(), args.part)
    elif args.stage == "extra":
        run_jobs(extra_jobs(), args.part)
    else:
        report()
    sys.stdout.flush()


if __name__ == "__main__":
    main()
