"""Block-level Amaranth-simulator tests: the neuron array (back-to-back integrate ops on one
chunk, then a sweep) against sim.numeric, the event fetch's checks and prefetch, the event
queue's emission order under trace backpressure, and the result serializer under backpressure."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from ttfs.hw.blocks import (
    EventFetch,
    EventQueue,
    NeuronArray,
    ParameterTables,
    ResultSerializer,
    WeightMemory,
)
from ttfs.hw.params import Widths
from ttfs.sim.core import CoreConfig
from ttfs.sim.numeric import leak, sat_add

pytestmark = pytest.mark.amaranth

CFG = CoreConfig(lanes=4, weight_bits=6, potential_bits=8, kernel_bits=3, max_neurons=8,
                 max_layers=2, max_time_steps=4, weight_depth=16)
W = Widths(CFG, poison=True)  # the simulation build: collided reads come back inverted


def _u(x: int, bits: int) -> int:
    return x & ((1 << bits) - 1)


def _lanes(word: int, P: int, bits: int) -> list[int]:
    out = []
    for p in range(P):
        v = word >> (p * bits) & ((1 << bits) - 1)
        out.append(v - (1 << bits) if v >> (bits - 1) else v)
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_amaranth_blocks_neuron_array_forwarding_and_sweep(seed):
    rng = np.random.default_rng(seed)
    P, WB, PB = W.P, W.WB, W.PB
    rows = rng.integers(-32, 32, size=(6, P))
    k, th, lk = int(rng.integers(0, 8)), int(rng.integers(1, 128)), int(rng.integers(0, 3))
    reset = int(rng.integers(0, 3))
    order = rng.integers(0, 6, size=10)  # back-to-back integrate ops, all on chunk 0 of layer 0
    m = Module()
    m.submodules.wm = wm = WeightMemory(W)
    m.submodules.tb = tb = ParameterTables(W)
    m.submodules.na = na = NeuronArray(W)
    m.d.comb += [wm.r_addr.eq(na.w_addr), na.w_data.eq(wm.r_data), tb.r_addr.eq(na.t_addr),
                 na.th.eq(tb.th), na.k.eq(tb.k)]
    got = {}

    async def bench(ctx):
        for r, row in enumerate(rows):
            ctx.set(wm.w_en, 1)
            ctx.set(wm.w_addr, r)
            ctx.set(wm.w_data, sum(_u(int(x), WB) << (p * WB) for p, x in enumerate(row)))
            await ctx.tick()
        ctx.set(wm.w_en, 0)
        for en, addr, data, val in ((tb.th_en, tb.th_addr, tb.th_data, th),
                                    (tb.k_en, tb.k_addr, tb.k_data, k)):
            ctx.set(en, 1)
            ctx.set(addr, 0)
            ctx.set(data, val)
            await ctx.tick()
            ctx.set(en, 0)
        # a word left by an earlier sample: one integrate op, then the array drains
        ctx.set(na.i_valid, 1)
        ctx.set(na.i_integ, 1)
        ctx.set(na.i_fresh, 1)
        ctx.set(na.i_row, int(rng.integers(0, 6)))
        await ctx.tick()
        ctx.set(na.i_valid, 0)
        for _ in range(8):
            await ctx.tick()
        # the new sample: its first op takes 0 instead of that word (the lazy clear), the
        # later ones the results before them (forwarded or read)
        sats = 0
        for n, j in enumerate(order):
            ctx.set(na.i_valid, 1)
            ctx.set(na.i_integ, 1)
            ctx.set(na.i_fresh, n == 0)
            ctx.set(na.i_row, int(j))
            await ctx.tick()
            sats += ctx.get(na.sat_count)
        ctx.set(na.i_integ, 0)
        ctx.set(na.i_reset, reset)
        ctx.set(na.i_leak, lk)
        await ctx.tick()  # one sweep op
        ctx.set(na.i_valid, 0)
        mask = 0
        for _ in range(8):
            sats += ctx.get(na.sat_count)
            if ctx.get(na.fire_valid):
                mask = ctx.get(na.fire_mask)
            await ctx.tick()
        ctx.set(na.rd_en, 1)
        ctx.set(na.rd_addr, 0)
        await ctx.tick()
        got["word"] = ctx.get(na.rd_data)
        got["sats"], got["mask"] = sats, mask

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    v = np.zeros(P, dtype=np.int64)
    sats = 0
    for j in order:
        v, s = sat_add(v, rows[j] * k, PB)
        sats += s
    fire = v >= th
    mask = sum(1 << p for p in range(P) if fire[p])
    if reset == 1:
        v = np.where(fire, 0, v)
    elif reset == 2:
        v = np.where(fire, v - th, v)
    v = leak(v, lk) if lk else v
    fired = mask if reset == 0 else 0
    word = got["word"]
    assert _lanes(word, P, PB) == v.tolist(), f"seed {seed}"
    assert word >> (P * PB) == fired and got["mask"] == mask and got["sats"] == sats


def test_amaranth_blocks_event_fetch_checks_and_prefetch():
    dut = EventFetch(W)
    words = [(0 << 16) | 1, (1 << 16) | 0, (1 << 16) | 0, (5 << 16) | 2, (2 << 16) | 9]
    flags = []
    taken = []

    async def consumer(ctx):
        ctx.set(dut.take, 1)
        for _ in range(40):
            _, _, valid, end, time, row = await ctx.tick().sample(
                dut.ev_valid, dut.ev_end, dut.ev_time, dut.ev_row)
            if valid:
                taken.append((end, time, row))

    async def producer(ctx):
        ctx.set(dut.time_steps, 4)
        ctx.set(dut.n_inputs, 8)
        ctx.set(dut.chunks, 2)
        ctx.set(dut.check, 1)
        # closed out of reset: nothing is taken until the consumer may start a sample
        ctx.set(dut.events.valid, 1)
        ctx.set(dut.events.payload.as_value(), words[0])
        await ctx.tick()
        assert not ctx.get(dut.events.ready)
        ctx.set(dut.may_start, 1)
        first = True
        for wd in words + [1 << 32]:
            ctx.set(dut.events.valid, 1)
            ctx.set(dut.events.payload.as_value(), wd)
            ctx.set(dut.start, int(first))
            first = False
            await ctx.tick().until(dut.events.ready)
            ctx.set(dut.start, 0)
            ctx.set(dut.may_start, 0)
            flags.append((ctx.get(dut.order), ctx.get(dut.range)))
        ctx.set(dut.events.valid, 0)
        ctx.set(dut.events.payload.as_value(), words[0])
        await ctx.tick().repeat(3)
        # after the end word nothing more is accepted
        ctx.set(dut.events.valid, 1)
        await ctx.tick()
        assert not ctx.get(dut.events.ready)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(consumer, background=True)
    sim.add_testbench(producer)
    sim.run()
    # flags (order, range) show right after the edge that accepts the word, and accumulate
    assert flags == [(0, 0), (0, 0), (1, 0), (1, 1), (1, 1), (1, 1)]
    # every word reaches ev once, in order, with its first weight row (input * chunks)
    # (the out-of-range input 9 gets no meaningful row: its sample is flagged and abandoned)
    assert len(taken) == 6 and taken[4][:2] == (0, 2)
    # ev_time carries the low t_idx bits only (2 here): the out-of-range time 5 shows as 1, with
    # `range` already set when it reaches ev
    assert taken[:4] + taken[5:] == [(0, 0, 2), (0, 1, 0), (0, 1, 0), (0, 5 & 3, 4), (1, 0, 0)]


def test_amaranth_blocks_event_queue_order_under_trace_backpressure():
    dut = EventQueue(W, trace=True)
    masks = [(0, 0b1010), (1, 0b1101)]  # chunk 0 lanes 1, 3; chunk 1 lanes 0, 2, 3 (FIFO: 2 deep)
    expect = [1, 3, 4, 6, 7]
    rng = np.random.default_rng(1)
    seen, rows = [], []

    async def bench(ctx):
        ctx.set(dut.layer, 2)
        ctx.set(dut.t, 3)
        ctx.set(dut.next_base, 5)
        ctx.set(dut.next_chunks, 3)
        ctx.set(dut.reset, 1)
        ctx.set(dut.q_clear, 1)
        await ctx.tick()
        ctx.set(dut.reset, 0)
        ctx.set(dut.q_clear, 0)
        for c, mk in masks:
            ctx.set(dut.push_valid, 1)
            ctx.set(dut.push_chunk, c)
            ctx.set(dut.push_mask, mk)
            await ctx.tick()
        ctx.set(dut.push_valid, 0)
        ctx.set(dut.run, 1)
        for _ in range(60):
            ready = int(rng.random() < 0.4)
            ctx.set(dut.trace.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.trace.valid, dut.trace.payload)
            if valid and ready:
                seen.append((payload & 0xFF, payload >> 8 & 0xFFFF, payload >> 24 & 0xFFFF))
        ctx.set(dut.run, 0)
        assert ctx.get(dut.count) == len(expect) and not ctx.get(dut.busy)
        for k in range(len(expect)):
            ctx.set(dut.q_raddr, k)
            await ctx.tick()
            rows.append(ctx.get(dut.q_rdata))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [(2, 3, i) for i in expect], seen
    assert rows == [5 + i * 3 for i in expect]


def test_amaranth_blocks_result_serializer_backpressure():
    dut = ResultSerializer(12)
    words = [0x1234 + 7 * k for k in range(12)]
    got = []
    rng = np.random.default_rng(4)

    async def bench(ctx):
        for k, wd in enumerate(words):
            ctx.set(dut.words[k], wd)
        ctx.set(dut.n_words, 11)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        while True:
            ready = int(rng.random() < 0.5)
            ctx.set(dut.result.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.result.valid,
                                                           dut.result.payload.as_value())
            if valid and ready:
                got.append(payload)
                if payload >> 32:
                    break
        assert not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert [g & 0xFFFFFFFF for g in got] == words[:11]
    assert [g >> 32 for g in got] == [0] * 10 + [1]


@pytest.mark.parametrize("width", [1, 3, 8])
def test_amaranth_blocks_at_most_k_bits_set(width):
    """The spike FIFO head's bit-count tree equals a popcount compare on every input."""
    from amaranth.hdl import Module, Signal

    from ttfs.hw.blocks import _at_most

    x, o1, o2 = Signal(width), Signal(), Signal()
    m = Module()
    m.d.comb += [o1.eq(_at_most(x, 1)), o2.eq(_at_most(x, 2))]
    seen = []

    async def bench(ctx):
        for v in range(1 << width):
            ctx.set(x, v)
            c = bin(v).count("1")
            seen.append((ctx.get(o1), ctx.get(o2)) == (int(c <= 1), int(c <= 2)))

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
    assert len(seen) == 1 << width and all(seen)


@pytest.mark.parametrize("poison", [False, True])
def test_amaranth_blocks_guarded_read_inverts_a_read_during_write(poison):
    """A read in the cycle of a write to the same address: the old word on the plain build, its
    bits inverted on the simulation build; reads of other addresses are untouched."""
    from amaranth.lib.memory import Memory

    from ttfs.hw.blocks import NO_RW_CHECK, guarded_read

    m = Module()
    m.submodules.mem = mem = Memory(shape=8, depth=4, init=[0x11, 0x22, 0x33, 0x44],
                                    attrs=NO_RW_CHECK)
    wp, rp = mem.write_port(), mem.read_port()
    data = guarded_read(m, Widths(CFG, poison=poison), wp, rp, "t")
    got = []

    async def bench(ctx):
        for waddr, raddr in ((1, 1), (1, 2), (3, 3)):
            ctx.set(wp.en, 1)
            ctx.set(wp.addr, waddr)
            ctx.set(wp.data, 0xA0 + waddr)
            ctx.set(rp.addr, raddr)
            await ctx.tick()
            ctx.set(wp.en, 0)
            got.append(ctx.get(data))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    old = [0x22, 0x33, 0x44]  # a read sees the word before that edge's write
    want = [v ^ 0xFF if poison and k != 1 else v for k, v in enumerate(old)]
    assert got == want
