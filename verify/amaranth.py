"""The ``amaranth`` backend: the :class:`hw.core.NeuronCore` in Amaranth's own simulator.

It drives the load, event, result and trace streams exactly as a bench would (optionally with
seeded idle cycles on the inputs and backpressure on the outputs) and decodes the result records.
Amaranth's simulator runs some 10-50 k cycles/s: use it for unit tests and small runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.sim import Simulator

from ttfs.hw.core import NeuronCore
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.protocol import (
    LAST,
    WORD_MASK,
    decode_record,
    decode_trace,
    event_payloads,
    load_payloads,
)
from ttfs.sim.reference import SampleResult

__all__ = ["AmaranthBackend", "simulate_streams", "StreamRun"]


class StreamRun:
    """What came out of one simulation: result records (word lists), trace words, cycle count."""

    def __init__(self):
        self.records: list[list[int]] = []
        self.trace: list[tuple[int, int, int]] = []
        self.trace_at: list[int] = []  # record index each trace word belongs to
        self.clock = 0


def simulate_streams(
    core: CoreConfig,
    loads: Sequence[Sequence[int]],
    samples: Sequence[Sequence[int]],
    *,
    trace: bool = False,
    idle: float = 0.0,
    backpressure: float = 0.0,
    seed: int = 0,
    max_cycles: int = 2_000_000,
    program: Sequence[tuple[str, int]] | None = None,
) -> StreamRun:
    """Run payload streams through a :class:`NeuronCore` built for ``core``.

    ``loads`` are load-stream payload lists (``last`` in bit 32) and ``samples`` event-stream
    payload lists (``end`` in bit 32). By default every load goes first, then every sample;
    ``program`` (a list of ``("load", k)`` / ``("sample", k)``) gives another order. The
    producer waits for each sample's record before a load that follows it (a load is only
    accepted between samples). ``idle`` and ``backpressure`` are the probabilities of an idle
    input cycle and of a not-ready output cycle (seeded by ``seed``).
    """
    if not 0 <= idle < 1 or not 0 <= backpressure < 1:
        raise ConfigError(f"idle and backpressure must be in [0, 1), not {idle}, {backpressure}")
    dut = NeuronCore(core, trace=trace, poison=True)
    if program is None:
        program = [("load", k) for k in range(len(loads))] + [
            ("sample", k) for k in range(len(samples))]
    n_samples = sum(1 for kind, _ in program if kind == "sample")
    rng_in = np.random.default_rng([seed, 1])
    rng_out = np.random.default_rng([seed, 2])
    rng_tr = np.random.default_rng([seed, 3])
    out = StreamRun()
    state = {"sent": 0}

    async def put(ctx, port, payload):
        while idle and rng_in.random() < idle:
            await ctx.tick()
        ctx.set(port.valid, 1)
        ctx.set(port.payload.as_value(), payload)
        await ctx.tick().until(port.ready)
        ctx.set(port.valid, 0)

    async def producer(ctx):
        for kind, k in program:
            if kind == "load":
                while len(out.records) < state["sent"]:
                    await ctx.tick()
                for p in loads[k]:
                    await put(ctx, dut.load, p)
            else:
                for p in samples[k]:
                    await put(ctx, dut.events, p)
                state["sent"] += 1

    async def results(ctx):
        words: list[int] = []
        while len(out.records) < n_samples:
            ready = not (backpressure and rng_out.random() < backpressure)
            ctx.set(dut.result.ready, int(ready))
            _, _, valid, payload = await ctx.tick().sample(dut.result.valid,
                                                           dut.result.payload.as_value())
            out.clock += 1
            if ready and valid:
                words.append(payload & WORD_MASK)
                if payload & LAST:
                    out.records.append(words)
                    words = []

    async def tracer(ctx):
        while True:
            ready = not (backpressure and rng_tr.random() < backpressure)
            ctx.set(dut.trace.ready, int(ready))
            _, _, valid, payload = await ctx.tick().sample(dut.trace.valid, dut.trace.payload)
            if ready and valid:
                out.trace.append(decode_trace(int(payload)))
                out.trace_at.append(len(out.records))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(results)
    if trace:
        sim.add_testbench(tracer, background=True)
    sim.run()
    return out


class AmaranthBackend:
    """Runs an image on the :class:`hw.core.NeuronCore` in Amaranth's simulator."""

    name = "amaranth"

    def __init__(self, idle: float = 0.0, backpressure: float = 0.0, seed: int = 0):
        self.idle = idle
        self.backpressure = backpressure
        self.seed = seed

    def run(self, image, *, trace: bool = False) -> list[SampleResult]:
        """Load ``image``'s network section, stream every sample, decode the records."""
        from ttfs.sim.image import Image

        if not isinstance(image, Image):
            raise TypeError(f"image must be a sim.image.Image, not {type(image).__name__}")
        loads = [load_payloads(image.net_words)]
        samples = [event_payloads(s) for s in image.events.samples]
        run = simulate_streams(image.core, loads, samples, trace=trace, idle=self.idle,
                               backpressure=self.backpressure, seed=self.seed)
        return decode_run(run, len(samples), trace)


def decode_run(run: StreamRun, n: int, trace: bool) -> list[SampleResult]:
    if len(run.records) != n:
        raise MismatchError(f"amaranth: {n} samples sent, {len(run.records)} records received")
    per: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
    for rec, at in zip(run.trace, run.trace_at, strict=True):
        per[at].append(rec)
    return [decode_record(words, per[k] if trace else None)
            for k, words in enumerate(run.records)]
