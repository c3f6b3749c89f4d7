"""The crossover plot: modelled energy per inference of this core against the dense ANN's, as the
activity of the trained network varies (model estimates, not silicon).

For each network, :func:`ttfs.sim.energy.crossover` scales the threshold tables of the hidden
layers by factors (default 1/16 .. 64; factor 1 is the trained network), runs the reference model
with the cost model's hardware counters (``ttfs.sim.costmodel.cost_hook(core)``, which the RTL
matches exactly) on the test events, and prices the counters with
``ttfs.sim.energy.energy_report``; the dense ANN is priced by the same memory-size rule
(``docs/energy.md``). The SNN's energy therefore follows the cost model: change the core, and
this plot follows.

    .venv/bin/ttfs run --out /tmp/yy --to compile -q
    .venv/bin/ttfs train --dataset digits --method baseline -o /tmp/digits_model
    .venv/bin/ttfs quantize /tmp/digits_model -o /tmp/digits_qnet.json
    .venv/bin/ttfs encode /tmp/digits_model --dataset digits --split test -o /tmp/digits_events.json
    .venv/bin/python benchmarks/crossover.py \\
        --case yinyang:/tmp/yy/qnet_baseline.json:/tmp/yy/events.json:/tmp/yy/core.json \\
        --case digits:/tmp/digits_qnet.json:/tmp/digits_events.json \\
        --png docs/figures/crossover.png --json crossover.json

A case is ``NAME:QNET:EVENTS[:CORE]``; without a core file, ``CoreConfig.for_network(qnet,
lanes=8)`` (the core ``ttfs compile`` builds by default).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ttfs.flows.report import draw_crossover
from ttfs.sim.core import CoreConfig, load_core
from ttfs.sim.energy import CROSSOVER_FACTORS, ESTIMATE_NOTE, crossover
from ttfs.sim.ir import load_events, load_qnet

__all__ = ["crossover_case", "format_table", "plot", "main"]


def crossover_case(qnet, events, core=None, factors=CROSSOVER_FACTORS, limit=None) -> list[dict]:
    """:func:`ttfs.sim.energy.crossover` on the first ``limit`` samples (all when ``None``), on
    ``core`` or the default core for the network."""
    if core is None:
        core = CoreConfig.for_network(qnet, lanes=8)
    if limit is not None and limit < len(events):
        events = events.subset(range(limit))
    return crossover(qnet, events, core, factors)


def format_table(name: str, points: list[dict]) -> str:
    lines = [f"{name} (pJ per inference, model estimate, not silicon)",
             f"{'factor':>8} {'spk/neuron':>10} {'SOP/syn':>8} {'cycles':>8} {'SNN pJ':>10} "
             f"{'ANN pJ':>9} {'SNN/ANN':>8} {'acc':>6}"]
    for p in points:
        acc = "n/a" if p["accuracy"] is None else f"{p['accuracy']:.3f}"
        lines.append(f"{p['factor']:>8.4g} {p['spikes_per_neuron']:>10.4f} "
                     f"{p['sops_per_synapse']:>8.4f} {p['cycles']:>8.1f} {p['snn_pj']:>10.1f} "
                     f"{p['ann_pj']:>9.1f} {p['snn_over_ann']:>8.3f} {acc:>6}"
                     + ("  <- trained" if p["trained"] else ""))
    return "\n".join(lines)


def plot(cases: dict[str, list[dict]], path: str | Path) -> None:
    """One panel per network: SNN energy against hidden spikes per neuron, the dense ANN's as a
    line, the trained network marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(cases)
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.8), squeeze=False)
    for ax, (name, pts) in zip(axes[0], cases.items(), strict=True):
        draw_crossover(ax, pts, f"{name}: thresholds x factor")
    fig.suptitle("Energy per inference vs activity: model estimate, not silicon", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _case(text: str):
    parts = text.split(":")
    if len(parts) not in (3, 4):
        raise SystemExit(f"--case must be NAME:QNET:EVENTS[:CORE], not {text!r}")
    qnet = load_qnet(parts[1])
    events = load_events(parts[2], qnet)
    core = load_core(parts[3]) if len(parts) == 4 else None
    return parts[0], qnet, events, core


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", action="append", required=True, help="NAME:QNET:EVENTS[:CORE]")
    ap.add_argument("--factors", type=float, nargs="+", default=list(CROSSOVER_FACTORS))
    ap.add_argument("--limit", type=int, default=None, help="first N samples only")
    ap.add_argument("--png", default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    cases = {}
    for text in args.case:
        name, qnet, events, core = _case(text)
        t0 = time.perf_counter()
        pts = crossover_case(qnet, events, core, args.factors, args.limit)
        cases[name] = pts
        print(format_table(f"{name}: {qnet.describe()}, {min(len(events), args.limit or 10**9)} "
                           f"samples, {time.perf_counter() - t0:.1f} s", pts))
        print()
    print(ESTIMATE_NOTE)
    if args.json:
        Path(args.json).write_text(json.dumps({"note": ESTIMATE_NOTE, "cases": cases}, indent=1)
                                   + "\n", encoding="utf-8")
    if args.png:
        plot(cases, args.png)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
