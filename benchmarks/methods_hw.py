"""What the methods save in hardware: baseline vs the count penalty on the default Yin-Yang network.

Issue 15, goal 4: on the default network, a count-penalty network at a point within 1 point of
baseline accuracy must show at least half of its relative spike cut as a relative cut in modelled
energy (model estimate, not silicon) and in cycles.

The networks are those of the penalty comparison's sweeps (``benchmarks/penalties.py``, whose
docstring lists the commands; run them first): the baseline and the count penalty at the lambda
that comparison chose on validation (the largest swept lambda whose validation accuracy, seed 0,
is within 1 point of the baseline's), seeds 0-2. ``--extra`` adds the next-lower swept lambda as
a second row that the protocol did not choose; it never changes the verdict.

For each network, the point's own run directory holds what the flow made (``flows/steps.py``):
the integer network ``qnet_<method>.json`` (8-bit weights, 16-bit potentials) and the test
split's ``events.json`` (1,000 samples). This script runs them on the core
``CoreConfig.for_network(qnet, lanes=8)`` through ``sim.reference.run(qnet, events,
cost=sim.costmodel.cost_hook(core))`` (the cost model's counters and cycles, which the RTL equals:
the sweep's cosim step checked it), then ``sim.energy.energy_report(qnet, results, core=core)``
and ``sim.costmodel.summarize`` (where the cycles go), and caches the figures in the point's
``hw.json``.

    .venv/bin/python benchmarks/methods_hw.py [--root runs/penalties] [--seeds 0 1 2] [--extra]
        [--chunk-bounds N]

It prints the tables (markdown) and writes ``runs/methods_hw/table.json`` (and ``table.md``).
The report names the cost and energy model it loaded and whether it equals the repository's
HEAD; while others edit ``sim/`` or ``hw/``, measure a committed snapshot instead (the editable
install yields to ``PYTHONPATH``):

    git archive --prefix=ttfs/ HEAD sim hw verify flows train | tar -x -C /tmp/ttfs_head
    PYTHONPATH=/tmp/ttfs_head .venv/bin/python benchmarks/methods_hw.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import penalties  # noqa: E402  (benchmarks/ is not a package)
from penalties import mean_std  # noqa: E402

ROOT = Path("runs/methods_hw")
#: chunk bounds of the core the networks are measured on (``--chunk-bounds``; 0: the core
#: ``ttfs compile`` builds, whole-layer sweeps)
CHUNK_BOUNDS = 0
NOTE = "model estimate, not silicon"
#: bump when ``measure`` changes: older ``hw.json`` caches are recomputed
CACHE_VERSION = 3
#: per-sample figures compared, in table order: key -> label
FIELDS = {
    "int_acc": "test accuracy (integer) %",
    "hidden_spikes": "hidden spikes/sample",
    "spikes": "spikes/sample (all layers)",
    "sops": "SOPs/sample",
    "cycles": "cycles/sample",
    "membrane_accesses": "membrane reads+writes/sample",
    "weight_reads": "weight reads/sample",
    "energy_pj": f"energy pJ/inference ({NOTE})",
}


def rows(runs: dict, extra: bool) -> list[tuple[str, float | None]]:
    """The baseline, the count penalty at its chosen lambda and, with ``extra``, the next-lower."""
    chosen = penalties.choose(runs, "count")
    if chosen is None:
        sys.exit("methods_hw: the penalty comparison's stage 1 has not finished "
                 "(benchmarks/penalties.py lists the commands)")
    out = [("baseline", None), ("count", chosen)]
    if extra and penalties.lower(runs, "count") is not None:
        out.append(("count", penalties.lower(runs, "count")))
    return out


# -- report ------------------------------------------------------------------------------------


def code_identity() -> dict:
    """Which cost and energy model the figures come from: the files ``ttfs.sim`` and ``ttfs.hw``
    load from, the repository's HEAD, and whether the loaded files equal HEAD's (others may be
    editing the working tree; see the module docstring for measuring a committed snapshot)."""
    import hashlib
    import subprocess

    import ttfs.hw.core
    import ttfs.sim.costmodel
    import ttfs.sim.energy

    repo = Path(__file__).resolve().parent.parent
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    out = {"repo_head": head, "files": {}}
    for mod, rel in ((ttfs.sim.costmodel, "sim/costmodel.py"), (ttfs.sim.energy, "sim/energy.py"),
                     (ttfs.hw.core, "hw/core.py")):
        text = Path(mod.__file__).read_bytes()
        at_head = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"],
                                 capture_output=True).stdout
        out["files"][rel] = {"loaded_from": mod.__file__,
                             "sha1": hashlib.sha1(text).hexdigest(),
                             "equals_head": text == at_head}
    out["all_equal_head"] = all(f["equals_head"] for f in out["files"].values())
    return out


def _model_key() -> str:
    ci = code_identity()
    return f"{CACHE_VERSION}:" + ",".join(f["sha1"] for f in ci["files"].values())


def silenced(qnet):
    """``qnet`` with its first layer's weights at 0: the same events, tables and core, no hidden
    spike (one hidden layer; its thresholds are all >= 1)."""
    import dataclasses

    layers = list(qnet.layers)
    assert len(layers) == 2 and int(np.min(layers[0].threshold)) >= 1
    layers[0] = dataclasses.replace(layers[0], weights=np.zeros_like(layers[0].weights))
    return dataclasses.replace(qnet, layers=tuple(layers))


def measure(point: dict) -> dict:
    """Hardware figures of one sweep point's network on the test split (cached in its
    ``hw.json``)."""
    from ttfs.sim.core import CoreConfig
    from ttfs.sim.costmodel import cost_hook, summarize
    from ttfs.sim.energy import energy_report
    from ttfs.sim.ir import load_events, load_qnet
    from ttfs.sim.reference import run

    d = Path(point["_dir"])
    name = point["point"]
    qpath = d / f"qnet_{point['method']}.json"
    cache = d / ("hw.json" if not CHUNK_BOUNDS else f"hw_cb{CHUNK_BOUNDS}.json")
    if cache.exists() and cache.stat().st_mtime >= qpath.stat().st_mtime:
        fig = json.loads(cache.read_text())
        if fig.get("cache_key") == _model_key():
            return fig
    qnet = load_qnet(qpath)
    events = load_events(d / "events.json", qnet)
    y = events.labels
    core = CoreConfig.for_network(qnet, lanes=8, chunk_bounds=CHUNK_BOUNDS)
    core.check_fits(qnet)
    res = run(qnet, events, cost=cost_hook(core))
    pred = np.array([r.prediction if r.valid else -1 for r in res])
    spl = np.array([r.counters.spikes_per_layer for r in res], dtype=np.float64)
    hw = {k: np.array([getattr(r.counters, k) for r in res], dtype=np.float64)
          for k in ("sops", "weight_reads", "membrane_reads", "membrane_writes", "sweeps")}
    rep = energy_report(qnet, res, core=core)
    fig = {
        "name": name,
        "cache_key": _model_key(),
        "network": qnet.describe(),
        "core": {"lanes": core.lanes, "max_neurons": core.max_neurons,
                 "weight_depth": core.weight_depth, "chunk_bounds": core.chunk_bounds},
        "samples": len(res),
        "time_steps": qnet.time_steps,
        "int_acc": 100 * float(np.mean(pred == np.asarray(y))),
        "hidden_spikes": float(spl[:, :-1].sum(axis=1).mean()),
        "spikes": float(spl.sum(axis=1).mean()),
        "sops": float(hw["sops"].mean()),
        "cycles": float(np.mean([r.cycles for r in res])),
        "membrane_reads": float(hw["membrane_reads"].mean()),
        "membrane_writes": float(hw["membrane_writes"].mean()),
        "membrane_accesses": float((hw["membrane_reads"] + hw["membrane_writes"]).mean()),
        "weight_reads": float(hw["weight_reads"].mean()),
        "sweeps": float(hw["sweeps"].mean()),
        # steps in which no layer has an event and no neuron fires (jumped, or one cycle each;
        # sim.costmodel)
        "empty_steps": float(np.mean([
            int(np.sum((r.activity.events_in.sum(axis=1) == 0)
                       & (r.activity.spikes.sum(axis=1) == 0))) for r in res])),
        "energy_pj": rep["snn_pj"]["total"],
        "energy": {"note": rep["note"], "snn_pj": rep["snn_pj"], "ops": rep["ops"],
                   "dense_ann_pj": rep["dense_ann"]["total_pj"]},
        "cycle_breakdown": summarize(core, qnet, [r.activity for r in res]),
    }
    # the spike-independent part: the same network, tables and events with the first layer's
    # weights at 0, so no hidden neuron fires (every threshold of the trained table is >= 1) and
    # the core does everything a sample costs without hidden spikes
    quiet = silenced(qnet)
    qres = run(quiet, events, cost=cost_hook(core))
    qrep = energy_report(quiet, qres, core=core)
    qspl = np.array([r.counters.spikes_per_layer for r in qres], dtype=np.float64)
    fig["floor"] = {
        "what": "first layer's weights set to 0: no hidden spike, tables and events unchanged",
        "hidden_spikes": float(qspl[:, :-1].sum(axis=1).mean()),
        "cycles": float(np.mean([r.cycles for r in qres])),
        "membrane_accesses": float(np.mean([r.counters.membrane_reads
                                            + r.counters.membrane_writes for r in qres])),
        "energy_pj": qrep["snn_pj"]["total"],
        "cycle_breakdown": summarize(core, quiet, [r.activity for r in qres]),
    }
    fig["val_acc"] = 100 * point["validation_accuracy"]
    cache.write_text(json.dumps(fig, indent=1) + "\n")
    return fig


def _fmt(key: str) -> str:
    return ".1f" if key in ("int_acc", "hidden_spikes", "spikes") else ".0f"


def report(root: Path, seeds, extra: bool) -> dict:
    runs = penalties.load(root)
    have: dict[tuple, dict[int, dict]] = {}
    missing = []
    for row, lam in rows(runs, extra):
        for s in seeds:
            if (row, lam, s) in runs:
                have.setdefault((row, lam), {})[s] = measure(runs[(row, lam, s)])
            else:
                missing.append(f"{row} lambda {lam} seed {s}")
    base = have.get(("baseline", None), {})
    lines: list[str] = []
    say = lines.append
    incomplete = bool(missing)
    if incomplete:
        say(f"**INCOMPLETE**: not in the sweeps yet: {', '.join(missing)}\n")

    code = code_identity()
    head = code["repo_head"][:7]
    state = (f"as committed at {head}" if code["all_equal_head"]
             else f"NOT equal to HEAD {head} (uncommitted edits loaded)")
    where = Path(code["files"]["sim/costmodel.py"]["loaded_from"]).parent.parent
    say(f"Cost and energy model: `sim/costmodel.py`, `sim/energy.py`, `hw/core.py` {state} "
        f"(loaded from `{where}`).\n")
    say(f"Core: `CoreConfig.for_network(qnet, lanes=8, chunk_bounds={CHUNK_BOUNDS})` ("
        + ("whole-layer sweeps, the core `ttfs compile` builds" if not CHUNK_BOUNDS
           else f"partial sweeps, {CHUNK_BOUNDS} chunk bounds scanned a cycle") + ").\n")
    say(f"#### Per network (test split, {next(iter(base.values()))['samples'] if base else '?'}"
        f" samples; cost model = RTL counters; energy: {NOTE})\n")
    say("| network | seed | val acc | test acc | hidden spikes | spikes | SOPs | cycles | "
        "membrane r+w | weight reads | sweeps | energy pJ (" + NOTE + ") |")
    say("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (row, lam), per in have.items():
        label = row if lam is None else f"{row} lambda {lam:g}"
        for s, f in sorted(per.items()):
            va = "-" if f.get("val_acc") is None else f"{f['val_acc']:.1f}%"
            say(f"| {label} | {s} | {va} | {f['int_acc']:.1f}% | {f['hidden_spikes']:.1f} | "
                f"{f['spikes']:.1f} | {f['sops']:.0f} | {f['cycles']:.0f} | "
                f"{f['membrane_accesses']:.0f} | {f['weight_reads']:.0f} | {f['sweeps']:.1f} | "
                f"{f['energy_pj']:.0f} |")

    table: dict = {"note": NOTE, "seeds": list(seeds), "incomplete": incomplete, "code": code,
                   "missing": missing, "chosen_lambda": penalties.choose(runs, "count"), "rows": {},
                   "checks": {}}
    for (row, lam), per in have.items():
        if row == "baseline":
            continue
        label = f"{row} lambda {lam:g}"
        paired = [s for s in per if s in base]
        say(f"\n#### Baseline vs {label} (seeds {', '.join(map(str, sorted(paired)))}; mean ± "
            f"std over seeds; change per seed against the same seed's baseline)\n")
        say(f"| figure | baseline | {label} | change |")
        say("|---|---|---|---|")
        rel: dict[str, np.ndarray] = {}
        rowj: dict = {"lambda": lam, "seeds": sorted(paired), "figures": {}}
        for key, lab in FIELDS.items():
            b = np.array([base[s][key] for s in paired])
            c = np.array([per[s][key] for s in paired])
            if key == "int_acc":
                d = c - b
                ch = f"{mean_std(d, '+.1f')} pt"
            else:
                d = 100 * (c / b - 1)
                rel[key] = d
                ch = f"{mean_std(d, '+.1f')}%"
            say(f"| {lab} | {mean_std(b, _fmt(key))} | {mean_std(c, _fmt(key))} | {ch} |")
            rowj["figures"][key] = {"baseline": b.tolist(), "penalty": c.tolist(),
                                    "change": d.tolist(),
                                    "change_unit": "points" if key == "int_acc" else "%"}
        va_b = [base[s].get("val_acc") for s in paired]
        va_c = [per[s].get("val_acc") for s in paired]
        if None not in va_b and None not in va_c:
            dv = np.array(va_c) - np.array(va_b)
            say(f"| validation accuracy (integer) % | {mean_std(va_b, '.1f')} | "
                f"{mean_std(va_c, '.1f')} | "
                f"{mean_std(dv, '+.1f')} pt |")
            rowj["figures"]["val_acc"] = {"baseline": va_b, "penalty": va_c,
                                          "change": dv.tolist(), "change_unit": "points"}
        # the check: relative cut in energy and in cycles >= half the relative spike cut
        spike_cut = -rel["spikes"]
        checks = {}
        for key in ("energy_pj", "cycles"):
            cut = -rel[key]
            ratio = cut / spike_cut
            per_seed = bool(np.all(ratio >= 0.5))
            on_mean = bool(cut.mean() >= 0.5 * spike_cut.mean())
            checks[key] = {"cut_pct": cut.tolist(), "spike_cut_pct": spike_cut.tolist(),
                           "ratio": ratio.tolist(), "holds_on_mean": on_mean,
                           "holds_every_seed": per_seed}
        hid_cut = -rel["hidden_spikes"]
        say(f"\n**Check** (relative cuts, mean over seeds; spikes = all layers' spikes, "
            f"{spike_cut.mean():.1f}% cut; hidden spikes alone {hid_cut.mean():.1f}%):\n")
        for key, lab in (("energy_pj", f"energy ({NOTE})"), ("cycles", "cycles")):
            c = checks[key]
            say(f"* {lab}: cut {np.mean(c['cut_pct']):.1f}% = "
                f"{np.mean(c['cut_pct']) / spike_cut.mean():.3f} x the spike cut "
                f"(per seed {', '.join(f'{r:.3f}' for r in c['ratio'])}) -> "
                f"**{'holds' if c['holds_on_mean'] else 'does not hold'}** on the mean, "
                f"{'holds' if c['holds_every_seed'] else 'does not hold'} on every seed")
        # with the hidden-spike cut as the reference too (stricter: it is the larger cut)
        for key in ("energy_pj", "cycles"):
            checks[key]["ratio_vs_hidden"] = (-rel[key] / hid_cut).tolist()
        say(f"* against the hidden-spike cut instead: energy "
            f"{np.mean(-rel['energy_pj']) / hid_cut.mean():.3f} x, cycles "
            f"{np.mean(-rel['cycles']) / hid_cut.mean():.3f} x")
        # where the cycles go
        say("\n**Cycles by phase** (`sim.costmodel.summarize`, mean per sample over seeds):\n")
        phases = ("event_phase", "sweep", "drain", "emit", "sequencing", "readout")
        say("| phase | baseline | " + label + " | change (cycles) | spike-independent floor "
            "(below; baseline's network) |")
        say("|---|---|---|---|---|")
        bd = {}
        for ph in phases + ("cycles",):
            b = np.array([base[s]["cycle_breakdown"][ph] for s in paired])
            c = np.array([per[s]["cycle_breakdown"][ph] for s in paired])
            f0 = np.array([base[s]["floor"]["cycle_breakdown"][ph] for s in paired])
            bd[ph] = {"baseline": b.tolist(), "penalty": c.tolist(), "floor": f0.tolist()}
            say(f"| {ph} | {b.mean():.1f} | {c.mean():.1f} | {c.mean() - b.mean():+.1f} | "
                f"{f0.mean():.1f} |")
        sw_b = np.array([base[s]["sweeps"] for s in paired])
        sw_c = np.array([per[s]["sweeps"] for s in paired])
        eb_ = np.array([base[s]["empty_steps"] for s in paired])
        ec_ = np.array([per[s]["empty_steps"] for s in paired])
        say(f"\nSteps without any event or spike: {eb_.mean():.1f} -> {ec_.mean():.1f} of "
            f"{per[paired[0]]['time_steps']} per sample (the core jumps those where no layer can "
            "fire before the next event, and spends a cycle on each of the others).")
        rowj["empty_steps"] = {"baseline": eb_.tolist(), "penalty": ec_.tolist()}
        say(f"Swept (step, layer) pairs per sample: {sw_b.mean():.2f} -> {sw_c.mean():.2f} "
            f"({mean_std(100 * (sw_c / sw_b - 1), '+.1f')}%); hidden spikes per swept step "
            f"{(np.array([base[s]['hidden_spikes'] for s in paired]) / sw_b).mean():.2f} -> "
            f"{(np.array([per[s]['hidden_spikes'] for s in paired]) / sw_c).mean():.2f}.")
        rowj["sweeps"] = {"baseline": sw_b.tolist(), "penalty": sw_c.tolist()}
        fb = np.array([base[s]["floor"]["cycles"] for s in paired])
        fc = np.array([per[s]["floor"]["cycles"] for s in paired])
        eb = np.array([base[s]["floor"]["energy_pj"] for s in paired])
        ec = np.array([per[s]["floor"]["energy_pj"] for s in paired])
        hb = np.array([base[s]["floor"]["hidden_spikes"] for s in paired])
        hc = np.array([per[s]["floor"]["hidden_spikes"] for s in paired])
        cyb = np.array([base[s]["cycles"] for s in paired])
        enb = np.array([base[s]["energy_pj"] for s in paired])
        say(f"\n**Spike-independent floor** (the same networks, tables and events with the "
            f"first layer's weights at 0: {hb.mean():.2f} / {hc.mean():.2f} hidden spikes per "
            f"sample): cycles {fb.mean():.1f} / {fc.mean():.1f}, energy {eb.mean():.0f} / "
            f"{ec.mean():.0f} pJ ({NOTE}), baseline / {label}. Of the baseline's cost, "
            f"{100 * (1 - fb / cyb).mean():.1f}% of the cycles and "
            f"{100 * (1 - eb / enb).mean():.1f}% of the energy depend on the hidden spikes: "
            f"the most that any spike cut can remove.")
        rowj["floor"] = {"cycles": {"baseline": fb.tolist(), "penalty": fc.tolist()},
                         "energy_pj": {"baseline": eb.tolist(), "penalty": ec.tolist()},
                         "hidden_spikes": {"baseline": hb.tolist(), "penalty": hc.tolist()},
                         "variable_fraction_cycles": (1 - fb / cyb).tolist(),
                         "variable_fraction_energy": (1 - eb / enb).tolist()}
        say("\n**Energy by part** (pJ per inference, mean over seeds; " + NOTE + "):\n")
        say("| part | baseline | " + label + " | change |")
        say("|---|---|---|---|")
        parts = ("synaptic", "membrane_update", "weight_memory", "membrane_memory",
                 "table_memory", "queue_memory", "total")
        eparts = {}
        for p in parts:
            b = np.array([base[s]["energy"]["snn_pj"][p] for s in paired])
            c = np.array([per[s]["energy"]["snn_pj"][p] for s in paired])
            eparts[p] = {"baseline": b.tolist(), "penalty": c.tolist()}
            say(f"| {p} | {b.mean():.1f} | {c.mean():.1f} | {c.mean() - b.mean():+.1f} |")
        rowj["checks"] = checks
        rowj["cycle_breakdown"] = bd
        rowj["energy_parts_pj"] = eparts
        table["rows"][label] = rowj
    table["networks"] = {f["name"]: f for per in have.values() for f in per.values()}
    text = "\n".join(lines) + "\n"
    print(text)
    ROOT.mkdir(parents=True, exist_ok=True)
    (ROOT / "table.json").write_text(json.dumps(table, indent=1) + "\n")
    (ROOT / "table.md").write_text(text)
    print(f"wrote {ROOT / 'table.json'}, {ROOT / 'table.md'}")
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("runs/penalties"),
                    help="the penalty comparison's sweeps (default runs/penalties)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--extra", action="store_true",
                    help="also the next-lower swept lambda (not the protocol's choice)")
    ap.add_argument("--chunk-bounds", type=int, default=0, metavar="N",
                    help="measure on the core built with N chunk bounds (partial sweeps); "
                         "writes runs/methods_hw_cbN")
    args = ap.parse_args()
    global CHUNK_BOUNDS, ROOT
    CHUNK_BOUNDS = args.chunk_bounds
    if CHUNK_BOUNDS:
        ROOT = Path(f"runs/methods_hw_cb{CHUNK_BOUNDS}")
    report(args.root, args.seeds, args.extra)


if __name__ == "__main__":
    main()
