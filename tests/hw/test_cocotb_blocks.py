"""Block-level cocotb tests on the Verilog of single blocks (``hw.emit.block_verilog``)."""

from __future__ import annotations

import json

import pytest

from sim.bench.cocotb_backend import build_verilog, run_module
from sim.bench.differential import COSIM_CORES, encode_record
from sim.costmodel import cost_hook
from sim.random import random_case
from sim.reference import run

pytestmark = pytest.mark.cosim

BLOCK_MODULE = "sim.bench.cocotb_tests.blocks"


def _block_build(block: str, core):
    from hw.emit import BLOCKS, block_verilog

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
        # one word per cycle when the consumer is always ready
        assert [r["cycles"] for r in out] == [len(r) for r in records]
    else:
        assert sum(r["cycles"] for r in out) > sum(len(r) for r in records)


@pytest.mark.parametrize("traffic", ["plain", "idle+stall"])
def test_event_fetch_hands_over_every_event_and_flags_bad_ones(traffic, tmp_path):
    from sim.bench.differential import END, event_payloads, event_status
    from sim.core import chunks

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
