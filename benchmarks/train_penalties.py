"""Penalty comparison on Yin-Yang: baseline, count-annealed, SOP, excess with and without 2 phases.

Every run is the default Yin-Yang training (``train.api.train_model`` with the method's default
epochs, 30, and the default batch size, 50). Each penalty row is compared with a baseline of the
*same* neuron model and reset mode:

* ``count`` and ``sop`` with the default network (``fire_once`` hidden layer): baseline
  ``baseline``, the default network itself;
* ``excess-2phase`` and ``excess-1phase`` need hidden neurons that can fire more than once, so
  they run with ``reset="subtract"``: baseline ``baseline-subtract`` (the same 30-epoch setting).

Protocol (nothing is chosen on the test split):

1. ``sweep``: every lambda of a row with seed 0, and its baseline with seed 0;
2. lambda per row = the largest swept lambda whose **validation** accuracy (integer network,
   ``train.report.evaluate_checkpoint(split="validation")``) is within 1 point of its
   baseline's (seed 0); if none is, the smallest swept lambda;
3. ``seeds``: seeds 1 and 2 of every row at its chosen lambda and of the baselines;
4. ``report``: test-split figures (integer network, ``sim.reference.run``), mean ± std over
   seeds 0-2, and the plots ``docs/figures/train_pareto.png`` and ``train_silent.png``.

    .venv/bin/python benchmarks/train_penalties.py sweep --rows count,sop   # one process
    .venv/bin/python benchmarks/train_penalties.py seeds --rows count,sop
    .venv/bin/python benchmarks/train_penalties.py all            # sweep + seeds, every row
    .venv/bin/python benchmarks/train_penalties.py extra          # seeds 1-2, next-lower lambda
    .venv/bin/python benchmarks/train_penalties.py high --rows excess-2phase,excess-1phase
    .venv/bin/python benchmarks/train_penalties.py report [--markdown FILE]

``all`` works through the rows in priority order (count, sop, excess-2phase, excess-1phase),
each one's sweep then its seeds. Every run writes ``runs/penalties30/<name>/figures.json`` (test
split) and ``val.json`` (validation split) and is skipped when both exist; an interrupted run
resumes from its per-epoch checkpoint. Run one process at a time on a shared machine (torch uses
one thread, the ``threads`` option).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path("runs/penalties30")
#: None = the method's default for the dataset (30 epochs on Yin-Yang); batch size: the default
EPOCHS = None
SEEDS = (0, 1, 2)
#: accuracy tolerance of the lambda choice (validation split, seed 0), as a fraction
TOLERANCE = 0.01
SUBTRACT = {"reset": "subtract"}
#: row name -> (method, extra options, baseline row); baselines have baseline row None
ROWS: dict[str, tuple[str, dict, str | None]] = {
    "baseline": ("baseline", {}, None),
    "count": ("count", {}, "baseline"),
    "sop": ("sop", {}, "baseline"),
    "baseline-subtract": ("baseline", SUBTRACT, None),
    "excess-2phase": ("excess", {**SUBTRACT, "two_phase": True}, "baseline-subtract"),
    "excess-1phase": ("excess", {**SUBTRACT, "two_phase": False}, "baseline-subtract"),
}
#: the lambdas swept per penalty row (seed 0)
LAMBDAS: dict[str, tuple[float, ...]] = {
    "count": (0.1, 0.3, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0),
    "sop": (0.03, 0.1, 0.3, 1.0, 3.0),
    "excess-2phase": (0.3, 1.0, 3.0, 10.0),
    "excess-1phase": (0.3, 1.0, 3.0, 10.0),
}
PRIORITY = ("count", "sop", "excess-2phase", "excess-1phase")


def is_baseline(row: str) -> bool:
    return ROWS[row][2] is None


def run_name(row: str, lam: float | None, seed: int) -> str:
    return f"{row}_s{seed}" if lam is None else f"{row}_l{lam:g}_s{seed}"


def job(row: str, lam: float | None, seed: int) -> tuple[str, str, dict, int]:
    method, extra, _ = ROWS[row]
    opts = dict(extra) if lam is None else {**extra, "lam": float(lam)}
    return run_name(row, lam, seed), method, opts, seed


def _load(name: str, file: str) -> dict | None:
    p = ROOT / name / file
    return json.loads(p.read_text()) if p.exists() else None


def figures(name: str) -> dict | None:
    """Test-split figures of a finished run (None if it has not run)."""
    return _load(name, "figures.json")


def val_figures(name: str) -> dict | None:
    """Validation-split figures of a finished run (None if it has not run)."""
    return _load(name, "val.json")


def chosen_lambda(row: str) -> float | None:
    """The largest swept lambda of ``row`` whose validation accuracy (seed 0) is within
    :data:`TOLERANCE` of its baseline's; the smallest lambda if none is; None before the sweep."""
    base = val_figures(run_name(ROWS[row][2], None, 0))
    vals = {lam: val_figures(run_name(row, lam, 0)) for lam in LAMBDAS[row]}
    if base is None or any(v is None for v in vals.values()):
        return None
    ok = [lam for lam, v in vals.items() if v["int_acc"] >= base["int_acc"] - TOLERANCE - 1e-9]
    return max(ok) if ok else min(LAMBDAS[row])


def sweep_jobs(rows) -> list:
    jobs = []
    for row in rows:
        jobs.append(job(ROWS[row][2], None, 0))
        jobs += [job(row, lam, 0) for lam in LAMBDAS[row]]
    return jobs


def seed_jobs(rows) -> list:
    jobs = []
    for row in rows:
        lam = chosen_lambda(row)
        if lam is None:
            print(f"-- {row}: sweep not finished, no seeds", flush=True)
            continue
        for seed in SEEDS[1:]:
            jobs += [job(ROWS[row][2], None, seed), job(row, lam, seed)]
    return jobs


def lower_lambda(row: str) -> float | None:
    """The swept lambda just below the chosen one (None if there is none or no choice yet)."""
    lam = chosen_lambda(row)
    below = [x for x in LAMBDAS[row] if lam is not None and x < lam]
    return max(below) if below else None


def extra_jobs(rows) -> list:
    """Seeds 1 and 2 at the next-lower swept lambda: the spread of the trade-off next to the
    chosen point. Reported in its own table, never used to choose anything."""
    jobs = []
    for row in rows:
        lam = lower_lambda(row)
        if lam is not None:
            jobs += [job(row, lam, seed) for seed in SEEDS[1:]]
    return jobs


def high_jobs(rows) -> list:
    """Seeds 1 and 2 at the highest swept lambda: does a row fail (go silent) at a strong
    penalty on every seed? Reported in its own table, never used to choose anything."""
    return [job(row, max(LAMBDAS[row]), seed) for row in rows for seed in SEEDS[1:]]


def run_jobs(jobs) -> None:
    from ttfs.train.api import train_model
    from ttfs.train.report import evaluate_checkpoint

    seen = set()
    for name, method, opts, seed in jobs:
        if name in seen or (figures(name) is not None and val_figures(name) is not None):
            seen.add(name)
            continue
        seen.add(name)
        out = ROOT / name
        print(f"== {name} ({method}, {opts}, seed {seed})", flush=True)
        t0 = time.perf_counter()
        train_model("yinyang", method, EPOCHS, seed, out, resume=True, **opts)
        wall = time.perf_counter() - t0
        for split, file in (("validation", "val.json"), ("test", "figures.json")):
            fig = evaluate_checkpoint(out / "model.pt", split=split)
            fig["split"] = split
            fig["wall_seconds"] = wall
            (out / file).write_text(json.dumps(fig, indent=1) + "\n")
        print(f"   {wall:.0f} s; val acc {val_figures(name)['int_acc']:.4f}; test: int acc "
              f"{fig['int_acc']:.4f} hidden spikes {fig['hidden_spikes']:.1f} sops "
              f"{fig['sops']:.0f} silent {fig['silent_fraction']:.3f}", flush=True)


# -- report -------------------------------------------------------------------------------------


def seed_figures(row: str, lam: float | None) -> list[dict]:
    fs = [figures(run_name(row, lam, s)) for s in SEEDS]
    return [f for f in fs if f is not None]


def _pm(a: np.ndarray, fmt: str) -> str:
    return f"{a.mean():{fmt}} ± {a.std():{fmt.lstrip('+')}}"


def seed_row(row: str, lam: float | None) -> str:
    """One table row: test figures over seeds, and per-seed differences to the baseline."""
    fs = seed_figures(row, lam)
    base = ROWS[row][2] or row
    bs = {f["seed"]: f for f in seed_figures(base, None)}
    acc = np.array([100 * f["int_acc"] for f in fs])
    spk = np.array([f["hidden_spikes"] for f in fs])
    sop = np.array([f["sops"] for f in fs])
    sil = np.array([100 * f["silent_fraction"] for f in fs])
    # per-seed differences against the baseline of the same seed
    paired = [f for f in fs if f["seed"] in bs]
    dacc = np.array([100 * (f["int_acc"] - bs[f["seed"]]["int_acc"]) for f in paired])
    dspk = np.array([100 * (f["hidden_spikes"] / bs[f["seed"]]["hidden_spikes"] - 1)
                     for f in paired])
    dacc_s = "-" if is_baseline(row) else f"{_pm(dacc, '+.1f')} pt"
    dspk_s = "-" if is_baseline(row) else f"{_pm(dspk, '+.0f')}%"
    return (f"| {row} | {'-' if is_baseline(row) else base} | "
            f"{'-' if lam is None else f'{lam:g}'} | {_pm(acc, '.1f')}% | {dacc_s} | "
            f"{_pm(spk, '.1f')} | {dspk_s} | {_pm(sop, '.0f')} | {_pm(sil, '.0f')}% | "
            f"{len(fs)} |")


def report(out_md: Path | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: list[str] = []
    say = lines.append
    say("#### Lambda sweep (seed 0; lambda chosen on validation, figures on test)\n")
    say("| row | baseline | lambda | val acc | test acc | hidden spikes/sample | vs baseline "
        "| SOPs/sample | never-firing hidden |")
    say("|---|---|---|---|---|---|---|---|---|")
    sweep: dict[str, list] = {}
    for row in ROWS:
        lams = [None] if is_baseline(row) else list(LAMBDAS[row])
        base = ROWS[row][2] or row
        bf = figures(run_name(base, None, 0))
        chosen = None if is_baseline(row) else chosen_lambda(row)
        pts = []
        for lam in lams:
            name = run_name(row, lam, 0)
            f, v = figures(name), val_figures(name)
            if f is None or v is None:
                continue
            pts.append((lam, f, v))
            red = ("-" if bf is None
                   else f"{100 * (f['hidden_spikes'] / bf['hidden_spikes'] - 1):+.0f}%")
            mark = " (chosen)" if lam is not None and lam == chosen else ""
            say(f"| {row} | {base if not is_baseline(row) else '-'} | "
                f"{'-' if lam is None else f'{lam:g}'}{mark} | {100 * v['int_acc']:.1f}% | "
                f"{100 * f['int_acc']:.1f}% | {f['hidden_spikes']:.1f} | {red} | "
                f"{f['sops']:.0f} | {100 * f['silent_fraction']:.0f}% |")
        sweep[row] = pts

    say("\n#### Comparison (seeds 0-2 at the validation-chosen lambda; test split, mean ± std)\n")
    say("| row | baseline | lambda | int acc | acc vs baseline | hidden spikes/sample | "
        "vs baseline | SOPs/sample | never-firing hidden | seeds |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    for row in ROWS:
        lam = None if is_baseline(row) else chosen_lambda(row)
        if not is_baseline(row) and lam is None:
            continue
        if seed_figures(row, lam):
            say(seed_row(row, lam))
    extra = [(row, lower_lambda(row)) for row in ROWS if not is_baseline(row)]
    extra = [(row, lam) for row, lam in extra if lam is not None
             and len(seed_figures(row, lam)) == len(SEEDS)]
    if extra:
        say("\n#### Next-lower lambda (seeds 0-2; not chosen, shown for the trade-off's "
            "spread)\n")
        say("| row | baseline | lambda | int acc | acc vs baseline | hidden spikes/sample | "
            "vs baseline | SOPs/sample | never-firing hidden | seeds |")
        say("|---|---|---|---|---|---|---|---|---|---|")
        for row, lam in extra:
            say(seed_row(row, lam))
    high = [(row, max(LAMBDAS[row])) for row in ROWS if not is_baseline(row)]
    high = [(row, lam) for row, lam in high if len(seed_figures(row, lam)) == len(SEEDS)]
    if high:
        say("\n#### Highest swept lambda (seeds 0-2; not chosen, shown for the failure mode)\n")
        say("| row | baseline | lambda | int acc | acc vs baseline | hidden spikes/sample | "
            "vs baseline | SOPs/sample | never-firing hidden | seeds |")
        say("|---|---|---|---|---|---|---|---|---|---|")
        for row, lam in high:
            say(seed_row(row, lam))
    # epoch times as recorded in the checkpoints' history (an interrupted run counts once)
    walls = [f["seconds_per_epoch"] * f["epochs"] for p in sorted(ROOT.glob("*/figures.json"))
             for f in [json.loads(p.read_text())]]
    say(f"\n{len(walls)} runs, {sum(walls) / 60:.0f} min of training (epoch time) in all.")
    text = "\n".join(lines) + "\n"
    print(text)
    if out_md is not None:
        out_md.write_text(text)

    # -- plots: accuracy vs spikes (seed 0 sweep, test split), one panel per neuron model
    Path("docs/figures").mkdir(parents=True, exist_ok=True)
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.4))
    panels = {"baseline": axs[0], "baseline-subtract": axs[1]}
    titles = {"baseline": "fire_once hidden layer (default network)",
              "baseline-subtract": "subtract reset (neurons may fire again)"}
    floor = {}  # lowest accuracy drawn per panel: baseline - 6 points; below it, at the edge
    for base in panels:
        bf = figures(run_name(base, None, 0))
        floor[base] = None if bf is None else 100 * bf["int_acc"] - 6
    for row in ROWS:
        base = ROWS[row][2] or row
        ax = panels[base]
        pts = sweep.get(row, [])
        if not pts:
            continue
        if is_baseline(row):
            f = pts[0][1]
            ax.scatter([f["hidden_spikes"]], [100 * f["int_acc"]], marker="*", s=180,
                       color="k", label=f"{row} (seed 0)", zorder=3)
            ax.axhline(100 * f["int_acc"] - 1, color="k", ls=":", lw=0.8)
            ax.axvline(0.3 * f["hidden_spikes"], color="k", ls=":", lw=0.8)
            fs = seed_figures(row, None)
            if len(fs) > 1:
                ax.errorbar([np.mean([g["hidden_spikes"] for g in fs])],
                            [np.mean([100 * g["int_acc"] for g in fs])],
                            xerr=[np.std([g["hidden_spikes"] for g in fs])],
                            yerr=[np.std([100 * g["int_acc"] for g in fs])], fmt="none",
                            ecolor="k", capsize=3, lw=1)
            continue
        lo = floor[base] if floor[base] is not None else -np.inf
        xs = [f["hidden_spikes"] for _, f, _ in pts]
        ys = [max(100 * f["int_acc"], lo) for _, f, _ in pts]
        ln, = ax.plot(xs, ys, "o-", label=f"{row} (seed 0)")
        for lam, f, _ in pts:
            acc = 100 * f["int_acc"]
            text = f"{lam:g}" if acc >= lo else f"{lam:g}: {acc:.0f}% (off scale)"
            ax.annotate(text, (f["hidden_spikes"], max(acc, lo)), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        # the validation-chosen lambda and the next-lower one over seeds 0-2: mean ± std
        for lam, mk in ((chosen_lambda(row), "s"), (lower_lambda(row), "D")):
            fs = [] if lam is None else seed_figures(row, lam)
            if len(fs) < len(SEEDS):
                continue
            spk = [g["hidden_spikes"] for g in fs]
            acc = [100 * g["int_acc"] for g in fs]
            ax.errorbar([np.mean(spk)], [max(np.mean(acc), lo)], xerr=[np.std(spk)],
                        yerr=[np.std(acc)], fmt=mk, ms=6, mfc="none", color=ln.get_color(),
                        capsize=3, lw=1)
    for base, ax in panels.items():
        ax.set_title(titles[base], fontsize=10)
        ax.set_xlabel("hidden spikes per sample (integer network, test split)")
        ax.set_ylabel("integer test accuracy (%)")
        if floor[base] is not None:
            ax.set_ylim(bottom=floor[base] - 0.3)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Yin-Yang, 30 epochs: accuracy vs spikes over lambda (dots: seed 0, labels:"
                 " lambda; open square / diamond: chosen / next-lower lambda, seeds 0-2 mean"
                 " ± std;\ndotted: baseline -1 pt and -70 % spikes)", fontsize=9)
    fig.tight_layout()
    fig.savefig("docs/figures/train_pareto.png", dpi=120)
    plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.9))
    colors = {}
    for row in ROWS:
        if is_baseline(row) or not sweep.get(row):
            continue
        pts = sweep[row]
        lams = [lam for lam, _, _ in pts]
        ln, = axs[0].plot(lams, [100 * f["silent_fraction"] for _, f, _ in pts], "o-",
                          label=row)
        colors[row] = ln.get_color()
        axs[1].plot(lams, [100 * f["int_acc"] for _, f, _ in pts], "o-", color=colors[row],
                    label=row)
    for base, ls in (("baseline", "--"), ("baseline-subtract", "-.")):
        f = figures(run_name(base, None, 0))
        if f is None:
            continue
        axs[0].axhline(100 * f["silent_fraction"], color="k", ls=ls, lw=0.9, label=base)
        axs[1].axhline(100 * f["int_acc"], color="k", ls=ls, lw=0.9, label=base)
    axs[0].set_ylabel("hidden neurons never firing on test (%)")
    axs[1].set_ylabel("integer test accuracy (%)")
    for ax in axs:
        ax.set_xscale("log")
        ax.set_xlabel("lambda")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=7)
    fig.suptitle("Yin-Yang, 30 epochs, seed 0: silent neurons and accuracy vs penalty weight",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig("docs/figures/train_silent.png", dpi=120)
    plt.close(fig)
    print("wrote docs/figures/train_pareto.png, docs/figures/train_silent.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("sweep", "seeds", "extra", "high", "all", "report"))
    ap.add_argument("--rows", default=",".join(PRIORITY),
                    help=f"comma-separated penalty rows, in order (default {','.join(PRIORITY)})")
    ap.add_argument("--markdown", type=Path, default=None, help="report: also write the tables")
    args = ap.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    bad = [r for r in rows if r not in LAMBDAS]
    if bad:
        ap.error(f"unknown row {bad[0]!r}; rows: {', '.join(LAMBDAS)}")
    torch.set_num_threads(1)
    if args.stage == "sweep":
        run_jobs(sweep_jobs(rows))
    elif args.stage == "seeds":
        run_jobs(seed_jobs(rows))
    elif args.stage == "extra":
        run_jobs(extra_jobs(rows))
    elif args.stage == "high":
        run_jobs(high_jobs(rows))
    elif args.stage == "all":
        for row in rows:
            run_jobs(sweep_jobs([row]))
            run_jobs(seed_jobs([row]))
    else:
        report(args.markdown)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
