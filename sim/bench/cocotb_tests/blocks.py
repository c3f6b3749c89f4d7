"""Block-level cocotb tests, run on the Verilog of one block from ``hw.emit.block_verilog``.

The job file named by ``TTFS_BLOCK_JOB`` holds the stimulus and the bench options (seed,
backpressure); results go to ``TTFS_RESULTS``. Each test checks in the bench and fails on the
first divergence; the host test checks the returned words again.
"""

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge

from sim.bench.tb import StreamMonitor
from sim.errors import MismatchError


@cocotb.test()
async def result_serializer(dut):
    """``ResultSerializer`` streams each record word by word, ``last`` on the final word only,
    one word per cycle while ``ready``; ``busy`` holds until the last word is taken, ``done``
    pulses with that transfer. Counterpart: ``sim.bench.differential.encode_record``."""
    job = json.loads(open(os.environ["TTFS_BLOCK_JOB"], encoding="utf-8").read())
    rng = random.Random(job["seed"])
    dut._log.info("bench seed %d, backpressure %.2f", job["seed"], job["backpressure"])
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.start.value = 0
    mon = StreamMonitor(dut, "result", random.Random(rng.getrandbits(32)), job["backpressure"])
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    out = []
    for r, rec in enumerate(job["records"]):
        dut.words.value = sum(int(w) << (32 * k) for k, w in enumerate(rec))
        dut.n_words.value = len(rec)
        dut.start.value = 1
        mon.drive()
        await ReadOnly()
        if mon.sample():
            raise MismatchError(f"record {r}: a word was offered before start took effect")
        await FallingEdge(dut.clk)
        dut.start.value = 0
        mon.items.clear()
        done_seen = cycles = 0
        while not done_seen:
            mon.drive()
            await ReadOnly()
            busy, done = int(dut.busy.value), int(dut.done.value)
            took = mon.sample()
            if not busy:
                raise MismatchError(f"record {r}: busy fell after {len(mon.items)} words")
            if done != (took and bool(mon.items[-1] >> 32 & 1)):
                raise MismatchError(f"record {r}: done={done} at word {len(mon.items)}")
            done_seen = done
            cycles += 1
            if cycles > 50 * len(rec) + 100:
                raise MismatchError(f"record {r}: no done after {cycles} cycles")
            await FallingEdge(dut.clk)
        words = [p & 0xFFFF_FFFF for p in mon.items]
        lasts = [p >> 32 & 1 for p in mon.items]
        if words != [int(w) for w in rec]:
            k = next((i for i, (a, b) in enumerate(zip(words, rec, strict=False)) if a != b),
                     min(len(words), len(rec)))
            raise MismatchError(f"record {r}: word {k} differs: expected {rec[k:k + 1]}, got "
                                f"{words[k:k + 1]} ({len(words)} words for {len(rec)})")
        if lasts != [0] * (len(rec) - 1) + [1]:
            raise MismatchError(f"record {r}: last flags {lasts}")
        await ReadOnly()
        if int(dut.busy.value):
            raise MismatchError(f"record {r}: still busy after the last word")
        out.append({"words": words, "cycles": cycles})
        await FallingEdge(dut.clk)
    with open(os.environ["TTFS_RESULTS"], "w", encoding="utf-8") as f:
        json.dump({"records": out}, f)
