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

from ttfs.sim.errors import MismatchError
from ttfs.sim.protocol import (
    END,
    EVENT_ORDER,
    EVENT_RANGE,
    LAST,
    WORD_MASK,
    event_fields,
    status_names,
)
from ttfs.verify.tb import StreamMonitor


def _start(dut, *options: str) -> tuple[dict, random.Random]:
    """Read the block job, log its seed and ``options``, start the clock and hold reset; returns
    the job and the generator every random choice of the bench draws from."""
    job = json.loads(open(os.environ["TTFS_BLOCK_JOB"], encoding="utf-8").read())
    shown = "".join(f", {name} {job[name]:.2f}" for name in options)
    dut._log.info("bench seed %d%s", job["seed"], shown)
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    return job, random.Random(job["seed"])


async def _release_reset(dut) -> None:
    """Three clock cycles in reset, then release it after a falling edge."""
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0



@cocotb.test()
async def result_serializer(dut):
    """``ResultSerializer`` streams each record word by word, ``last`` on the final word only,
    one word per cycle while ``ready`` from the second cycle after ``start``; ``busy`` holds
    until the last word is taken, ``done`` pulses with that transfer. Counterpart:
    ``sim.protocol.encode_record``."""
    job, rng = _start(dut, "backpressure")
    dut.start.value = 0
    mon = StreamMonitor(dut, "result", random.Random(rng.getrandbits(32)), job["backpressure"])
    await _release_reset(dut)
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
            if done != (took and bool(mon.items[-1] & LAST)):
                raise MismatchError(f"record {r}: done={done} at word {len(mon.items)}")
            done_seen = done
            cycles += 1
            if cycles > 50 * len(rec) + 100:
                raise MismatchError(f"record {r}: no done after {cycles} cycles")
            await FallingEdge(dut.clk)
        words = [p & WORD_MASK for p in mon.items]
        lasts = [int(bool(p & LAST)) for p in mon.items]
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


@cocotb.test()
async def event_fetch(dut):
    """``EventFetch`` hands every event word of a sample to the consumer in order, with its time,
    its first weight row ``input * chunks`` and the end marker, whatever the idle cycles on the
    stream and the stalls of the consumer; it raises ``order``/``range`` exactly as
    ``verify.differential.event_status`` says, and takes nothing after the end word until
    ``start``."""
    from ttfs.verify.differential import event_status
    from ttfs.verify.tb import StreamDriver

    job, rng = _start(dut, "idle", "stall")
    for name in ("start", "take", "may_start", "check", "time_steps", "n_inputs", "chunks"):
        getattr(dut, name).value = 0
    drv = StreamDriver(dut, "events", random.Random(rng.getrandbits(32)), job["idle"])
    take_rng = random.Random(rng.getrandbits(32))
    await _release_reset(dut)
    dut.check.value = 1
    out = []
    for s, sample in enumerate(job["samples"]):
        T, N, C, payloads = sample["T"], sample["N"], sample["C"], sample["payloads"]
        words = [p & WORD_MASK for p in payloads[:-1]]
        flags, _ = event_status(words, T, N)
        dut.time_steps.value, dut.n_inputs.value, dut.chunks.value = T, N, C
        # the fetch is closed (reset, or the last sample's end word): it opens for the start
        dut.start.value = 1
        dut.may_start.value = 1
        drv.queue.extend(payloads)
        got = []
        cycles = 0
        while not got or not got[-1][2]:
            drv.drive()
            take = 1 if take_rng.random() >= job["stall"] else 0
            dut.take.value = take
            await ReadOnly()
            if take and int(dut.ev_valid.value):
                got.append((int(dut.ev_time.value), int(dut.ev_row.value),
                            int(dut.ev_end.value)))
            drv.sample()
            cycles += 1
            if cycles > 100 * len(payloads) + 100:
                raise MismatchError(f"sample {s}: the end word never reached the consumer "
                                    f"({len(got)} words taken)")
            await FallingEdge(dut.clk)
            dut.start.value = 0
            dut.may_start.value = 0
        # nothing is taken after the end word until the next start
        drv.queue.append(END)
        for _ in range(4):
            drv.drive()
            dut.take.value = 1
            await ReadOnly()
            if drv.sample() or int(dut.ev_valid.value):
                raise MismatchError(f"sample {s}: a word was taken after the end word")
            await FallingEdge(dut.clk)
        drv.queue.clear()
        drv.presenting = False
        dut.take.value = 0
        order, rng_flag = int(dut.order.value), int(dut.range.value)
        got_flags = (EVENT_ORDER if order else 0) | (EVENT_RANGE if rng_flag else 0)
        if got_flags != flags:
            raise MismatchError(f"sample {s}: flags expected {flags:#x}, got {got_flags:#x}")
        if len(got) != len(payloads):
            raise MismatchError(f"sample {s}: {len(got)} words reached the consumer for "
                                f"{len(payloads)}")
        if not flags:
            want = [(t, i * C, 0) for t, i in map(event_fields, words)]
            for k, (a, b) in enumerate(zip(want, got, strict=False)):
                if a != b:
                    raise MismatchError(f"sample {s}: event {k}: expected (t, row, end) {a}, "
                                        f"got {b}")
        out.append({"taken": got, "flags": got_flags})
    with open(os.environ["TTFS_RESULTS"], "w", encoding="utf-8") as f:
        json.dump({"samples": out}, f)


@cocotb.test()
async def image_loader(dut):
    """``ImageLoader`` parses each load stream: for a good image it writes every weight row once,
    in order, with the lanes packed as ``lane p at bits [p*WB +: WB]``, and ends with status 0
    and the header's ``time_steps``/``n_inputs``/``n_layers``; a bad stream ends with its flag.
    Counterpart: ``sim.image.decode_network``."""
    from ttfs.verify.tb import StreamDriver

    job, rng = _start(dut, "idle")
    dut.enable.value = 0
    drv = StreamDriver(dut, "load", random.Random(rng.getrandbits(32)), job["idle"])
    await _release_reset(dut)
    dut.enable.value = 1
    await ReadOnly()
    if int(dut.status.value) != 1:
        raise MismatchError(f"status after reset is {int(dut.status.value):#x}, not NO_IMAGE")
    await FallingEdge(dut.clk)
    out = []
    for k, img in enumerate(job["images"]):
        drv.queue.extend(img["payloads"])
        writes = []
        cycles = 0
        done = False
        while not done:
            drv.drive()
            await ReadOnly()
            drv.sample()
            if int(dut.w_en.value):
                writes.append([int(dut.w_addr.value), int(dut.w_data.value)])
            done = bool(int(dut.done.value))
            cycles += 1
            if cycles > 4 * len(img["payloads"]) + 100:
                raise MismatchError(f"image {k} ({img['name']}): no done after {cycles} cycles")
            await FallingEdge(dut.clk)
        await ReadOnly()
        status = int(dut.status.value)
        head = [int(dut.time_steps.value), int(dut.n_inputs.value), int(dut.n_layers.value)]
        name = img["name"]
        if status != img["flag"]:
            raise MismatchError(f"image {k} ({name}): status {status_names(status)}, expected "
                                f"{status_names(img['flag'])}")
        if img["rows"] is not None:
            if head != img["head"]:
                raise MismatchError(f"image {k} ({name}): (time_steps, n_inputs, n_layers) = "
                                    f"{head}, expected {img['head']}")
            for r, (a, b) in enumerate(zip(img["rows"], writes, strict=False)):
                if a != b:
                    raise MismatchError(f"image {k} ({name}): weight write {r}: expected "
                                        f"(row, data) = ({a[0]}, {a[1]:#x}), got ({b[0]}, "
                                        f"{b[1]:#x})")
            if len(writes) != len(img["rows"]):
                raise MismatchError(f"image {k} ({name}): {len(writes)} weight rows written, "
                                    f"expected {len(img['rows'])}")
        out.append({"status": status, "writes": writes, "head": head})
        await FallingEdge(dut.clk)
    with open(os.environ["TTFS_RESULTS"], "w", encoding="utf-8") as f:
        json.dump({"images": out}, f)
