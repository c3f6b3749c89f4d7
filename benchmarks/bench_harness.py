"""Native Verilator harness throughput, against the other backends, on a Yin-Yang-size test set.

Workload: a 5-120-3 network (4 Yin-Yang features + 1 bias input, T = 32, ``fire_once``,
first-spike readout) with seeded random weights biased positive so that it spikes in every
layer, on the 1,000-sample Yin-Yang test split (seed 40) encoded with TTFS latency coding.
Core (``--core``): ``fitted`` (default), the core the flow builds for this network
(``CoreConfig.for_network``: 8 lanes, 2 layers, 32 steps, no leak datapath, no subtract reset);
``general``, a core for any network up to 128 neurons, 4 layers, 64 steps, 256 rows, with both.

Printed figures (all measured on this machine, after the build unless said otherwise):

* harness build time into an empty cache, and the cached build time;
* harness wall and CPU time for all 1,000 samples (load + batch; decoding included; best of
  ten) and its simulated cycles per second (every clock cycle the harness ran, idle ones
  included). On a shared machine the CPU-time figure is the harness's own speed;
* reference model, Amaranth simulator, cocotb on the same samples (a subset for the slow ones)
  as samples per second, and the harness's speed-up over each;
* that the harness's results equal the reference model's (integer equality).

Usage: ``.venv/bin/python benchmarks/bench_harness.py [--samples N] [--cocotb N] [--amaranth N]
[--core fitted|general]``
(``--cocotb 0`` / ``--amaranth 0`` skip those backends).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

from ttfs.sim.compare import check_equal
from ttfs.sim.core import CoreConfig
from ttfs.sim.encode import encode_ttfs
from ttfs.sim.image import pack
from ttfs.sim.ir import Layer, QNet
from ttfs.sim.reference import run
from ttfs.verify.verilator import VerilatorBackend, build_for_core

GENERAL = CoreConfig(lanes=8, weight_bits=8, potential_bits=16, kernel_bits=8, max_neurons=128,
                  max_layers=4, max_time_steps=64, weight_depth=256)
T = 32


def yinyang_network(seed: int = 0) -> QNet:
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-40, 100, size=(5, 120))
    w2 = rng.integers(-30, 60, size=(120, 3))
    return QNet(5, T, (Layer(w1, threshold=150), Layer(w2, threshold=400)), 8, 16,
                "first_spike", False)


def yinyang_events(n: int):
    from ttfs.train.data import yinyang

    X, y = yinyang(1000, 40)
    return encode_ttfs(X[:n], T, t_in=T // 2, bias_steps=[0], labels=y[:n])


def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--cocotb", type=int, default=50, help="samples for cocotb (0: skip)")
    ap.add_argument("--amaranth", type=int, default=20, help="samples for Amaranth (0: skip)")
    ap.add_argument("--core", choices=("fitted", "general"), default="fitted",
                    help="the flow's core for this network, or a general one (see above)")
    args = ap.parse_args()

    from ttfs.sim.costmodel import cost_hook

    qnet = yinyang_network()
    events = yinyang_events(args.samples)
    core = CoreConfig.for_network(qnet) if args.core == "fitted" else GENERAL
    image = pack(qnet, events, core)
    n = len(events)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"workload: 5-120-3, T={T}, {n} Yin-Yang test samples, "
          f"{sum(len(s) for s in events.samples)} input events; core {core}")

    from ttfs.hw.emit import verilog

    _, t_emit = timed(verilog, core, trace=False)
    with tempfile.TemporaryDirectory() as cache:
        first, t_first = timed(build_for_core, core, cache_dir=cache)
        again, t_again = timed(build_for_core, core, cache_dir=cache)
    print(f"harness build: {t_first:.1f} s into an empty cache (cached={first.cached}); "
          f"second build {t_again * 1000:.1f} ms (cached={again.cached}); a new process also "
          f"emits the Verilog first: {t_emit:.2f} s")

    # reference (with the cycle-cost rule) on every sample
    ref, t_ref = timed(run, qnet, events, trace=False, cost=cost_hook(core))

    backend = VerilatorBackend()
    backend.harness(core)  # build (or find) outside the timing
    backend.harness(core, trace=True)
    best = None
    for _ in range(10):  # best of ten (0.1 s each): the machine is shared
        c0 = time.process_time()
        got, t_h = timed(backend.run, image)
        cpu = time.process_time() - c0
        if best is None or t_h < best[1]:
            best = (got, t_h, cpu)
    got, t_h, cpu = best
    cycles = backend.last_cycles
    check_equal(ref, got, backend="verilator", compare_trace=False)
    spikes = sum(sum(r.counters.spikes_per_layer) for r in got)
    sample_cycles = sum(r.cycles for r in got)
    print(f"harness: {n} samples in {t_h:.3f} s wall, {cpu:.3f} s CPU "
          f"({n / t_h:,.0f} samples/s); {cycles:,} clock cycles run ({sample_cycles:,} counted "
          f"by the core) = {cycles / t_h / 1e6:.2f} M cycles/s wall, {cycles / cpu / 1e6:.2f} M "
          f"cycles/s CPU; {spikes} spikes; equal to the reference model")
    jobs = os.cpu_count() or 1
    if jobs > 1:
        par = VerilatorBackend(jobs=jobs)
        par.run(pack(qnet, events.subset(range(jobs)), core))  # models made outside the timing
        t_p = min(timed(par.run, image)[1] for _ in range(10))
        check_equal(ref, par.run(image), backend=f"verilator jobs={jobs}", compare_trace=False)
        print(f"harness, {jobs} models on {jobs} threads: {n} samples in {t_p:.3f} s wall "
              f"({par.last_cycles / t_p / 1e6:.2f} M cycles/s wall, all models together)")
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
    print(f"targets: >= 5 M cycles/s: {cycles / cpu / 1e6:.2f} M CPU, {cycles / t_h / 1e6:.2f} M "
          f"wall ({'met' if cycles / cpu >= 5e6 else 'MISSED'}); 1,000 samples <= 5 s: "
          f"{t_h * 1000 / n:.3f} s per 1,000 ({'met' if t_h * 1000 / n <= 5 else 'MISSED'})")


if __name__ == "__main__":
    main()
