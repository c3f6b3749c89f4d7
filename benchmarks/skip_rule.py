"""What the core spends on a run's network, per sample: cycles by phase, sweeps, membrane
traffic, the event floor and the modelled energy (docs/microarchitecture.md, "The skip rule,
measured").

The figures come from the reference model with the cycle-cost rule (``sim.costmodel``), which
the RTL equals on every sample and counter (``ttfs run``'s cosim step checks it); the energy from
``sim.energy`` (a model estimate, not silicon).

    .venv/bin/ttfs run --out /tmp/yy --to compile -q
    .venv/bin/python benchmarks/skip_rule.py /tmp/yy [--chunk-bounds 4 8 16]

``RUN`` is a run directory with ``qnet_<method>.json``, ``events.json`` and ``core.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from ttfs.sim.core import load_core
from ttfs.sim.costmodel import cost_hook, event_floor, summarize
from ttfs.sim.energy import ESTIMATE_NOTE, energy_report
from ttfs.sim.ir import load_events, load_qnet
from ttfs.sim.metrics import hardware_membrane_updates
from ttfs.sim.reference import run


def measure(qnet, events, core) -> dict:
    """Per-sample means of the core's cost on ``events``."""
    res = run(qnet, events, cost=cost_hook(core))
    c = [r.counters for r in res]
    cycles = np.array([r.cycles for r in res], dtype=np.float64)
    floor = np.array([event_floor(core, qnet, x) for x in c], dtype=np.float64)
    # swept chunks: sim.metrics counts the sweep ops' lanes from the same counters
    sweep_chunks = np.mean([hardware_membrane_updates(qnet, r, core) for r in res]) / core.lanes
    energy = energy_report(qnet, res, core=core)
    return {
        "samples": len(res),
        "phases": summarize(core, qnet, [r.activity for r in res]),
        "sweeps": float(np.mean([x.sweeps for x in c])),
        "sweep_chunks": float(sweep_chunks),
        "membrane_accesses": float(np.mean([x.membrane_reads + x.membrane_writes for x in c])),
        "weight_reads": float(np.mean([x.weight_reads for x in c])),
        "spikes": float(np.mean([sum(x.spikes_per_layer) for x in c])),
        "floor": float(floor.mean()),
        "ratio": (float((cycles / floor).mean()), float(np.median(cycles / floor)),
                  float((cycles / floor).max())),
        "energy_pj": energy["snn_pj"]["total"],
        "ann_pj": energy["dense_ann"]["total_pj"],
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run directory (ttfs run --to compile is enough)")
    ap.add_argument("--method", default="baseline", help="the qnet_<method>.json to use")
    ap.add_argument("--chunk-bounds", type=int, nargs="+", default=None, metavar="N",
                    help="also the run's core built with N chunk bounds (partial sweeps)")
    args = ap.parse_args(argv)
    qpath = args.run / f"qnet_{args.method}.json"
    for p in (qpath, args.run / "events.json", args.run / "core.json"):
        if not p.exists():
            print(f"skip_rule: {p} not found (run `ttfs run --out {args.run} --to compile`)",
                  file=sys.stderr)
            return 2
    qnet = load_qnet(qpath)
    events = load_events(args.run / "events.json", qnet)
    core = load_core(args.run / "core.json")
    for sw in [core.chunk_bounds, *(args.chunk_bounds or [])]:
        _report(qnet, events, dataclasses.replace(core, chunk_bounds=sw))
    return 0


def _report(qnet, events, core) -> None:
    m = measure(qnet, events, core)
    ph = m["phases"]
    print(f"{qnet.describe()}, {m['samples']} samples, core chunk_bounds {core.chunk_bounds}; "
          "per sample:")
    print(f"  cycles {ph['cycles']:.1f}: " + ", ".join(
        f"{k} {ph[k]:.1f}" for k in ("event_phase", "sweep", "scan", "drain", "emit",
                                     "sequencing", "readout")))
    print(f"  swept (step, layer) {m['sweeps']:.2f}, swept chunks {m['sweep_chunks']:.1f}, "
          f"spikes {m['spikes']:.1f}")
    print(f"  membrane reads + writes {m['membrane_accesses']:.1f}, weight reads "
          f"{m['weight_reads']:.1f}")
    print(f"  event floor {m['floor']:.1f}; cycles / floor: mean {m['ratio'][0]:.2f}, median "
          f"{m['ratio'][1]:.2f}, max {m['ratio'][2]:.2f}")
    print(f"  energy {m['energy_pj'] / 1000:.2f} nJ per inference, dense ANN "
          f"{m['ann_pj'] / 1000:.2f} nJ ({ESTIMATE_NOTE})")


if __name__ == "__main__":
    sys.exit(main())
