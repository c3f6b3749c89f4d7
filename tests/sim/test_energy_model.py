"""The energy model: the table, width derivation, JSON tables and reports against hand values.

Energies are model outputs in floating point (not semantics of the network), so they are
compared with a tight relative tolerance; every count is compared exactly.
"""

import json

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.energy import (
    DEFAULT,
    ESTIMATE_NOTE,
    EnergyTable,
    energy_report,
    load_table,
    save_table,
)
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import Counters, SampleResult, run


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def test_default_table_is_horowitz_45nm():
    t = DEFAULT
    assert (t.add(8), t.add(16), t.add(32)) == (0.03, 0.05, 0.1)
    assert (t.mult(8), t.mult(32), t.sram_pj, t.sram_bits) == (0.2, 3.1, 10.0, 64)
    assert "Horowitz" in t.source and "ISSCC 2014" in t.source and "45 nm" in t.source


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
    assert t.memory(16) == approx(2.5)  # 16/64 x 10 pJ


def network(reset="fire_once", leak_shift=0):
    # the 2-3-1 network of test_metrics_summary: sample 0 has 3 hidden spikes and 1 output spike
    # at t0; SOPs 9 (layer 1, kernel all ones) + 3 (layer 2, kernel [1, 2, 1]); membrane
    # updates 6 + 1 (no leak) or 9 + 1 (leak)
    hidden = Layer(np.array([[2, 1, 1], [2, 1, 1]]), 2, 1, leak_shift, reset)
    out = Layer(np.array([[1], [1], [1]]), 3, [1, 2, 1])
    return QNet(2, 3, (hidden, out), 8, 16)


SAMPLE = EventSet((np.array([[0, 0], [0, 1], [2, 0]]),))


def test_report_with_per_neuron_counts_by_hand():
    q = network()
    rep = energy_report(q, run(q, SAMPLE))
    # add at 16 bits 0.05; multiply at max(8, 2 kernel bits) = 8 bits: 0.2
    # synaptic = 9 x 0.05 + 3 x (0.05 + 0.2) = 1.2; membrane updates 7 x 0.05 = 0.35
    snn = rep["snn_pj"]
    assert snn["synaptic"] == approx(1.2)
    assert snn["membrane_update"] == approx(0.35)
    assert snn["compute"] == approx(1.55)
    # weight reads 12 x 8 bits = 96 bits -> 15 pJ; membrane reads = writes = 12 + 7 = 19,
    # 38 x 16 bits = 608 bits -> 95 pJ
    assert snn["weight_memory"] == approx(15.0)
    assert snn["membrane_memory"] == approx(95.0)
    assert snn["memory"] == approx(110.0)
    assert snn["total"] == approx(111.55)
    assert rep["ops"] == {"sops": 12.0, "sops_with_multiply": 3.0, "membrane_updates": 7.0,
                          "weight_reads": 12.0, "membrane_reads": 19.0, "membrane_writes": 19.0}
    # dense ANN: 9 MACs x (0.2 + 0.03) = 2.07; weights 9 x 8 bits = 72 bits -> 11.25 pJ
    ann = rep["dense_ann"]
    assert ann["macs"] == 9
    assert ann["compute_pj"] == approx(2.07)
    assert ann["weight_memory_pj"] == approx(11.25)
    assert ann["total_pj"] == approx(13.32)
    assert rep["snn_over_ann"]["compute"] == approx(1.55 / 2.07)
    assert rep["snn_over_ann"]["total"] == approx(111.55 / 13.32)
    assert rep["note"] == ESTIMATE_NOTE
    assert "not measurements of silicon" in rep["note"]
    assert rep["table"]["source"] == DEFAULT.source
    assert rep["counts"].startswith("per-neuron counts (no hardware counters)")
    json.dumps(rep)  # JSON-ready


def test_leak_and_subtract_reset_cost_extra_adds():
    # leak: hidden layer swept at 3 steps: 9 visits x 2 adds + output 1 visit x 1 add
    # = 19 x 0.05 = 0.95
    q = network(leak_shift=1)
    assert energy_report(q, run(q, SAMPLE))["snn_pj"]["membrane_update"] == approx(0.95)
    # subtract reset: t0: hidden V = [4, 2, 2], all fire -> [2, 0, 0]; t1 (no event): neuron 0
    # has 2 >= 2 and fires again -> 0; t2: input 0 adds [2, 1, 1]: neuron 0 fires -> 0.
    # hidden spikes 3 + 1 + 1 = 5; the output (fire_once) fires at t0, integrates at t1, t2.
    # visits: hidden swept at t0 (events), t1 (spiked at t0), t2 (events) -> 3 x 3 = 9;
    # output swept at t0, t1, t2 (events) -> 3. (9 + 3 visits + 5 resets) x 0.05 = 0.85
    q = network(reset="subtract")
    (r,) = run(q, SAMPLE)
    assert r.counters.spikes_per_layer == (5, 1)
    assert energy_report(q, [r])["snn_pj"]["membrane_update"] == approx(0.85)


def test_report_with_hardware_counters():
    q = network()
    (r,) = run(q, SAMPLE)
    r.counters.weight_reads, r.counters.membrane_reads, r.counters.membrane_writes = 5, 4, 4
    core = CoreConfig(lanes=2, max_time_steps=4)
    rep = energy_report(q, [r], core=core)
    # weight reads 5 words x 2 lanes x 8 bits = 80 bits -> 12.5 pJ
    # membrane 8 words x 2 lanes x 16 bits = 256 bits -> 40 pJ
    assert rep["snn_pj"]["weight_memory"] == approx(12.5)
    assert rep["snn_pj"]["membrane_memory"] == approx(40.0)
    assert rep["counts"].startswith("hardware counters of a 2-lane core")
    # without a core the lanes are unknown: per-neuron counts, and the report says so
    rep = energy_report(q, [r])
    assert rep["snn_pj"]["weight_memory"] == approx(15.0)
    assert rep["counts"].startswith("per-neuron counts")


def test_report_is_the_mean_over_samples():
    # an empty sample costs nothing but the dense ANN baseline stays: mean synaptic 1.2 / 2
    q = network()
    ev = EventSet((SAMPLE.samples[0], np.zeros((0, 2), dtype=np.int64)))
    rep = energy_report(q, run(q, ev))
    assert rep["samples"] == 2
    assert rep["snn_pj"]["synaptic"] == approx(0.6)
    assert rep["dense_ann"]["compute_pj"] == approx(2.07)


def test_custom_table_round_trip(tmp_path):
    table = EnergyTable(name="toy", source="made up for a test", add_pj={16: 1.0},
                        mult_pj={8: 2.0}, sram_pj=64.0)
    path = tmp_path / "table.json"
    save_table(table, path)
    back = load_table(path)
    assert back == table
    q = network()
    rep = energy_report(q, run(q, SAMPLE), table=back)
    # add 1.0 at 16 bits; multiply 2.0 at 8 bits: synaptic 9 x 1 + 3 x 3 = 18
    # memory: 1 pJ per bit: 96 + 608 = 704
    assert rep["snn_pj"]["synaptic"] == approx(18.0)
    assert rep["snn_pj"]["memory"] == approx(704.0)
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
        ({"version": 2}, ConfigError,
         "unsupported ttfs.energy version 2; this tool reads version 1"),
        ({"colour": 1}, ConfigError,
         "energy table has unknown field 'colour'; allowed: ['add_exponent', 'add_pj', "
         "'derivation', 'format', 'mult_exponent', 'mult_pj', 'name', 'source', 'sram_bits', "
         "'sram_pj', 'version']"),
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
    # weight reads 4, membrane reads 10, membrane writes 13
    hw = SampleResult(r.prediction, True, Counters(c.input_events, c.spikes_per_layer, c.sops,
                                                   c.saturations, 4, 10, 13, 3), r.steps)
    rep = energy_report(q, [hw], core=CoreConfig(lanes=2))
    # sweep chunks 13 - 4 - (2 + 1 chunks cleared) = 6; x 2 lanes = 12 visits x 0.05 = 0.6
    assert rep["snn_pj"]["membrane_update"] == approx(0.6)
    assert rep["snn_pj"]["synaptic"] == approx(1.2)
    # memory from the counters: 4 x 2 x 8 = 64 bits -> 10 pJ; 23 x 2 x 16 = 736 bits -> 115 pJ
    assert rep["snn_pj"]["weight_memory"] == approx(10.0)
    assert rep["snn_pj"]["membrane_memory"] == approx(115.0)
    assert rep["counts"].endswith("no per-step activity")
    # a leaking layer: two adds per visit (upper bound) -> 12 x 0.1 = 1.2
    q = network(leak_shift=1)
    rep = energy_report(q, [hw], core=CoreConfig(lanes=2))
    assert rep["snn_pj"]["membrane_update"] == approx(1.2)
