"""Packing and reading images: exact round trips, the word layout of docs/image.md, the summary."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.core import CoreConfig
from ttfs.sim.image import (
    EVENT_MAGIC,
    MAGIC,
    Image,
    checksum,
    decode_network,
    format_info,
    from_words,
    image_info,
    load_image,
    network_words,
    pack,
    parse_events,
    parse_network,
    save_image,
)
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case

LANES = (1, 2, 3, 4, 8)


def assert_events_equal(a: EventSet, b: EventSet) -> None:
    assert len(a) == len(b)
    for n, (x, y) in enumerate(zip(a.samples, b.samples, strict=True)):
        assert x.shape == y.shape and np.array_equal(x, y), f"sample {n}"
    if a.labels is None:
        assert b.labels is None
    else:
        assert b.labels is not None and np.array_equal(a.labels, b.labels)


def assert_round_trip(image: Image, tmp_path) -> Image:
    path = tmp_path / "x.img"
    save_image(image, path)
    assert path.stat().st_size == 4 * len(image.words)
    back = load_image(path)
    assert back.qnet.equals(image.qnet)
    assert back.core == image.core
    assert_events_equal(back.events, image.events)
    assert np.array_equal(back.words, image.words)
    assert back.words.dtype == np.uint32
    assert back.equals(image)
    return back


@pytest.mark.parametrize("lanes", LANES)
def test_random_cases_round_trip_through_a_file(tmp_path, lanes):
    for seed in range(30):
        case = random_case(seed, n_samples=5, lanes=lanes)
        assert_round_trip(pack(case.qnet, case.events, case.core), tmp_path)


def test_wide_cores_and_narrow_networks_round_trip(tmp_path):
    # 16-bit weight fields: 2 per word, so rows of 3+ lanes span several words; the networks
    # draw narrower weights than the core, which word 8 bits 15:8 records
    for seed in range(40):
        core = CoreConfig(lanes=LANES[seed % 5] + 2 * (seed % 3), weight_bits=16,
                          potential_bits=16, kernel_bits=4, max_neurons=32, max_layers=3,
                          max_time_steps=16, weight_depth=2048)
        case = random_case(1000 + seed, n_samples=4, core=core, max_weight_bits=16)
        image = pack(case.qnet, case.events, core)
        back = assert_round_trip(image, tmp_path)
        assert back.qnet.weight_bits == case.qnet.weight_bits
        stored = int(image.net_words[8]) >> 8 & 0xFF
        assert stored == (0 if case.qnet.weight_bits == 16 else case.qnet.weight_bits)


def test_labels_and_empty_samples_round_trip(tmp_path):
    case = random_case(7, n_samples=3, lanes=2)
    events = EventSet(case.events.samples + (np.zeros((0, 2), dtype=np.int64),), [3, 0, 9, 1])
    back = assert_round_trip(pack(case.qnet, events, case.core), tmp_path)
    assert back.events.labels.tolist() == [3, 0, 9, 1]
    none = assert_round_trip(pack(case.qnet, EventSet(()), case.core), tmp_path)
    assert len(none.events) == 0 and none.events.labels is None
    empty_labels = assert_round_trip(pack(case.qnet, EventSet((), []), case.core), tmp_path)
    assert empty_labels.events.labels is not None and empty_labels.events.labels.size == 0


def test_word_layout_of_a_hand_checked_image():
    # 3 inputs -> 3 neurons -> 2 neurons, T = 2, 2 lanes, 4-bit weights on an 8-bit core
    w1 = np.array([[1, -2, 3], [-4, 5, -6], [7, -8, 0]])
    w2 = np.array([[1, 2], [3, 4], [-1, -2]])
    qnet = QNet(3, 2, (Layer(w1, [5, 6], 1, 2, "zero"), Layer(w2, 9, [2, 3], 0, "subtract")),
                weight_bits=4, potential_bits=12, readout="first_spike", early_exit=True)
    core = CoreConfig(lanes=2, weight_bits=8, potential_bits=12, kernel_bits=2, max_neurons=4,
                      max_layers=2, max_time_steps=2, weight_depth=16)
    events = EventSet(([[0, 1], [1, 0], [1, 2]],), [1])
    image = pack(qnet, events, core)
    w = image.net_words.tolist()
    rows = 3 * 2 + 3 * 1
    assert len(w) == network_words(2, 2, rows, 2, 8) == 11 + 8 + 8 + rows + 1
    assert w[:11] == [MAGIC, 1, 2 | 8 << 8 | 12 << 16 | 2 << 24, 2 | 0 << 8 | 1 << 9,
                      2 | 3 << 16, rows, len(w), 4, 2 | 4 << 8, 2, 16]
    # descriptors: (n_in, n_out), (reset, leak), weight_base, chunks
    assert w[11:19] == [3 | 3 << 16, 1 | 2 << 8, 0, 2, 3 | 2 << 16, 2, 6, 1]
    # tables: Theta_1, K_1, Theta_2, K_2
    assert w[19:27] == [5, 6, 1, 1, 9, 9, 2, 3]
    # weight rows: lane p at bits 8p..8p+7 (two's complement); neuron 3 of layer 1 is padding
    def row(a, b):
        return (a & 0xFF) | (b & 0xFF) << 8

    assert w[27:36] == [row(1, -2), row(3, 0), row(-4, 5), row(-6, 0), row(7, -8), row(0, 0),
                        row(1, 2), row(3, 4), row(-1, -2)]
    assert w[36] == sum(w[:36]) % 2**32 == checksum(image.net_words[:36])
    e = image.event_words.tolist()
    assert e == [EVENT_MAGIC, 1, 1, 1, 3, 1, 1, 1 << 16, 1 << 16 | 2, sum(e[:-1]) % 2**32]


def test_rows_span_several_words():
    # 16-bit weights: 2 per word; 3 lanes -> 2 words per row, the upper half of word 2 unused
    qnet = QNet(1, 1, (Layer([[-1, 2, -3, 4]], 1),), weight_bits=16, potential_bits=20)
    core = CoreConfig.for_network(qnet, lanes=3)
    image = pack(qnet, EventSet(()), core)
    w = image.net_words.tolist()
    assert w[5] == 2  # one source, two chunks
    assert w[17:21] == [0xFFFF | 2 << 16, 0xFFFD, 4, 0]
    mem = decode_network(image.net_words)
    assert mem.wmem.tolist() == [[-1, 2, -3], [4, 0, 0]]


def test_parse_network_and_parse_events_read_each_section():
    case = random_case(3, n_samples=6, lanes=3)
    image = pack(case.qnet, case.events, case.core)
    qnet, core = parse_network(image.net_words)
    assert qnet.equals(case.qnet) and core == case.core
    events = parse_events(image.event_words, qnet, offset=len(image.net_words))
    assert_events_equal(events, case.events)
    back = from_words(image.words.tolist())  # a plain list of ints is accepted too
    assert back.equals(image)


def test_pack_defaults_to_the_core_made_for_the_network():
    case = random_case(11, n_samples=2, lanes=4)
    image = pack(case.qnet, case.events)
    assert image.core == CoreConfig.for_network(case.qnet)


def test_image_info_and_format_info():
    w1 = np.full((2, 3), 1)
    qnet = QNet(2, 4, (Layer(w1, [3, 3, 2, 2], 1, 1, "subtract"), Layer(np.ones((3, 2), int), 2)))
    core = CoreConfig.for_network(qnet, lanes=2)
    events = EventSet(([[0, 0]], [], [[1, 1], [2, 0]]), [1, 0, 1])
    image = pack(qnet, events, core)
    info = image_info(image)
    assert info["network"]["sizes"] == [2, 3, 2]
    assert info["layers"][0]["threshold_constant"] is False
    assert info["layers"][0]["threshold"] == [2, 3]
    assert info["layers"][1]["threshold_constant"] is True
    assert info["layers"][1]["weight_base"] == 4 and info["layers"][1]["weight_rows"] == 3
    assert info["weight_rows"] == 7 and info["words_per_row"] == 1
    assert info["net_words"] == len(image.net_words)
    assert info["words"] == len(image.words) and info["bytes"] == 4 * len(image.words)
    assert info["samples"] == 3 and info["events"] == 3
    assert info["label_counts"] == {0: 1, 1: 2}
    assert info["net_checksum"] == f"0x{int(image.net_words[-1]):08x}"
    text = format_info(image)
    assert "network 2-3-2, 4 steps, readout first_spike" in text
    assert "layer 1: 2 -> 3, subtract, leak >>1, threshold table 2..3, kernel 1" in text
    assert f"words: {len(image.words)} ({4 * len(image.words)} bytes)" in text
    assert "labels: count per label 0: 1, 1: 2" in text
    assert "(2 chunks)" in text and "(1 chunk)" in text


@st.composite
def cores_and_cases(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    lanes = draw(st.sampled_from(LANES + (5, 16, 64)))
    return random_case(seed, n_samples=draw(st.integers(0, 4)), lanes=lanes)


@settings(max_examples=60, deadline=None)
@given(case=cores_and_cases())
def test_property_round_trip_from_words(case):
    image = pack(case.qnet, case.events, case.core)
    back = from_words(image.words)
    assert back.qnet.equals(case.qnet)
    assert back.core == case.core
    assert_events_equal(back.events, case.events)
    assert np.array_equal(back.net_words, image.net_words)
    assert np.array_equal(back.event_words, image.event_words)


def test_chunk_bounds_round_trip_in_word_8(tmp_path):
    case = random_case(5, n_samples=3, lanes=4)
    plain = pack(case.qnet, case.events, case.core)
    assert case.core.chunk_bounds == 0 and int(plain.net_words[8]) >> 19 == 0
    for n in (1, 2, 4, 8, 16):
        core = dataclasses.replace(case.core, chunk_bounds=n)
        image = pack(case.qnet, case.events, core)
        back = assert_round_trip(image, tmp_path)
        assert back.core.chunk_bounds == n
        assert decode_network(image.net_words).core == core
        assert parse_network(image.net_words)[1] == core
        # word 8 bits 23:19, and nothing else but the checksum, differ from the plain image
        diff = np.flatnonzero(image.net_words != plain.net_words).tolist()
        assert diff == [8, len(plain.net_words) - 1]
        assert int(image.net_words[8]) == int(plain.net_words[8]) | n << 19
        assert image_info(image)["core"]["chunk_bounds"] == n
        assert f"; per-chunk bounds, {n} a cycle" in format_info(image)
    assert "per-chunk bounds" not in format_info(plain)
    assert image_info(plain)["core"]["chunk_bounds"] == 0
