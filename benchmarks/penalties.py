"""The penalty comparison on Yin-Yang (docs/training.md): the glue around its sweep files.

The runs are sweeps (``ttfs sweep``, docs/sweeps.md); this script only chooses between them and
reports. Each row of the comparison is compared with a baseline of the *same* neuron model:

* ``count`` and ``sop`` (``sweeps/penalties/fire_once.toml``): the default network, whose
  hidden layer fires once; baseline ``baseline``, the default network itself;
* ``excess-2phase`` and ``excess-1phase`` (``sweeps/penalties/subtract.toml``): the excess
  penalty needs neurons that fire again, so the hidden layer resets by subtraction, for the
  penalty and its baseline ``baseline-subtract`` alike.

Protocol (nothing is chosen on the test split):

1. stage 1, the two sweep files: every lambda of a row and its baseline, seed 0;
2. ``choose``: a row's lambda is the largest swept one whose **validation** accuracy (integer
   network, the ``validation_accuracy`` column) is within 1 point of its baseline's (seed 0);
   if none is, the smallest. It writes stage 2 as two sweep files, ``DIR/seeds_fire_once.toml``
   and ``DIR/seeds_subtract.toml``: seeds 1 and 2 of the baselines and of every row at its
   chosen lambda, and, shown in their own tables and never used to choose, the next-lower swept
   lambda of count and sop (the trade-off next to the choice) and the highest of the excess rows
   (does a row fall silent at a strong penalty on every seed?);
3. ``report``: test-split figures of the integer network and, from the cosimulated core, the
   hardware figures (cycles, membrane accesses, modelled energy; model estimate, not silicon),
   mean ± std over seeds 0-2, changes per seed against the baseline of the same seed; the plots
   ``docs/figures/train_pareto.png`` and ``train_silent.png``.

    ttfs sweep sweeps/penalties/fire_once.toml --out runs/penalties/fire_once
    ttfs sweep sweeps/penalties/subtract.toml --out runs/penalties/subtract
    .venv/bin/python benchmarks/penalties.py choose runs/penalties
    ttfs sweep runs/penalties/seeds_fire_once.toml --out runs/penalties/seeds_fire_once
    ttfs sweep runs/penalties/seeds_subtract.toml --out runs/penalties/seeds_subtract
    .venv/bin/python benchmarks/penalties.py report runs/penalties [--markdown FILE]

Every ``ttfs sweep`` takes ``--address`` to run on a Ray cluster and ``--resume`` to finish an
interrupted sweep; each point is an ordinary run directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

#: row -> (stage-1 sweep, method, the point's other axis values, baseline row or None)
ROWS: dict[str, tuple[str, str, dict, str | None]] = {
    "baseline": ("fire_once", "baseline", {}, None),
    "count": ("fire_once", "count", {}, "baseline"),
    "sop": ("fire_once", "sop", {}, "baseline"),
    "baseline-subtract": ("subtract", "baseline", {}, None),
    "excess-2phase": ("subtract", "excess", {"excess.two_phase": True}, "baseline-subtract"),
    "excess-1phase": ("subtract", "excess", {"excess.two_phase": False}, "baseline-subtract"),
}
SWEEPS = ("fire_once", "subtract")
SEEDS = (0, 1, 2)
#: accuracy tolerance of the lambda choice (validation split, seed 0), as a fraction
TOLERANCE = 0.01
#: per sweep, what stage 2 adds next to the chosen lambda: the next-lower or the highest one
STAGE2_EXTRA = {"fire_once": "lower", "subtract": "highest"}
NOTE = "model estimate, not silicon"


def is_baseline(row: str) -> bool:
    return ROWS[row][3] is None


def _lam(point: dict, method: str) -> float | None:
    return point.get(f"{method}.lam")


def load(root: Path) -> dict[tuple[str, float | None, int], dict]:
    """Every finished point of the four sweeps as ``(row, lambda, seed) -> results row``."""
    out = {}
    for sweep in SWEEPS:
        for stage in (sweep, f"seeds_{sweep}"):
            path = root / stage / "results.json"
            if not path.exists():
                continue
            for p in json.loads(path.read_text())["points"]:
                if p["status"] != "done":
                    continue
                for row, (s, method, values, _) in ROWS.items():
                    if s == sweep and p["method"] == method and all(
                            p.get(k) == v for k, v in values.items()):
                        lam = None if is_baseline(row) else _lam(p, method)
                        out[(row, lam, int(p["seed"]))] = {**p, "_dir": str(
                            root / stage / "points" / p["point"])}
    return out


def swept(runs: dict, row: str) -> list[float]:
    return sorted({lam for (r, lam, s) in runs if r == row and s == 0 and lam is not None})


def choose(runs: dict, row: str) -> float | None:
    """The largest swept lambda of ``row`` whose validation accuracy (seed 0) is within
    :data:`TOLERANCE` of its baseline's; the smallest if none is; None without a baseline."""
    base = runs.get((ROWS[row][3], None, 0))
    lams = swept(runs, row)
    if base is None or not lams:
        return None
    ok = [lam for lam in lams if runs[(row, lam, 0)]["validation_accuracy"]
          >= base["validation_accuracy"] - TOLERANCE - 1e-9]
    return max(ok) if ok else min(lams)


def lower(runs: dict, row: str) -> float | None:
    lam = choose(runs, row)
    below = [x for x in swept(runs, row) if lam is not None and x < lam]
    return max(below) if below else None


def stage2_lambdas(runs: dict, row: str) -> list[float]:
    extra = (lower(runs, row) if STAGE2_EXTRA[ROWS[row][0]] == "lower"
             else max(swept(runs, row), default=None))
    return sorted({x for x in (choose(runs, row), extra) if x is not None})


def write_stage2(root: Path) -> None:
    runs = load(root)
    for sweep in SWEEPS:
        rows = [r for r in ROWS if ROWS[r][0] == sweep and not is_baseline(r)]
        missing = [r for r in rows if choose(runs, r) is None]
        if missing:
            sys.exit(f"penalties: stage 1 of {', '.join(missing)} has not finished "
                     f"(no {root / sweep / 'results.json'} or no baseline)")
        methods = sorted({ROWS[r][1] for r in rows})
        lines = [f"# Stage 2 of the penalty comparison ({sweep}), written by "
                 "benchmarks/penalties.py choose", "# from the validation accuracy of stage 1:"]
        lams: dict[str, set] = {}
        for r in rows:
            lines.append(f"#   {r}: lambda {choose(runs, r):g} chosen; stage 2 runs "
                         f"{', '.join(f'{x:g}' for x in stage2_lambdas(runs, r))}")
            lams.setdefault(ROWS[r][1], set()).update(stage2_lambdas(runs, r))
        lines += [f'name = "penalties-seeds_{sweep}"', 'to = "cosim"', "synth = false", ""]
        if sweep == "subtract":
            lines += ["[base]", 'train_options = {baseline = {reset = "subtract"}, '
                      'excess = {reset = "subtract"}}', ""]
        lines += ["[axes]", f"method = {json.dumps(['baseline', *methods])}"]
        if sweep == "subtract":
            lines.append('"excess.two_phase" = [true, false]')
        for m in methods:
            lines.append(f'"{m}.lam" = {json.dumps(sorted(lams[m]))}')
        lines.append(f"seed = {json.dumps(list(SEEDS[1:]))}")
        path = root / f"seeds_{sweep}.toml"
        path.write_text("\n".join(lines) + "\n")
        print("\n".join(lines[:2 + len(rows)]))
        print(f"wrote {path}")


# -- report -------------------------------------------------------------------------------------


def mean_std(a, fmt: str) -> str:
    """``mean ± std`` of ``a`` in ``fmt`` (the std without a sign)."""
    a = np.asarray(a, dtype=np.float64)
    return f"{a.mean():{fmt}} ± {a.std():{fmt.lstrip('+')}}"


def _seeds(runs: dict, row: str, lam: float | None) -> list[dict]:
    return [runs[(row, lam, s)] for s in SEEDS if (row, lam, s) in runs]


def _paired(runs: dict, row: str, lam: float | None, key: str, relative: bool) -> np.ndarray:
    """Per seed, the change of ``key`` against the same seed's baseline."""
    base = ROWS[row][3]
    out = []
    for f in _seeds(runs, row, lam):
        b = runs.get((base, None, f["seed"]))
        if b is not None:
            out.append(100 * (f[key] / b[key] - 1) if relative else 100 * (f[key] - b[key]))
    return np.array(out)


def _change(runs: dict, row: str, lam: float | None, key: str, relative: bool) -> str:
    """The per-seed change of ``key`` as a table cell (``-`` for a baseline)."""
    if is_baseline(row):
        return "-"
    d = _paired(runs, row, lam, key, relative)
    return f"{mean_std(d, '+.0f')}%" if relative else f"{mean_std(d, '+.1f')} pt"


def seed_row(runs: dict, row: str, lam: float | None) -> str:
    fs = _seeds(runs, row, lam)
    acc = [100 * f["integer_accuracy"] for f in fs]
    spk = [f["hidden_spikes_per_sample"] for f in fs]
    sop = [f["sops_per_sample"] for f in fs]
    sil = [100 * f["never_firing_hidden"] for f in fs]
    bl = is_baseline(row)
    dacc = _change(runs, row, lam, "integer_accuracy", False)
    dspk = _change(runs, row, lam, "hidden_spikes_per_sample", True)
    return (f"| {row} | {'-' if bl else ROWS[row][3]} | {'-' if lam is None else f'{lam:g}'} | "
            f"{mean_std(acc, '.1f')}% | {dacc} | {mean_std(spk, '.1f')} | {dspk} | "
            f"{mean_std(sop, '.0f')} | "
            f"{mean_std(sil, '.0f')}% | {len(fs)} |")


def hw_row(runs: dict, row: str, lam: float | None, what: str) -> str:
    fs = _seeds(runs, row, lam)
    cells = []
    for key in ("cycles_per_sample", "membrane_accesses_per_sample", "energy_pj"):
        cells.append(mean_std([f[key] for f in fs], ".0f"))
        cells.append(_change(runs, row, lam, key, True))
    spk = _change(runs, row, lam, "spikes_per_sample", True)
    return (f"| {row} | {'-' if lam is None else f'{lam:g}'} | {what} | {spk} | "
            + " | ".join(cells) + f" | {len(fs)} |")


SEED_HEADER = ("| row | baseline | lambda | int acc | acc vs baseline | hidden spikes/sample | "
               "vs baseline | SOPs/sample | never-firing hidden | seeds |\n"
               "|---|---|---|---|---|---|---|---|---|---|")


def spk(f: dict) -> float:
    return f["hidden_spikes_per_sample"]


def report(root: Path, out_md: Path | None, figures: Path) -> None:
    runs = load(root)
    if not runs:
        sys.exit(f"penalties: no finished point under {root}")
    lines: list[str] = []
    say = lines.append
    say("#### Lambda sweep (seed 0; lambda chosen on validation, figures on test)\n")
    say("| row | baseline | lambda | val acc | test acc | hidden spikes/sample | vs baseline "
        "| SOPs/sample | never-firing hidden | cycles/sample | energy pJ |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    for row in ROWS:
        chosen = None if is_baseline(row) else choose(runs, row)
        bf = runs.get((ROWS[row][3] or row, None, 0))
        for lam in [None] if is_baseline(row) else swept(runs, row):
            f = runs[(row, lam, 0)]
            red = "-" if bf is None else f"{100 * (spk(f) / spk(bf) - 1):+.0f}%"
            mark = " (chosen)" if lam is not None and lam == chosen else ""
            say(f"| {row} | {ROWS[row][3] or '-'} | {'-' if lam is None else f'{lam:g}'}{mark} | "
                f"{100 * f['validation_accuracy']:.1f}% | {100 * f['integer_accuracy']:.1f}% | "
                f"{f['hidden_spikes_per_sample']:.1f} | {red} | {f['sops_per_sample']:.0f} | "
                f"{100 * f['never_firing_hidden']:.0f}% | {f['cycles_per_sample']:.0f} | "
                f"{f['energy_pj']:.0f} |")

    chosen = [(r, None if is_baseline(r) else choose(runs, r)) for r in ROWS]
    chosen = [(r, lam) for r, lam in chosen if (is_baseline(r) or lam is not None)
              and _seeds(runs, r, lam)]
    say("\n#### Comparison (seeds 0-2 at the validation-chosen lambda; test split, mean ± std)\n")
    say(SEED_HEADER)
    for r, lam in chosen:
        say(seed_row(runs, r, lam))
    extra = [(r, lower(runs, r)) for r in ROWS
             if ROWS[r][0] == "fire_once" and not is_baseline(r)]
    extra = [(r, lam) for r, lam in extra if lam is not None
             and len(_seeds(runs, r, lam)) == len(SEEDS)]
    if extra:
        say("\n#### Next-lower lambda (seeds 0-2; not chosen, shown for the trade-off next to "
            "it)\n")
        say(SEED_HEADER)
        for r, lam in extra:
            say(seed_row(runs, r, lam))
    high = [(r, max(swept(runs, r))) for r in ROWS if ROWS[r][0] == "subtract"
            and not is_baseline(r) and swept(runs, r)]
    high = [(r, lam) for r, lam in high if len(_seeds(runs, r, lam)) == len(SEEDS)]
    if high:
        say("\n#### Highest swept lambda (seeds 0-2; not chosen, shown for the failure mode)\n")
        say(SEED_HEADER)
        for r, lam in high:
            say(seed_row(runs, r, lam))
    say(f"\n#### In hardware (seeds 0-2; the cosimulated core on the test split; energy: {NOTE};"
        " changes per seed against the same seed's baseline)\n")
    say("| row | lambda | point | spikes vs baseline (all layers) | cycles/sample | vs baseline "
        "| membrane r+w/sample | vs baseline | energy pJ | vs baseline | seeds |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    for group, what in ((chosen, "chosen"), (extra, "next-lower"), (high, "highest")):
        for r, lam in group:
            say(hw_row(runs, r, lam, "-" if is_baseline(r) else what))
    secs = [f["seconds"] for f in runs.values() if f.get("seconds") is not None]
    say(f"\n{len(runs)} points, {sum(secs) / 60:.0f} min of point time (train to cosim) in all.")
    text = "\n".join(lines) + "\n"
    print(text)
    if out_md is not None:
        out_md.write_text(text)
    plots(runs, figures)


# -- plots --------------------------------------------------------------------------------------


def plots(runs: dict, figures: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def acc(f):
        return 100 * f["integer_accuracy"]

    figures.mkdir(parents=True, exist_ok=True)
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.4))
    panels = {"baseline": axs[0], "baseline-subtract": axs[1]}
    titles = {"baseline": "fire_once hidden layer (default network)",
              "baseline-subtract": "subtract reset (neurons may fire again)"}
    # the lowest accuracy drawn per panel: baseline - 6 points; points below sit at the edge
    floor = {b: (acc(runs[(b, None, 0)]) - 6 if (b, None, 0) in runs else -np.inf)
             for b in panels}
    for row in ROWS:
        base = ROWS[row][3] or row
        ax, lo = panels[base], floor[base]
        if is_baseline(row):
            if (row, None, 0) not in runs:
                continue
            f = runs[(row, None, 0)]
            ax.scatter([spk(f)], [acc(f)], marker="*", s=180, color="k", label=f"{row} (seed 0)",
                       zorder=3)
            ax.axhline(acc(f) - 1, color="k", ls=":", lw=0.8)
            ax.axvline(0.3 * spk(f), color="k", ls=":", lw=0.8)
            fs = _seeds(runs, row, None)
            if len(fs) > 1:
                ax.errorbar([np.mean([spk(g) for g in fs])], [np.mean([acc(g) for g in fs])],
                            xerr=[np.std([spk(g) for g in fs])],
                            yerr=[np.std([acc(g) for g in fs])], fmt="none", ecolor="k",
                            capsize=3, lw=1)
            continue
        pts = [(lam, runs[(row, lam, 0)]) for lam in swept(runs, row)]
        if not pts:
            continue
        ln, = ax.plot([spk(f) for _, f in pts], [max(acc(f), lo) for _, f in pts], "o-",
                      label=f"{row} (seed 0)")
        for lam, f in pts:
            text = f"{lam:g}" if acc(f) >= lo else f"{lam:g}: {acc(f):.0f}% (off scale)"
            ax.annotate(text, (spk(f), max(acc(f), lo)), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        # the validation-chosen lambda and the next-lower one over seeds 0-2: mean ± std
        for lam, mk in ((choose(runs, row), "s"), (lower(runs, row), "D")):
            fs = [] if lam is None else _seeds(runs, row, lam)
            if len(fs) < len(SEEDS):
                continue
            ax.errorbar([np.mean([spk(g) for g in fs])],
                        [max(np.mean([acc(g) for g in fs]), lo)],
                        xerr=[np.std([spk(g) for g in fs])], yerr=[np.std([acc(g) for g in fs])],
                        fmt=mk, ms=6, mfc="none", color=ln.get_color(), capsize=3, lw=1)
    for base, ax in panels.items():
        ax.set_title(titles[base], fontsize=10)
        ax.set_xlabel("hidden spikes per sample (integer network, test split)")
        ax.set_ylabel("integer test accuracy (%)")
        if np.isfinite(floor[base]):
            ax.set_ylim(bottom=floor[base] - 0.3)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.suptitle("Yin-Yang, 30 epochs: accuracy vs spikes over lambda (dots: seed 0, labels:"
                 " lambda; open square / diamond: chosen / next-lower lambda, seeds 0-2 mean"
                 " ± std;\ndotted: baseline -1 pt and -70 % spikes)", fontsize=9)
    fig.tight_layout()
    fig.savefig(figures / "train_pareto.png", dpi=120)
    plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(10, 3.9))
    for row in ROWS:
        pts = [(lam, runs[(row, lam, 0)]) for lam in swept(runs, row)]
        if is_baseline(row) or not pts:
            continue
        lams = [lam for lam, _ in pts]
        ln, = axs[0].plot(lams, [100 * f["never_firing_hidden"] for _, f in pts], "o-", label=row)
        axs[1].plot(lams, [acc(f) for _, f in pts], "o-", color=ln.get_color(), label=row)
    for base, ls in (("baseline", "--"), ("baseline-subtract", "-.")):
        if (base, None, 0) in runs:
            f = runs[(base, None, 0)]
            axs[0].axhline(100 * f["never_firing_hidden"], color="k", ls=ls, lw=0.9, label=base)
            axs[1].axhline(acc(f), color="k", ls=ls, lw=0.9, label=base)
    axs[0].set_ylabel("hidden neurons never firing on test (%)")
    axs[1].set_ylabel("integer test accuracy (%)")
    for ax in axs:
        ax.set_xscale("log")
        ax.set_xlabel("lambda")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize=7)
    fig.suptitle("Yin-Yang, 30 epochs, seed 0: silent neurons and accuracy vs penalty weight "
                 "(integer network)", fontsize=10)
    fig.tight_layout()
    fig.savefig(figures / "train_silent.png", dpi=120)
    plt.close(fig)
    print(f"wrote {figures / 'train_pareto.png'}, {figures / 'train_silent.png'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stage", choices=("choose", "report"))
    ap.add_argument("root", nargs="?", type=Path, default=Path("runs/penalties"),
                    help="the folder holding the sweeps' --out folders (default runs/penalties)")
    ap.add_argument("--markdown", type=Path, default=None, help="report: also write the tables")
    ap.add_argument("--figures", type=Path, default=Path("docs/figures"),
                    help="report: where the plots go (default docs/figures)")
    args = ap.parse_args()
    if args.stage == "choose":
        write_stage2(args.root)
    else:
        report(args.root, args.markdown, args.figures)


if __name__ == "__main__":
    main()
