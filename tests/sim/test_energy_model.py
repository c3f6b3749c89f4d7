"""The energy model: the table, width derivation, JSON tables and reports against hand values.

Energies are model outputs in floating point (not semantics of the network), so they are
compared with a tight relative tolerance; every count is compared exactly.
"""

import json
import math

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.energy import (
    DEFAULT,
    ESTIMATE_NOTE,
    EnergyTable,
    core_memories,
    dense_ann,
    energy_report,
    load_table,
    save_table,
)
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import Counters, SampleResult, run


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def e64(size_bytes):
    """The size rule below 8 KB by hand: 10 pJ x sqrt(S / 8 KB) per 64-bit access."""
    return 10.0 * math.sqrt(size_bytes / 8192)


def test_default_table_is_horowitz_45nm():
    t = DEFAULT
    assert (t.add(8), t.add(16), t.add(32)) == (0.03, 0.05, 0.1)
    assert (t.mult(8), t.mult(32), t.sram_bits) == (0.2, 3.1, 64)
    assert t.sram_pj == ((8192, 10.0), (32768, 20.0), (1 << 20, 100.0))
    assert "Horowitz" in t.source and "ISSCC 2014" in t.source and "45 nm" in t.source


def test_memories_are_priced_by_size():
    t = DEFAULT
    # the published points, per 64-bit access
    assert t.sram(8192) == 10.0 and t.sram(32 * 1024) == 20.0 and t.sram(1 << 20) == 100.0
    assert t.memory(64, 8192) == approx(10.0)
    assert t.memory(64, 32768) == approx(20.0)
    # linear in sqrt(size) between 8 and 32 KB: 16 KB -> 10 + 10 (sqrt(16) - sqrt(8)) /
    # (sqrt(32) - sqrt(8)) = 10 + 10 (sqrt 2 - 1) = 10 sqrt 2
    assert t.sram(16384) == approx(10 * math.sqrt(2))
    # between 32 KB and 1 MB: 128 KB -> 20 + 80 (sqrt(128) - sqrt(32)) / (sqrt(1024) -
    # sqrt(32)) = 20 + 80 x sqrt(32) / (32 - sqrt(32))
    s32 = math.sqrt(32)
    assert t.sram(128 * 1024) == approx(20 + 80 * s32 / (32 - s32))
    # below 8 KB and above 1 MB: E(S0) sqrt(S / S0)
    assert t.sram(2048) == approx(5.0)
    assert t.sram(512) == approx(2.5)
    assert t.sram(4 << 20) == approx(200.0)
    # linear in the word width: a 16-bit read from 8 KB is a quarter of the 64-bit one
    assert t.memory(16, 8192) == approx(2.5)
    assert t.memory(16, 512) == approx(0.625)
    sizes = [1, 10, 100, 1000, 8192, 10_000, 32768, 100_000, 1 << 20, 1 << 24]
    e = [t.sram(s) for s in sizes]
    assert all(a < b for a, b in zip(e, e[1:], strict=False))
    with pytest.raises(ConfigError) as exc:
        t.sram(0)
    assert str(exc.value) == "a memory size must be a positive number of bytes, not 0"


def test_core_memories_by_their_real_size():
    m = core_memories(CoreConfig(lanes=2, max_time_steps=4))
    # weight: 4096 rows x 2 lanes x 8 bits = 8 KB; membrane: 4 layers << bits(64 - 1) = 6 ->
    # 256 words of 2 x 16 + 2 fired bits; tables: 4 << bits(3) = 16 entries of 15 and 8 bits;
    # queue: 128 row addresses of bits(4096) = 13
    assert {k: (v.depth, v.width, v.bytes) for k, v in m.items()} == {
        "weight": (4096, 16, 8192.0), "membrane": (256, 34, 1088.0),
        "threshold": (16, 15, 30.0), "kernel": (16, 8, 16.0), "queue": (128, 13, 208.0)}
    assert DEFAULT.access(m["weight"], 3) == approx(7.5)  # 3 x 16/64 x 10


def test_other_widths_are_derived():
    t = DEFAULT
    # 16-bit multiply: linear in bits^2 between 8 and 32: 0.2 + 2.9 * (256 - 64) / (1024 - 64)
    assert t.mult(16) == approx(0.78)
    # 12-bit add: linear in bits between 8 and 16: 0.03 + 0.02 * 4 / 8 = 0.04
    assert t.add(12) == approx(0.04)
    # outside the table: proportional from the nearest listed width
    assert t.add(4) == approx(0.015)  # 0.03 * 4/8
    assert t.mult(4) == approx(0.05)  # 0.2 * (4/8)^2
    assert t.add(64) == approx(0.2)  # 0.1 * 64/32
    assert t.mac(8) == approx(0.23)
    assert t.memory(16, 8192) == approx(2.5)  # 16/64 x 10 pJ


def network(reset="fire_once", leak_shift=0):
    # the 2-3-1 network of test_metrics_summary: sample 0 has 3 hidden spikes and 1 output spike
    # at t0; SOPs 9 (layer 1, kernel all ones) + 3 (layer 2, kernel [1, 2, 1]). Membrane
    # updates by the skip rule (a layer without leak is swept only at the steps where one of its
    # neurons fires, a leaky layer at every step): 3 + 1 (no leak: each layer swept at t0 only)
    # or 9 + 1 (leak: the hidden layer swept at all 3 steps)
    hidden = Layer(np.array([[2, 1, 1], [2, 1, 1]]), 2, 1, leak_shift, reset)
    out = Layer(np.array([[1], [1], [1]]), 3, [1, 2, 1])
    return QNet(2, 3, (hidden, out), 8, 16)


SAMPLE = EventSet((np.array([[0, 0], [0, 1], [2, 0]]),))


def test_report_with_per_neuron_counts_by_hand():
    q = network()
    rep = energy_report(q, run(q, SAMPLE))
    # add at 16 bits 0.05; multiply at max(8, 2 kernel bits) = 8 bits: 0.2
    # synaptic = 9 x 0.05 + 3 x (0.05 + 0.2) = 1.2
    # membrane updates (no leak, fire_once): the hidden layer fires only at t0 (V = [4, 2, 2]
    # >= 2; the event at t2 reaches neurons that already fired), so it is swept at t0 only:
    # 3 visits; the output fires only at t0 (3 events x K[0] = 1 -> 3 >= 3): 1 visit.
    # 4 visits x 0.05 = 0.2
    snn = rep["snn_pj"]
    assert snn["synaptic"] == approx(1.2)
    assert snn["membrane_update"] == approx(0.2)
    assert snn["compute"] == approx(1.4)
    # memories sized by the network: weights 9 x 8 bits = 9 bytes, membranes 4 x 16 bits =
    # 8 bytes. Weight reads 12 x 8 bits = 96 bits; membrane reads = writes = 12 SOPs + 4
    # visits = 16, 32 x 16 bits = 512 bits
    w_mem = 96 / 64 * e64(9)
    m_mem = 512 / 64 * e64(8)
    assert m_mem == approx(2.5)  # 8 x 10 / 32
    assert snn["weight_memory"] == approx(w_mem)
    assert snn["membrane_memory"] == approx(m_mem)
    assert snn["table_memory"] == 0.0 and snn["queue_memory"] == 0.0
    assert snn["memory"] == approx(w_mem + m_mem)
    assert snn["total"] == approx(1.4 + w_mem + m_mem)
    assert rep["ops"] == {"sops": 12.0, "sops_with_multiply": 3.0, "membrane_updates": 4.0,
                          "weight_reads": 12.0, "membrane_reads": 16.0, "membrane_writes": 16.0,
                          "table_reads": 0.0, "queue_reads": 0.0, "queue_writes": 0.0}
    assert rep["memories"]["weight"]["bytes"] == 9.0
    # dense ANN: 9 MACs x (0.2 + 0.03) = 2.07; weights 9 x 8 bits = 72 bits from the 9-byte
    # weight memory; activations: reads 2 + 3, writes 3 + 1, 9 x 8 bits = 72 bits from a
    # buffer of max(2 + 3, 3 + 1) = 5 activations of 8 bits = 5 bytes
    ann = rep["dense_ann"]
    a_w, a_a = 72 / 64 * e64(9), 72 / 64 * e64(5)
    assert (ann["macs"], ann["weight_reads"], ann["activation_reads"],
            ann["activation_writes"]) == (9, 9, 5, 4)
    assert ann["compute_pj"] == approx(2.07)
    assert ann["weight_memory_pj"] == approx(a_w)
    assert ann["activation_memory_pj"] == approx(a_a)
    assert ann["memory_pj"] == approx(a_w + a_a)
    assert ann["total_pj"] == approx(2.07 + a_w + a_a)
    assert ann == dense_ann(q)
    assert rep["snn_over_ann"]["compute"] == approx(1.4 / 2.07)
    assert rep["snn_over_ann"]["total"] == approx((1.4 + w_mem + m_mem) / (2.07 + a_w + a_a))
    assert rep["note"] == ESTIMATE_NOTE
    assert "not measurements of silicon" in rep["note"]
    assert rep["table"]["source"] == DEFAULT.source
    assert rep["counts"].startswith("per-neuron counts (no hardware counters)")
    json.dumps(rep)  # JSON-ready


def test_leak_and_subtract_reset_cost_extra_adds():
    # baseline (no leak, fire_once): 4 visits x 0.05 = 0.2 (test_report_with_per_neuron_...)
    # leak: the leaky hidden layer is swept at every step, though it fires at t0 only: 3 steps
    # x 3 = 9 visits x 2 adds (compare + leak); the output (no leak) is swept only at t0 where
    # it fires: 1 visit x 1 add. (18 + 1) x 0.05 = 0.95
    q = network(leak_shift=1)
    assert energy_report(q, run(q, SAMPLE))["snn_pj"]["membrane_update"] == approx(0.95)
    # subtract reset: t0: hidden V = [4, 2, 2], all fire -> [2, 0, 0]; t1 (no event): neuron 0
    # has 2 >= 2 and fires again -> 0; t2: input 0 adds [2, 1, 1]: neuron 0 fires -> 0.
    # hidden spikes 3 + 1 + 1 = 5; the output (fire_once) fires at t0 and never again.
    # visits: the hidden layer fires at t0, t1 and t2, so it is swept at each -> 3 x 3 = 9;
    # output swept at t0 only (its one spike) -> 1. (9 + 1 visits + 5 resets) x 0.05 = 0.75,
    # above the baseline by the 2 extra hidden sweeps (6 visits) and the 5 resets
    q = network(reset="subtract")
    (r,) = run(q, SAMPLE)
    assert r.counters.spikes_per_layer == (5, 1)
    assert energy_report(q, [r])["snn_pj"]["membrane_update"] == approx(0.75)


def test_report_with_hardware_counters():
    q = network()
    (r,) = run(q, SAMPLE)
    c = r.counters
    c.weight_reads, c.membrane_reads, c.membrane_writes, c.sweeps = 5, 9, 8, 3
    core = CoreConfig(lanes=2, max_time_steps=4)  # memories: test_core_memories_by_their_real_size
    rep = energy_report(q, [r], core=core)
    snn = rep["snn_pj"]
    # weight reads 5 words x 2 lanes x 8 bits = 80 bits from 8 KB -> 12.5 pJ
    assert snn["weight_memory"] == approx(12.5)
    # membrane 17 words x (2 x 16 + 2) bits = 578 bits from 1088 bytes
    assert snn["membrane_memory"] == approx(578 / 64 * e64(1088))
    # 3 sweeps: a 15-bit threshold entry (30-byte table) and an 8-bit kernel entry (16 bytes)
    assert snn["table_memory"] == approx(3 * (15 / 64 * e64(30) + 8 / 64 * e64(16)))
    # queue: spikes (3, 1): 4 writes, 3 reads of 13 bits from 208 bytes
    assert snn["queue_memory"] == approx(7 * 13 / 64 * e64(208))
    assert snn["memory"] == approx(snn["weight_memory"] + snn["membrane_memory"]
                                   + snn["table_memory"] + snn["queue_memory"])
    # membrane updates: the core's lane visits, (8 writes - 5 integrate ops) x 2 = 6,
    # one add (0.05 pJ) each, not the activity's 4 neuron visits (3 + 1, see above)
    assert snn["membrane_update"] == approx(0.3)
    assert rep["ops"]["membrane_updates"] == 6.0
    assert (rep["ops"]["table_reads"], rep["ops"]["queue_writes"],
            rep["ops"]["queue_reads"]) == (3.0, 4.0, 3.0)
    assert rep["counts"].startswith("hardware counters of a 2-lane core")
    # without a core the lanes are unknown: per-neuron counts, and the report says so
    rep = energy_report(q, [r])
    assert rep["snn_pj"]["weight_memory"] == approx(96 / 64 * e64(9))
    assert rep["snn_pj"]["membrane_update"] == approx(0.2)  # 4 visits x 0.05
    assert rep["counts"].startswith("per-neuron counts")


def test_reference_with_cost_model_equals_rtl_style_results():
    # the same counters with and without per-step activity give the same energy with a core
    from ttfs.sim.costmodel import cost_hook

    q = network()
    core = CoreConfig(lanes=2, max_time_steps=4)
    (r,) = run(q, SAMPLE, cost=cost_hook(core))
    bare = SampleResult(r.prediction, r.valid, r.counters, r.steps, r.cycles)
    assert bare.activity is None
    assert energy_report(q, [r], core=core)["snn_pj"] == energy_report(q, [bare], core=core)[
        "snn_pj"]


def test_report_is_the_mean_over_samples():
    # an empty sample costs nothing but the dense ANN baseline stays: mean synaptic 1.2 / 2
    q = network()
    ev = EventSet((SAMPLE.samples[0], np.zeros((0, 2), dtype=np.int64)))
    rep = energy_report(q, run(q, ev))
    assert rep["samples"] == 2
    assert rep["snn_pj"]["synaptic"] == approx(0.6)
    assert rep["dense_ann"]["compute_pj"] == approx(2.07)


def test_custom_table_round_trip(tmp_path):
    # sram_exponent 0: every memory costs the same, 64 pJ per 64 bits
    table = EnergyTable(name="toy", source="made up for a test", add_pj={16: 1.0},
                        mult_pj={8: 2.0}, sram_pj=64.0, sram_exponent=0)
    path = tmp_path / "table.json"
    save_table(table, path)
    back = load_table(path)
    assert back == table
    q = network()
    rep = energy_report(q, run(q, SAMPLE), table=back)
    # add 1.0 at 16 bits; multiply 2.0 at 8 bits: synaptic 9 x 1 + 3 x 3 = 18
    # memory: 1 pJ per bit: weights 12 reads x 8 bits = 96; membranes (16 reads + 16 writes)
    # x 16 bits = 512 (test_report_with_per_neuron_counts_by_hand): 96 + 512 = 608
    assert rep["snn_pj"]["synaptic"] == approx(18.0)
    assert rep["snn_pj"]["memory"] == approx(608.0)
    assert rep["table"]["name"] == "toy"
    # the ANN MAC at 8 bits: multiply 2.0 + add 1.0 x 8/16 = 2.5; 9 MACs
    assert rep["dense_ann"]["compute_pj"] == approx(22.5)


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"add_pj": {}}, ConfigError, "add_pj needs at least one (bits, pJ) entry"),
        ({"add_pj": {"8": -1}}, ConfigError,
         "add_pj energy for 8 bits must be a positive number, not -1"),
        ({"mult_pj": {"x": 1}}, ConfigError,
         "mult_pj bit width must be an integer in 1..128, not 'x'"),
        ({"sram_pj": 0}, ConfigError, "sram_pj must be a positive number, not 0"),
        ({"sram_bits": 64.0}, TypeError, "sram_bits must be an integer, not 64.0"),
        ({"sram_pj": {"0": 1.0}}, ConfigError,
         "sram_pj size in bytes must be an integer in 1..1099511627776, not 0"),
        ({"sram_pj": {"8192": 0}}, ConfigError,
         "sram_pj energy for 8192 bytes must be a positive number, not 0"),
        ({"sram_exponent": 2}, ConfigError, "sram_exponent must be a number in 0..1, not 2"),
        ({"sram_exponent": 0}, ConfigError,
         "sram_exponent 0 (memories cost the same at every size) needs a single sram_pj "
         "figure, not 3"),
        ({"version": 2}, ConfigError,
         "unsupported ttfs.energy version 2; this tool reads version 1"),
        ({"colour": 1}, ConfigError,
         "energy table has unknown field 'colour'; allowed: ['add_exponent', 'add_pj', "
         "'derivation', 'format', 'mult_exponent', 'mult_pj', 'name', 'source', 'sram_bits', "
         "'sram_exponent', 'sram_pj', 'version']"),
    ],
)
def test_bad_tables_are_refused(change, error, message):
    obj = {**DEFAULT.to_json(), **change}
    with pytest.raises(error) as exc:
        EnergyTable.from_json(obj)
    assert str(exc.value) == message


def test_missing_source_is_refused():
    obj = DEFAULT.to_json()
    del obj["source"]
    with pytest.raises(ConfigError) as exc:
        EnergyTable.from_json(obj)
    assert str(exc.value) == "energy table is missing the field 'source'"


def test_bad_report_arguments():
    q = network()
    results = run(q, SAMPLE)
    with pytest.raises(TypeError) as exc:
        energy_report(q, results, table={"add_pj": {}})
    assert str(exc.value) == "table must be an EnergyTable, not dict"
    with pytest.raises(TypeError) as exc:
        energy_report(q, results, core={"lanes": 2})
    assert str(exc.value) == "core must be a CoreConfig or None, not dict"


def test_report_without_activity_uses_hardware_counters():
    q = network()
    (r,) = run(q, SAMPLE)
    c = r.counters
    # weight reads 4, membrane reads 10, membrane writes 10
    hw = SampleResult(r.prediction, True, Counters(c.input_events, c.spikes_per_layer, c.sops,
                                                   c.saturations, 4, 10, 10, 3), r.steps)
    rep = energy_report(q, [hw], core=CoreConfig(lanes=2))
    # sweep chunks 10 - 4 = 6; x 2 lanes = 12 visits x 0.05 = 0.6
    assert rep["snn_pj"]["membrane_update"] == approx(0.6)
    assert rep["snn_pj"]["synaptic"] == approx(1.2)
    # memory from the counters: 4 x 2 x 8 = 64 bits from 8 KB -> 10 pJ; 20 words of 34 bits
    # from 1088 bytes
    assert rep["snn_pj"]["weight_memory"] == approx(10.0)
    assert rep["snn_pj"]["membrane_memory"] == approx(20 * 34 / 64 * e64(1088))
    assert rep["counts"].endswith("((membrane_writes - weight_reads) x lanes)")
    # a leaking layer: two adds per visit (upper bound) -> 12 x 0.1 = 1.2
    q = network(leak_shift=1)
    rep = energy_report(q, [hw], core=CoreConfig(lanes=2))
    assert rep["snn_pj"]["membrane_update"] == approx(1.2)


def test_chunk_bounds_memory_by_hand():
    # the same counters on a 2-lane core with 2 chunk bounds a cycle: the hidden layer (3
    # neurons, 2 chunks) is the largest layer without a leak that sweeps: one group, so each
    # sweep reads one word of 2 x 15 bits; each membrane write writes a 15-bit lane
    q = network()
    (r,) = run(q, SAMPLE)
    c = r.counters
    c.weight_reads, c.membrane_reads, c.membrane_writes, c.sweeps = 5, 9, 11, 3
    plain = energy_report(q, [r], core=CoreConfig(lanes=2, max_time_steps=4))
    core = CoreConfig(lanes=2, max_time_steps=4, chunk_bounds=2)
    mem = core_memories(core)["chunk_bounds"]
    # 128 neurons: 64 chunks, 32 groups a layer, 4 layers: 128 words of 30 bits
    assert (mem.depth, mem.width) == (128, 30)
    rep = energy_report(q, [r], core=core)
    cb = rep["snn_pj"]["chunk_bound_memory"]
    assert cb == approx((11 * 15 + 3 * 30) / 64 * e64(128 * 30 / 8))
    assert (rep["ops"]["chunk_bound_writes"], rep["ops"]["chunk_bound_reads"]) == (11.0, 3.0)
    assert rep["snn_pj"]["total"] == approx(plain["snn_pj"]["total"] + cb)
    assert "chunk_bound_memory" not in plain["snn_pj"]
    assert "chunk-bound lane" in rep["counts"]
