"""NeuroBench-style metrics from counters, against hand-computed values."""

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.metrics import footprint, membrane_updates, sample_metrics, summarise
from ttfs.sim.reference import Counters, SampleResult, run


def network(leak_shift=0, readout="first_spike", out_kernel=(1, 2, 1), early_exit=False):
    # 2-3-1, T = 3. hidden: W = [[2, 1, 1], [2, 1, 1]], Theta = 2; output: W = [[1], [1], [1]],
    # Theta = 3, kernel table out_kernel
    hidden = Layer(np.array([[2, 1, 1], [2, 1, 1]]), 2, 1, leak_shift)
    out = Layer(np.array([[1], [1], [1]]), 3, list(out_kernel))
    return QNet(2, 3, (hidden, out), 8, 16, readout, early_exit)


SAMPLES = EventSet((np.array([[0, 0], [0, 1], [2, 0]]), np.zeros((0, 2), dtype=np.int64)))


def test_sample_metrics_by_hand():
    # sample 0: t0: hidden V = [4, 2, 2], all three fire; output 1+1+1 = 3 (K[0] = 1) fires.
    # t2: one input event into the hidden layer (all fired).
    # spikes 4 of (3 + 1) neurons x 3 steps -> sparsity 1 - 4/12 = 2/3
    # SOPs: layer 1: 3 events x 3 = 9 (kernel all ones: ACs); layer 2: 3 spikes x 1 = 3 (MACs)
    # dense MACs 2*3 + 3*1 = 9; membrane updates: a layer without a leak is swept where it
    # fires: layer 1 at t0 (not at t2: its event finds every neuron fired) -> 3, layer 2 at
    # t0 -> 1; total 4
    q = network()
    r0, r1 = run(q, SAMPLES)
    m = sample_metrics(q, r0)
    assert m == {
        "spikes": 4, "activation_sparsity": 1 - 4 / 12, "sops": 12, "effective_acs": 9,
        "effective_macs": 3, "dense_macs": 9, "membrane_updates": 4, "input_events": 3,
        "saturations": 0, "steps": 3,
    }
    # the empty sample: nothing at all; sparsity 1
    assert sample_metrics(q, r1) == {
        "spikes": 0, "activation_sparsity": 1.0, "sops": 0, "effective_acs": 0,
        "effective_macs": 0, "dense_macs": 9, "membrane_updates": 0, "input_events": 0,
        "saturations": 0, "steps": 3,
    }


def test_leak_makes_a_layer_sweep_every_step():
    # leak on the hidden layer: swept at t0, t1, t2 -> 3 x 3 = 9; output still 1 (t0 only)
    q = network(leak_shift=1)
    r0, r1 = run(q, SAMPLES)
    assert membrane_updates(q, r0) == [9, 1]
    assert membrane_updates(q, r1) == [9, 0]


def test_varying_threshold_sweeps_a_layer_only_where_it_integrates_or_fires():
    hidden = Layer(np.array([[2, 1, 1], [2, 1, 1]]), [2, 3, 2])
    out = Layer(np.array([[1], [1], [1]]), 3)
    q = QNet(2, 3, (hidden, out), 8, 16)
    (r1,) = run(q, SAMPLES.subset([1]))
    # the empty sample: nothing can fire, so nothing is swept (a leak would sweep every step)
    assert membrane_updates(q, r1) == [0, 0]
    leaky = QNet(2, 3, (Layer(hidden.weights, [2, 3, 2], leak_shift=1), out), 8, 16)
    (r2,) = run(leaky, SAMPLES.subset([1]))
    assert membrane_updates(leaky, r2) == [9, 0]


def test_max_potential_output_layer_neither_spikes_nor_sweeps():
    # output layer integrates only: spiking neurons = 3; sample 0: 3 hidden spikes at t0
    # sparsity 1 - 3 / (3 x 3) = 2/3; membrane updates 3 (hidden, swept at t0 where it fires)
    # + 0
    q = network(readout="max_potential")
    r0, _ = run(q, SAMPLES)
    m = sample_metrics(q, r0)
    assert (m["spikes"], m["activation_sparsity"], m["membrane_updates"]) == (3, 1 - 3 / 9, 3)


def test_early_exit_counts_only_the_steps_run():
    # first output spike at t0 -> 1 step: input events 2, SOPs 2 x 3 + 3 x 1 = 9,
    # sparsity 1 - 4 / (4 x 1) = 0, membrane updates 3 + 1
    q = network(early_exit=True)
    r0, _ = run(q, SAMPLES)
    m = sample_metrics(q, r0)
    assert (m["steps"], m["input_events"], m["sops"], m["activation_sparsity"],
            m["membrane_updates"]) == (1, 2, 9, 0.0, 4)


def test_footprint_by_hand():
    # weights 9 x 8 bits = 72 bits = 9 bytes; kernel entries up to 2 -> 2 bits;
    # tables 2 layers x 3 steps x (16 + 2) bits = 108 bits -> 14 bytes; total 180 bits -> 23
    q = network()
    f = footprint(q)
    assert (f["weight_bits_total"], f["table_bits_total"]) == (72, 108)
    assert (f["weights_bytes"], f["tables_bytes"], f["total_bytes"]) == (9, 14, 23)
    # on a 2-lane core with 4-bit kernels: rows 2 x ceil(3/2) + 3 x ceil(1/2) = 7,
    # 7 x 2 x 8 = 112 bits = 14 bytes; tables 2 x 3 x (16 + 4) = 120 bits = 15 bytes
    f = footprint(q, CoreConfig(lanes=2, kernel_bits=4))
    assert (f["weight_bits_total"], f["table_bits_total"], f["total_bytes"]) == (112, 120, 29)


def test_summary_statistics_and_accuracy():
    q = network()
    results = run(q, SAMPLES)
    s = summarise(q, results, labels=[0, 1])
    assert s["samples"] == 2 and s["valid"] == 2
    assert s["per_sample"]["spikes"] == {"mean": 2.0, "min": 0.0, "max": 4.0}
    assert s["per_sample"]["sops"] == {"mean": 6.0, "min": 0.0, "max": 12.0}
    assert s["per_sample"]["activation_sparsity"]["min"] == 1 - 4 / 12
    assert s["spikes_per_layer_mean"] == [1.5, 0.5]
    # sample 0 predicts 0 (output spike), sample 1 argmax of V = [0] -> 0; labels [0, 1]
    assert (s["correct"], s["accuracy"]) == (1, 0.5)
    assert "cycles" not in s["per_sample"]
    assert "accuracy" not in summarise(q, results)


def test_invalid_samples_count_as_wrong():
    q = network()
    results = run(q, SAMPLES)
    results[0].valid = False
    s = summarise(q, results, labels=[0, 0])
    assert (s["valid"], s["correct"], s["accuracy"]) == (1, 1, 0.5)


def test_cycles_are_summarised_when_present():
    q = network()
    results = run(q, SAMPLES)
    results[0].cycles, results[1].cycles = 40, 10
    assert summarise(q, results)["per_sample"]["cycles"] == {"mean": 25.0, "min": 10.0,
                                                              "max": 40.0}


def hand_result(activity=None):
    return SampleResult(0, True, Counters(0, (0, 0), 0, 0), 3, activity=activity)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("q", [hand_result()]), TypeError, "qnet must be a QNet, not str"),
        ((None, hand_result()), TypeError, "results must be a list of SampleResult, not "
                                           "SampleResult"),
        ((None, [1]), TypeError, "results[0] must be a SampleResult, not int"),
        ((None, []), ConfigError, "results must hold at least one sample, got none"),
        ((None, [hand_result()]), ConfigError,
         "results[0] has no per-step activity; membrane updates need it (results of the "
         "reference or image model) or hardware counters and a core"),
        ((None, [SampleResult(0, True, Counters(0, (0,), 0, 0), 3)]), ConfigError,
         "results[0] has spike counts for 1 layers; the network has 2"),
    ],
)
def test_bad_arguments(args, error, message):
    q = network()
    args = (q if args[0] is None else args[0],) + args[1:]
    with pytest.raises(error) as exc:
        summarise(*args)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "labels, error, message",
    [
        ([0], ConfigError, "labels must have one entry per result (2), got shape (1,)"),
        ([0, 1.0], TypeError, "labels[1] must be an integer, not 1.0"),
        (np.array([0.0, 1.0]), TypeError, "labels must be integers, not an array of dtype float64"),
        ("01", TypeError, "labels must be a sequence of integers, not str"),
    ],
)
def test_bad_labels(labels, error, message):
    q = network()
    with pytest.raises(error) as exc:
        summarise(q, run(q, SAMPLES), labels=labels)
    assert str(exc.value) == message


def test_subtract_reset_layer_sweeps_after_a_spike_without_events():
    # subtract reset in the hidden layer: t0: V = [4, 2, 2], all fire -> [2, 0, 0]; t1 (no
    # event): neuron 0 fires from its remainder; t2: event, neuron 0 fires again.
    # hidden swept where it fires, t0, t1, t2: 3 x 3 = 9
    # output (fire_once) integrates spikes at t0, t1, t2 but fires (is swept) at t0 only: 1
    hidden = Layer(np.array([[2, 1, 1], [2, 1, 1]]), 2, 1, 0, "subtract")
    out = Layer(np.array([[1], [1], [1]]), 3)
    q = QNet(2, 3, (hidden, out), 8, 16)
    r0, r1 = run(q, SAMPLES)
    assert r0.trace is None and r0.counters.spikes_per_layer == (5, 1)
    assert membrane_updates(q, r0) == [9, 1]
    assert membrane_updates(q, r1) == [0, 0]


def rtl_like(result, weight_reads, membrane_writes):
    """``result`` as read back from a hardware run: counters and hardware counters only."""
    c = result.counters
    return SampleResult(result.prediction, True, Counters(
        c.input_events, c.spikes_per_layer, c.sops, c.saturations, weight_reads,
        membrane_writes, membrane_writes, 3), result.steps, cycles=50)


def test_without_activity_membrane_updates_come_from_hardware_counters():
    q = network()
    r0, r1 = run(q, SAMPLES)
    core = CoreConfig(lanes=2)
    # sweep chunks = membrane writes - weight reads (one write per op, nothing clears the
    # membranes): 10 - 4 = 6 -> 6 x 2 lanes = 12 lane visits; 3 - 1 = 2 -> 4
    hw = [rtl_like(r0, 4, 10), rtl_like(r1, 1, 3)]
    s = summarise(q, hw, core=core)
    assert s["per_sample"]["membrane_updates"] == {"mean": 8.0, "min": 4.0, "max": 12.0}
    assert s["membrane_updates_counted_as"].startswith("lane visits of sweep ops")
    # everything else still comes from the counters
    assert s["per_sample"]["sops"] == {"mean": 6.0, "min": 0.0, "max": 12.0}
    assert s["per_sample"]["cycles"] == {"mean": 50.0, "min": 50.0, "max": 50.0}
    assert summarise(q, run(q, SAMPLES), core=core)["membrane_updates_counted_as"] == (
        "neuron visits from the per-step activity")


def test_hardware_counters_that_cannot_be_are_refused():
    q = network()
    r0, _ = run(q, SAMPLES)
    with pytest.raises(ConfigError) as exc:
        summarise(q, [rtl_like(r0, 5, 4)], core=CoreConfig(lanes=2))
    assert str(exc.value) == ("results[0] has 4 membrane writes; a 2-lane core writes at least "
                              "one per weight read (5)")
    with pytest.raises(ConfigError) as exc:
        summarise(q, [rtl_like(r0, 4, 13)])  # no core: lanes unknown
    assert str(exc.value) == ("results[0] has no per-step activity; membrane updates need it "
                              "(results of the reference or image model) or hardware counters "
                              "and a core")
