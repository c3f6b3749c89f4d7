"""Resources and Fmax of a Yin-Yang-size core on iCE40 UP5K and ECP5-25k (3 seeds each).

Core (``--core``): ``general`` (default), ``P`` lanes (8 and 16), 8-bit weights, 16-bit
potentials, 8-bit kernel, 128 neurons, 4 layers, 64 steps, 256 weight rows (a 5-120-3 network
needs 195 rows at P = 8 and 135 at P = 16), with the leak datapath and the subtract reset;
``fitted``, the core ``ttfs run`` builds for its default Yin-Yang network (5-120-3, T = 80,
``fire_once``, no leak): 7-bit kernel, 2 layers, 128 steps, 256 rows, neither option;
``fitted-nospike``, the same without a spiking output layer (``spiking_output=False``).
``--chunk-bounds N`` builds any of them with ``N`` chunk bounds (partial sweeps,
``CoreConfig.chunk_bounds``).

For each part and lane count it prints, per seed, LUTs/LCs, FFs, block RAMs, DSPs and Fmax;
then the best and median Fmax against the goal (40 MHz UP5K, 100 MHz ECP5; met when the median
seed reaches it) and the critical path nextpnr reports for the best seed (the nets it crosses,
with their Verilog source lines, so the core can be pipelined where it matters).

Usage: ``.venv/bin/python benchmarks/bench_synth.py [--lanes 8 16] [--targets ice40-up5k
ecp5-25k] [--seeds 1 2 3] [--core general|fitted|fitted-nospike] [--chunk-bounds N]
[--json OUT.json]``
"""

from __future__ import annotations

import argparse
import json
import time

from ttfs.hw.synth import TARGETS, capacity_from_report, synth_seeds
from ttfs.sim.core import CoreConfig, chunks


def config(lanes: int, kind: str = "general", chunk_bounds: int = 0) -> CoreConfig:
    if kind in ("fitted", "fitted-nospike"):
        return CoreConfig(lanes=lanes, weight_bits=8, potential_bits=16, kernel_bits=7,
                          max_neurons=128, max_layers=2, max_time_steps=128, weight_depth=256,
                          leak=False, subtract=False, spiking_output=kind == "fitted",
                          chunk_bounds=chunk_bounds)
    return CoreConfig(lanes=lanes, weight_bits=8, potential_bits=16, kernel_bits=8,
                      max_neurons=128, max_layers=4, max_time_steps=64, weight_depth=256,
                      chunk_bounds=chunk_bounds)


def largest_hidden(rows: int, lanes: int, n_in: int = 5, n_out: int = 3) -> int:
    """The widest hidden layer H of an n_in-H-n_out network whose weights fit ``rows`` rows."""
    h = 0
    while n_in * chunks(h + 1, lanes) + (h + 1) * chunks(n_out, lanes) <= rows:
        h += 1
    return h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lanes", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--targets", nargs="+", default=["ice40-up5k", "ecp5-25k"],
                    choices=sorted(TARGETS))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--core", choices=("general", "fitted", "fitted-nospike"), default="general")
    ap.add_argument("--chunk-bounds", type=int, default=0, metavar="N",
                    help="chunk bounds compared per cycle (0: whole-layer sweeps)")
    ap.add_argument("--json", metavar="OUT.json")
    args = ap.parse_args()
    out = []
    for lanes in args.lanes:
        cfg = config(lanes, args.core, args.chunk_bounds)
        for target in args.targets:
            t0 = time.perf_counter()
            res = synth_seeds(cfg, target, seeds=args.seeds)
            dt = time.perf_counter() - t0
            goal = TARGETS[target].freq_goal
            print(f"\n== P={lanes} on {target} ({TARGETS[target].device}); "
                  f"{len(args.seeds)} seeds in {dt:.0f} s")
            for r in res["reports"]:
                print(f"  {r.summary()}")
            fits = [r for r in res["reports"] if r.fits]
            if not fits:
                print(f"  does not fit: {res['reports'][0].message}")
            else:
                best = max(fits, key=lambda r: r.fmax_mhz or 0.0)
                # the goal is judged on the median seed: one lucky placement is not the design's
                verdict = ("met" if res["median_mhz"] >= goal else
                           "best seed only" if res["best_mhz"] >= goal else "MISSED")
                print(f"  Fmax best {res['best_mhz']:.1f} MHz, median {res['median_mhz']:.1f} MHz"
                      f" (goal {goal:.0f} MHz: {verdict})")
                print(f"  critical path (seed {best.seed}):")
                for line in best.critical_path:
                    print(f"    {line}")
                cap = capacity_from_report(cfg, best)
                if cap.max_weight_rows is not None:
                    h = largest_hidden(cap.max_weight_rows, lanes)
                    print(f"  capacity: weight memory up to {cap.max_weight_rows} rows "
                          f"({cap.max_synapses} synapses) in the free block RAM: 5-H-3 networks "
                          f"up to H = {h} by weight memory (H <= {cfg.max_neurons} on this core)")
            out.append({"lanes": lanes, "target": target, "best_mhz": res["best_mhz"],
                        "median_mhz": res["median_mhz"], "goal_mhz": goal,
                        "reports": [r.to_json() for r in res["reports"]]})
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
