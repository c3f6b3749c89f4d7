"""The cocotb testbench of the neuron core: clock, reset, stream drivers and monitors, checker.

Ports are those of ``docs/core-interface.md`` (Amaranth flattens stream members as
``load__valid``, ``load__ready``, ``load__payload``, ...). The bench runs one loop per clock
cycle, in two phases, so that every handshake is decided on settled values:

* after the **falling** edge, each :class:`StreamDriver` presents its next payload (or stays idle
  for a seeded random cycle between payloads) and each :class:`StreamMonitor` sets ``ready``
  (low for a seeded random cycle when backpressure is on);
* in the **read-only** phase before the next rising edge, each component reads ``valid`` and
  ``ready``: where both are high, the transfer happens at that rising edge, so a driver retires
  its payload and a monitor takes the payload.

A payload, once presented, stays on the bus until it is taken (the stream rule); idle cycles
only fall between payloads.

The reference side is :class:`verify.differential.ExpectModel`: the sequencer hands it each
image it starts loading and each sample as the event driver starts it, and it predicts that
sample's result with :func:`sim.reference.run` and the core's cycle-cost rule. Records are paired
with trace events by their spike counters (a valid record announces exactly how many trace events
belong to it), then :func:`sim.compare.sample_divergence` compares the two, naming the
first divergence (sample, step, layer, neuron, expected vs got).
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from pathlib import Path

from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from ttfs.sim.compare import sample_divergence, sample_message
from ttfs.sim.errors import MismatchError
from ttfs.sim.protocol import LAST, WORD_MASK, decode_record, decode_trace, record_spikes
from ttfs.verify.differential import BenchOptions, ExpectModel, Program

__all__ = ["StreamDriver", "StreamMonitor", "TB", "run_job_from_env"]


class _StreamEnd:
    """One end of the stream ``name``: Amaranth's flattened ``<name>__valid``/``__ready``/
    ``__payload`` ports and the seeded generator of its random stalls."""

    def __init__(self, dut, name: str, rng: random.Random):
        self.name = name
        self._valid = getattr(dut, f"{name}__valid")
        self._ready = getattr(dut, f"{name}__ready")
        self._payload = getattr(dut, f"{name}__payload")
        self._rng = rng


class StreamDriver(_StreamEnd):
    """Drives ``<name>__valid``/``<name>__payload`` from a queue of payloads.

    With ``idle > 0`` each new payload waits a seeded random number of idle cycles first (each
    cycle idle with probability ``idle``).
    """

    def __init__(self, dut, name: str, rng: random.Random, idle: float = 0.0):
        super().__init__(dut, name, rng)
        self._idle = idle
        self.queue: deque[int] = deque()
        self.presenting = False
        self._v = 0
        self.sent = 0
        self._valid.value = 0
        self._payload.value = 0

    @property
    def busy(self) -> bool:
        return self.presenting or bool(self.queue)

    def drive(self) -> None:
        if not self.presenting and self.queue and not (
            self._idle and self._rng.random() < self._idle
        ):
            self._payload.value = self.queue.popleft()
            self.presenting = True
        v = 1 if self.presenting else 0
        if v != self._v:
            self._valid.value = v
            self._v = v

    def sample(self) -> bool:
        """Called in the read-only phase; True when a payload is taken at the coming edge."""
        if self.presenting and self._ready.value:
            self.presenting = False
            self.sent += 1
            return True
        return False


class StreamMonitor(_StreamEnd):
    """Drives ``<name>__ready`` and collects ``<name>__payload`` on every transfer.

    With ``backpressure > 0`` ready is low in a seeded random fraction of cycles.
    """

    def __init__(self, dut, name: str, rng: random.Random, backpressure: float = 0.0):
        super().__init__(dut, name, rng)
        self._bp = backpressure
        self._r = -1
        self.items: list[int] = []
        self._ready.value = 0

    def drive(self) -> None:
        r = 0 if self._bp and self._rng.random() < self._bp else 1
        if r != self._r:
            self._ready.value = r
            self._r = r

    def sample(self) -> bool:
        if self._r and self._valid.value:
            self.items.append(int(self._payload.value))
            return True
        return False


class TB:
    """Testbench of ``ttfs_core``: owns clock, reset, the four streams, the model and checker.

    ``options`` (:class:`verify.differential.BenchOptions`) sets the seed of every random
    choice, the idle probability of the input drivers, the backpressure of the output monitors,
    whether results are checked against the reference, and whether the first mismatch stops
    the run.
    """

    def __init__(self, dut, options: BenchOptions, period_ns: int = 10):
        self.dut = dut
        self.options = options
        self.period_ns = period_ns
        rng = random.Random(options.seed)
        seeds = [rng.getrandbits(32) for _ in range(4)]
        self.load = StreamDriver(dut, "load", random.Random(seeds[0]), options.idle)
        self.events = StreamDriver(dut, "events", random.Random(seeds[1]), options.idle)
        self.result = StreamMonitor(dut, "result", random.Random(seeds[2]), options.backpressure)
        self.has_trace = hasattr(dut, "trace__valid")
        self.trace = (StreamMonitor(dut, "trace", random.Random(seeds[3]), options.backpressure)
                      if self.has_trace else None)
        self._parts = [self.load, self.events, self.result] + ([self.trace] if self.trace else [])
        self.cycles = 0
        self.log = dut._log
        self._probe = None
        if options.probe_state:
            self._probe = ([getattr(dut, n) for n in options.probe_state.split(",")],
                           getattr(dut, options.probe_gate) if options.probe_gate else None)

    async def start(self) -> None:
        """Start the clock and hold reset for four cycles."""
        self.log.info("bench seed %d, idle %.2f, backpressure %.2f, trace %s",
                      self.options.seed, self.options.idle, self.options.backpressure,
                      self.has_trace)
        Clock(self.dut.clk, self.period_ns, unit="ns").start()
        self.dut.rst.value = 1
        for _ in range(4):
            await RisingEdge(self.dut.clk)
        await FallingEdge(self.dut.clk)
        self.dut.rst.value = 0

    async def run(self, core, programs: list[Program]) -> dict:
        """Run every program in order; returns the results object written by :meth:`dump`.

        A program waits until every result of the previous one has arrived (the core takes a new
        load stream only when idle), streams its load words, and, once they are all taken, its
        samples. Raises :class:`MismatchError` on the first divergence when the options say so,
        and when the core makes no handshake for ``stall_limit`` cycles while work is pending.
        """
        opts = self.options
        t_start = time.monotonic()
        model = ExpectModel(core) if opts.check else None
        out = {"programs": [], "stats": {"cycles": 0, "error": None}}
        self._out = out
        clk_fall = FallingEdge(self.dut.clk)
        ro = ReadOnly()
        parts = self._parts
        # records still to be paired with their trace:
        # (program index, sample index, words, probe histogram or None)
        pending: deque = deque()
        expected: dict = {}
        words: list[int] = []
        trace_buf: deque = deque()
        trace_items = self.trace.items if self.trace else []
        result_items = self.result.items
        n_res = n_tr = 0
        owner: deque = deque()  # (program index, sample index) of each sample driven, in order
        stall = 0
        n_started = 0

        probe = self._probe
        hist: dict = {}

        def settle(final: bool = False):
            while pending:
                p, n, rec, rec_hist = pending[0]
                need = record_spikes(rec)
                if need is not None and len(trace_buf) < need and not final:
                    return
                take = len(trace_buf) if need is None else min(need, len(trace_buf))
                tr = [decode_trace(trace_buf.popleft()) for _ in range(take)]
                pending.popleft()
                self._finish(out, p, n, rec, tr if self.has_trace else None,
                             expected.pop((p, n), None), rec_hist)

        for pi, prog in enumerate(programs):
            out["programs"].append({"name": prog.name, "records": [], "mismatch": None,
                                    "spikes_compared": 0})
            if prog.load is not None:
                self.load.queue.extend(prog.load)
                if model:
                    model.load(prog.qnet, prog.load_flag)
            phase = "load" if prog.load is not None else "samples"
            target = n_started = n_started + len(prog.samples)
            while True:
                if phase == "load" and not self.load.busy:
                    phase = "samples"
                if phase == "samples":
                    for si, payloads in enumerate(prog.samples):
                        if model:
                            expected[(pi, si)] = model.sample(payloads)
                        owner.append((pi, si))
                        self.events.queue.extend(payloads)
                    phase = "results"
                if phase == "results" and n_res >= target:
                    break
                await clk_fall
                for c in parts:
                    c.drive()
                await ro
                moved = False
                for c in parts:
                    if c.sample():
                        moved = True
                self.cycles += 1
                if probe is not None and (probe[1] is None or probe[1].value):
                    v = ",".join(str(int(h.value)) for h in probe[0])
                    hist[v] = hist.get(v, 0) + 1
                if moved:
                    stall = 0
                    while n_tr < len(trace_items):
                        trace_buf.append(trace_items[n_tr])
                        n_tr += 1
                    got_record = False
                    for w in result_items:
                        words.append(w & WORD_MASK)
                        if w & LAST:
                            if not owner:
                                msg = (f"cocotb: {prog.name}: a result record arrived for no "
                                       f"sample ({len(words)} words, word 0 = {words[0]:#010x})")
                                out["stats"]["error"] = msg
                                raise MismatchError(msg)
                            pending.append(owner.popleft() + (words, hist if probe else None))
                            words = []
                            hist = {}
                            n_res += 1
                            got_record = True
                    result_items.clear()
                    if got_record or (pending and trace_buf):
                        settle()
                else:
                    stall += 1
                    if stall > opts.stall_limit:
                        msg = (f"cocotb: {prog.name}: the core made no handshake for "
                               f"{opts.stall_limit} cycles ({phase} phase, {n_res} of "
                               f"{target} results received, load words left "
                               f"{len(self.load.queue) + self.load.presenting}, event words left "
                               f"{len(self.events.queue) + self.events.presenting})")
                        out["stats"]["error"] = msg
                        raise MismatchError(msg)
        # drain: a few more cycles for trace events still on their way
        for _ in range(16):
            await clk_fall
            for c in parts:
                c.drive()
            await ro
            for c in parts:
                c.sample()
            self.cycles += 1
        while n_tr < len(trace_items):
            trace_buf.append(trace_items[n_tr])
            n_tr += 1
        settle(final=True)
        if result_items or words:
            msg = (f"cocotb: {len(result_items) + len(words)} result words arrived after the "
                   "last record")
            out["stats"]["error"] = msg
            raise MismatchError(msg)
        if trace_buf:
            msg = (f"cocotb: {len(trace_buf)} trace events arrived after the last record, first "
                   f"(layer, t, neuron) = {decode_trace(trace_buf[0])}")
            out["stats"]["error"] = msg
            raise MismatchError(msg)
        out["stats"]["cycles"] = self.cycles
        # wall time of the cycle loop alone (simulator start-up excluded), for speed figures
        out["stats"]["loop_s"] = time.monotonic() - t_start
        return out

    def _finish(self, out: dict, p: int, n: int, rec: list[int], trace, exp, hist=None) -> None:
        prog = out["programs"][p]
        prog["records"].append({"words": rec, "trace": trace, "probe": hist})
        if exp is None:
            return
        got = decode_record(rec, trace)
        msg = sample_divergence(exp, got, compare_trace=self.has_trace)
        if msg is None:
            if exp.valid and self.has_trace:
                prog["spikes_compared"] += len(exp.result.trace)
            return
        msg = sample_message(msg, n, "cocotb", prog["name"])
        if prog["mismatch"] is None:
            prog["mismatch"] = msg
        self.log.error("%s", msg)
        if self.options.stop_on_mismatch:
            out["stats"]["error"] = msg
            raise MismatchError(msg)

    def dump(self, path) -> None:
        """Write the results collected so far (also after a failure) as JSON."""
        out = getattr(self, "_out", {"programs": [], "stats": {"cycles": 0, "error": None}})
        out["stats"]["cycles"] = self.cycles
        Path(path).write_text(json.dumps(out), encoding="utf-8")


async def run_job_from_env(dut) -> None:
    """The body of the cocotb test that runs a job file: ``TTFS_JOB`` in, ``TTFS_RESULTS`` out."""
    import os

    from ttfs.verify.differential import read_job

    core, programs, options = read_job(os.environ["TTFS_JOB"])
    tb = TB(dut, options)
    await tb.start()
    try:
        await tb.run(core, programs)
    except BaseException as exc:
        tb._out = getattr(tb, "_out", {"programs": [], "stats": {"cycles": 0, "error": None}})
        if not tb._out["stats"].get("error"):
            tb._out["stats"]["error"] = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        tb.dump(os.environ["TTFS_RESULTS"])

