"""Cycle figures of the neuron core, measured on the RTL (cocotb + Verilator) and checked against
the cycle-cost rule.

Prints, for a trained-size network (a trained ``qnet.json`` given with ``--qnet``, else a random
5-120-3 network with realistic spiking, said which):

(a) event-phase efficiency: cycles the RTL's sequencer spends in its event-phase states
    (``INTEG_S``, ``INTEG_Q``) / (events x chunks), per sample summed; target 1.00-1.05;
(b) cycles per sample split into event phases, sweeps and overhead, from the cost model's
    breakdown (:func:`sim.costmodel.breakdown`) beside the RTL's state histogram, and a check that
    the cost model's total equals the cycles in every RTL result record (exit 4 if not);
(c) cocotb cosimulation speed in simulated clock cycles per second of wall time (build excluded).

The state histogram is probed inside the bench: every cycle in which the core's ``counting``
signal is high (the cycles its ``cycles`` counter counts) is binned by the sequencer state
``seq_state`` and the neuron-array op issued that cycle (``i_valid``, ``i_integ``); the state
names come from the elaborated Amaranth FSM. A cycle of an event-phase state that issues a sweep
op (layer 1 decides its phase end in the cycle that issues sweep chunk 0) counts as sweep.

    .venv/bin/python benchmarks/bench_core.py                          # random 5-120-3
    .venv/bin/python benchmarks/bench_core.py --qnet run/qnet.json     # a trained network
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import breakdown
from ttfs.sim.errors import TTFSError
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet, Layer, QNet, load_qnet
from ttfs.sim.reference import run
from ttfs.verify.cocotb_backend import build_core, run_job
from ttfs.verify.differential import BenchOptions, program_for

#: RTL sequencer states -> the cost model's phase names
PHASE_OF_STATE = {
    "INTEG_S": "event_phase", "INTEG_Q": "event_phase", "SWEEP": "sweep", "WAIT": "drain",
    "EMIT": "emit", "STEP": "sequencing", "NEXT": "sequencing",
    "RD_ADDR": "readout", "RD_LOAD": "readout", "RD_LANE": "readout", "FINISH": "sequencing",
    "ENTER": "sequencing",
}
PHASES = ("event_phase", "sweep", "drain", "emit", "sequencing", "readout")


def state_names(core: CoreConfig) -> dict[int, str]:
    """``seq_state`` value -> state name, from the elaborated core's FSM decoder."""
    from amaranth.hdl import Fragment

    from ttfs.hw.core import NeuronCore

    frag = Fragment.get(NeuronCore(core, trace=True), None)
    todo = [frag]
    while todo:
        f = todo.pop()
        todo.extend(sub for sub, *_ in f.subfragments)
        for stmts in f.statements.values():
            for stmt in stmts:
                for sig in stmt._lhs_signals():
                    if sig.name == "seq_state" and sig.decoder is not None:
                        out = {}
                        for v in range(1 << len(sig)):
                            try:
                                out[v] = sig.decoder(v).split("/")[0]
                            except KeyError:  # an unused encoding
                                pass
                        return out
    raise SystemExit("the core has no seq_state FSM signal to probe")


def yinyang_events(qnet: QNet, n: int) -> EventSet:
    """Yin-Yang test points encoded as the trained network's meta says (TTFS encoder)."""
    from ttfs.sim.encode import encode_ttfs
    from ttfs.train.data import yinyang

    enc = qnet.meta.get("encoder") or {}
    if enc.get("kind") != "ttfs":
        raise SystemExit("the qnet's meta has no TTFS encoder; give a random network instead")
    X, y = yinyang(n, seed=40)
    return encode_ttfs(X, enc["time_steps"], enc.get("t_in"), enc.get("cutoff", 0.0),
                       enc.get("bias_steps", ()), labels=y)


def random_network(seed: int, T: int = 32) -> tuple[QNet, EventSet]:
    """A random 5-120-3 network whose hidden layer spikes realistically (about a third of the
    neurons per sample), with TTFS inputs: 4 features in [0, 1] and a bias input at step 0."""
    rng = np.random.default_rng(seed)
    w1 = np.clip(rng.normal(8, 30, size=(5, 120)).round(), -127, 127).astype(np.int64)
    w2 = np.clip(rng.normal(4, 25, size=(120, 3)).round(), -127, 127).astype(np.int64)
    X = rng.random((64, 4))
    t = np.rint((1 - X) * (T // 2 - 1)).astype(np.int64)
    samples = []
    for row in t:
        ev = sorted([(0, 4)] + [(int(tt), i) for i, tt in enumerate(row)])
        samples.append(np.array(ev, dtype=np.int64))
    events = EventSet(tuple(samples))
    best = None
    for th1 in range(20, 400, 10):
        q = QNet(5, T, (Layer(w1, threshold=th1), Layer(w2, threshold=60)), 8, 16,
                 "first_spike", False)
        res = run(q, events)
        frac = np.mean([r.counters.spikes_per_layer[0] for r in res]) / 120
        if best is None or abs(frac - 1 / 3) < best[0]:
            best = (abs(frac - 1 / 3), q)
    return best[1], events


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--qnet", help="a trained qnet.json (Yin-Yang TTFS); default: random 5-120-3")
    ap.add_argument("--samples", type=int, default=64, help="samples to run")
    ap.add_argument("--lanes", type=int, default=8, help="lanes P of the core")
    ap.add_argument("--seed", type=int, default=1, help="seed of the random network")
    args = ap.parse_args(argv)
    try:
        if args.qnet:
            qnet = load_qnet(args.qnet)
            events = yinyang_events(qnet, args.samples)
            what = f"trained network {args.qnet} ({qnet.meta.get('method', '?')})"
        else:
            qnet, events = random_network(args.seed)
            events = events.subset(range(min(args.samples, len(events))))
            what = f"random network (seed {args.seed}), not trained"
        core = CoreConfig.for_network(qnet, lanes=args.lanes)
        print(f"network: {qnet.describe()}, T={qnet.time_steps}, readout {qnet.readout}: {what}")
        print(f"core: P={core.lanes}, max_neurons {core.max_neurons}, max_time_steps "
              f"{core.max_time_steps}, weight_depth {core.weight_depth}")
        img = pack(qnet, events, core)
        t0 = time.monotonic()
        build = build_core(core)
        print(f"build: {time.monotonic() - t0:.1f} s (cached builds are reused)")
        names = state_names(core)
        opts = BenchOptions(seed=0, check=True, stop_on_mismatch=True,
                            probe_state="seq_state,i_valid,i_integ", probe_gate="counting")
        t0 = time.monotonic()
        results, stats = run_job(core, [program_for(img, name=what)], opts, build=build)
        wall = time.monotonic() - t0
    except TTFSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    pr = results[0]
    ref = run(qnet, events, trace=False)
    model = {k: 0 for k in PHASES}
    rtl = {k: 0 for k in PHASES}
    exc = rtl_cycles = model_cycles = integ_ops = 0
    bad = []
    for n, (r, got, hist) in enumerate(zip(ref, pr.results, pr.probes, strict=True)):
        _, b = breakdown(core, qnet, r.activity)
        for k in PHASES:
            model[k] += getattr(b, k)
        exc += b.events_x_chunks
        model_cycles += b.cycles
        rtl_cycles += got.cycles
        for (v, op_valid, op_integ), c in hist.items():
            phase = PHASE_OF_STATE.get(names.get(v, "?"))
            if phase is None:  # a state this benchmark does not know yet: show it by name
                phase = f"state {names.get(v, v)}"
            if phase == "event_phase" and op_valid and not op_integ:
                phase = "sweep"  # the cycle that ends layer 1's event phase issues sweep chunk 0
            rtl[phase] = rtl.get(phase, 0) + c
            if op_valid and op_integ:
                integ_ops += c
        if b.cycles != got.cycles or sum(hist.values()) != got.cycles:
            bad.append((n, b.cycles, got.cycles, sum(hist.values())))
    N = len(ref)
    print(f"\nsamples: {N}; events x chunks: {exc}; mean cycles per sample: RTL "
          f"{rtl_cycles / N:.1f}, cost model {model_cycles / N:.1f}")
    eff_rtl = rtl["event_phase"] / exc if exc else float("nan")
    eff_model = model["event_phase"] / exc if exc else float("nan")
    print(f"(a) event-phase efficiency (cycles in event phases / (events x chunks)): RTL "
          f"{eff_rtl:.3f}, cost model {eff_model:.3f}  (target 1.00-1.05); integrate ops "
          f"issued {integ_ops} = events x chunks {exc}: {'yes' if integ_ops == exc else 'NO'}")
    print("(b) cycles per sample by phase:       RTL   cost model")
    for k in PHASES:
        print(f"    {k:<28} {rtl[k] / N:8.1f} {model[k] / N:10.1f}")
    for k in sorted(set(rtl) - set(PHASES)):
        print(f"    {k:<28} {rtl[k] / N:8.1f} {'(unmapped)':>10}")
    split_ok = all(rtl[k] == model[k] for k in PHASES) and set(rtl) == set(PHASES)
    print(f"    RTL phase split == cost model's on the whole run: {'yes' if split_ok else 'NO'}")
    overhead = sum(model[k] for k in PHASES if k not in ("event_phase", "sweep"))
    print(f"    event phases {model['event_phase'] / N:.1f} + sweeps {model['sweep'] / N:.1f} + "
          f"overhead {overhead / N:.1f} = {model_cycles / N:.1f} cycles per sample")
    print(f"    cost-model total == RTL cycles on every sample: {'yes' if not bad else 'NO'}")
    for n, m, g, h in bad[:10]:
        print(f"    sample {n}: cost model {m}, RTL record {g}, RTL probe {h}")
    loop = stats.get("loop_s") or float("nan")
    print(f"(c) cocotb cosimulation: {stats['cycles']} simulated cycles; bench loop "
          f"{loop:.2f} s = {stats['cycles'] / loop:,.0f} cycles/s; end to end (simulator start, "
          f"job files) {wall:.2f} s = {stats['cycles'] / wall:,.0f} cycles/s; lockstep check "
          f"and state probe on, {pr.spikes_compared} spikes compared")
    return 4 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
