"""The random differential run: random networks on the cocotb simulation of a core, every record
and spike checked in lockstep against the reference model (docs/verification.md).

It sits above both :mod:`verify.differential` (the programs and the bench options) and
:mod:`verify.cocotb_backend` (the build and the simulator run), so neither imports the other
back. ``benchmarks/diff_random.py`` is its command line.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ttfs.sim.image import pack
from ttfs.sim.random import random_case
from ttfs.verify.cocotb_backend import build_core, run_job
from ttfs.verify.differential import BenchOptions, Program, program_for

__all__ = ["RandomRunStats", "random_programs", "run_random"]


@dataclass
class RandomRunStats:
    """Totals of a random differential run."""

    networks: int = 0
    samples: int = 0
    spikes_compared: int = 0
    sim_cycles: int = 0
    mismatches: list = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        return (f"{self.networks} networks, {self.samples} samples, {self.spikes_compared} spikes "
                f"compared, {self.sim_cycles} simulated cycles, {len(self.mismatches)} "
                f"mismatches, {self.wall_s:.1f} s wall")


def random_programs(core, seeds: Iterable[int], n_samples: int = 8) -> list[Program]:
    """One program per seed: ``sim.random.random_case(seed, core=core)`` packed into an image."""
    programs = []
    for seed in seeds:
        case = random_case(seed, n_samples=n_samples, core=core)
        programs.append(program_for(pack(case.qnet, case.events, core), name=f"seed {seed}"))
    return programs


def run_random(core, seeds: Sequence[int], *, n_samples: int = 8, bench_seed: int = 0,
               idle: float = 0.0, backpressure: float = 0.0, per_job: int = 100,
               stop_on_mismatch: bool = False, log=None, cache_dir=None,
               build=None) -> RandomRunStats:
    """Run ``random_case(seed, core=core)`` for every seed on the cocotb simulation of ``core``.

    Every spike event (in order), every counter, the prediction, steps and cycles are compared
    with the reference model inside the bench. ``per_job`` networks share one simulator run.
    Returns the totals; ``mismatches`` lists ``(seed, message)`` pairs.
    """
    build = build or build_core(core, cache_dir=cache_dir)
    stats = RandomRunStats()
    t0 = time.monotonic()
    seeds = list(seeds)
    for start in range(0, len(seeds), per_job):
        chunk = seeds[start:start + per_job]
        programs = random_programs(core, chunk, n_samples)
        opts = BenchOptions(seed=bench_seed + start, idle=idle, backpressure=backpressure,
                            check=True, stop_on_mismatch=stop_on_mismatch)
        results, run_stats = run_job(core, programs, opts, build=build, raise_on=False)
        for seed, pr in zip(chunk, results, strict=False):
            stats.networks += 1
            stats.samples += len(pr.results)
            stats.spikes_compared += pr.spikes_compared
            if pr.mismatch:
                stats.mismatches.append((seed, pr.mismatch))
                if log:
                    log(f"MISMATCH seed {seed} (replay: benchmarks/diff_random.py --seed {seed} "
                        f"--lanes {core.lanes}): {pr.mismatch}")
        if len(results) < len(chunk):
            for seed in chunk[len(results):]:
                stats.mismatches.append((seed, run_stats.get("error") or "not run"))
        stats.sim_cycles += run_stats["cycles"]
        if log:
            log(f"  {stats.networks}/{len(seeds)} networks, {stats.spikes_compared} spikes, "
                f"{len(stats.mismatches)} mismatches")
        if stop_on_mismatch and stats.mismatches:
            break
    stats.wall_s = time.monotonic() - t0
    return stats
