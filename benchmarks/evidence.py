"""The papers' claims, tested by one protocol (docs/evidence.md): the glue around their sweeps.

The runs are sweep files under ``sweeps/evidence/`` (``ttfs sweep``, docs/sweeps.md); this script
reads their tables, applies the protocol and writes the tables and plots of docs/evidence.md.

Protocol (the same for every claim):

* every point is trained with 3 seeds; a variant's lambda is the **largest** swept lambda whose
  3-seed mean **validation** accuracy (integer network) is within 1 point of its baseline's
  3-seed mean validation accuracy (none: the variant has no admissible lambda);
* test figures are reported once, after the choice: integer accuracy, spikes per hidden layer,
  excess spikes (``sum max(0, N - 1)`` over hidden neurons), never-firing hidden neurons, and
  from the core cosimulated on the test split, cycles, membrane accesses and modelled energy
  (model estimate, not silicon);
* "iso-accuracy" = test accuracy not below the baseline's by more than the baseline's 3-seed
  standard deviation of test accuracy; the 1-point band is reported too; a seed whose test
  accuracy is at most twice chance counts as switched off.

Allred & Roy 2021 (L4-norm conversion), against plain conversion and a uniform damping with
the same tuning budget (four candidates each, chosen per dataset and T on validation; one ReLU
network per dataset and seed shared by the three; no sweep: the conversions share it)::

    .venv/bin/python benchmarks/evidence.py conversion [--datasets ...] [--Ts 8 16 32 64]

Fontanini et al. 2024 (the excess-spike penalty and its 2-phase schedule)::

    ttfs sweep sweeps/evidence/fontanini_fire_once.toml --out runs/evidence/fontanini_fire_once
    ttfs sweep sweeps/evidence/fontanini_one.toml --out runs/evidence/fontanini_one
    ttfs sweep sweeps/evidence/fontanini_two.toml --out runs/evidence/fontanini_two
    .venv/bin/python benchmarks/evidence.py fontanini [--root runs/evidence] [--markdown FILE]

Allred et al. 2020 (the ramped count penalty) and Suetake et al. 2023 (the SOP penalty), on the
same network and baseline::

    ttfs sweep sweeps/evidence/digits_count_sop.toml --out runs/evidence/digits_count_sop
    .venv/bin/python benchmarks/evidence.py counting [--root runs/evidence] [--markdown FILE]

The excess penalty (1 phase) and the ramped count penalty on Yin-Yang 5-120-3 with a subtract
reset, against that network's own baseline::

    ttfs sweep sweeps/evidence/yinyang_multispike.toml --out runs/evidence/yinyang_multispike
    .venv/bin/python benchmarks/evidence.py yinyang [--root runs/evidence] [--markdown FILE]

The same on MNIST-1D 40-256-10 (``sweeps/evidence/mnist1d_multispike.toml``, claim ``mnist1d``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from penalties import mean_std  # noqa: E402  (benchmarks/ is not a package)

SEEDS = (0, 1, 2)
TOLERANCE = 0.01
NOTE = "model estimate, not silicon"

#: Fontanini: variant -> (sweep, method, {axis: value}); the first is the baseline
FONTANINI = {
    "baseline (subtract)": ("fontanini_one", "baseline", {}),
    "excess, 1 phase": ("fontanini_one", "excess", {}),
    "excess, 2 phases, warm-up only": ("fontanini_two", "excess", {"silence": "none"}),
    "excess, 2 phases, silence term in phase 1": ("fontanini_two", "excess",
                                                  {"silence": "phase1"}),
    "excess, 2 phases, silence term in both": ("fontanini_two", "excess", {"silence": "both"}),
    "fire_once baseline (reference)": ("fontanini_fire_once", "baseline", {}),
}
BASELINE = "baseline (subtract)"
#: Allred et al. (the ramped count penalty) and Suetake et al. (the SOP penalty), on the same
#: network and baseline as Fontanini's
COUNTING = {
    BASELINE: ("fontanini_one", "baseline", {}),
    "count, ramped weight": ("digits_count_sop", "count", {"count.schedule": "ramp"}),
    "count, constant weight": ("digits_count_sop", "count", {"count.schedule": "constant"}),
    "sop (constant weight)": ("digits_count_sop", "sop", {}),
}



def _multispike(sweep: str) -> dict:
    """The two penalties under the same protocol in one sweep with a subtract reset: its own
    baseline, the excess penalty in 1 phase and the ramped count penalty."""
    return {BASELINE: (sweep, "baseline", {}), "excess, 1 phase": (sweep, "excess", {}),
            "count, ramped weight": (sweep, "count", {})}


#: Yin-Yang 5-120-3 and MNIST-1D 40-256-10, each with a subtract reset
YINYANG = _multispike("yinyang_multispike")
MNIST1D = _multispike("mnist1d_multispike")


def _lam(p: dict) -> float | None:
    for k in ("lam", f"{p.get('method')}.lam"):
        if p.get(k) is not None:
            return float(p[k])
    return None


def load(root: Path, variants: dict) -> dict:
    """``(variant, lambda, seed) -> results row`` of every finished point (plus its directory)."""
    out = {}
    tables = {}
    for variant, (sweeps, method, values) in variants.items():
        for sweep in (sweeps,) if isinstance(sweeps, str) else sweeps:
            if sweep not in tables:
                path = root / sweep / "results.json"
                tables[sweep] = json.loads(path.read_text())["points"] if path.exists() else []
            for p in tables[sweep]:
                if p["status"] != "done" or p.get("method", method) != method:
                    continue
                if all(p.get(k) == v for k, v in values.items()):
                    lam = _lam(p) if method != "baseline" else None
                    out[(variant, lam, int(p.get("seed", 0)))] = {
                        **p, "_dir": str(root / sweep / "points" / p["point"]),
                        "_method": method}
    return out


def excess_spikes(point: dict) -> float:
    """Mean excess spikes per sample (``sum max(0, N - 1)`` over hidden neurons) of the point's
    integer network on its test events (``sim.reference``; cached in the point's
    ``excess.json``)."""
    from ttfs.sim.ir import load_events, load_qnet
    from ttfs.sim.reference import run

    d = Path(point["_dir"])
    cache = d / "excess.json"
    if cache.exists():
        return json.loads(cache.read_text())["excess"]
    qnet = load_qnet(d / f"qnet_{point['_method']}.json")
    events = load_events(d / "events.json", qnet)
    L = len(qnet.layers)
    ex = []
    for r in run(qnet, events, trace=True):
        h = r.trace[r.trace[:, 0] < L]
        _, counts = np.unique(h[:, 0] * 65536 + h[:, 2], return_counts=True)
        ex.append(int(np.sum(np.maximum(counts - 1, 0))))
    cache.write_text(json.dumps({"excess": float(np.mean(ex))}))
    return float(np.mean(ex))


def lambdas(runs: dict, variant: str) -> list:
    return sorted({lam for (v, lam, _) in runs if v == variant and lam is not None})


def seeds(runs: dict, variant: str, lam) -> list[dict]:
    return [runs[(variant, lam, s)] for s in SEEDS if (variant, lam, s) in runs]


def choose(runs: dict, variant: str, baseline: str, band: str = "1pt") -> float | None:
    """The largest lambda whose 3-seed mean validation accuracy is within the band of the
    baseline's: ``"1pt"`` (:data:`TOLERANCE`) or ``"iso"`` (the baseline's 3-seed standard
    deviation of validation accuracy); None if no lambda is (or the seeds have not all run)."""
    base = seeds(runs, baseline, None)
    if len(base) < len(SEEDS):
        return None
    vals = np.array([p["validation_accuracy"] for p in base])
    tol = TOLERANCE if band == "1pt" else float(vals.std())
    ok = [lam for lam in lambdas(runs, variant)
          if len(seeds(runs, variant, lam)) == len(SEEDS)
          and np.mean([p["validation_accuracy"] for p in seeds(runs, variant, lam)])
          >= vals.mean() - tol - 1e-9]
    return max(ok) if ok else None


#: the columns of a claim's tables: results key -> (label, format, relative change)
HW = (("hidden_spikes_per_sample", "hidden spikes", ".1f"), ("sops_per_sample", "SOPs", ".0f"),
      ("cycles_per_sample", "cycles", ".0f"), ("energy_pj", "energy pJ", ".0f"))


def claim(runs: dict, variants: dict, baseline: str, n_classes: int, excess: bool) -> tuple:
    """The tables of one claim (markdown lines) and the per-(variant, lambda) figures."""
    chance = 1.0 / n_classes
    base = seeds(runs, baseline, None)
    b_acc = np.array([p["integer_accuracy"] for p in base])
    lines: list[str] = []
    say = lines.append
    say("#### Every point (test split, mean ± std over seeds; val: validation split, the "
        "choice's)\n")
    say("| variant | lambda | val acc | test acc | hidden spikes (per layer) | "
        + ("excess spikes | " if excess else "SOPs | ")
        + "never-firing hidden | switched off | cycles | energy pJ | seeds |")
    say("|---|---|---|---|---|---|---|---|---|---|---|")
    table = {}
    for variant in variants:
        lams = [None] if variants[variant][1] == "baseline" else lambdas(runs, variant)
        chosen = {b: choose(runs, variant, baseline, b) for b in ("iso", "1pt")}
        for lam in lams:
            ps = seeds(runs, variant, lam)
            if not ps:
                continue
            per = np.array([p["spikes_per_layer"][:-1] for p in ps])  # hidden layers
            row = {k: [p[k] for p in ps] for k, *_ in HW}
            row.update({
                "val": [p["validation_accuracy"] for p in ps],
                "acc": [p["integer_accuracy"] for p in ps],
                "excess": [excess_spikes(p) for p in ps] if excess else None,
                "silent": [p["never_firing_hidden"] for p in ps],
                "off": sum(p["integer_accuracy"] <= 2 * chance for p in ps),
            })
            table[(variant, lam)] = row
            bands = [b for b, c in chosen.items() if lam is not None and c == lam]
            mark = f" (chosen: {', '.join(bands)})" if bands else ""
            layers = " / ".join(f"{m:.1f}" for m in per.mean(axis=0))
            middle = (mean_std(row["excess"], ".1f") if excess
                      else mean_std(row["sops_per_sample"], ".0f"))
            say(f"| {variant} | {'-' if lam is None else f'{lam:g}'}{mark} | "
                f"{mean_std(100 * np.array(row['val']), '.1f')} | "
                f"{mean_std(100 * np.array(row['acc']), '.1f')} | {layers} | {middle} | "
                f"{mean_std(100 * np.array(row['silent']), '.0f')}% | {row['off']} of {len(ps)} | "
                f"{mean_std(row['cycles_per_sample'], '.0f')} | "
                f"{mean_std(row['energy_pj'], '.0f')} | "
                f"{len(ps)} |")

    say("\n#### At the chosen lambdas (test split; changes per seed against the same seed's "
        f"baseline; energy: {NOTE})\n")
    say(f"Baseline test accuracy {mean_std(100 * b_acc, '.2f')} %. Bands (on the 3-seed mean "
        "validation accuracy): *iso* = within the baseline's standard deviation, *1pt* = within "
        "1 point. On test, *iso-accuracy* = not below the baseline by more than its test standard "
        "deviation.\n")
    say("| variant | band | lambda | test acc | vs baseline | iso-accuracy on test | within 1 pt "
        "| " + " | ".join(f"{lab} | vs baseline" for _, lab, _ in HW) + " |")
    say("|---|---|---|---|---|---|---|" + "---|---|" * len(HW))
    by_seed = {p["seed"]: p for p in base}
    for variant in variants:
        if variants[variant][1] == "baseline":
            continue
        for band in ("iso", "1pt"):
            lam = choose(runs, variant, baseline, band)
            if lam is None:
                say(f"| {variant} | {band} | none admissible |" + " |" * (4 + 2 * len(HW)))
                continue
            ps = seeds(runs, variant, lam)
            d_acc = [100 * (p["integer_accuracy"] - by_seed[p["seed"]]["integer_accuracy"])
                     for p in ps]
            acc = np.mean([p["integer_accuracy"] for p in ps])
            cells = []
            for key, _, fmt in HW:
                rel = [100 * (p[key] / by_seed[p["seed"]][key] - 1) for p in ps]
                cells += [mean_std([p[key] for p in ps], fmt), f"{mean_std(rel, '+.0f')}%"]
            accs = 100 * np.array([p["integer_accuracy"] for p in ps])
            say(f"| {variant} | {band} | {lam:g} | {mean_std(accs, '.1f')} | "
                f"{mean_std(d_acc, '+.1f')} pt | "
                f"{'yes' if acc >= b_acc.mean() - b_acc.std() else 'no'} | "
                f"{'yes' if acc >= b_acc.mean() - 0.01 else 'no'} | " + " | ".join(cells) + " |")
    return lines, table


def penalty_claim(name: str, root: Path, out_md: Path | None, figures: Path) -> None:
    """A penalty claim of :data:`PENALTY_CLAIMS` against its subtract baseline
    (``variants[BASELINE]``, whose sweep must have finished): tables and plot."""
    variants, n_classes, excess, png, title = PENALTY_CLAIMS[name]
    runs = load(root, variants)
    if not seeds(runs, BASELINE, None):
        sys.exit(f"evidence: no finished baseline under {root / variants[BASELINE][0]}")
    lines, table = claim(runs, variants, BASELINE, n_classes, excess=excess)
    _finish(lines, out_md)
    _plot(table, variants, figures / png,
          f"{title} (subtract reset); 3 seeds, mean ± std; labels: lambda")


#: the penalty claims: name -> (variants, classes, excess column, figure, title)
PENALTY_CLAIMS = {
    "fontanini": (FONTANINI, 10, True, "evidence_fontanini.png",
                  "Fontanini et al.: excess-spike penalty, 1 vs 2 phases, digits 65-64-256-10"),
    "counting": (COUNTING, 10, False, "evidence_counting.png",
                 "Allred et al. (ramped count penalty) and Suetake et al. (SOP penalty), digits "
                 "65-64-256-10"),
    "yinyang": (YINYANG, 3, True, "evidence_yinyang.png",
                "Excess and ramped count penalties, Yin-Yang 5-120-3"),
    "mnist1d": (MNIST1D, 10, True, "evidence_mnist1d.png",
                "Excess and ramped count penalties, MNIST-1D 40-256-10"),
}


def _finish(lines: list[str], out_md: Path | None) -> None:
    text = "\n".join(lines) + "\n"
    print(text)
    if out_md is not None:
        out_md.write_text(text)


def _plot(table: dict, variants: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.3))
    for ax, key, label in ((axs[0], "hidden_spikes_per_sample", "hidden spikes per sample (test)"),
                           (axs[1], "energy_pj", f"pJ per inference on the core ({NOTE})")):
        for variant in variants:
            pts = [(lam, r) for (v, lam), r in table.items() if v == variant]
            if not pts:
                continue
            pts.sort(key=lambda x: -1 if x[0] is None else x[0])
            xs = [np.mean(r[key]) for _, r in pts]
            ys = [100 * np.mean(r["acc"]) for _, r in pts]
            ex = [np.std(r[key]) for _, r in pts]
            ey = [100 * np.std(r["acc"]) for _, r in pts]
            if pts[0][0] is None:
                ax.errorbar(xs, ys, xerr=ex, yerr=ey, fmt="*", ms=12, capsize=3, label=variant)
                continue
            ax.errorbar(xs, ys, xerr=ex, yerr=ey, fmt="o-", ms=4, capsize=2, lw=1,
                        label=variant)
            for (lam, _), x, y in zip(pts, xs, ys, strict=True):
                ax.annotate(f"{lam:g}", (x, y), fontsize=6, xytext=(2, 2),
                            textcoords="offset points")
        ax.set_xlabel(label)
        ax.set_ylabel("integer test accuracy (%)")
        ax.grid(alpha=0.3)
    xs = [np.mean(r["hidden_spikes_per_sample"]) for r in table.values()]
    if max(xs) > 20 * max(min(xs), 1.0):  # spikes over decades (a collapse to 0 included)
        axs[0].set_xscale("symlog", linthresh=1)
    axs[0].legend(fontsize=6, loc="best")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


# -- Park & Yoon 2021: the temporal kernel at the authors' settings, and its ablations ----------

#: variant -> (sweeps, method, axis values); the first is the project's TTFS baseline (the
#: default Yin-Yang network, the penalty comparison's baseline points, docs/training.md)
PARK_YOON = {
    "TTFS baseline (default network)": (("../penalties/fire_once", "../penalties/seeds_fire_once"),
                                        "baseline", {}),
    "kernel, project defaults (T_w 16, BN loss 0.02)": ("park_yoon_project", "kernel", {}),
    "kernel, authors' settings at T_w 16": ("park_yoon_window", "kernel", {"window": 16}),
    "kernel, authors' settings at T_w 48": ("park_yoon_window", "kernel", {"window": 48}),
}


def _ablations() -> dict:
    """The authors' settings and every combination of the three ablations (park_yoon.toml)."""
    out = {}
    for bn in (1e-5, 0.0):
        for learn in (True, False):
            for relax in (True, False):
                off = [w for w, gone in (("BN loss", bn == 0), ("kernel learning", not learn),
                                         ("relaxation", not relax)) if gone]
                name = "kernel, authors' settings" + (
                    " without " + " / ".join(off) if off else "")
                out[name] = ("park_yoon", "kernel",
                             {"bn_loss_weight": bn, "learn_kernel": learn, "relax": relax})
    return out


PARK_YOON.update(_ablations())


def input_ceiling(levels: int, n: int = 100_000, seed: int = 7) -> float:
    """The accuracy ceiling of Yin-Yang inputs quantised to ``levels`` steps per feature (the
    kernel's ``window``): the majority class of each quantised input cell, on ``n`` points."""
    from ttfs.train.data import yinyang
    from ttfs.train.kernel import quantize_inputs

    X, y = yinyang(n, seed)
    cells = quantize_inputs(X, levels)
    keys = np.unique(np.round(cells * (levels - 1)).astype(np.int64), axis=0,
                     return_inverse=True)[1].ravel()
    hits = 0
    for k in np.unique(keys):
        hits += int(np.bincount(y[keys == k]).max())
    return hits / n


def runaway_shift(g, x_t: float):
    """``b+``, the local maximum in ``b`` of the transcribed BN spike loss at scale ``g`` (see
    :func:`bn_runaway`)."""
    c = g ** 2 / 3 + g + 1
    return (x_t + np.sqrt(x_t ** 2 + 3 * c * (x_t ** 2 * g + 2))) / (3 * c)


def bn_runaway(point: dict) -> tuple[float, float]:
    """For a kernel point: the fraction of its hidden BN channels whose shift ``b`` lies beyond
    the local maximum of the transcribed BN spike loss (where the loss falls without bound as
    ``b`` grows, so a gradient step pushes ``b`` up, towards more spikes), and the largest
    shift. The local maximum of ``L(b)`` at the channel's scale ``g`` and the layer's ``x_T``:
    ``b+ = (x_T + sqrt(x_T^2 + 3 c (x_T^2 g + 2))) / (3 c)``, ``c = g^2/3 + g + 1``."""
    import torch

    from ttfs.train.checkpoint import load_checkpoint
    from ttfs.train.kernel import model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(Path(point["_dir"]) / "train/kernel/model.pt"))
    beyond = total = 0
    top = -np.inf
    with torch.no_grad():
        for k, bn in enumerate(model.bns):
            g, b = bn.weight.double().numpy(), bn.bias.double().numpy()
            beyond += int(np.sum(b > runaway_shift(g, float(model.x_t(k)))))
            total += b.size
            top = max(top, float(b.max()))
    return beyond / total, top


def park_yoon(root: Path, out_md: Path | None, figures: Path) -> None:
    runs = load(root, PARK_YOON)
    base_name = next(iter(PARK_YOON))
    base = {p["seed"]: p for p in seeds(runs, base_name, None)}
    if len(base) < len(SEEDS):
        sys.exit(f"evidence: the TTFS baseline's seeds 0-2 are not under {root}/../penalties "
                 "(benchmarks/penalties.py lists the commands)")
    b_acc = np.array([base[s]["integer_accuracy"] for s in SEEDS])
    lines: list[str] = []
    say = lines.append
    say(f"TTFS baseline test accuracy {mean_std(100 * b_acc, '.2f')} %. Changes per seed against "
        f"the same seed's baseline; energy: {NOTE}.\n")
    say("| variant | val acc | test acc | vs baseline | within 1 pt | "
        + " | ".join(f"{lab} | vs baseline" for _, lab, _ in HW) + " | seeds |")
    say("|---|---|---|---|---|" + "---|---|" * len(HW) + "---|")
    table = {}
    for variant in PARK_YOON:
        ps = seeds(runs, variant, None)
        if not ps:
            say(f"| {variant} | not run |" + " |" * (3 + 2 * len(HW) + 1))
            continue
        acc = 100 * np.array([p["integer_accuracy"] for p in ps])
        d_acc = [100 * (p["integer_accuracy"] - base[p["seed"]]["integer_accuracy"]) for p in ps]
        cells = []
        for key, _, fmt in HW:
            rel = [100 * (p[key] / base[p["seed"]][key] - 1) for p in ps]
            cells += [mean_std([p[key] for p in ps], fmt),
                      "-" if variant == base_name else f"{mean_std(rel, '+.0f')}%"]
        table[(variant, None)] = {"acc": [p["integer_accuracy"] for p in ps],
                                  **{k: [p[k] for p in ps] for k, *_ in HW}}
        within = "-" if variant == base_name else (
            "yes" if acc.mean() >= 100 * b_acc.mean() - 1 else "no")
        vals = 100 * np.array([p["validation_accuracy"] for p in ps])
        say(f"| {variant} | {mean_std(vals, '.1f')}"
            f" | {mean_std(acc, '.1f')} | "
            f"{'-' if variant == base_name else mean_std(d_acc, '+.1f') + ' pt'} | {within} | "
            + " | ".join(cells) + f" | {len(ps)} |")
    say("\nThe transcribed BN spike loss's runaway region (shifts beyond its local maximum "
        "in b, where the loss falls without bound as b grows): the fraction of hidden BN "
        "channels there after training, and the largest shift, mean over seeds:\n")
    say("| variant | BN loss weight | channels beyond the local maximum | largest shift b |")
    say("|---|---|---|---|")
    for variant in PARK_YOON:
        ps = seeds(runs, variant, None)
        if not ps or ps[0]["_method"] != "kernel":
            continue
        rb = [bn_runaway(p) for p in ps]
        w = json.loads((Path(ps[0]["_dir"]) / "flow.json").read_text())
        weight = (w.get("train_options", {}).get("kernel", {})
                  .get("bn_loss_weight", "0.02 (default)"))
        say(f"| {variant} | {weight} | {mean_std([100 * r[0] for r in rb], '.1f')}% | "
            f"{mean_std([r[1] for r in rb], '.2f')} |")
    say("\nThe accuracy ceiling of the quantised inputs alone (the majority class of each input "
        "cell, 100,000 Yin-Yang points): "
        + ", ".join(f"{lv} levels {100 * input_ceiling(lv):.1f} %" for lv in (8, 16, 48))
        + " (the kernel's 8- and 16-step windows; the TTFS baseline's t_in = 48).")
    _finish(lines, out_md)
    _plot(table, PARK_YOON, figures / "evidence_park_yoon.png",
          "Park & Yoon: temporal-kernel TTFS at the authors' settings and ablations vs the TTFS "
          "baseline, Yin-Yang 5-120-3; 3 seeds, mean ± std")


# -- the Pareto figures: every method of a dataset, accuracy against modelled energy -----------

#: dataset -> {label: (sweeps, method, axis values)} of the points drawn (every lambda)
PARETO = {
    "digits 65-64-256-10": {**FONTANINI, **COUNTING},
    "Yin-Yang 5-120-3": {
        "TTFS baseline": (("../penalties/fire_once", "../penalties/seeds_fire_once"),
                          "baseline", {}),
        "count (ramped)": (("../penalties/fire_once", "../penalties/seeds_fire_once"), "count",
                           {}),
        "sop": (("../penalties/fire_once", "../penalties/seeds_fire_once"), "sop", {}),
        "TTFS baseline, subtract reset": (("../penalties/subtract",
                                           "../penalties/seeds_subtract"), "baseline", {}),
        "excess, 2 phases": (("../penalties/subtract", "../penalties/seeds_subtract"), "excess",
                             {"excess.two_phase": True}),
        "excess, 1 phase": (("../penalties/subtract", "../penalties/seeds_subtract"), "excess",
                            {"excess.two_phase": False}),
        **{k: v for k, v in PARK_YOON.items() if v[1] == "kernel"},
    },
    "MNIST-1D 40-256-10": MNIST1D,
}


def pareto(root: Path, figures: Path) -> None:
    """One figure per dataset: test accuracy against modelled energy per inference on the core,
    every method at every swept lambda (mean ± std over the seeds that ran), the Pareto front
    of the means, and the dense ANN's energy (``sim.energy``; model estimate, not silicon)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ttfs.flows.report import pareto_front

    fig, axs = plt.subplots(1, len(PARETO), figsize=(6.5 * len(PARETO), 4.8), squeeze=False)
    for ax, (title, variants) in zip(axs[0], PARETO.items(), strict=True):
        runs = load(root, variants)
        pts, anns = [], set()
        for variant in variants:
            lams = sorted({lam for (v, lam, _) in runs if v == variant},
                          key=lambda x: -1 if x is None else x)
            xs, ys, ex, ey = [], [], [], []
            for lam in lams:
                ps = seeds(runs, variant, lam)
                e = [p["energy_pj"] / 1000 for p in ps]
                a = [100 * p["integer_accuracy"] for p in ps]
                anns.update(round(p["dense_ann_energy_pj"], 3) for p in ps
                            if p.get("dense_ann_energy_pj") is not None)
                xs.append(np.mean(e)), ys.append(np.mean(a))
                ex.append(np.std(e)), ey.append(np.std(a))
            if xs:
                ax.errorbar(xs, ys, xerr=ex, yerr=ey, fmt="*" if lams == [None] else "o",
                            ms=10 if lams == [None] else 4, capsize=2, lw=0.8, label=variant)
                pts += list(zip(xs, ys, strict=True))
        if pts:
            fx, fy = zip(*pareto_front(pts), strict=True)
            ax.step(fx, fy, where="post", color="k", lw=0.8, ls="--", label="Pareto front")
        for a in sorted(anns):
            ax.axvline(a / 1000, color="#c8a24a", ls=":", lw=1.2,
                       label="dense ANN (same network)" if a == min(anns) else None)
        ax.set_xscale("log")
        ax.set_xlabel(f"nJ per inference on the core ({NOTE})")
        ax.set_ylabel("integer test accuracy (%)")
        ax.set_ylim(bottom=max(0.0, min((y for _, y in pts), default=0) - 2))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6, loc="lower right")
    fig.suptitle("Every method at every swept setting: accuracy against modelled energy "
                 "(mean ± std over seeds)", fontsize=10)
    fig.tight_layout()
    path = figures / "evidence_pareto.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


# -- Allred & Roy 2021: L4-norm conversion against plain conversion and uniform damping ---------

#: the conversion variants, each with the same tuning budget: four candidates, one chosen per
#: (dataset, T) by the 3-seed mean validation accuracy
CONVERSION = {
    "plain (percentile on val)": [{"l4": False, "percentile": p}
                                  for p in (99.0, 99.5, 99.9, 100.0)],
    "uniform damping (factor on val)": [{"l4": False, "damping": d} for d in (0.6, 0.7, 0.8, 0.9)],
    "L4 (beta on val)": [{"l4": True, "l4_beta": b} for b in (0.1, 0.25, 0.5, 1.0)],
}
CONVERT_HIDDEN = {"yinyang": (64,), "digits": (100,), "digits-deep": (64, 256)}
VAL_ENCODE, TEST_ENCODE = (100, 101), (0, 1)


def _convert_eval(model, X, cfg, Xe, ye, hardware: bool) -> dict:
    """Accuracy (and hardware figures) of one conversion, mean over its encoding seeds. With
    ``hardware`` the test samples also run on the Verilated core, which must equal the
    reference model with the cost model in every prediction, counter and cycle
    (``sim.compare.check_equal``; a mismatch raises)."""
    from dataclasses import replace

    from ttfs.sim.compare import check_equal
    from ttfs.sim.core import CoreConfig
    from ttfs.sim.costmodel import cost_hook
    from ttfs.sim.energy import energy_report
    from ttfs.sim.image import pack
    from ttfs.sim.reference import run
    from ttfs.train.convert import encode_convert, export_convert
    from ttfs.verify.verilator import VerilatorBackend

    out = []
    for e in (TEST_ENCODE if hardware else VAL_ENCODE):
        q = export_convert(model, X, replace(cfg, encode_seed=e))
        ev = encode_convert(q, Xe, ye)
        core = CoreConfig.for_network(q, lanes=8)
        res = run(q, ev, cost=cost_hook(core) if hardware else None)
        r = {"acc": float(np.mean([x.prediction for x in res] == ye))}
        if hardware:
            check_equal(res, VerilatorBackend().run(pack(q, ev, core)), backend="verilator",
                        compare_trace=False)
            spl = np.array([x.counters.spikes_per_layer for x in res])
            r.update(hidden_spikes=float(spl[:, :-1].sum(1).mean()),
                     cycles=float(np.mean([x.cycles for x in res])),
                     energy_pj=energy_report(q, res, core=core)["snn_pj"]["total"],
                     rtl_samples=float(len(res)))
        out.append(r)
    return {k: float(np.mean([r[k] for r in out])) for k in out[0]}


def conversion(datasets, Ts, out_md: Path | None, cache: Path) -> None:
    """Train the ReLU networks (one per dataset and seed), choose each variant's candidate per
    (dataset, T) on validation, and report the test figures."""
    import torch

    from ttfs.train.convert import ConvertConfig, ann_predict, train_convert
    from ttfs.train.data import dataset_info, load_split

    torch.set_num_threads(1)
    done = json.loads(cache.read_text()) if cache.exists() else {}
    lines: list[str] = []
    say = lines.append
    checked: list[dict] = []  # test runs also checked on the Verilated core
    say("| dataset | network | T | ANN | " + " | ".join(f"{v} | chosen" for v in CONVERSION)
        + " | L4 vs plain | L4 vs damping | hidden spikes (plain / damping / L4) | energy pJ "
        f"(plain / damping / L4; {NOTE}) |")
    say("|---|---|---|---|" + "---|---|" * len(CONVERSION) + "---|---|---|---|")
    for ds in datasets:
        data = "digits" if ds.startswith("digits") else ds
        X, y = load_split(data, "train")
        Xv, yv = load_split(data, "validation")
        Xt, yt = load_split(data, "test")
        models = {}
        for seed in SEEDS:
            cfg = ConvertConfig(hidden=CONVERT_HIDDEN[ds], epochs=40, seed=seed)
            models[seed] = train_convert(X, y, cfg, n_classes=dataset_info(data).n_classes).model
        ann = np.mean([np.mean(ann_predict(m, Xt) == yt) for m in models.values()])
        for T in Ts:
            key = f"{ds}/{T}"
            if key not in done:
                res = {}
                for variant, cands in CONVERSION.items():
                    val = [np.mean([_convert_eval(models[s], X, ConvertConfig(
                        hidden=CONVERT_HIDDEN[ds], time_steps=T, **c), Xv, yv, False)["acc"]
                        for s in SEEDS]) for c in cands]
                    best = cands[int(np.argmax(val))]
                    test = [_convert_eval(models[s], X, ConvertConfig(
                        hidden=CONVERT_HIDDEN[ds], time_steps=T, **best), Xt, yt, True)
                        for s in SEEDS]
                    res[variant] = {"chosen": best, "val": [float(v) for v in val],
                                    "test": test}
                    shown = [round(100 * float(v), 1) for v in val]
                    print(f"{key} {variant}: val {shown} -> {best}; "
                          f"test {[round(100 * t['acc'], 1) for t in test]}", flush=True)
                done[key] = res
                cache.write_text(json.dumps(done, indent=1))
            res = done[key]
            acc = {v: 100 * np.array([t["acc"] for t in r["test"]]) for v, r in res.items()}
            names = list(CONVERSION)
            cells = []
            for v in names:
                c = res[v]["chosen"]
                knob = {k: x for k, x in c.items() if k != "l4"}
                cells += [mean_std(acc[v], ".1f"), ", ".join(f"{k} {x:g}" for k, x in knob.items())]
            gain = [mean_std(acc[names[2]] - acc[names[i]], "+.1f") + " pt" for i in (0, 1)]
            spk = " / ".join(f"{np.mean([t['hidden_spikes'] for t in res[v]['test']]):.0f}"
                             for v in names)
            en = " / ".join(f"{np.mean([t['energy_pj'] for t in res[v]['test']]):.0f}"
                            for v in names)
            net = "-".join(str(n) for n in (X.shape[1], *CONVERT_HIDDEN[ds], int(y.max()) + 1))
            say(f"| {data} | {net} | {T} | {100 * ann:.1f} | " + " | ".join(cells)
                + f" | {gain[0]} | {gain[1]} | {spk} | {en} |")
            checked += [t for r in res.values() for t in r["test"] if t.get("rtl_samples")]
    if checked:
        say(f"\nEvery chosen conversion ({len(checked)} networks: the variants' choices, "
            f"{len(SEEDS)} seeds each, with {len(TEST_ENCODE)} test encodings each) also ran its "
            f"test split on the Verilated core, "
            f"{int(sum(t['rtl_samples'] for t in checked)) * len(TEST_ENCODE):,} samples, equal "
            f"to the reference model with the cost model in every prediction, counter and cycle.")
    _finish(lines, out_md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("claim", choices=(*PENALTY_CLAIMS, "park_yoon", "conversion", "pareto"))
    ap.add_argument("--root", type=Path, default=Path("runs/evidence"))
    ap.add_argument("--markdown", type=Path, default=None)
    ap.add_argument("--figures", type=Path, default=Path("docs/figures"))
    ap.add_argument("--datasets", nargs="+", default=list(CONVERT_HIDDEN),
                    help="conversion: datasets (default: yinyang digits digits-deep)")
    ap.add_argument("--Ts", nargs="+", type=int, default=[8, 16, 32, 64],
                    help="conversion: time steps (default 8 16 32 64)")
    args = ap.parse_args()
    if args.claim == "pareto":
        pareto(args.root, args.figures)
    elif args.claim == "conversion":
        args.root.mkdir(parents=True, exist_ok=True)
        conversion(args.datasets, args.Ts, args.markdown, args.root / "conversion.json")
    elif args.claim == "park_yoon":
        park_yoon(args.root, args.markdown, args.figures)
    else:
        penalty_claim(args.claim, args.root, args.markdown, args.figures)


if __name__ == "__main__":
    main()
