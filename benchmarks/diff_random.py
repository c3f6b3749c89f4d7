"""Lockstep random differential testing of the RTL (cocotb + Verilator) against the reference.

Every network is ``sim.random.random_case(seed, core=build)`` for one of the cosimulation builds
(:data:`verify.differential.COSIM_CORES`: lanes 1, 3, 4, 8, the 8-lane one built without the
leak datapath and the subtract reset, the 3- and 4-lane ones with chunk bounds: partial
sweeps); every spike event (in order),
every counter, prediction, steps and cycles of every sample is compared in the bench. Many
networks share one simulator run (the image is reloaded between networks).

    .venv/bin/python benchmarks/diff_random.py --count 5000          # 5,000 networks
    .venv/bin/python benchmarks/diff_random.py --seed 300017 --lanes 3  # replay one seed

Exit status: 0 when everything matched, 4 on any mismatch (the seeds are printed), 3 when the
toolchain fails.
"""

from __future__ import annotations

import argparse
import sys
import time

from ttfs.sim.errors import TTFSError
from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.random_run import RandomRunStats, run_random


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=200, help="networks in all (split over builds)")
    ap.add_argument("--seed", type=int, help="replay this one seed (with --lanes)")
    ap.add_argument("--start", type=int, default=1_000_000, help="first seed of a --count run")
    ap.add_argument("--lanes", default="1,3,4,8", help="builds to use, by lanes: e.g. 3 or 1,8")
    ap.add_argument("--samples", type=int, default=8, help="samples per network")
    ap.add_argument("--per-job", type=int, default=250, help="networks per simulator run")
    ap.add_argument("--idle", type=float, default=0.0, help="idle-cycle probability on inputs")
    ap.add_argument("--backpressure", type=float, default=0.0, help="ready-low probability")
    ap.add_argument("--bench-seed", type=int, default=0, help="seed of idle/backpressure draws")
    args = ap.parse_args(argv)
    by_lanes = {c.lanes: (name, c) for name, c in COSIM_CORES.items()}
    try:
        lanes = [int(x) for x in args.lanes.split(",")]
        cores = [by_lanes[p] for p in lanes]
    except (ValueError, KeyError):
        print(f"--lanes must list some of {sorted(by_lanes)}, not {args.lanes!r}", file=sys.stderr)
        return 2
    if args.seed is not None:
        plan = [(name, core, [args.seed]) for name, core in cores]
    else:
        per = -(-args.count // len(cores))
        plan = []
        for k, (name, core) in enumerate(cores):
            first = args.start + k * per
            n = min(per, args.count - k * per)
            if n > 0:
                plan.append((name, core, list(range(first, first + n))))
    total = RandomRunStats()
    t0 = time.monotonic()
    try:
        for name, core, seeds in plan:
            print(f"build {name} (lanes {core.lanes}, weight {core.weight_bits} b, potential "
                  f"{core.potential_bits} b): seeds {seeds[0]}..{seeds[-1]}", flush=True)
            if args.seed is not None:
                from ttfs.sim.random import random_case

                case = random_case(args.seed, n_samples=args.samples, core=core)
                q = case.qnet
                print(f"  network {q.describe()}, T={q.time_steps}, readout {q.readout}, "
                      f"early_exit {q.early_exit}, resets "
                      f"{[layer.reset for layer in q.layers]}, leak "
                      f"{[layer.leak_shift for layer in q.layers]}, "
                      f"{sum(len(s) for s in case.events.samples)} input events")
            st = run_random(core, seeds, n_samples=args.samples, bench_seed=args.bench_seed,
                            idle=args.idle, backpressure=args.backpressure,
                            per_job=args.per_job, log=lambda m: print(m, flush=True))
            print(f"  {name}: {st.summary()}", flush=True)
            total.networks += st.networks
            total.samples += st.samples
            total.spikes_compared += st.spikes_compared
            total.sim_cycles += st.sim_cycles
            total.mismatches += [(s, f"lanes {core.lanes}: {m}") for s, m in st.mismatches]
    except TTFSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    total.wall_s = time.monotonic() - t0
    print(f"total: {total.summary()} ({total.sim_cycles / max(total.wall_s, 1e-9):,.0f} "
          "simulated cycles/s)")
    for seed, msg in total.mismatches[:20]:
        print(f"MISMATCH seed {seed}: {msg}")
    return 4 if total.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
