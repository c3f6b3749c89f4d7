"""Bad images are refused with the first problem named: truncation, corruption, bad fields, fit."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, FitError, ImageError
from ttfs.sim.image import (
    Image,
    from_words,
    load_image,
    pack,
    parse_events,
    parse_network,
    save_image,
)
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case

NET = 37  # words in the small image's network section; the event section has 13


def small_image() -> Image:
    """3 -> 3 -> 2, T = 2, 2 lanes, 4-bit weights on an 8-bit core, two labelled samples.

    Word map: header 0..10; descriptors 11..14 (layer 1), 15..18 (layer 2); tables Theta_1 19..20,
    K_1 21..22, Theta_2 23..24, K_2 25..26; weight rows 27..32 (layer 1: source j, chunk c at
    27 + 2j + c), 33..35 (layer 2); checksum 36. Events: header 37..40; sample 0: count 41,
    label 42, events 43..45; sample 1: count 46, label 47, event 48; checksum 49.
    """
    w1 = np.array([[1, -2, 3], [-4, 5, -6], [7, -8, 0]])
    w2 = np.array([[1, 2], [3, 4], [-1, -2]])
    qnet = QNet(3, 2, (Layer(w1, [5, 6], 1, 2, "zero"), Layer(w2, 9, [2, 3], 0, "subtract")),
                weight_bits=4, potential_bits=12)
    core = CoreConfig(lanes=2, weight_bits=8, potential_bits=12, kernel_bits=2, max_neurons=4,
                      max_layers=2, max_time_steps=2, weight_depth=16)
    return pack(qnet, EventSet(([[0, 1], [1, 0], [1, 2]], [[0, 2]]), [1, 0]), core)


def words() -> list[int]:
    return small_image().words.tolist()


def reseal(w: list[int], net: int = NET) -> list[int]:
    """Recompute both checksums, so that only the field under test is wrong."""
    w = list(w)
    w[net - 1] = sum(w[:net - 1]) % 2**32
    w[-1] = sum(w[net:-1]) % 2**32
    return w


def refused(w, kind=ImageError) -> str:
    with pytest.raises(kind) as info:
        from_words(w)
    return str(info.value)


def test_small_image_is_as_documented():
    w = words()
    assert len(w) == NET + 13
    assert w[6] == NET and w[37] == 0x54564554 and w[39] == 2 and w[41] == 3 and w[46] == 1
    assert from_words(reseal(w)).equals(small_image())


# -- truncation --------------------------------------------------------------------------------


def test_truncated_at_every_word_boundary():
    w = words()
    assert refused([]) == "truncated: the image is empty; the network header needs 11 words"
    for k in range(1, len(w)):
        msg = refused(w[:k])
        assert msg.startswith(f"truncated after word {k - 1}; "), (k, msg)


def test_random_images_truncated_at_every_word_boundary():
    for seed in range(4):
        case = random_case(300 + seed, n_samples=3, lanes=(1, 3, 8, 4)[seed])
        w = pack(case.qnet, case.events, case.core).words
        for k in range(1, len(w)):
            msg = refused(w[:k])
            assert msg.startswith(f"truncated after word {k - 1}; "), (seed, k, msg)


@pytest.mark.parametrize("k, why", [
    (5, "the network header needs 11 words"),
    (20, "the network section needs 37 words"),
    (37, "the event section is missing"),
    (39, "the event header needs 4 words"),
    (45, "sample 0 has 3 events, up to word 45"),
    (49, "the event section's checksum belongs at word 49"),
])
def test_truncation_messages(k, why):
    assert refused(words()[:k]) == f"truncated after word {k - 1}; {why}"


def test_truncated_after_word_1043():
    # 110 inputs -> 10 neurons on one lane: 1100 weight rows, 1118 network words
    qnet = QNet(110, 1, (Layer(np.ones((110, 10), dtype=np.int64), 3),))
    image = pack(qnet, EventSet(()), CoreConfig.for_network(qnet, lanes=1))
    assert len(image.net_words) == 1118
    msg = refused(image.words[:1044])
    assert msg == "truncated after word 1043; the network section needs 1118 words"


def test_truncated_files(tmp_path):
    image = small_image()
    path = tmp_path / "x.img"
    data = image.words.astype("<u4").tobytes()
    for cut in (4, 4 * 20, 4 * 45):
        path.write_bytes(data[:cut])
        with pytest.raises(ImageError, match=rf"^truncated after word {cut // 4 - 1}; "):
            load_image(path)
    path.write_bytes(data[:7])
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert str(info.value) == (
        f"image file {str(path)!r} is 7 bytes, not a whole number of 32-bit words")
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="^truncated: the image is empty"):
        load_image(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.img"
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert str(info.value) == f"image file {str(path)!r} does not exist"


# -- every single-bit flip ---------------------------------------------------------------------

EXPECTED_KINDS = [
    r"bad magic 0x[0-9a-f]{8} at word \d+; not a TTFS (image|event section)",
    r"unsupported image version \d+; this tool reads version 1",
    r"unsupported event section version \d+ at word \d+; this tool reads version 1",
    r"truncated after word \d+; .+",
    r"checksum mismatch in the (network|event) section: word \d+ holds 0x[0-9a-f]{8}, "
    r"the words before it sum to 0x[0-9a-f]{8}",
    r"net_words \d+ at word 6 does not match the layout: .+",
    r"(lanes|weight_bits|potential_bits|kernel_bits) \d+ at word 2 is outside \d+\.\.\d+",
    r"(n_layers|time_steps|n_inputs|max_neurons|max_layers|max_time_steps|weight_depth) \d+ "
    r"at word \d+ is outside \d+\.\.\d+",
    r"network weight_bits \d+ at word 8 is outside 2\.\.\d+ \(0 there means the core's \d+\)",
    r"reserved bits 0x[0-9a-f]{8} set in word \d+ \(.+\)",
    r"early_exit is set with the max_potential readout at word 3; .+",
    r"trailing words: the image ends at word \d+ but the file has \d+ words",
    r"the network has \d+ (layers|inputs); this core has \d+",
    r"the network needs \d+ (time steps|weight rows); this core has \d+",
    r"the network reads its output by first spike \(word 3\); this core was built without a "
    r"spiking output layer \(only max_potential networks fit\)",
]


def flip_every_bit(image: Image) -> None:
    w = image.words
    for i in range(len(w)):
        for b in range(32):
            bad = w.copy()
            bad[i] ^= np.uint32(1 << b)
            with pytest.raises((ImageError, FitError)) as info:
                from_words(bad)
            msg = str(info.value)
            assert any(re.fullmatch(p, msg) for p in EXPECTED_KINDS), (i, b, msg)


def test_every_single_bit_flip_is_refused():
    flip_every_bit(small_image())


def test_every_single_bit_flip_is_refused_with_multiword_rows():
    # 3 lanes of 16-bit weights: 2 words per row; a 1-layer max_potential network, no labels
    qnet = QNet(2, 2, (Layer([[1, -2, 3, -4], [5, 0, -7, 8]], [4, 5], [0, 1], 1, "zero"),),
                weight_bits=5, potential_bits=10, readout="max_potential")
    core = CoreConfig(lanes=3, weight_bits=16, potential_bits=10, kernel_bits=1, max_neurons=4,
                      max_layers=1, max_time_steps=2, weight_depth=4)
    flip_every_bit(pack(qnet, EventSet(([[0, 0], [1, 1]], [])), core))


# -- the main messages, exactly ------------------------------------------------------------------


def test_bad_magic():
    w = words()
    w[0] = 0x12345678
    assert refused(w) == "bad magic 0x12345678 at word 0; not a TTFS image"
    w = words()
    w[37] = 0
    assert refused(w) == "bad magic 0x00000000 at word 37; not a TTFS event section"


def test_unsupported_versions():
    w = words()
    w[1] = 7
    assert refused(w) == "unsupported image version 7; this tool reads version 1"
    w = words()
    w[38] = 2
    assert refused(w) == "unsupported event section version 2 at word 38; this tool reads version 1"


def test_checksum_mismatch_in_each_section():
    w = words()
    w[30] ^= 1 << 3
    total = sum(w[:36]) % 2**32
    assert refused(w) == (f"checksum mismatch in the network section: word 36 holds "
                          f"0x{w[36]:08x}, the words before it sum to 0x{total:08x}")
    w = words()
    w[43] ^= 1
    total = sum(w[37:49]) % 2**32
    assert refused(w) == (f"checksum mismatch in the event section: word 49 holds "
                          f"0x{w[49]:08x}, the words before it sum to 0x{total:08x}")


def big_layer_net() -> QNet:
    return QNet(4, 1, (Layer(np.ones((4, 8), dtype=np.int64), 1),
                       Layer(np.ones((8, 300), dtype=np.int64), 1)))


def test_layer_needs_more_neurons_than_the_core_has(tmp_path):
    qnet = big_layer_net()
    big = CoreConfig.for_network(qnet, lanes=8)
    assert big.max_neurons == 512
    params = {k: v for k, v in big.to_json().items() if k not in ("format", "version")}
    small = CoreConfig(**{**params, "max_neurons": 256})
    # refused before packing
    with pytest.raises(FitError) as info:
        pack(qnet, EventSet(()), small)
    assert str(info.value) == "layer 2 needs 300 neurons; this core has 256"
    # an image packed for the big core, loaded for the small one
    image = pack(qnet, EventSet(()), big)
    path = tmp_path / "big.img"
    save_image(image, path)
    with pytest.raises(FitError) as info:
        load_image(path, core=small)
    assert str(info.value) == "layer 2 needs 300 neurons; this core has 256"
    # an image whose own header names the small core
    w = image.words.tolist()
    w[7] = 256
    assert refused(reseal(w, len(image.net_words)), FitError) == (
        "layer 2 needs 300 neurons; this core has 256")


def test_image_for_another_core_is_refused(tmp_path):
    image = small_image()
    path = tmp_path / "x.img"
    save_image(image, path)
    params = {k: v for k, v in image.core.to_json().items() if k not in ("format", "version")}
    with pytest.raises(FitError) as info:
        load_image(path, core=CoreConfig(**{**params, "lanes": 4}))
    assert str(info.value) == "the image is packed for lanes=2; this core has lanes=4"
    with pytest.raises(FitError) as info:
        load_image(path, core=CoreConfig(**{**params, "max_layers": 1}))
    assert str(info.value) == "the network has 2 layers; this core has 1"
    assert load_image(path, core=CoreConfig(**{**params, "max_neurons": 8})).equals(image)


@pytest.mark.parametrize("index, value, message", [
    (8, 1 | 4 << 8, "the network has 2 layers; this core has 1"),
    (9, 1, "the network needs 2 time steps; this core has 1"),
    (7, 2, "the network has 3 inputs; this core has 2"),
    (10, 8, "the network needs 9 weight rows; this core has 8"),
    (11, 3 | 5 << 16, "layer 1 needs 5 neurons; this core has 4"),
    # word 8 bit 16 / 17: the target core has no leak datapath / no subtract reset
    (8, 2 | 4 << 8 | 1 << 16,
     "layer 1 leaks (leak_shift 2 at word 12); this core was built without the leak datapath"),
    (8, 2 | 4 << 8 | 1 << 17,
     "layer 2 uses the subtract reset (word 16); this core was built without it"),
])
def test_fit_problems_in_the_header(index, value, message):
    w = words()
    w[index] = value
    assert refused(reseal(w), FitError) == message


@pytest.mark.parametrize("index, value, message", [
    (2, 0 | 8 << 8 | 12 << 16 | 2 << 24, "lanes 0 at word 2 is outside 1..64"),
    (2, 2 | 17 << 8 | 12 << 16 | 2 << 24, "weight_bits 17 at word 2 is outside 2..16"),
    (3, 0, "n_layers 0 at word 3 is outside 1..255"),
    (3, 2 | 1 << 20, "reserved bits 0x00100000 set in word 3 (bits 31:10 of the network word)"),
    (3, 2 | 1 << 8 | 1 << 9, "early_exit is set with the max_potential readout at word 3; "
                             "early exit needs the first_spike readout"),
    (4, 0 | 3 << 16, "time_steps 0 at word 4 is outside 1..65535"),
    (4, 2, "n_inputs 0 at word 4 is outside 1..65535"),
    (6, 38, "net_words 38 at word 6 does not match the layout: 2 layers, 2 steps and 9 weight "
            "rows of 1 words make 37 words"),
    (5, 10, "net_words 37 at word 6 does not match the layout: 2 layers, 2 steps and 10 weight "
            "rows of 1 words make 38 words"),
    (8, 2 | 9 << 8, "network weight_bits 9 at word 8 is outside 2..7 (0 there means the core's 8)"),
    (8, 2 | 4 << 8 | 1 << 24,
     "reserved bits 0x01000000 set in word 8 (bits 31:24 of the max_layers word)"),
    # word 8 bits 23:19: chunk_bounds, 0 or a power of two in 1..16
    (8, 2 | 4 << 8 | 3 << 19, "chunk_bounds 3 at word 8 is not 0 or a power of two in 1..16"),
    (8, 2 | 4 << 8 | 31 << 19, "chunk_bounds 31 at word 8 is not 0 or a power of two in 1..16"),

    (11, 3 | 0 << 16, "layer 1 n_out 0 at word 11; a layer needs at least one neuron"),
    (11, 2 | 3 << 16, "layer 1 n_in 2 at word 11 does not match n_inputs 3"),
    (15, 4 | 2 << 16, "layer 2 n_in 4 at word 15 does not match layer 1's n_out 3"),
    (12, 3 | 2 << 8, "layer 1 reset code 3 at word 12 is outside 0..2"),
    (12, 1 | 12 << 8, "layer 1 leak_shift 12 at word 12 is outside 0..11"),
    (12, 1 | 2 << 8 | 1 << 16,
     "reserved bits 0x00010000 set in word 12 (layer 1's reset/leak descriptor)"),
    (17, 5, "layer 2 weight_base 5 at word 17 is not 6, where the previous layer's rows end"),
    (14, 3, "layer 1 chunks 3 at word 14 is not ceil(3 / 2) = 2"),
    (20, 0, "layer 1 threshold[1] 0 at word 20 is outside 1..2047 (potential_bits=12)"),
    (23, 2048, "layer 2 threshold[0] 2048 at word 23 is outside 1..2047 (potential_bits=12)"),
    (26, 4, "layer 2 kernel[1] 4 at word 26 is outside 0..3 (kernel_bits=2)"),
    (40, 3, "reserved bits 0x00000002 set in word 40 (event section flags)"),
])
def test_bad_fields_are_named(index, value, message):
    w = words()
    w[index] = value
    assert refused(reseal(w)) == message


def test_a_first_spike_network_on_a_core_without_a_spiking_output_layer_is_a_fit_error():
    w = words()
    w[8] = 2 | 4 << 8 | 1 << 18  # the core's options: no spiking output layer
    with pytest.raises(FitError) as exc:
        from_words(reseal(w))
    assert str(exc.value) == (
        "the network reads its output by first spike (word 3); this core was built without a "
        "spiking output layer (only max_potential networks fit)")


def test_weight_row_padding_and_width():
    w = words()
    w[27] |= 1 << 20  # lanes use bits 0..15 of a row word (2 lanes of 8 bits)
    assert refused(reseal(w)) == "non-zero padding bits 0x00100000 in weight row 0 at word 27"
    w = words()
    w[28] |= 1 << 8  # row 1 = source 0, chunk 1: lane 1 is neuron 3 of a 3-neuron layer
    assert refused(reseal(w)) == (
        "non-zero padding lane 1 (neuron 3 >= n_out 3) in layer 1 weight row 1 at word 28: 1")
    w = words()
    w[33] = (w[33] & ~0xFF) | 8  # 8 fits the core's 8-bit field, not the network's 4 bits
    assert refused(reseal(w)) == (
        "layer 2 weight 8 in row 6 lane 0 at word 33 does not fit the network's 4-bit weights")
    # the lowest word wins when several rows are bad
    w = words()
    w[33] = (w[33] & ~0xFF) | 8
    w[29] |= 1 << 31
    assert refused(reseal(w)).endswith("in weight row 2 at word 29")


def test_weight_rows_must_match_the_descriptors():
    w = words()
    del w[35]  # drop layer 2's last row and say so in the header
    w[5], w[6] = 8, 36
    assert refused(reseal(w, 36)) == "the layers use 9 weight rows but weight_rows at word 5 is 8"


def test_bad_events_are_named():
    w = words()
    w[43], w[44] = w[44], w[43]
    assert refused(reseal(w)) == (
        "sample 0 event 1 (word 44, 0x00000001) does not come after 0x00010000; events must be "
        "strictly increasing in (t, input)")
    w = words()
    w[44] = w[43]
    assert refused(reseal(w)).startswith("sample 0 event 1 (word 44, 0x00000001) does not come")
    w = words()
    w[48] = 2 << 16 | 2
    assert refused(reseal(w)) == (
        "sample 1 event 0 (word 48, 0x00020002) has time 2; times must be in 0..1")
    w = words()
    w[48] = 3
    assert refused(reseal(w)) == (
        "sample 1 event 0 (word 48, 0x00000003) has input 3; inputs must be in 0..2")
    w = words()
    w[47] = 2  # sample 1's label: the network has 2 outputs
    assert refused(reseal(w)) == (
        "sample 1 has label 2, outside the network's 2 outputs (labels 0..1)")
    with pytest.raises(ImageError) as info:
        parse_events(reseal(w)[NET:], small_image().qnet, NET)
    assert str(info.value) == "sample 1 has label 2, outside the network's 2 outputs (labels 0..1)"


def test_malformed_lengths():
    w = words()
    w[41] = 1000
    assert refused(w) == "truncated after word 49; sample 0 has 1000 events, up to word 1042"
    w = words()
    w[39] = 2**31
    assert refused(w) == (
        "truncated after word 49; 2147483648 samples need at least 4294967296 more words")
    w = words()
    w[39] = 1  # one sample fewer: the next sample's count is read as the checksum
    assert refused(w).startswith("checksum mismatch in the event section: word 46 holds")
    w = reseal(words()[:46] + [words()[49]], NET)  # drop sample 1 but keep n_samples = 2
    assert refused(w) == "truncated after word 46; sample 1 needs its label at word 47"


def test_trailing_words():
    w = words() + [0]
    assert refused(w) == "trailing words: the image ends at word 49 but the file has 51 words"
    with pytest.raises(ImageError) as info:
        parse_network(words())
    assert str(info.value) == "trailing words: the image ends at word 36 but the file has 50 words"


def test_words_must_be_32_bit_unsigned_integers():
    with pytest.raises(TypeError, match=r"^word 0 must be an integer, not 1\.5$"):
        from_words([1.5])
    with pytest.raises(TypeError, match="^words must be integers, not an array of dtype float64$"):
        from_words(np.zeros(3))
    assert refused([-1]) == "word 0 is -1; image words are 32-bit unsigned"
    assert refused([0, 2**32]) == "word 1 is 4294967296; image words are 32-bit unsigned"


# -- pack refuses what it cannot pack ----------------------------------------------------------


def test_pack_refuses_bad_events_and_misfits():
    image = small_image()
    with pytest.raises(ConfigError) as info:
        pack(image.qnet, EventSet(([[5, 0]],)), image.core)
    assert str(info.value) == "sample 0 event 0 has time 5; times must be in 0..1"
    with pytest.raises(ConfigError) as info:
        pack(image.qnet, EventSet(([[0, 0]], []), [1, 2]), image.core)
    assert str(info.value) == "sample 1 has label 2, outside the network's 2 outputs (labels 0..1)"
    with pytest.raises(ConfigError) as info:
        pack(image.qnet, EventSet(([[0, 0]],), [2**32]), image.core)
    assert str(info.value) == ("sample 0 has label 4294967296, outside the network's 2 outputs "
                               "(labels 0..1)")
    params = {k: v for k, v in image.core.to_json().items() if k not in ("format", "version")}
    with pytest.raises(FitError) as info:
        pack(image.qnet, image.events, CoreConfig(**{**params, "weight_bits": 3}))
    assert str(info.value) == "the network has 4-bit weights; this core has 3-bit weights"
    with pytest.raises(TypeError, match="^qnet must be a QNet, not dict$"):
        pack({}, image.events)


def test_pack_refuses_sizes_beyond_the_16_bit_fields():
    qnet = QNet(65536, 1, (Layer(np.zeros((65536, 1), dtype=np.int64), 1),))
    with pytest.raises(ImageError) as info:
        pack(qnet, EventSet(()))
    assert str(info.value) == (
        "n_inputs 65536 does not fit the image's 16-bit field; an image holds at most 65535")


# -- nothing crashes on any input --------------------------------------------------------------

u32 = st.integers(0, 2**32 - 1)


@settings(max_examples=200, deadline=None)
@given(w=st.lists(u32, max_size=60), head=st.booleans())
def test_random_words_never_crash(w, head):
    if head:  # a plausible header makes the reader go deeper
        w = words()[:7] + w
    try:
        image = from_words(w)
    except (ImageError, FitError):
        return
    assert np.array_equal(from_words(image.words).words, np.array(w, dtype=np.uint32))


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**16), edits=st.lists(st.tuples(st.integers(0, 10**6), u32),
                                                  min_size=1, max_size=3),
       cut=st.integers(0, 10**6), do_reseal=st.booleans())
def test_mutated_images_never_crash(seed, edits, cut, do_reseal):
    case = random_case(seed, n_samples=3)
    image = pack(case.qnet, case.events, case.core)
    w = image.words.tolist()
    for at, value in edits:
        w[at % len(w)] = value
    if do_reseal:
        w = reseal(w, len(image.net_words))
    if cut % 3 == 0:
        w = w[: cut % (len(w) + 1)]
    try:
        back = from_words(w)
    except (ImageError, FitError):
        return
    # accepted: it must be a faithful image of what it decodes to
    assert np.array_equal(back.words, np.array(w, dtype=np.uint32))
    assert pack(back.qnet, back.events, back.core).equals(back)
