"""The one comparator (sim.compare): the order of the checks and the exact messages, for the
flows' result lists and for the benches' per-sample expectations."""

import numpy as np
import pytest

from ttfs.sim.compare import Expected, check_equal, first_divergence, sample_divergence
from ttfs.sim.errors import MismatchError
from ttfs.sim.protocol import EVENT_ORDER, LOAD_CHECKSUM, NO_IMAGE
from ttfs.sim.reference import Counters, SampleResult


def _result(trace_rows, valid=True, status=0):
    return SampleResult(
        prediction=2, valid=valid, status=status, steps=6, cycles=40,
        counters=Counters(3, (len(trace_rows),), 9, 0, 6, 9, 9, 2),
        trace=np.array(trace_rows, dtype=np.int64).reshape(-1, 3),
    )


def test_sample_divergence_names_step_layer_neuron():
    exp = _result([[1, 0, 2], [1, 3, 0]])
    got = _result([[1, 0, 2], [1, 4, 0]])
    got.counters = exp.counters
    msg = sample_divergence(exp, got)
    assert msg == ("trace event 1: expected spike at step 3, layer 1, neuron 0; "
                   "got step 4, layer 1, neuron 0")


def test_sample_divergence_names_counter_and_cycles():
    exp = _result([])
    got = _result([])
    got.counters.sweeps = 3
    assert sample_divergence(exp, got) == "counter sweeps: expected 2, got 3"
    got = _result([])
    got.cycles = 41
    assert sample_divergence(exp, got) == "cycles: expected 40, got 41"
    assert sample_divergence(exp, got, compare_cycles=False) is None


def test_sample_divergence_order_trace_prediction_steps_counters_cycles():
    exp = _result([[1, 0, 2]])
    got = _result([[1, 1, 2]])
    got.prediction, got.steps, got.cycles = 0, 5, 41
    got.counters.sops = 10
    assert sample_divergence(exp, got).startswith("trace event 0: ")
    assert sample_divergence(exp, got, compare_trace=False) == "prediction: expected 2, got 0"
    got.prediction = 2
    assert sample_divergence(exp, got, compare_trace=False) == "steps: expected 6, got 5"
    got.steps = 6
    assert sample_divergence(exp, got, compare_trace=False) == "counter sops: expected 9, got 10"
    got.counters.sops = 9
    assert sample_divergence(exp, got, compare_trace=False) == "cycles: expected 40, got 41"


def test_sample_divergence_missing_and_extra_trace_events():
    a, b = _result([[1, 0, 2]]), _result([])
    b.counters = a.counters
    assert sample_divergence(a, b) == ("trace ends after 0 events; expected another spike at "
                                       "step 0, layer 1, neuron 2")
    assert sample_divergence(b, a) == ("trace has 1 extra events, first at step 0, layer 1, "
                                       "neuron 2")


def test_sample_divergence_skips_counters_no_side_has():
    exp, got = _result([]), _result([])
    for r in (exp, got):
        r.counters.sweeps = r.cycles = None
    assert sample_divergence(exp, got) is None
    got.counters.sweeps = 2
    assert sample_divergence(exp, got) == "counter sweeps: expected None, got 2"


def test_invalid_expectation_required_and_allowed_flags():
    exp = Expected(required=LOAD_CHECKSUM, allowed=LOAD_CHECKSUM | NO_IMAGE, why="bad sum")
    ok = _result([], valid=False, status=LOAD_CHECKSUM | NO_IMAGE)
    assert sample_divergence(exp, ok) is None
    wrong = _result([], valid=False, status=EVENT_ORDER)
    assert sample_divergence(exp, wrong) == (
        "expected an invalid sample with status LOAD_CHECKSUM (bad sum), "
        "got valid=0 status EVENT_ORDER")
    valid = _result([])
    assert "got valid=1 status 0" in sample_divergence(exp, valid)


def test_an_invalid_result_expects_its_exact_status():
    exp = _result([], valid=False, status=NO_IMAGE)
    assert sample_divergence(exp, _result([], valid=False, status=NO_IMAGE)) is None
    assert sample_divergence(exp, _result([], valid=False, status=NO_IMAGE | EVENT_ORDER)) == (
        "expected an invalid sample with status NO_IMAGE, got valid=0 status NO_IMAGE|EVENT_ORDER")
    assert sample_divergence(_result([]), exp) == (
        "expected a valid sample, got valid=0 status NO_IMAGE")


def test_first_divergence_names_backend_label_and_sample():
    exp = [_result([]), _result([[1, 0, 0]])]
    got = [_result([]), _result([[1, 0, 1]])]
    got[1].counters = exp[1].counters
    assert first_divergence(exp, exp, backend="verilator") is None
    assert first_divergence(exp, got, backend="verilator") == (
        "verilator: sample 1: trace event 0: expected spike at step 0, layer 1, neuron 0; "
        "got step 0, layer 1, neuron 1")
    assert first_divergence(exp, got[:1], backend="image", label="seed 3") == (
        "image: seed 3, expected 2 results, got 1")


def test_check_equal_names_backend_and_sample():
    exp = [_result([]), _result([[1, 0, 0]])]
    got = [_result([]), _result([[1, 0, 1]])]
    got[1].counters = exp[1].counters
    with pytest.raises(MismatchError, match=r"^cocotb: seed 7, sample 1: trace event 0: "):
        check_equal(exp, got, backend="cocotb", label="seed 7")
    check_equal(exp, got, backend="cocotb", compare_trace=False)
