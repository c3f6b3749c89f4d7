"""The run report: ``report.json`` (everything, machine-readable) and ``report.md`` with PNG plots.

Figures come from the run's artifacts only (results files, synthesis reports, quantize
summary), never from re-running anything, so ``ttfs report RUN_DIR`` is cheap and repeatable.
Energy figures are model estimates (:mod:`ttfs.sim.energy`, ``docs/energy.md``), stated as such
in the report.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ttfs.flows.artifacts import read_events, read_json
from ttfs.sim.core import load_core
from ttfs.sim.costmodel import event_floor
from ttfs.sim.energy import CROSSOVER_FACTORS, crossover, energy_report
from ttfs.sim.metrics import summarise
from ttfs.sim.reference import Counters, SampleResult

__all__ = ["write_report", "draw_crossover", "pareto_front"]


def _results_from_json(doc: dict) -> list[SampleResult]:
    out = []
    for s in doc["samples"]:
        c = s["counters"]
        out.append(SampleResult(
            prediction=s["prediction"], valid=s["valid"], steps=s["steps"], cycles=s["cycles"],
            counters=Counters(c["input_events"], tuple(c["spikes_per_layer"]), c["sops"],
                              c["saturations"], c["weight_reads"], c["membrane_reads"],
                              c["membrane_writes"], c["sweeps"]),
        ))
    return out


def _plots(run, report: dict, figdir: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: dict[str, str] = {}
    figdir.mkdir(parents=True, exist_ok=True)

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(figdir / name, dpi=110)
        plt.close(fig)
        figs[name] = f"figures/{name}"

    hw = report.get("hardware")
    if hw:
        spl = hw["spikes_per_layer_mean"]
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.bar([f"layer {k}" for k in range(1, len(spl) + 1)], spl, color="#3b6ea8")
        ax.set_ylabel("spikes per sample (RTL counters)")
        ax.set_title("Hardware spikes per layer")
        save(fig, "spikes_per_layer.png")

        cyc = np.asarray(hw["cycles"], dtype=np.int64)
        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.hist(cyc, bins=min(40, max(5, len(np.unique(cyc)))), color="#5a9e6f")
        ax.set_xlabel("cycles per sample")
        ax.set_ylabel("samples")
        ax.set_title("Cycles per sample (RTL)")
        save(fig, "cycles_histogram.png")

        fig, ax = plt.subplots(figsize=(4.5, 3))
        ax.hist(hw["floor_ratio"], bins=30, color="#8c6bb1")
        ax.set_xlabel("cycles / event floor")
        ax.set_ylabel("samples")
        ax.set_title("Cycles over the events' own floor (RTL)", fontsize=10)
        save(fig, "floor_ratio.png")

    en = report.get("energy")
    if en:
        snn = en["snn_pj"]
        ann = en["dense_ann"]
        fig, ax = plt.subplots(figsize=(5, 3))
        labels = ["SNN (this core)", "dense ANN"]
        comp = [snn["compute"], ann["compute_pj"]]
        mem = [snn["memory"], ann["memory_pj"]]
        ax.bar(labels, comp, label="compute", color="#3b6ea8")
        ax.bar(labels, mem, bottom=comp, label="memory access", color="#c8a24a")
        ax.set_ylabel("pJ per inference (model estimate)")
        ax.set_title("Energy: SNN vs dense ANN")
        ax.legend()
        save(fig, "energy.png")

    xo = report.get("crossover")
    if xo:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
        draw_crossover(ax, xo["points"], "Energy vs activity (hidden thresholds x factor)")
        save(fig, "crossover.png")

    methods = report.get("methods", {})
    if len(methods) > 1:
        with_energy = all(m.get("energy_pj") is not None for m in methods.values())
        fig, axs = plt.subplots(1, 2 if with_energy else 1, figsize=(10 if with_energy else 5, 3.8),
                                squeeze=False)
        ax = axs[0][0]
        for name, m in methods.items():
            ax.scatter(m["hidden_spikes_per_sample"], 100 * m["integer_accuracy"], s=40)
            ax.annotate(name, (m["hidden_spikes_per_sample"], 100 * m["integer_accuracy"]),
                        textcoords="offset points", xytext=(4, 4), fontsize=8)
        ax.set_xlabel("hidden spikes per sample (hardware semantics)")
        ax.set_ylabel("integer accuracy (%)")
        ax.set_title("Accuracy vs hardware spikes, per method", fontsize=10)
        if with_energy:
            ax = axs[0][1]
            pts = [(m["energy_pj"] / 1000, 100 * m["integer_accuracy"]) for m in methods.values()]
            for name, (x, y) in zip(methods, pts, strict=True):
                ax.scatter(x, y, s=40)
                ax.annotate(name, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
            fx, fy = zip(*pareto_front(pts), strict=True)
            ax.step(fx, fy, where="post", color="k", lw=0.8, ls="--", label="Pareto front")
            ann = [m.get("dense_ann_energy_pj") for m in methods.values()]
            if ann[0] is not None and len(set(ann)) == 1:
                ax.axvline(ann[0] / 1000, color="#c8a24a", ls=":", label="dense ANN")
            ax.set_xlabel("nJ per inference on this core (model estimate, not silicon)")
            ax.set_ylabel("integer accuracy (%)")
            ax.set_title("Accuracy vs modelled energy, per method", fontsize=10)
            ax.legend(fontsize=8)
        save(fig, "methods.png")
    return figs


def pareto_front(pts: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats in both energy (lower) and accuracy (higher)."""
    front, best = [], -math.inf
    for x, y in sorted(pts, key=lambda p: (p[0], -p[1])):
        if y > best:
            front.append((x, y))
            best = y
    return front


def draw_crossover(ax, pts: list[dict], title: str) -> None:
    """One crossover panel on ``ax``: the SNN's energy per inference against hidden spikes per
    neuron (``sim.energy.crossover`` points), each point labelled with its threshold factor, the
    trained network marked, the dense ANN's energy as a line."""
    x = [p["spikes_per_neuron"] for p in pts]
    y = [p["snn_pj"] / 1000 for p in pts]
    ax.plot(x, y, "o-", color="#3b6ea8", label="SNN on this core (cost model)")
    for p, xi, yi in zip(pts, x, y, strict=True):
        ax.annotate(f"x{p['factor']:g}", (xi, yi), textcoords="offset points", xytext=(3, 3),
                    fontsize=7, color="#555555")
    tr = [p for p in pts if p["trained"]]
    ax.plot([p["spikes_per_neuron"] for p in tr], [p["snn_pj"] / 1000 for p in tr], "*",
            ms=15, color="#d1495b", label="trained network")
    ax.axhline(pts[0]["ann_pj"] / 1000, color="#c8a24a", ls="--", label="dense ANN")
    ax.set_xlabel("hidden spikes per neuron per inference")
    ax.set_ylabel("nJ per inference (model estimate)")
    ax.set_ylim(bottom=0)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)


def write_report(run) -> list[Path]:
    cfg = run.config
    method = cfg.methods[0]
    report: dict = {"format": "ttfs.report", "version": 1, "name": cfg.name,
                    "dataset": cfg.dataset, "methods_run": list(cfg.methods)}
    quant = read_json(run.path("quantize.json")) or {}
    report["methods"] = quant
    steps = run.manifest.get("steps", {})
    report["step_seconds"] = {k: v.get("seconds") for k, v in steps.items()}

    backend = cfg.cosim_backend
    rtl_doc = read_json(run.path(f"results_{backend}.json"))
    ref_doc = read_json(run.path("results_reference.json"))
    core = load_core(run.path("core.json")) if run.path("core.json").exists() else None
    fmax = None
    synth = {}
    for target in cfg.synth_targets:
        s = read_json(run.path(f"synth_{target}.json"))
        if s is not None:
            synth[target] = s
            if s.get("fmax_mhz"):
                fmax = s["fmax_mhz"] if fmax is None else min(fmax, s["fmax_mhz"])
    report["synthesis"] = synth

    if rtl_doc is not None and ref_doc is not None and core is not None:
        qnet, events = read_events(run)
        rtl = _results_from_json(rtl_doc)
        summary = summarise(qnet, rtl, events.labels, core)
        cycles = [r.cycles for r in rtl]
        floors = [event_floor(core, qnet, r.counters) for r in rtl]
        ratio = np.asarray(cycles, dtype=np.float64) / np.asarray(floors, dtype=np.float64)
        report["accuracy"] = {
            "float": quant.get(method, {}).get("float_accuracy"),
            "integer": ref_doc.get("accuracy"),
            "rtl": rtl_doc.get("accuracy"),
            "integer_equals_rtl": ref_doc.get("accuracy") == rtl_doc.get("accuracy"),
        }
        report["hardware"] = {
            "backend": backend,
            "samples": len(rtl),
            "spikes_per_layer_mean": summary["spikes_per_layer_mean"],
            "cycles": cycles,
            "cycles_mean": float(np.mean(cycles)),
            "cycles_max": int(np.max(cycles)),
            # the cycles the events themselves set (integrate ops, spikes, readout),
            # and the measured cycles over it, per sample
            "event_floor_mean": float(np.mean(floors)),
            "floor_ratio": ratio.tolist(),
            "floor_ratio_mean": float(ratio.mean()),
            "floor_ratio_median": float(np.median(ratio)),
            "floor_ratio_max": float(ratio.max()),
            # the slowest part that fits, and then each part
            "latency_us_mean": float(np.mean(cycles)) / fmax if fmax else None,
            "latency_us_max": float(np.max(cycles)) / fmax if fmax else None,
            "fmax_mhz": fmax,
            "latency_by_target": {
                target: {"fmax_mhz": s["fmax_mhz"],
                         "latency_us_mean": float(np.mean(cycles)) / s["fmax_mhz"],
                         "latency_us_max": float(np.max(cycles)) / s["fmax_mhz"]}
                for target, s in synth.items() if s.get("fmax_mhz")},
        }
        report["neurobench"] = {k: v for k, v in summary.items() if k != "definitions"}
        report["neurobench_definitions"] = summary["definitions"]
        report["energy"] = energy_report(qnet, rtl, core=core)
        report["crossover"] = _crossover(qnet, events, core)
    figs = _plots(run, report, run.path("figures"))
    report["figures"] = figs
    # the cycle list is long: keep it out of the JSON summary, the results file has it
    json_report = dict(report)
    if "hardware" in json_report:
        json_report["hardware"] = {k: v for k, v in report["hardware"].items()
                                   if k not in ("cycles", "floor_ratio")}
    run.path("report.json").write_text(json.dumps(json_report, indent=1) + "\n",
                                       encoding="utf-8")
    run.path("report.md").write_text(_markdown(report, cfg), encoding="utf-8")
    return [run.path("report.json"), run.path("report.md")] + [
        run.path(p) for p in figs.values()
    ]


#: samples the report's crossover sweep runs (the reference model with the cost model: about
#: 2 s for 1,000 Yin-Yang samples x 11 factors)
CROSSOVER_SAMPLES = 1000


def _crossover(qnet, events, core) -> dict:
    """The energy crossover of the run's network (``sim.energy.crossover``): reference model and
    cost model on the first :data:`CROSSOVER_SAMPLES` test samples, thresholds scaled."""
    if len(events) > CROSSOVER_SAMPLES:
        events = events.subset(range(CROSSOVER_SAMPLES))
    return {"samples": len(events), "factors": list(CROSSOVER_FACTORS),
            "points": crossover(qnet, events, core, CROSSOVER_FACTORS)}


def _fmt(x, spec: str = ".4f") -> str:
    return "n/a" if x is None else format(x, spec)


def _markdown(r: dict, cfg) -> str:
    lines = [f"# TTFS co-design report: {r['name']}", ""]
    lines.append(f"Dataset `{r['dataset']}`, methods {', '.join(r['methods_run'])}; "
                 f"hardware runs the `{cfg.methods[0]}` network.")
    lines.append("")
    acc = r.get("accuracy")
    if acc:
        lines += ["## Accuracy (test split)", "",
                  "| float (PyTorch) | integer (reference model) | RTL (cosimulation) |",
                  "|---|---|---|",
                  f"| {_fmt(acc['float'])} | {_fmt(acc['integer'])} | {_fmt(acc['rtl'])} |", "",
                  "Integer and RTL results are equal sample by sample (predictions, spikes, "
                  "counters and cycles): the cosim step stops with exit code 4 otherwise.", ""]
    hw = r.get("hardware")
    if hw:
        lines += ["## Hardware activity", "",
                  "- spikes per layer (mean per sample): "
                  + ", ".join(f"{x:.2f}" for x in hw["spikes_per_layer_mean"]),
                  f"- cycles per sample: mean {hw['cycles_mean']:.1f}, max {hw['cycles_max']}",
                  f"- event floor (integrate ops + spikes + readout): mean "
                  f"{hw['event_floor_mean']:.1f} cycles; measured / floor per sample: mean "
                  f"{hw['floor_ratio_mean']:.2f}, median {hw['floor_ratio_median']:.2f}, max "
                  f"{hw['floor_ratio_max']:.2f}"]
        by_target = hw.get("latency_by_target") or {}
        if not by_target:
            lines.append(f"- latency at the measured Fmax ({_fmt(hw['fmax_mhz'], '.1f')} MHz): "
                         f"mean {_fmt(hw['latency_us_mean'], '.2f')} us, max "
                         f"{_fmt(hw['latency_us_max'], '.2f')} us")
        for target, lat in by_target.items():
            lines.append(f"- latency on {target} at its measured Fmax "
                         f"({lat['fmax_mhz']:.1f} MHz): mean {lat['latency_us_mean']:.2f} us, "
                         f"max {lat['latency_us_max']:.2f} us")
        lines.append("")
        if "spikes_per_layer.png" in r["figures"]:
            lines += ["![spikes per layer](figures/spikes_per_layer.png) "
                      "![cycles](figures/cycles_histogram.png) "
                      "![cycles over the event floor](figures/floor_ratio.png)", ""]
    nb = r.get("neurobench")
    if nb:
        lines += ["## NeuroBench-style metrics (per sample)", "", "| metric | mean | min | max |",
                  "|---|---|---|---|"]
        for k, v in nb["per_sample"].items():
            lines.append(f"| {k} | {v['mean']:.4g} | {v['min']:.4g} | {v['max']:.4g} |")
        fp = nb.get("footprint", {})
        if fp:
            lines += ["", "Footprint: " + ", ".join(f"{k} {v}" for k, v in fp.items()), ""]
        lines.append("")
    en = r.get("energy")
    if en:
        s, a = en["snn_pj"], en["dense_ann"]
        lines += ["## Energy per inference (model estimate)", "",
                  f"{en['note']} Table: {en['table']['name']} ({en['table']['source']}).", "",
                  "| | compute (pJ) | memory (pJ) | total (pJ) |", "|---|---|---|---|",
                  f"| SNN on this core | {s['compute']:.1f} | {s['memory']:.1f} | "
                  f"{s['total']:.1f} |",
                  f"| dense ANN ({a['macs']} MACs) | {a['compute_pj']:.1f} | "
                  f"{a['memory_pj']:.1f} | {a['total_pj']:.1f} |", "",
                  f"Counts used: {en['counts']}. Memories priced by their size "
                  "(docs/energy.md): "
                  + ", ".join(f"{k} {m['bytes']:g} B ({m['pj_per_64bit']:.2f} pJ per 64 bits)"
                              for k, m in en.get("memories", {}).items())
                  + f"; the dense ANN reads every weight once ({a['weight_memory_pj']:.1f} pJ) "
                  f"and each layer's inputs once, writes its outputs once "
                  f"({a['activation_memory_pj']:.1f} pJ).", ""]
        if "energy.png" in r["figures"]:
            lines += ["![energy](figures/energy.png)", ""]
    xo = r.get("crossover")
    if xo:
        lines += ["## Energy vs activity (model estimate, not silicon)", "",
                  f"Every hidden threshold table scaled by a factor (entries that block firing "
                  f"kept); reference model with the cost model's hardware counters on the first "
                  f"{xo['samples']} test samples; factor 1 is the trained network.", "",
                  "| factor | hidden spikes/neuron | SOPs/synapse | cycles | SNN pJ | dense ANN pJ "
                  "| SNN/ANN | accuracy |", "|---|---|---|---|---|---|---|---|"]
        for p in xo["points"]:
            mark = " (trained)" if p["trained"] else ""
            lines.append(f"| {p['factor']:g}{mark} | {p['spikes_per_neuron']:.4f} | "
                         f"{p['sops_per_synapse']:.4f} | {p['cycles']:.1f} | "
                         f"{p['snn_pj']:.1f} | {p['ann_pj']:.1f} | {p['snn_over_ann']:.2f} | "
                         f"{_fmt(p['accuracy'])} |")
        lines.append("")
        if "crossover.png" in r["figures"]:
            lines += ["![crossover](figures/crossover.png)", ""]
    syn = r.get("synthesis")
    if syn:
        lines += ["## Resources and Fmax", "", "| target | LUT/LC | FF | BRAM | DSP | Fmax (MHz) "
                  "| fits |", "|---|---|---|---|---|---|---|"]
        for t, s in syn.items():
            brams = ", ".join(f"{v} {k}" for k, v in (s.get("brams") or {}).items()) or "0"
            lines.append(f"| {t} | {s.get('luts')} | {s.get('ffs')} | {brams} | "
                         f"{s.get('dsps')} | {_fmt(s.get('fmax_mhz'), '.1f')} | "
                         f"{'yes' if s.get('fits') else 'no: ' + str(s.get('message'))} |")
        lines.append("")
    methods = r.get("methods", {})
    if methods:
        lines += ["## Methods", "", "Each method's integer network on the test split (the "
                  "reference model with the core's cost model); energy: model estimate, not "
                  "silicon.", "", "| method | network | float acc | integer acc | integer "
                  "acc (validation) | hidden spikes/sample | SOPs/sample | cycles/sample | "
                  "membrane r+w/sample | energy pJ/inference |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, m in methods.items():
            lines.append(f"| {name} | {m['network']} | {_fmt(m['float_accuracy'])} | "
                         f"{_fmt(m['integer_accuracy'])} | "
                         f"{_fmt(m.get('validation_accuracy'))} | "
                         f"{m['hidden_spikes_per_sample']:.2f} "
                         f"| {m['sops_per_sample']:.1f} | {m['cycles_per_sample']:.1f} | "
                         f"{_fmt(m.get('membrane_accesses_per_sample'), '.1f')} | "
                         f"{_fmt(m.get('energy_pj'), '.0f')} |")
        lines.append("")
        if "methods.png" in r["figures"]:
            lines += ["![methods](figures/methods.png)", ""]
    if r.get("step_seconds"):
        lines += ["## Time per step", "", "| step | seconds |", "|---|---|"]
        for k, v in r["step_seconds"].items():
            lines.append(f"| {k} | {_fmt(v, '.1f')} |")
        lines.append("")
    return "\n".join(lines)
