"""The stream protocol of docs/core-interface.md, written once in sim.protocol: load, event,
result and trace words, the record layout and the status flags."""

import numpy as np
import pytest

from ttfs.sim.compare import sample_divergence
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.protocol import (
    END,
    EVENT_RANGE,
    LAST,
    LOAD_BAD_HEADER,
    LOAD_CHECKSUM,
    NO_IMAGE,
    RECORD_HEAD,
    STATUS,
    STATUS_FLAGS,
    batch_payloads,
    decode_record,
    decode_trace,
    encode_record,
    event_fields,
    event_payloads,
    load_payloads,
    record_spikes,
    record_words,
    status_names,
)
from ttfs.sim.reference import Counters, SampleResult


def _res(spikes, trace=(), valid=True, status=0):
    return SampleResult(2, valid, Counters(3, tuple(spikes), 9, 0, 6, 9, 9, 2), 6, 40,
                        np.array(trace, dtype=np.int64).reshape(-1, 3), status=status)


def test_load_payloads_mark_only_the_last_word():
    p = load_payloads([1, 2, 0xFFFF_FFFF])
    assert p == [1, 2, 0xFFFF_FFFF | LAST]


def test_event_payloads_encode_time_high_and_end_the_sample():
    assert event_payloads([[0, 3], [2, 1]]) == [3, (2 << 16) | 1, END]
    assert event_payloads(np.zeros((0, 2), dtype=np.int64)) == [END]


def test_event_payloads_refuse_fields_wider_than_16_bits():
    with pytest.raises(ConfigError, match=r"^event times and inputs must be in 0\.\.65535"):
        event_payloads([[70000, 0]])
    with pytest.raises(ConfigError, match=r"^event times and inputs must be in 0\.\.65535"):
        batch_payloads([[[0, 1]], [[-1, 0]]])


def test_batch_payloads_are_each_samples_payloads_in_a_row():
    samples = [[[0, 3], [2, 1]], [], [[5, 0]]]
    got = batch_payloads(samples)
    assert got.dtype == np.uint64
    assert got.tolist() == [w for s in samples for w in event_payloads(s)]
    assert batch_payloads([]).tolist() == []


def test_event_fields_of_a_word_and_of_an_array():
    assert event_fields((7 << 16) | 5) == (7, 5)
    t, i = event_fields(np.array([3, (2 << 16) | 1], dtype=np.int64))
    assert t.tolist() == [0, 2] and i.tolist() == [3, 1]


def test_record_round_trip_and_spike_count():
    res = _res([2], [[1, 0, 2], [1, 3, 0]])
    words = encode_record(res)
    assert len(words) == 11
    assert record_spikes(words) == 2
    back = decode_record(words, res.trace.tolist())
    assert sample_divergence(res, back) is None
    assert back.counters == res.counters and back.cycles == 40 and back.steps == 6


def test_record_of_an_invalid_sample_announces_no_trace():
    words = encode_record(_res([0], valid=False, status=LOAD_CHECKSUM | NO_IMAGE))
    assert record_spikes(words) is None
    assert decode_record(words).status == LOAD_CHECKSUM | NO_IMAGE


def test_decode_record_refuses_a_short_record():
    with pytest.raises(MismatchError, match="^a result record has 4 words; it needs at least 10$"):
        decode_record([0, 1, 2, 3])


def test_record_round_trip_keeps_every_field_in_place():
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


def test_record_words_bound_the_longest_record():
    core = CoreConfig(lanes=2, max_layers=3)
    assert RECORD_HEAD == 10 and record_words(core) == 10 + 3 + 1
    assert len(encode_record(_res([1, 2, 3]))) < record_words(core)


def test_trace_word_fields():
    assert decode_trace(2 | 13 << 8 | 17 << 24) == (2, 13, 17)
    words = np.array([2 | 13 << 8 | 17 << 24, 0xFF | 0xFFFF << 8 | 0xFFFF << 24], dtype=np.uint64)
    rows = decode_trace(words)
    assert rows.dtype == np.int64 and rows.tolist() == [[2, 13, 17], [255, 65535, 65535]]
    assert decode_trace(np.zeros(0, dtype=np.uint64)).shape == (0, 3)


def test_status_names():
    assert status_names(0) == "0"
    assert status_names(NO_IMAGE | EVENT_RANGE) == "NO_IMAGE|EVENT_RANGE"
    assert status_names(LOAD_BAD_HEADER | 0x80) == "LOAD_BAD_HEADER|0x80"


def test_status_bits_are_the_flags():
    """The RTL's name -> bit table and the benches' flag masks are one definition."""
    assert {1 << bit: name for name, bit in STATUS.items()} == STATUS_FLAGS
    assert list(STATUS.values()) == list(range(7))
