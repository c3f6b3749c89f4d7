"""The cocotb-free half of the benches: stream codecs, the expectation model and the checker."""

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.reference import Counters, SampleResult, run
from ttfs.verify.differential import (
    END,
    EVENT_ORDER,
    EVENT_RANGE,
    LAST,
    LOAD_CHECKSUM,
    NO_IMAGE,
    BenchOptions,
    Expected,
    ExpectModel,
    Program,
    check_results,
    decode_record,
    decode_trace,
    encode_record,
    event_payloads,
    first_divergence,
    load_payloads,
    read_job,
    record_spikes,
    status_names,
    write_job,
)


def _qnet():
    w = np.array([[5, -2, 3], [4, 4, -1]])
    return QNet(2, 6, (Layer(w, threshold=6),), weight_bits=4, potential_bits=8)


def _result(trace_rows, valid=True, status=0):
    return SampleResult(
        prediction=2, valid=valid, status=status, steps=6, cycles=40,
        counters=Counters(3, (len(trace_rows),), 9, 0, 6, 9, 9, 2),
        trace=np.array(trace_rows, dtype=np.int64).reshape(-1, 3),
    )


def test_load_payloads_mark_only_the_last_word():
    p = load_payloads([1, 2, 0xFFFF_FFFF])
    assert p == [1, 2, 0xFFFF_FFFF | LAST]


def test_event_payloads_encode_time_high_and_end_the_sample():
    assert event_payloads([[0, 3], [2, 1]]) == [3, (2 << 16) | 1, END]
    assert event_payloads(np.zeros((0, 2), dtype=np.int64)) == [END]


def test_event_payloads_refuse_fields_wider_than_16_bits():
    with pytest.raises(ConfigError, match=r"^event times and inputs must be in 0\.\.65535"):
        event_payloads([[70000, 0]])


def test_record_round_trip_and_spike_count():
    res = _result([[1, 0, 2], [1, 3, 0]])
    words = encode_record(res)
    assert len(words) == 11
    assert record_spikes(words) == 2
    back = decode_record(words, res.trace.tolist())
    assert first_divergence(res, back) is None
    assert back.counters == res.counters and back.cycles == 40 and back.steps == 6


def test_record_of_an_invalid_sample_announces_no_trace():
    words = encode_record(_result([], valid=False, status=LOAD_CHECKSUM | NO_IMAGE))
    assert record_spikes(words) is None
    assert decode_record(words).status == LOAD_CHECKSUM | NO_IMAGE


def test_decode_record_refuses_a_short_record():
    with pytest.raises(MismatchError, match="^a result record has 4 words; it needs at least 10$"):
        decode_record([0, 1, 2, 3])


def test_trace_word_fields():
    assert decode_trace(2 | 13 << 8 | 17 << 24) == (2, 13, 17)


def test_first_divergence_names_step_layer_neuron():
    exp = _result([[1, 0, 2], [1, 3, 0]])
    got = _result([[1, 0, 2], [1, 4, 0]])
    got.counters = exp.counters
    msg = first_divergence(exp, got)
    assert msg == ("trace event 1: expected spike at step 3, layer 1, neuron 0; "
                   "got step 4, layer 1, neuron 0")


def test_first_divergence_names_counter_and_cycles():
    exp = _result([])
    got = _result([])
    got.counters.sweeps = 3
    assert first_divergence(exp, got) == "counter sweeps: expected 2, got 3"
    got = _result([])
    got.cycles = 41
    assert first_divergence(exp, got) == "cycles: expected 40, got 41"


def test_first_divergence_missing_and_extra_trace_events():
    a, b = _result([[1, 0, 2]]), _result([])
    b.counters = a.counters
    assert first_divergence(a, b).startswith("trace ends after 0 events; expected another spike")
    assert first_divergence(b, a).startswith("trace has 1 extra events, first at step 0")


def test_invalid_expectation_required_and_allowed_flags():
    exp = Expected(required=LOAD_CHECKSUM, allowed=LOAD_CHECKSUM | NO_IMAGE, why="bad sum")
    ok = _result([], valid=False, status=LOAD_CHECKSUM | NO_IMAGE)
    assert first_divergence(exp, ok) is None
    wrong = _result([], valid=False, status=EVENT_ORDER)
    assert first_divergence(exp, wrong) == (
        "expected an invalid sample with status LOAD_CHECKSUM (bad sum), "
        "got valid=0 status EVENT_ORDER")
    valid = _result([])
    assert "got valid=1 status 0" in first_divergence(exp, valid)


def test_check_results_names_backend_and_sample():
    exp = [_result([]), _result([[1, 0, 0]])]
    got = [_result([]), _result([[1, 0, 1]])]
    got[1].counters = exp[1].counters
    with pytest.raises(MismatchError, match=r"^cocotb: seed 7, sample 1: trace event 0: "):
        check_results(exp, got, backend="cocotb", label="seed 7")


def test_status_names():
    assert status_names(0) == "0"
    assert status_names(NO_IMAGE | EVENT_RANGE) == "NO_IMAGE|EVENT_RANGE"


def test_expect_model_flags_bad_samples_and_missing_image():
    model = ExpectModel(CoreConfig(lanes=2))
    e = model.sample([END])
    assert not e.valid and e.required == NO_IMAGE
    model.load(_qnet(), LOAD_CHECKSUM)
    e = model.sample([END])
    assert e.required == LOAD_CHECKSUM and e.allowed == LOAD_CHECKSUM | NO_IMAGE
    model.load(_qnet())
    e = model.sample(event_payloads([[2, 1], [1, 0]]))
    assert (e.required, e.allowed) == (EVENT_ORDER, EVENT_ORDER)
    e = model.sample(event_payloads([[1, 2]]))
    assert (e.required, e.allowed) == (EVENT_RANGE, EVENT_RANGE)
    assert e.why == "event 0 (t=1, input=2) is out of range"
    e = model.sample(event_payloads([[6, 0]]))
    assert e.required == EVENT_RANGE
    e = model.sample(event_payloads([[1, 1], [1, 1]]))
    assert e.required == EVENT_ORDER
    e = model.sample(event_payloads([[3, 0], [1, 5]]))
    assert (e.required, e.allowed) == (0, EVENT_ORDER | EVENT_RANGE)


def test_expect_model_refuses_payloads_without_one_end_word():
    model = ExpectModel(CoreConfig(lanes=2))
    with pytest.raises(ConfigError, match="^a sample's payloads must end with exactly one end"):
        model.sample([1, END, END])


def test_expect_model_valid_sample_is_the_reference():
    from ttfs.sim.costmodel import cost_hook

    core = CoreConfig(lanes=2, weight_bits=4, potential_bits=8, max_neurons=8, max_layers=2,
                      max_time_steps=8, weight_depth=64)
    q = _qnet()
    model = ExpectModel(core)
    model.load(q)
    rows = np.array([[0, 0], [0, 1], [3, 1]])
    e = model.sample(event_payloads(rows))
    ref = run(q, EventSet((rows,)), trace=True, cost=cost_hook(core))[0]
    assert e.valid and first_divergence(ref, e.result) is None
    assert e.result.cycles == ref.cycles and e.result.cycles is not None


def test_job_file_round_trip(tmp_path):
    core = CoreConfig(lanes=3)
    prog = Program("seed 4", samples=[event_payloads([[0, 1]])], load=load_payloads([1, 2]),
                   qnet=_qnet(), load_flag=LOAD_CHECKSUM)
    write_job(tmp_path / "job.json", core, [prog], BenchOptions(seed=9, idle=0.25))
    core2, progs, opts = read_job(tmp_path / "job.json")
    assert core2 == core and opts.seed == 9 and opts.idle == 0.25
    assert progs[0].samples == prog.samples and progs[0].load == prog.load
    assert progs[0].qnet.equals(prog.qnet) and progs[0].load_flag == LOAD_CHECKSUM


def test_bench_options_refuse_probabilities_outside_0_1():
    msg = r"^backpressure probability must be in \[0, 1\), not 1.0$"
    with pytest.raises(ConfigError, match=msg):
        BenchOptions(backpressure=1.0)


def test_record_round_trip_keeps_every_field_in_place():
    from ttfs.verify.differential import decode_record, encode_record

    res = SampleResult(prediction=7, valid=True, steps=20, cycles=21, status=0,
                       counters=Counters(input_events=11, spikes_per_layer=(12, 13), sops=14,
                                         saturations=15, weight_reads=16, membrane_reads=17,
                                         membrane_writes=18, sweeps=19))
    got = decode_record(encode_record(res))
    assert (got.to_json(), got.status) == (res.to_json(), res.status)
    bad = SampleResult(prediction=3, valid=False, steps=0, cycles=5, status=1 << 4,
                       counters=Counters(1, (2,), 3, 4, 5, 6, 7, 8))
    got = decode_record(encode_record(bad))
    assert (got.to_json(), got.status) == (bad.to_json(), bad.status)
