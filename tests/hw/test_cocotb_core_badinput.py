"""Bad input in hardware: every fault raises its status flag and marks the sample invalid, and the
core then recovers and runs the next good image exactly like the reference model.

One simulation per (build, traffic) runs this script, in order, from reset:

1. a sample before any image            -> ``NO_IMAGE``
2. good image A, good samples           -> reference results
3. events out of time order             -> ``EVENT_ORDER``, then a good sample
4. an input index beyond ``n_inputs``   -> ``EVENT_RANGE``, then a good sample
5. a time step beyond ``T``             -> ``EVENT_RANGE``, then a good sample
6. a truncated load stream              -> ``LOAD_TRUNCATED`` on the following sample
7. good image B                         -> reference results (recovery)
8. an over-long load stream             -> ``LOAD_TOO_LONG``
9. good image A again                   -> reference results
10. one flipped bit in a weight word     -> ``LOAD_CHECKSUM``
11. good image B                         -> reference results
12. an image for a larger core (layer wider than ``max_neurons``) -> ``LOAD_BAD_HEADER``
13. an image with more time steps than ``max_time_steps``          -> ``LOAD_BAD_HEADER``
14. a bad magic word                     -> ``LOAD_BAD_HEADER``
15. good image A                         -> reference results

The bench's model (:class:`verify.differential.ExpectModel`) predicts every record: flags for
the bad ones (a load fault may come with ``NO_IMAGE``; nothing else may be set), reference
results, counters, cycles and spike traces for the good ones.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.protocol import (
    EVENT_ORDER,
    EVENT_RANGE,
    LAST,
    LOAD_BAD_HEADER,
    LOAD_CHECKSUM,
    LOAD_TOO_LONG,
    LOAD_TRUNCATED,
    NO_IMAGE,
    event_payloads,
    load_payloads,
)
from ttfs.sim.random import random_case
from ttfs.verify.cocotb_backend import run_job
from ttfs.verify.differential import (
    COSIM_CORES,
    BenchOptions,
    Program,
    program_for,
)

pytestmark = pytest.mark.cosim


def _bad_core_image(core, *, wide: bool):
    """An image packed for a larger core: a layer one wider than ``max_neurons``, or more steps."""
    big = dataclasses.replace(core, max_neurons=core.max_neurons * 2,
                              max_time_steps=core.max_time_steps * 2,
                              weight_depth=core.weight_depth * 4)
    n_out = core.max_neurons + 1 if wide else 3
    T = 4 if wide else core.max_time_steps + 1
    w = np.ones((2, n_out), dtype=np.int64)
    q = QNet(2, T, (Layer(w, threshold=1),), core.weight_bits, core.potential_bits,
             _readout(core))
    return pack(q, EventSet((np.array([[0, 0]]),)), big)


def _readout(core) -> str:
    """A readout the build runs (a build without a spiking output layer: max_potential only)."""
    return "first_spike" if core.spiking_output else "max_potential"


def script(core):
    """The programs of the bad-input run and, per program, the flags its samples must carry."""
    a = random_case(7, n_samples=3, core=core)
    b = random_case(8, n_samples=3, core=core)
    img_a, img_b = pack(a.qnet, a.events, core), pack(b.qnet, b.events, core)
    qa = a.qnet
    good = [event_payloads(s) for s in a.events.samples]
    T, n_in = qa.time_steps, qa.n_inputs
    out_of_order = event_payloads([[min(1, T - 1), 0], [0, 0]]) if T > 1 else event_payloads(
        [[0, min(1, n_in - 1)], [0, 0]])
    words_a = np.asarray(img_a.net_words).tolist()
    words_b = np.asarray(img_b.net_words).tolist()
    truncated = load_payloads(words_b[:-3])
    too_long = words_b + [0, 1, 2]
    too_long = [w & 0xFFFF_FFFF for w in too_long]
    too_long[-1] |= LAST
    corrupt = list(words_a)
    corrupt[-2] ^= 1 << 3  # a weight word (the checksum is word -1)
    bad_magic = list(words_a)
    bad_magic[0] ^= 0x100
    bad_magic[-1] = sum(bad_magic[:-1]) & 0xFFFF_FFFF  # a correct checksum: only the magic is bad
    probe = [good[0]]
    programs = [
        Program("1 sample before any image", samples=probe),
        program_for(img_a, name="2 image A"),
        Program("3 events out of order", samples=[out_of_order, good[1]]),
        Program("4 input out of range", samples=[event_payloads([[0, n_in]]), good[2]]),
        Program("5 time out of range", samples=[event_payloads([[0, 0], [T, 0]]), good[0]]),
        Program("6 truncated load", load=truncated, qnet=b.qnet, load_flag=LOAD_TRUNCATED,
                samples=probe),
        program_for(img_b, name="7 image B after a truncated load"),
        Program("8 over-long load", load=too_long, qnet=b.qnet, load_flag=LOAD_TOO_LONG,
                samples=probe),
        program_for(img_a, name="9 image A after an over-long load"),
        Program("10 corrupted load", load=load_payloads(corrupt), qnet=qa,
                load_flag=LOAD_CHECKSUM, samples=probe),
        program_for(img_b, name="11 image B after a corrupted load"),
    ]
    for k, (wide, what) in enumerate(((True, "layer too wide"), (False, "too many steps"))):
        bad = _bad_core_image(core, wide=wide)
        programs.append(Program(f"{12 + k} image for a larger core: {what}",
                                load=load_payloads(np.asarray(bad.net_words).tolist()),
                                qnet=bad.qnet, load_flag=LOAD_BAD_HEADER,
                                samples=[event_payloads([[0, 0]])]))
    # a build without the leak datapath / the subtract reset / a spiking output layer refuses an
    # image that needs it (packed for the same core with all three, so only that is wrong)
    full = dataclasses.replace(core, leak=True, subtract=True, spiking_output=True)
    lacks = [(what, kw) for what, kw, has in (
        ("leak", dict(leak_shift=1), core.leak),
        ("subtract reset", dict(reset="subtract"), core.subtract),
        ("spiking output layer", dict(readout="first_spike"), core.spiking_output)) if not has]
    for k, (what, kw) in enumerate(lacks):
        readout = kw.pop("readout", _readout(core))
        q = QNet(2, 4, (Layer(np.ones((2, 3), dtype=np.int64), threshold=1, **kw),),
                 core.weight_bits, core.potential_bits, readout)
        img = pack(q, EventSet((np.array([[0, 0]]),)), full)
        programs.append(Program(f"13{'bcd'[k]} image that needs the {what} this build lacks",
                                load=load_payloads(np.asarray(img.net_words).tolist()), qnet=q,
                                load_flag=LOAD_BAD_HEADER, samples=[event_payloads([[0, 0]])]))
    programs.append(Program("14 bad magic", load=load_payloads(bad_magic), qnet=qa,
                            load_flag=LOAD_BAD_HEADER, samples=probe))
    programs.append(program_for(img_a, name="15 image A after a bad header"))
    flags = [NO_IMAGE, 0, EVENT_ORDER, EVENT_RANGE, EVENT_RANGE, LOAD_TRUNCATED, 0,
             LOAD_TOO_LONG, 0, LOAD_CHECKSUM, 0, LOAD_BAD_HEADER, LOAD_BAD_HEADER]
    flags += [LOAD_BAD_HEADER] * len(lacks) + [LOAD_BAD_HEADER, 0]
    return programs, flags


@pytest.mark.parametrize("traffic", ["plain", "idle+backpressure"])
@pytest.mark.parametrize("core_name", ["p3", "p8"])
def test_bad_input_flags_and_recovery(core_name, traffic, cocotb_build):
    core = COSIM_CORES[core_name]
    programs, flags = script(core)
    seed = 31 + core.lanes
    busy = traffic != "plain"
    print(f"{core_name} {traffic}: bench seed {seed}")
    opts = BenchOptions(seed=seed, idle=0.3 if busy else 0.0, backpressure=0.4 if busy else 0.0)
    # the bench raises MismatchError on the first record that differs from the model
    results, _ = run_job(core, programs, opts, build=cocotb_build(core))
    assert [len(p.results) for p in results] == [len(p.samples) for p in programs]
    for prog, pr, flag in zip(programs, results, flags, strict=True):
        first = pr.results[0]
        if flag:
            assert not first.valid and first.status & flag, (prog.name, first.status)
        else:
            assert all(r.valid and r.status == 0 for r in pr.results), prog.name
    # the bad event samples are followed by good ones, which must be valid
    for k in (2, 3, 4):
        assert results[k].results[1].valid, programs[k].name
