"""The image format: its layout constants and sizes, the checksum, the :class:`Image` object, and
the packer (:func:`pack`, :func:`save_image`). The word layout: ``docs/image.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttfs.sim.core import CoreConfig, chunks
from ttfs.sim.errors import ImageError
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, QNet
from ttfs.sim.protocol import MAGIC, VERSION, WORD_MASK, event_words

__all__ = [
    "MAGIC", "VERSION", "EVENT_MAGIC", "EVENT_VERSION", "HEADER_WORDS", "DESC_WORDS",
    "EVENT_HEADER_WORDS", "FIELD16", "WORD_MASK", "W3_USED", "W8_USED", "W8_NO_LEAK",
    "W8_NO_SUBTRACT", "W8_NO_SPIKING_OUT", "W8_CHUNK_BOUNDS_SHIFT", "D1_USED",
    "words_per_row", "params_word", "network_words", "checksum", "Image", "pack", "save_image",
]

#: word 0 of the event section (b"TEVT" little-endian) and word 1, its format version
EVENT_MAGIC = 0x54564554
EVENT_VERSION = 1
#: words of the network header, of one layer descriptor and of the event header
HEADER_WORDS = 11
DESC_WORDS = 4
EVENT_HEADER_WORDS = 4
#: the largest value of a 16-bit header field
FIELD16 = 0xFFFF

# bit fields of the header and descriptor words that carry data; everything else is reserved
W3_USED = 0x3FF  # n_layers[7:0], readout[8], early_exit[9]
# max_layers[7:0], net weight_bits[15:8], no leak[16], no subtract[17], no spiking output[18],
# chunk_bounds[23:19]
W8_USED = 0xFFFFFF
W8_NO_LEAK = 1 << 16
W8_NO_SUBTRACT = 1 << 17
W8_NO_SPIKING_OUT = 1 << 18
W8_CHUNK_BOUNDS_SHIFT = 19
D1_USED = 0x1F03  # reset[1:0], leak_shift[12:8]


def words_per_row(lanes: int, weight_bits: int) -> int:
    """Words of one weight row: ``ceil(P / floor(32 / weight_bits))``."""
    return -(-lanes // (32 // weight_bits))


def params_word(core: CoreConfig) -> int:
    """Header word 2, the core's parameters: lanes, weight_bits, potential_bits and kernel_bits,
    a byte each from the low end (the loader compares it with its own build's)."""
    return core.lanes | core.weight_bits << 8 | core.potential_bits << 16 | core.kernel_bits << 24


def network_words(n_layers: int, time_steps: int, weight_rows: int, lanes: int,
                  weight_bits: int) -> int:
    """Length of the network section: ``11 + 4L + 2LT + rows * words_per_row + 1``."""
    return (HEADER_WORDS + DESC_WORDS * n_layers + 2 * n_layers * time_steps
            + weight_rows * words_per_row(lanes, weight_bits) + 1)


def checksum(words: np.ndarray) -> int:
    """The sum of ``words`` modulo ``2**32``."""
    return int(np.asarray(words, dtype=np.uint64).sum(dtype=np.uint64) & WORD_MASK)


def _u32(words: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(words, dtype=np.uint32)
    out.setflags(write=False)
    return out


# -- the image object ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Image:
    """A packed network and its input events, with the words they pack to.

    Build one with :func:`pack` (from a :class:`QNet` and an :class:`EventSet`) or read one with
    :func:`load_image` / :func:`from_words`; both guarantee that ``net_words`` and
    ``event_words`` encode exactly ``qnet``, ``core`` and ``events``. ``core`` is the core the
    image is packed for (header words 2 and 7..10). Construction checks only the types and that
    ``net_words`` is as long as its word 6 says (the words are the truth: the image model runs
    from them, never from ``qnet``); the arrays become read-only ``uint32``.
    """

    qnet: QNet
    core: CoreConfig
    events: EventSet
    net_words: np.ndarray
    event_words: np.ndarray

    def __post_init__(self):
        for name, cls in (("qnet", QNet), ("core", CoreConfig), ("events", EventSet)):
            v = getattr(self, name)
            if not isinstance(v, cls):
                raise TypeError(f"Image.{name} must be a {cls.__name__}, not {type(v).__name__}")
        for name in ("net_words", "event_words"):
            v = getattr(self, name)
            if not isinstance(v, np.ndarray) or v.ndim != 1 or v.dtype.kind not in "iu":
                raise TypeError(f"Image.{name} must be a 1-D integer numpy array")
            object.__setattr__(self, name, _u32(v))
        n = len(self.net_words)
        if n < HEADER_WORDS or int(self.net_words[6]) != n:
            raise ImageError(
                f"Image.net_words holds {n} words but its word 6 says "
                f"{int(self.net_words[6]) if n > 6 else 'nothing'}; build images with pack()"
            )

    @property
    def words(self) -> np.ndarray:
        """The whole file: the network section, then the event section."""
        return np.concatenate([self.net_words, self.event_words])

    @property
    def net_checksum(self) -> int:
        return int(self.net_words[-1])

    @property
    def event_checksum(self) -> int:
        return int(self.event_words[-1])

    def equals(self, other: Image) -> bool:
        """Exact equality: same words (which encode the network, core and events)."""
        return (
            isinstance(other, Image)
            and np.array_equal(self.net_words, other.net_words)
            and np.array_equal(self.event_words, other.event_words)
        )


# -- packing ---------------------------------------------------------------------------------


def _check_field16(value: int, what: str) -> None:
    if value > FIELD16:
        raise ImageError(
            f"{what} {value} does not fit the image's 16-bit field; an image holds at most 65535"
        )


def _pack_rows(weights: np.ndarray, lanes: int, weight_bits: int) -> np.ndarray:
    """One layer's weight rows: ``(n_in * chunks, words_per_row)`` ``uint32`` words."""
    n_in, n_out = weights.shape
    ch = chunks(n_out, lanes)
    padded = np.zeros((n_in, ch * lanes), dtype=np.int64)
    padded[:, :n_out] = weights
    lanes_v = padded.reshape(n_in * ch, lanes)
    wpw = 32 // weight_bits
    wpr = words_per_row(lanes, weight_bits)
    fields = lanes_v.astype(np.uint64) & np.uint64((1 << weight_bits) - 1)  # two's complement
    out = np.zeros((n_in * ch, wpr), dtype=np.uint64)
    for p in range(lanes):
        out[:, p // wpw] |= fields[:, p] << np.uint64((p % wpw) * weight_bits)
    return out.astype(np.uint32)


def _pack_network(qnet: QNet, core: CoreConfig) -> np.ndarray:
    L = len(qnet.layers)
    T = qnet.time_steps
    P = core.lanes
    _check_field16(T, "time_steps")
    _check_field16(qnet.n_inputs, "n_inputs")
    for k, layer in enumerate(qnet.layers, start=1):
        _check_field16(layer.n_out, f"layer {k} n_out")
    rows = sum(layer.n_in * chunks(layer.n_out, P) for layer in qnet.layers)
    total = network_words(L, T, rows, P, core.weight_bits)
    net_wb = 0 if qnet.weight_bits == core.weight_bits else qnet.weight_bits
    head = [
        MAGIC,
        VERSION,
        params_word(core),
        L | READOUTS.index(qnet.readout) << 8 | int(qnet.early_exit) << 9,
        T | qnet.n_inputs << 16,
        rows,
        total,
        core.max_neurons,
        core.max_layers | net_wb << 8 | (0 if core.leak else W8_NO_LEAK)
        | (0 if core.subtract else W8_NO_SUBTRACT)
        | (0 if core.spiking_output else W8_NO_SPIKING_OUT)
        | core.chunk_bounds << W8_CHUNK_BOUNDS_SHIFT,
        core.max_time_steps,
        core.weight_depth,
    ]
    desc = []
    base = 0
    for layer in qnet.layers:
        ch = chunks(layer.n_out, P)
        desc += [
            layer.n_in | layer.n_out << 16,
            RESET_MODES.index(layer.reset) | layer.leak_shift << 8,
            base,
            ch,
        ]
        base += layer.n_in * ch
    tables = [np.concatenate([layer.threshold, layer.kernel]) for layer in qnet.layers]
    wrows = [_pack_rows(layer.weights, P, core.weight_bits).reshape(-1) for layer in qnet.layers]
    body = np.concatenate(
        [np.array(head + desc, dtype=np.uint64)]
        + [t.astype(np.uint64) for t in tables]
        + [w.astype(np.uint64) for w in wrows]
    )
    words = np.concatenate([body, np.array([checksum(body)], dtype=np.uint64)])
    if len(words) != total:  # a packing bug, not a user error
        raise AssertionError(f"packed {len(words)} network words, layout says {total}")
    return words.astype(np.uint32)


def _pack_events(events: EventSet) -> np.ndarray:
    labels = events.labels  # pack checked them against the network's outputs
    parts: list[np.ndarray] = [
        np.array([EVENT_MAGIC, EVENT_VERSION, len(events), int(labels is not None)],
                 dtype=np.uint64)
    ]
    for n, s in enumerate(events.samples):
        head = [len(s)] if labels is None else [len(s), int(labels[n])]
        parts.append(np.array(head, dtype=np.uint64))
        parts.append(event_words(s))
    body = np.concatenate(parts)
    return np.concatenate([body, np.array([checksum(body)], dtype=np.uint64)]).astype(np.uint32)


def pack(qnet: QNet, events: EventSet, core: CoreConfig | None = None) -> Image:
    """Pack ``qnet`` and ``events`` into an :class:`Image` for ``core``.

    ``core`` defaults to :meth:`CoreConfig.for_network`. A network that does not fit ``core``
    raises :class:`FitError` (``core.check_fits``), events that are invalid for the network raise
    :class:`ConfigError`, and sizes beyond the image's 16-bit fields raise :class:`ImageError`,
    all before anything is packed.
    """
    if not isinstance(qnet, QNet):
        raise TypeError(f"qnet must be a QNet, not {type(qnet).__name__}")
    if not isinstance(events, EventSet):
        raise TypeError(f"events must be an EventSet, not {type(events).__name__}")
    if core is None:
        core = CoreConfig.for_network(qnet)
    elif not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")
    core.check_fits(qnet)
    events.check(qnet.time_steps, qnet.n_inputs, qnet.n_outputs)
    net = _pack_network(qnet, core)
    ev = _pack_events(events)
    return Image(qnet, core, events, net, ev)


def save_image(image: Image, path: str | os.PathLike) -> None:
    """Write ``image.words`` as 32-bit little-endian words."""
    if not isinstance(image, Image):
        raise TypeError(f"image must be an Image, not {type(image).__name__}")
    Path(path).write_bytes(image.words.astype("<u4").tobytes())
