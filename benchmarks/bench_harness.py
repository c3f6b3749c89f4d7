"""Native Verilator harness throughput on the trained default network, against the other backends.

Workloads (``--workload``):

* ``default`` (the default): the flow's default network, trained: Yin-Yang 5-120-3, T = 80,
  ``max_potential`` readout, on its 1,000-sample test split and the core ``ttfs compile``
  builds for it. ``--run DIR`` uses an existing run directory (``ttfs run --out DIR --to
  compile``: ``qnet_baseline.json``, ``events.json``, ``core.json``); without it the bench uses
  the run it keeps in ``$TTFS_CACHE/bench_harness/default_run`` (default
  ``~/.cache/ttfs/bench_harness/default_run``), and trains one there first when there is none
  (``ttfs run --to compile -q``, 1-2 minutes; ``--fresh`` trains a new one). The output says
  which, and how long training took. The image is packed from the run's JSON files with the
  current code (and compared with the run's ``image.img``), so a run made before a change of
  the image format still serves.
* ``random``: a 5-120-3 network (4 Yin-Yang features + 1 bias input, T = 32, first-spike
  readout) with seeded random weights biased positive so that it spikes in every layer, on the
  1,000-sample Yin-Yang test split (seed 40); core ``--core fitted`` (``CoreConfig.for_network``)
  or ``general`` (128 neurons, 4 layers, 64 steps, 256 rows, leak and subtract datapaths).

Printed figures (measured on this machine, after the build unless said otherwise):

* harness build time into an empty cache, and the cached build time;
* one model (``VerilatorBackend().run``: load, batch, decode; best of ``--repeat``): samples/s
  wall and CPU (the calling thread's CPU time: on a shared machine this is the harness's own
  speed), simulated clock cycles/s wall and CPU (every cycle the harness ran), cycles per
  sample (as the core counts them, and as the harness ran them), and the share of the time in
  the one C call that streams the batch;
* ``--jobs`` models on as many threads (``VerilatorBackend(jobs=...)``), wall;
* the trace stream's cost; the reference model, the Amaranth simulator and cocotb on the same
  samples (a subset for the slow ones) and the harness's speed-up over each;
* every harness run is checked against the reference model (``sim.reference.run`` with the
  cycle-cost rule) with integer equality (``sim.compare.check_equal``): prediction, status,
  every counter, cycles, and the trace on the traced run. A mismatch raises ``MismatchError``
  (exit 4); the check is never skipped.

The target (issue 15): >= 10,000 samples/s on the trained default network. Samples/s and
cycles/s are both printed, so the figure can be re-derived when the core's cycles per sample
change.

Usage: ``.venv/bin/python benchmarks/bench_harness.py [--run DIR | --fresh]
[--workload default|random] [--core fitted|general] [--chunk-bounds N] [--samples N]
[--repeat N] [--jobs N]
[--cocotb N] [--amaranth N]`` (``--cocotb 0`` / ``--amaranth 0`` skip those backends,
``--jobs 1`` the parallel figure).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ttfs.sim.compare import check_equal
from ttfs.sim.core import CoreConfig, load_core
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.encode import encode_ttfs
from ttfs.sim.image import load_image, pack
from ttfs.sim.ir import Layer, QNet, load_events, load_qnet
from ttfs.sim.protocol import record_words
from ttfs.sim.reference import run
from ttfs.verify.verilator import (
    VerilatorBackend,
    build_for_core,
    event_section_payloads,
    pair_records,
)

GENERAL = CoreConfig(lanes=8, weight_bits=8, potential_bits=16, kernel_bits=8, max_neurons=128,
                     max_layers=4, max_time_steps=64, weight_depth=256)
T_RANDOM = 32
TARGET = 10_000  # samples/s on the trained default network (issue 15)
RUN_FILES = ("qnet_baseline.json", "events.json", "core.json")


# -- workloads -------------------------------------------------------------------------------


def yinyang_network(seed: int = 0) -> QNet:
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-40, 100, size=(5, 120))
    w2 = rng.integers(-30, 60, size=(120, 3))
    return QNet(5, T_RANDOM, (Layer(w1, threshold=150), Layer(w2, threshold=400)), 8, 16,
                "first_spike", False)


def yinyang_events(n: int):
    from ttfs.train.data import yinyang

    X, y = yinyang(1000, 40)
    return encode_ttfs(X[:n], T_RANDOM, t_in=T_RANDOM // 2, bias_steps=[0], labels=y[:n])


def default_run_dir() -> Path:
    from ttfs.verify.toolchain import cache_base

    return cache_base() / "bench_harness" / "default_run"


def _complete(d: Path) -> bool:
    return all((d / f).exists() for f in RUN_FILES)


def train_default_run(dest: Path) -> float:
    """``ttfs run --to compile -q`` into a fresh folder, renamed to ``dest``; returns seconds."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".train-", dir=dest.parent))
    t0 = time.perf_counter()
    try:
        cmd = [sys.executable, "-m", "ttfs.flows.cli", "run", "--out", str(work / "run"),
               "--to", "compile", "-q"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0 or not _complete(work / "run"):
            raise SystemExit(f"bench_harness: training the default network failed (exit "
                             f"{r.returncode}):\n{(r.stdout + r.stderr).strip()[-3000:]}")
        seconds = time.perf_counter() - t0
        (work / "run" / "bench_trained.json").write_text(json.dumps(
            {"seconds": round(seconds, 1), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                      time.gmtime()),
             "command": " ".join(cmd)}) + "\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(work / "run", dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return seconds


def default_workload(args):
    """(description, qnet, events, core, image) of the trained default network."""
    if args.run is not None:
        d = Path(args.run)
        if not _complete(d):
            raise SystemExit(f"bench_harness: {d} is not a compiled run (needs "
                             f"{', '.join(RUN_FILES)}; make one with `ttfs run --out {d} "
                             "--to compile`)")
        origin = f"run directory {d}"
    else:
        d = default_run_dir()
        if args.fresh or not _complete(d):
            print(f"training the default network (ttfs run --to compile -q) into {d} ...",
                  flush=True)
            seconds = train_default_run(d)
            origin = f"trained now into {d} in {seconds:.1f} s"
        else:
            meta = d / "bench_trained.json"
            info = json.loads(meta.read_text()) if meta.exists() else {}
            origin = (f"the bench's cached run {d} (trained {info.get('finished', '?')} in "
                      f"{info.get('seconds', '?')} s; --fresh retrains)")
    qnet = load_qnet(d / "qnet_baseline.json")
    events = load_events(d / "events.json", qnet)
    core = load_core(d / "core.json")
    if args.samples is not None and args.samples < len(events):
        events = events.subset(range(args.samples))
    image = pack(qnet, events, core)
    note = ""
    if args.samples is None and (d / "image.img").exists():
        try:
            same = load_image(d / "image.img").equals(image)
        except Exception as exc:  # noqa: BLE001  (an image of an older format)
            same, note = False, f" ({type(exc).__name__}: {exc})"
        note = ("; equal to the run's image.img" if same else
                f"; re-packed: the run's image.img differs (older format?){note}")
    desc = (f"trained default network, {origin}: {qnet.describe()}, readout "
            f"{qnet.readout}{note}")
    return desc, qnet, events, core, image


def random_workload(args):
    n = 1000 if args.samples is None else args.samples
    qnet = yinyang_network()
    events = yinyang_events(n)
    core = CoreConfig.for_network(qnet) if args.core == "fitted" else GENERAL
    desc = (f"random 5-120-3, T={T_RANDOM}, first_spike (seeded weights), Yin-Yang test "
            f"samples, core {args.core}")
    return desc, qnet, events, core, pack(qnet, events, core)


# -- measuring -------------------------------------------------------------------------------


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def best_of(repeat: int, fn, *args, clock=time.thread_time, **kw):
    """(every call's result, least wall time, least CPU time) over ``repeat`` calls; ``clock``
    gives the CPU time (the calling thread's by default: a one-model run stays in it)."""
    outs, walls, cpus = [], [], []
    for _ in range(repeat):
        c0 = clock()
        out, wall = timed(fn, *args, **kw)
        cpus.append(clock() - c0)
        walls.append(wall)
        outs.append(out)
    return outs, min(walls), min(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=("default", "random"), default="default",
                    help="the trained default network (default) or the seeded random one")
    ap.add_argument("--run", metavar="DIR", help="default workload: use this compiled run "
                    "(ttfs run --out DIR --to compile) instead of the bench's cached one")
    ap.add_argument("--fresh", action="store_true",
                    help="default workload: train a new cached run even if one exists")
    ap.add_argument("--core", choices=("fitted", "general"), default="fitted",
                    help="random workload: the flow's core for it, or a general one")
    ap.add_argument("--chunk-bounds", type=int, default=None, metavar="N",
                    help="build the workload's core with N chunk bounds (partial sweeps)")
    ap.add_argument("--samples", type=int, default=None,
                    help="the first N test samples (default: all, 1,000)")
    ap.add_argument("--repeat", type=int, default=10, help="calls per timing; the best counts")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="models on as many threads for the parallel figure (1: skip)")
    ap.add_argument("--cocotb", type=int, default=50, help="samples for cocotb (0: skip)")
    ap.add_argument("--amaranth", type=int, default=20, help="samples for Amaranth (0: skip)")
    args = ap.parse_args()
    if args.run is not None and args.workload != "default":
        ap.error("--run needs the default workload")

    desc, qnet, events, core, image = (default_workload(args) if args.workload == "default"
                                       else random_workload(args))
    if args.chunk_bounds is not None:
        # the same network on its core built with chunk bounds (partial sweeps)
        core = dataclasses.replace(core, chunk_bounds=args.chunk_bounds)
        image = pack(qnet, events, core)
        desc += f"; core built with chunk_bounds={args.chunk_bounds}"
    n = len(events)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"workload: {desc}; {n} samples, {sum(len(s) for s in events.samples)} input "
          f"events; core {core}")

    from ttfs.hw.emit import verilog

    _, t_emit = timed(verilog, core, trace=False)
    with tempfile.TemporaryDirectory() as cache:
        first, t_first = timed(build_for_core, core, cache_dir=cache)
        again, t_again = timed(build_for_core, core, cache_dir=cache)
    print(f"harness build: {t_first:.1f} s into an empty cache (cached={first.cached}); "
          f"second build {t_again * 1000:.1f} ms (cached={again.cached}); a new process also "
          f"emits the Verilog first: {t_emit:.2f} s")

    # the reference (with the cycle-cost rule) on every sample
    ref, t_ref = timed(run, qnet, events, trace=False, cost=cost_hook(core))

    backend = VerilatorBackend()
    backend.harness(core)  # build (or find) outside the timing
    backend.harness(core, trace=True)
    runs, t_h, cpu = best_of(args.repeat, backend.run, image)
    cycles = backend.last_cycles
    for got in runs:  # every timed call, not only the fastest
        check_equal(ref, got, backend="verilator", compare_trace=False)
    spikes = sum(sum(r.counters.spikes_per_layer) for r in got)
    sample_cycles = sum(r.cycles for r in got)
    # the one C call that streams the batch, alone (no load, no decoding)
    h = backend.harness(core)
    payloads, _ = event_section_payloads(image.event_words)
    rec_words = record_words(core)

    t_call = None
    for _ in range(args.repeat):
        h.reset()
        h.load(image.net_words)
        c0 = time.thread_time()
        raw = h.run(payloads, n, rec_words)
        t = time.thread_time() - c0
        t_call = t if t_call is None else min(t_call, t)
        check_equal(ref, pair_records(raw, False), backend="verilator (batch call)",
                    compare_trace=False)
    print(f"harness, one model: {n} samples in {t_h:.3f} s wall, {cpu:.3f} s CPU: "
          f"**{n / t_h:,.0f} samples/s wall, {n / cpu:,.0f} samples/s CPU**; {cycles:,} clock "
          f"cycles run = {cycles / t_h / 1e6:.2f} M cycles/s wall, {cycles / cpu / 1e6:.2f} M "
          f"cycles/s CPU; {sample_cycles / n:,.1f} cycles per sample counted by the core, "
          f"{cycles / n:,.1f} run by the harness; the batch call alone {t_call * 1000:.1f} ms "
          f"CPU ({cycles / t_call / 1e6:.2f} M cycles/s), {100 * t_call / cpu:.0f}% of the "
          f"CPU time; {spikes} spikes; equal to the reference model")
    par_rate = None
    if args.jobs > 1:
        par = VerilatorBackend(jobs=args.jobs)
        par.run(pack(qnet, events.subset(range(min(n, args.jobs))), core))  # models made first
        par_runs, t_p, cpu_p = best_of(args.repeat, par.run, image, clock=time.process_time)
        for par_got in par_runs:
            check_equal(ref, par_got, backend=f"verilator jobs={args.jobs}", compare_trace=False)
        par_rate = n / t_p
        print(f"harness, {args.jobs} models on {args.jobs} threads: {n} samples in {t_p:.3f} s "
              f"wall ({cpu_p:.3f} s CPU, all threads): **{par_rate:,.0f} samples/s wall**, "
              f"{par.last_cycles / t_p / 1e6:.2f} M cycles/s wall, all models together; "
              f"equal to the reference model")
        par.close()
    traced, t_tr = timed(backend.run, image, trace=True)
    check_equal(run(qnet, events, trace=True, cost=cost_hook(core)), traced,
                backend="verilator (trace)")
    print(f"harness with the trace stream: {t_tr:.3f} s ({n / t_tr:,.0f} samples/s), "
          "trace equal to the reference model")
    h_rate = n / t_h
    print(f"reference model: {n} samples in {t_ref:.3f} s ({n / t_ref:,.0f} samples/s); "
          f"harness / reference = {h_rate / (n / t_ref):.2f}x")

    if args.amaranth:
        try:
            from ttfs.verify.amaranth import AmaranthBackend
        except ImportError as exc:
            print(f"amaranth backend: not available ({exc})")
        else:
            k = min(args.amaranth, n)
            sub = pack(qnet, events.subset(range(k)), core)
            res, t_a = timed(AmaranthBackend().run, sub)
            check_equal(ref[:k], res, backend="amaranth", compare_trace=False)
            print(f"amaranth simulator: {k} samples in {t_a:.2f} s ({k / t_a:.2f} samples/s); "
                  f"harness / amaranth = {h_rate / (k / t_a):,.0f}x")
    if args.cocotb:
        try:
            from ttfs.verify.cocotb_backend import CocotbBackend
        except ImportError as exc:
            print(f"cocotb backend: not available ({exc})")
        else:
            k = min(args.cocotb, n)
            sub = pack(qnet, events.subset(range(k)), core)
            cb = CocotbBackend()
            cb.run(pack(qnet, events.subset(range(1)), core))  # build outside the timing
            res, t_c = timed(cb.run, sub)
            check_equal(ref[:k], res, backend="cocotb", compare_trace=False)
            ratio = h_rate / (k / t_c)
            print(f"cocotb: {k} samples in {t_c:.2f} s ({k / t_c:.2f} samples/s, simulator "
                  f"start included); harness / cocotb = {ratio:,.0f}x "
                  f"(target >= 50x: {'met' if ratio >= 50 else 'MISSED'})")
    backend.close()
    if args.workload == "default":
        def verdict(rate):
            return "met" if rate >= TARGET else "MISSED"

        line = (f"target >= {TARGET:,} samples/s on the trained default network: one model "
                f"{n / t_h:,.0f} wall ({verdict(n / t_h)}), {n / cpu:,.0f} CPU "
                f"({verdict(n / cpu)})")
        if par_rate is not None:
            line += f"; {args.jobs} models {par_rate:,.0f} wall ({verdict(par_rate)})"
        print(line + f"; at the {cycles / n:,.0f} cycles per sample the harness ran, "
              f"{TARGET:,} samples/s needs {TARGET * cycles / n / 1e6:.2f} M cycles/s")
    print(f"1,000 samples <= 5 s: {t_h * 1000 / n:.3f} s per 1,000 "
          f"({'met' if t_h * 1000 / n <= 5 else 'MISSED'})")


if __name__ == "__main__":
    from ttfs.sim.errors import TTFSError

    try:
        main()
    except TTFSError as exc:  # a mismatch against the reference model is exit 4
        print(f"bench_harness: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
