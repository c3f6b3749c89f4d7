"""The image loader against the software decoder, on randomly corrupted load streams.

Each case takes a valid network section, changes one word (a bit flip, a nearby value, zero,
all ones or a random word), and re-seals the checksum so that only the change itself is
wrong. The software decoder (``sim.image.parse_network`` with the built core) then says
whether the section is acceptable to this core; the hardware must agree:

* refused by the decoder -> the core raises ``LOAD_BAD_HEADER`` (and nothing else) and marks
  the sample after it invalid;
* accepted -> the core loads it (status 0), and the sample run on it equals the reference
  model on the network the decoder read, counter for counter.

Header words 7 to 10 describe the core the image was compiled for, and the network's declared
weight width; docs/image.md has them checked by software only. So the decoder is asked about
the stream as the core reads it: those words describing the built core, at its weight width.

A good image is loaded after every refused one, so a flag that leaked into the next load would
show too. Any failure names the seed, the word and the change.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.errors import FitError, ImageError
from ttfs.sim.image import checksum, pack, parse_network
from ttfs.sim.protocol import LOAD_BAD_HEADER, batch_payloads, record_words
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.verilator import (
    Harness,
    build_for_core,
    pair_records,
)

pytestmark = pytest.mark.cosim

#: corrupted loads per core and seed (``TTFS_LOAD_FUZZ_CASES`` for a longer run)
CASES = int(os.environ.get("TTFS_LOAD_FUZZ_CASES", "100"))


#: header words the core does not read (the target core's sizes, the declared weight width)
INFO_WORDS = slice(7, 11)


def _as_the_core_reads(words: np.ndarray, good: np.ndarray) -> np.ndarray:
    """``words`` with words 7..10 those of ``good`` (packed for the built core) and the
    declared weight width cleared (0: the core's own), the checksum re-sealed."""
    w = words.copy()
    w[INFO_WORDS] = good[INFO_WORDS]
    w[8] &= ~np.uint32(0xFF00)
    w[-1] = checksum(w[:-1])
    return w


def _mutate(rng: np.random.Generator, words: np.ndarray, n_layers: int):
    """One word changed (half the time in the header or a descriptor), checksum re-sealed."""
    w = words.copy()
    head = 11 + 4 * n_layers
    # any word but the checksum
    i = int(rng.integers(0, head if rng.random() < 0.5 else len(w) - 1))
    old = int(w[i])
    kind = int(rng.integers(0, 5))
    if kind == 0:
        new = old ^ (1 << int(rng.integers(0, 32)))
    elif kind == 1:
        new = (old + int(rng.choice([-2, -1, 1, 2]))) & 0xFFFFFFFF
    elif kind == 2:
        new = 0
    elif kind == 3:
        new = 0xFFFFFFFF
    else:
        new = int(rng.integers(0, 1 << 32))
    w[i] = new
    w[-1] = checksum(w[:-1])
    return w, f"word {i}: 0x{old:08x} -> 0x{new:08x}"


def _run(h: Harness, samples, core):
    raw = h.run(batch_payloads(samples), len(samples), record_words(core), trace=False)
    return pair_records(raw, False)


@pytest.mark.parametrize("name", ["p4", "p8"])
@pytest.mark.parametrize("seed", [11, 12])
def test_corrupted_loads_match_the_decoder(name, seed):
    core = COSIM_CORES[name]
    case = random_case(seed, n_samples=1, core=core)
    good = pack(case.qnet, case.events, core).net_words.astype(np.uint32)
    sample = case.events.samples[:1]
    rng = np.random.default_rng(seed)
    refused = accepted = 0
    with Harness(build_for_core(core, trace=False)) as h:
        for _ in range(CASES):
            words, what = _mutate(rng, good, len(case.qnet.layers))
            label = f"{name}, seed {seed}, {what}"
            try:
                qnet, _ = parse_network(_as_the_core_reads(words, good), core)
            except (ImageError, FitError):
                qnet = None
            h.load(words)
            (got,) = _run(h, sample, core)
            if qnet is None:
                refused += 1
                assert (got.valid, got.status) == (False, LOAD_BAD_HEADER), label
                h.load(good)  # the next load starts clean
                (again,) = _run(h, sample, core)
                assert (again.valid, again.status) == (True, 0), f"{label}: after a good load"
            else:
                accepted += 1
                assert (got.valid, got.status) == (True, 0), label
                ref = run(qnet, case.events.subset([0]), trace=False, cost=cost_hook(core))
                check_equal(ref, [got], backend="verilator", compare_trace=False, label=label)
    # the mutations must exercise both outcomes, or the test says little
    assert refused > 0 and accepted > 0, (refused, accepted)
