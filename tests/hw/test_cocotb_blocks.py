"""Block-level cocotb tests on the Verilog of single blocks (``hw.emit.block_verilog``)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ttfs.sim.costmodel import cost_hook
from ttfs.sim.protocol import encode_record
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.cocotb_backend import build_verilog, run_module
from ttfs.verify.differential import COSIM_CORES

pytestmark = pytest.mark.cosim

BLOCK_MODULE = "ttfs.verify.cocotb_tests.blocks"


def _block_build(block: str, core):
    from ttfs.hw.emit import BLOCKS, block_verilog

    text = block_verilog(block, core)
    return build_verilog(text, BLOCKS[block], tag=json.dumps({"block": block,
                                                              "core": core.to_json()}))


@pytest.mark.parametrize("backpressure", [0.0, 0.5])
def test_result_serializer_streams_reference_records(backpressure, tmp_path):
    core = COSIM_CORES["p4"]
    records = []
    for seed in (5, 6, 7):
        case = random_case(seed, n_samples=4, core=core)
        for res in run(case.qnet, case.events, cost=cost_hook(core)):
            records.append(encode_record(res))
    # the longest record the block takes (every layer), and a lone head
    records.append(list(range(1, 10 + core.max_layers + 1)))
    job = {"seed": 11, "backpressure": backpressure, "records": records}
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    build = _block_build("ResultSerializer", core)
    passed, tail = run_module(build, BLOCK_MODULE, tmp_path / "sim",
                              {"TTFS_BLOCK_JOB": str(tmp_path / "job.json"),
                               "TTFS_RESULTS": str(tmp_path / "out.json")},
                              testcase="result_serializer")
    assert passed, tail
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["records"]
    assert [r["words"] for r in out] == records
    if backpressure == 0.0:
        # one word per cycle when the consumer is always ready, after the cycle that loads the
        # output register with the first
        assert [r["cycles"] for r in out] == [len(r) + 1 for r in records]
    else:
        assert sum(r["cycles"] for r in out) > sum(len(r) + 1 for r in records)


@pytest.mark.parametrize("traffic", ["plain", "idle+stall"])
def test_event_fetch_hands_over_every_event_and_flags_bad_ones(traffic, tmp_path):
    from ttfs.sim.core import chunks
    from ttfs.sim.protocol import END, event_payloads
    from ttfs.verify.differential import event_status

    core = COSIM_CORES["p3"]
    samples = []
    for seed in (21, 22, 23):
        case = random_case(seed, n_samples=5, core=core)
        q = case.qnet
        spec = dict(T=q.time_steps, N=q.n_inputs, C=chunks(q.layers[0].n_out, core.lanes))
        for s in case.events.samples:
            samples.append(dict(spec, payloads=event_payloads(s)))
        T, N = q.time_steps, q.n_inputs
        bad = [[[0, N]], [[T, 0]], [[0, 0], [0, 0]], [[min(1, T - 1), 0], [0, 0]],
               [[0, 0], [T - 1, N - 1], [T, N]]]
        samples += [dict(spec, payloads=event_payloads(b)) for b in bad]
    samples.append(dict(T=16, N=24, C=8, payloads=[END]))
    busy = traffic != "plain"
    job = {"seed": 17, "idle": 0.3 if busy else 0.0, "stall": 0.4 if busy else 0.0,
           "samples": samples}
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    build = _block_build("EventFetch", core)
    passed, tail = run_module(build, BLOCK_MODULE, tmp_path / "sim",
                              {"TTFS_BLOCK_JOB": str(tmp_path / "job.json"),
                               "TTFS_RESULTS": str(tmp_path / "out.json")},
                              testcase="event_fetch")
    assert passed, tail
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["samples"]
    assert len(out) == len(samples)
    n_bad = 0
    for spec, got in zip(samples, out, strict=True):
        words = [p & 0xFFFF_FFFF for p in spec["payloads"][:-1]]
        flags, _ = event_status(words, spec["T"], spec["N"])
        assert got["flags"] == flags
        n_bad += bool(flags)
        if not flags:
            assert [tuple(x) for x in got["taken"]] == (
                [(w >> 16, (w & 0xFFFF) * spec["C"], 0) for w in words] + [(0, 0, 1)])
    assert n_bad >= 15


def _rows(words, core):
    """(row, packed lanes) of every weight row the loader must write for a good image."""
    from ttfs.sim.image import decode_network

    mem = decode_network(np.asarray(words, dtype=np.int64))
    mask = (1 << core.weight_bits) - 1
    return [[r, sum((int(v) & mask) << (p * core.weight_bits) for p, v in enumerate(row))]
            for r, row in enumerate(mem.wmem.tolist())]


@pytest.mark.parametrize("idle", [0.0, 0.4])
def test_image_loader_writes_rows_and_flags_bad_streams(idle, tmp_path):
    import dataclasses

    from ttfs.sim.image import pack
    from ttfs.sim.ir import EventSet, Layer, QNet
    from ttfs.sim.protocol import (
        LAST,
        LOAD_BAD_HEADER,
        LOAD_CHECKSUM,
        LOAD_TOO_LONG,
        LOAD_TRUNCATED,
        load_payloads,
    )

    core = COSIM_CORES["p3"]
    images = []
    for seed in (31, 32, 33, 34):
        case = random_case(seed, n_samples=1, core=core)
        q = case.qnet
        words = np.asarray(pack(q, case.events, core).net_words).tolist()
        images.append({"name": f"seed {seed}", "payloads": load_payloads(words), "flag": 0,
                       "rows": _rows(words, core),
                       "head": [q.time_steps, q.n_inputs, len(q.layers)]})
        if seed == 31:
            good = words
    too_long = good + [0, 1]
    too_long[-1] |= LAST
    corrupt = list(good)
    corrupt[-2] ^= 1 << 2
    magic = list(good)
    magic[0] ^= 1
    magic[-1] = sum(magic[:-1]) & 0xFFFF_FFFF
    big = dataclasses.replace(core, max_neurons=2 * core.max_neurons,
                              weight_depth=4 * core.weight_depth)
    wide = QNet(2, 4, (Layer(np.ones((2, core.max_neurons + 1), dtype=np.int64), 1),),
                core.weight_bits, core.potential_bits)
    wide_words = np.asarray(pack(wide, EventSet((np.array([[0, 0]]),)), big).net_words)
    for name, payloads, flag in (
        ("truncated", load_payloads(good[:-4]), LOAD_TRUNCATED),
        ("too long", too_long, LOAD_TOO_LONG),
        ("bad checksum", load_payloads(corrupt), LOAD_CHECKSUM),
        ("bad magic", load_payloads(magic), LOAD_BAD_HEADER),
        ("layer wider than the core", load_payloads(wide_words.tolist()), LOAD_BAD_HEADER),
    ):
        images.append({"name": name, "payloads": payloads, "flag": flag, "rows": None,
                       "head": None})
        images.append(dict(images[0], name="seed 31 again"))
    job = {"seed": 19, "idle": idle, "images": images}
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    build = _block_build("ImageLoader", core)
    passed, tail = run_module(build, BLOCK_MODULE, tmp_path / "sim",
                              {"TTFS_BLOCK_JOB": str(tmp_path / "job.json"),
                               "TTFS_RESULTS": str(tmp_path / "out.json")},
                              testcase="image_loader")
    assert passed, tail
    out = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))["images"]
    assert [o["status"] for o in out] == [img["flag"] for img in images]
    for img, o in zip(images, out, strict=True):
        if img["rows"] is not None:
            assert o["writes"] == img["rows"] and o["head"] == img["head"], img["name"]
