"""The image: pack, write, read and validate it, and run a network straight from its words.

An image is the contract between the compiler and the hardware (DESIGN section 5; the word
layout is in ``docs/image.md``). It is a file of 32-bit little-endian words in two sections:

* the **network section**, exactly the words the core's load stream carries: an 11-word header,
  four descriptor words per layer, each layer's threshold and kernel tables (``T`` words each),
  the packed weight rows, and a checksum (sum of the preceding words mod ``2**32``);
* the **event section**: the input events (and optional labels) of N samples, one event word
  ``(t << 16) | input`` each, with its own header and checksum.

Reading validates every word and raises on the first problem, naming the word index where one
applies. The order is fixed (``docs/image.md``, "Validation order"): the network header word by
word, the section's length, its checksum, then its contents in word order; then the same for
the event section, then trailing words. A network that does not fit the core named in the
header raises :class:`~sim.errors.FitError`; everything else raises
:class:`~sim.errors.ImageError`. Lengths are checked before any word is read, so no input makes
the reader crash or allocate more than the words it was given.

The **image model** (:func:`run_image`, :class:`ImageBackend`) is the second implementation of
DESIGN section 3 on the ladder (reference == image model == RTL). It never looks at the
:class:`~sim.ir.QNet`: it decodes the packed words into the memories the core holds (a weight
memory of ``weight_rows`` rows of ``P`` signed lanes, a descriptor per layer, threshold and
kernel tables) and runs event by event, reading the row at address
``weight_base_l + j * chunks_l + c`` for each chunk ``c`` of source ``j``::

    for t in 0 .. T-1:
        queue = input events of step t, in word order
        for l in 1 .. L:
            for j in queue, in order:                      # integrate
                for c in 0 .. chunks_l-1:
                    row = wmem[weight_base_l + j * chunks_l + c]          # P lanes
                    for p in 0 .. P-1:  V[c*P+p] <- sat(V[c*P+p] + row[p] * K_l[t])
            unless l is a max_potential output layer:        # fire and leak, per chunk
                for each neuron i < n_l not already fired (fire_once):
                    if V[i] >= Theta_l[t]: spike; fire_once: mark, zero: V <- 0,
                                           subtract: V <- V - Theta_l[t]
                    if s_l > 0: V[i] <- V[i] - (V[i] >> s_l)
            queue = spikes of layer l at step t, ascending
        early_exit: stop after the first step with an output spike

Padding lanes (``c*P + p >= n_l``) hold weight 0, so their potential stays 0; they are never
swept into a spike (thresholds are >= 1) and never take part in the readout's argmax.
Samples are vectorised: the k-th event of every sample's queue is applied to all samples at once,
with a saturating add per event, so saturation (which is not associative) is exact in every case
and no fallback is needed. The chunks of one row never share a lane, so applying them in one
vector operation equals applying them one per cycle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttfs.sim.core import CoreConfig, chunks
from ttfs.sim.errors import ConfigError, FitError, ImageError
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.reference import Activity, Counters, SampleResult

__all__ = [
    "MAGIC",
    "EVENT_MAGIC",
    "VERSION",
    "EVENT_VERSION",
    "HEADER_WORDS",
    "Image",
    "NetworkMemories",
    "pack",
    "save_image",
    "load_image",
    "from_words",
    "parse_network",
    "parse_events",
    "decode_network",
    "network_words",
    "words_per_row",
    "checksum",
    "image_info",
    "format_info",
    "run_image",
    "ImageBackend",
]

MAGIC = 0x53465454  # b"TTFS" little-endian
EVENT_MAGIC = 0x54564554  # b"TEVT" little-endian
VERSION = 1
EVENT_VERSION = 1
HEADER_WORDS = 11
DESC_WORDS = 4
EVENT_HEADER_WORDS = 4
FIELD16 = 0xFFFF
WORD_MASK = 0xFFFFFFFF

# bit fields of the header and descriptor words that carry data; everything else is reserved
_W3_USED = 0x3FF  # n_layers[7:0], readout[8], early_exit[9]
_W8_USED = 0x3FFFF  # max_layers[7:0], net weight_bits[15:8], no leak[16], no subtract[17]
_W8_NO_LEAK = 1 << 16
_W8_NO_SUBTRACT = 1 << 17
_D1_USED = 0x1F03  # reset[1:0], leak_shift[12:8]

# the ranges CoreConfig accepts (sim/core.py), checked here with the word index in the message
_CORE_RANGES = {
    "lanes": (1, 64),
    "weight_bits": (2, 16),
    "potential_bits": (2, 32),
    "kernel_bits": (1, 16),
    "max_neurons": (1, 1 << 16),
    "max_layers": (1, 64),
    "max_time_steps": (1, 1 << 16),
    "weight_depth": (1, 1 << 24),
}


def words_per_row(lanes: int, weight_bits: int) -> int:
    """Words of one weight row: ``ceil(P / floor(32 / weight_bits))``."""
    return -(-lanes // (32 // weight_bits))


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
        P | core.weight_bits << 8 | core.potential_bits << 16 | core.kernel_bits << 24,
        L | READOUTS.index(qnet.readout) << 8 | int(qnet.early_exit) << 9,
        T | qnet.n_inputs << 16,
        rows,
        total,
        core.max_neurons,
        core.max_layers | net_wb << 8 | (0 if core.leak else _W8_NO_LEAK)
        | (0 if core.subtract else _W8_NO_SUBTRACT),
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
    labels = events.labels
    if labels is not None and labels.size and int(labels.max()) > WORD_MASK:
        raise ConfigError(f"label {int(labels.max())} does not fit a 32-bit image word")
    parts: list[np.ndarray] = [
        np.array([EVENT_MAGIC, EVENT_VERSION, len(events), int(labels is not None)],
                 dtype=np.uint64)
    ]
    for n, s in enumerate(events.samples):
        head = [len(s)] if labels is None else [len(s), int(labels[n])]
        parts.append(np.array(head, dtype=np.uint64))
        if len(s):
            parts.append((s[:, 0].astype(np.uint64) << np.uint64(16)) | s[:, 1].astype(np.uint64))
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
    events.check(qnet.time_steps, qnet.n_inputs)
    net = _pack_network(qnet, core)
    ev = _pack_events(events)
    return Image(qnet, core, events, net, ev)


# -- reading: the network section ------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class NetworkMemories:
    """The network section decoded into what the core holds after loading it.

    ``wmem[r, p]`` is lane ``p`` of weight row ``r`` (signed). ``threshold[l-1, t]`` and
    ``kernel[l-1, t]`` are the tables; per-layer tuples hold the descriptor fields. ``core``
    is the core the image is packed for (words 2 and 7..10); ``net_weight_bits`` is the
    network's declared weight width (word 8, bits 15:8; 0 there means the core's).
    """

    core: CoreConfig
    net_weight_bits: int
    readout: str
    early_exit: bool
    time_steps: int
    n_inputs: int
    weight_rows: int
    net_words: int
    n_in: tuple
    n_out: tuple
    reset: tuple
    leak_shift: tuple
    weight_base: tuple
    chunks: tuple
    threshold: np.ndarray
    kernel: np.ndarray
    wmem: np.ndarray

    @property
    def n_layers(self) -> int:
        return len(self.n_out)

    @property
    def lanes(self) -> int:
        return self.core.lanes

    @property
    def potential_bits(self) -> int:
        return self.core.potential_bits


def _truncated(last: int, why: str) -> ImageError:
    if last < 0:
        return ImageError(f"truncated: the image is empty; {why}")
    return ImageError(f"truncated after word {last}; {why}")


def _as_words(words) -> np.ndarray:
    """``words`` as a 1-D ``uint32`` array, refusing anything that is not 32-bit unsigned."""
    if isinstance(words, (bytes, bytearray, str)):
        raise TypeError("words must be a sequence of integers, not bytes or str")
    if not isinstance(words, np.ndarray):
        words = list(words)
        for k, x in enumerate(words):
            if not isinstance(x, (int, np.integer)) or isinstance(x, (bool, np.bool_)):
                raise TypeError(f"word {k} must be an integer, not {x!r}")
        words = np.array([int(x) for x in words], dtype=object)
    elif words.dtype.kind not in "iu":
        raise TypeError(f"words must be integers, not an array of dtype {words.dtype}")
    if words.ndim != 1:
        raise TypeError(f"words must be a 1-D array, got shape {words.shape}")
    if words.dtype == np.uint32:
        return words
    bad = [k for k, x in enumerate(words.tolist()) if not 0 <= x <= WORD_MASK][:1]
    if bad:
        raise ImageError(f"word {bad[0]} is {int(words[bad[0]])}; image words are 32-bit unsigned")
    return words.astype(np.uint32)


def _field_range(value: int, lo: int, hi: int, what: str, word: int) -> None:
    if not lo <= value <= hi:
        raise ImageError(f"{what} {value} at word {word} is outside {lo}..{hi}")


def _reserved(value: int, used: int, word: int, what: str) -> None:
    bits = value & ~used & WORD_MASK
    if bits:
        raise ImageError(f"reserved bits 0x{bits:08x} set in word {word} ({what})")


def decode_network(words, offset: int = 0) -> NetworkMemories:
    """Validate the network section at the start of ``words`` and decode it into memories.

    ``words`` may continue past the section (the event section follows in a file); ``offset``
    is added to every word index in messages. Raises :class:`ImageError` or :class:`FitError`
    naming the first problem (see the module docstring for the order).
    """
    w = _as_words(words)
    n = len(w)
    last = offset + n - 1

    def word(i: int) -> int:
        if i >= n:
            raise _truncated(last, f"the network header needs {HEADER_WORDS} words")
        return int(w[i])

    magic = word(0)
    if magic != MAGIC:
        raise ImageError(f"bad magic 0x{magic:08x} at word {offset}; not a TTFS image")
    version = word(1)
    if version != VERSION:
        raise ImageError(f"unsupported image version {version}; this tool reads version {VERSION}")
    w2 = word(2)
    params = {
        "lanes": w2 & 0xFF,
        "weight_bits": w2 >> 8 & 0xFF,
        "potential_bits": w2 >> 16 & 0xFF,
        "kernel_bits": w2 >> 24 & 0xFF,
    }
    for name, v in params.items():
        _field_range(v, *_CORE_RANGES[name], name, offset + 2)
    w3 = word(3)
    n_layers = w3 & 0xFF
    readout = READOUTS[w3 >> 8 & 1]
    early_exit = bool(w3 >> 9 & 1)
    _field_range(n_layers, 1, 255, "n_layers", offset + 3)
    _reserved(w3, _W3_USED, offset + 3, "bits 31:10 of the network word")
    if early_exit and readout != "first_spike":
        raise ImageError(
            f"early_exit is set with the max_potential readout at word {offset + 3}; "
            "early exit needs the first_spike readout"
        )
    w4 = word(4)
    T, n_inputs = w4 & FIELD16, w4 >> 16
    _field_range(T, 1, FIELD16, "time_steps", offset + 4)
    _field_range(n_inputs, 1, FIELD16, "n_inputs", offset + 4)
    rows = word(5)
    total = word(6)
    P, wb = params["lanes"], params["weight_bits"]
    wpr = words_per_row(P, wb)
    expect = network_words(n_layers, T, rows, P, wb)
    if total != expect:
        raise ImageError(
            f"net_words {total} at word {offset + 6} does not match the layout: {n_layers} "
            f"layers, {T} steps and {rows} weight rows of {wpr} words make {expect} words"
        )
    params["max_neurons"] = word(7)
    w8 = word(8)
    params["max_layers"] = w8 & 0xFF
    net_wb = w8 >> 8 & 0xFF
    params["max_time_steps"] = word(9)
    params["weight_depth"] = word(10)
    for name, i in (("max_neurons", 7), ("max_layers", 8), ("max_time_steps", 9),
                    ("weight_depth", 10)):
        _field_range(params[name], *_CORE_RANGES[name], name, offset + i)
    _reserved(w8, _W8_USED, offset + 8, "bits 31:18 of the max_layers word")
    params["leak"] = not w8 & _W8_NO_LEAK
    params["subtract"] = not w8 & _W8_NO_SUBTRACT
    if net_wb:
        if not 2 <= net_wb < wb:
            raise ImageError(
                f"network weight_bits {net_wb} at word {offset + 8} is outside 2..{wb - 1} "
                f"(0 there means the core's {wb})"
            )
    else:
        net_wb = wb
    core = CoreConfig(**params)
    # fit problems visible in the header, worded as CoreConfig.fit_problems words them
    if n_layers > core.max_layers:
        raise FitError(f"the network has {n_layers} layers; this core has {core.max_layers}")
    if T > core.max_time_steps:
        raise FitError(
            f"the network needs {T} time steps; this core has {core.max_time_steps}"
        )
    if n_inputs > core.max_neurons:
        raise FitError(f"the network has {n_inputs} inputs; this core has {core.max_neurons}")
    if rows > core.weight_depth:
        raise FitError(f"the network needs {rows} weight rows; this core has {core.weight_depth}")

    if n < total:
        raise _truncated(last, f"the network section needs {total} words")
    expected_sum = checksum(w[: total - 1])
    if int(w[total - 1]) != expected_sum:
        raise ImageError(
            f"checksum mismatch in the network section: word {offset + total - 1} holds "
            f"0x{int(w[total - 1]):08x}, the words before it sum to 0x{expected_sum:08x}"
        )

    # -- descriptors
    pb = params["potential_bits"]
    n_in_t, n_out_t, reset_t, leak_t, base_t, chunks_t = [], [], [], [], [], []
    base = 0
    prev = n_inputs
    for li in range(n_layers):
        at = HEADER_WORDS + DESC_WORDS * li
        d0, d1, d2, d3 = (int(x) for x in w[at:at + DESC_WORDS])
        k = li + 1
        n_in, n_out = d0 & FIELD16, d0 >> 16
        if n_in != prev:
            src = "n_inputs" if k == 1 else f"layer {k - 1}'s n_out"
            raise ImageError(
                f"layer {k} n_in {n_in} at word {offset + at} does not match {src} {prev}"
            )
        if n_out == 0:
            raise ImageError(
                f"layer {k} n_out 0 at word {offset + at}; a layer needs at least one neuron"
            )
        if n_out > core.max_neurons:
            raise FitError(f"layer {k} needs {n_out} neurons; this core has {core.max_neurons}")
        _reserved(d1, _D1_USED, offset + at + 1, f"layer {k}'s reset/leak descriptor")
        reset_code, leak = d1 & 3, d1 >> 8 & 0x1F
        if reset_code >= len(RESET_MODES):
            raise ImageError(
                f"layer {k} reset code {reset_code} at word {offset + at + 1} is outside 0..2"
            )
        if leak >= pb:
            raise ImageError(
                f"layer {k} leak_shift {leak} at word {offset + at + 1} is outside 0..{pb - 1}"
            )
        if leak and not core.leak:
            raise FitError(
                f"layer {k} leaks (leak_shift {leak} at word {offset + at + 1}); this core "
                "was built without the leak datapath"
            )
        if RESET_MODES[reset_code] == "subtract" and not core.subtract:
            raise FitError(
                f"layer {k} uses the subtract reset (word {offset + at + 1}); this core was "
                "built without it"
            )
        if d2 != base:
            raise ImageError(
                f"layer {k} weight_base {d2} at word {offset + at + 2} is not {base}, "
                "where the previous layer's rows end"
            )
        ch = chunks(n_out, P)
        if d3 != ch:
            raise ImageError(
                f"layer {k} chunks {d3} at word {offset + at + 3} is not "
                f"ceil({n_out} / {P}) = {ch}"
            )
        n_in_t.append(n_in)
        n_out_t.append(n_out)
        reset_t.append(RESET_MODES[reset_code])
        leak_t.append(leak)
        base_t.append(base)
        chunks_t.append(ch)
        base += n_in * ch
        prev = n_out
    if base != rows:
        raise ImageError(
            f"the layers use {base} weight rows but weight_rows at word {offset + 5} is {rows}"
        )

    # -- tables
    tab0 = HEADER_WORDS + DESC_WORDS * n_layers
    tabs = w[tab0:tab0 + 2 * n_layers * T].astype(np.int64).reshape(n_layers, 2, T)
    th_hi = (1 << (pb - 1)) - 1
    k_hi = (1 << params["kernel_bits"]) - 1
    for li in range(n_layers):
        th, ke = tabs[li, 0], tabs[li, 1]
        bad = np.flatnonzero((th < 1) | (th > th_hi))
        if bad.size:
            t = int(bad[0])
            raise ImageError(
                f"layer {li + 1} threshold[{t}] {int(th[t])} at word "
                f"{offset + tab0 + 2 * li * T + t} is outside 1..{th_hi} (potential_bits={pb})"
            )
        bad = np.flatnonzero(ke > k_hi)
        if bad.size:
            t = int(bad[0])
            raise ImageError(
                f"layer {li + 1} kernel[{t}] {int(ke[t])} at word "
                f"{offset + tab0 + (2 * li + 1) * T + t} is outside 0..{k_hi} "
                f"(kernel_bits={params['kernel_bits']})"
            )

    # -- weight rows
    w0 = tab0 + 2 * n_layers * T
    raw = w[w0:w0 + rows * wpr].astype(np.uint64).reshape(rows, wpr)
    wmem = _decode_rows(raw, P, wb)
    _check_rows(raw, wmem, P, wb, net_wb, n_out_t, base_t, chunks_t, n_in_t, offset + w0)
    wmem.setflags(write=False)
    th_tab = tabs[:, 0].copy()
    k_tab = tabs[:, 1].copy()
    th_tab.setflags(write=False)
    k_tab.setflags(write=False)
    return NetworkMemories(
        core=core, net_weight_bits=net_wb, readout=readout, early_exit=early_exit,
        time_steps=T, n_inputs=n_inputs, weight_rows=rows, net_words=total,
        n_in=tuple(n_in_t), n_out=tuple(n_out_t), reset=tuple(reset_t), leak_shift=tuple(leak_t),
        weight_base=tuple(base_t), chunks=tuple(chunks_t), threshold=th_tab, kernel=k_tab,
        wmem=wmem,
    )


def _decode_rows(raw: np.ndarray, lanes: int, weight_bits: int) -> np.ndarray:
    """Rows of packed words ``(rows, words_per_row)`` -> signed lanes ``(rows, P)``."""
    wpw = 32 // weight_bits
    mask = np.uint64((1 << weight_bits) - 1)
    out = np.empty((raw.shape[0], lanes), dtype=np.int64)
    for p in range(lanes):
        f = ((raw[:, p // wpw] >> np.uint64((p % wpw) * weight_bits)) & mask).astype(np.int64)
        out[:, p] = f - ((f >> (weight_bits - 1)) << weight_bits)
    return out


def _check_rows(raw, wmem, P, wb, net_wb, n_out, base, chunks_t, n_in, at: int) -> None:
    """Refuse unused bits, non-zero padding lanes and weights wider than the network's.

    Reports the problem at the lowest word index (``at`` is the first row's word index).
    """
    wpw = 32 // wb
    wpr = raw.shape[1]
    used = np.zeros(wpr, dtype=np.uint64)
    for p in range(P):
        used[p // wpw] |= np.uint64(((1 << wb) - 1) << ((p % wpw) * wb))
    cands: list[tuple[int, str]] = []
    spare = raw & ~used[None, :]
    hit = np.flatnonzero(spare.reshape(-1))
    if hit.size:
        f = int(hit[0])
        r, c = divmod(f, wpr)
        cands.append((at + f, f"non-zero padding bits 0x{int(spare[r, c]):08x} in weight row {r} "
                              f"at word {at + f}"))
    lane_word = np.arange(P) // wpw
    for li in range(len(n_out)):
        rows = wmem[base[li]:base[li] + n_in[li] * chunks_t[li]]
        neuron = (np.arange(rows.shape[0]) % chunks_t[li])[:, None] * P + np.arange(P)[None, :]
        pad = (neuron >= n_out[li]) & (rows != 0)
        lo, hi = -(1 << (net_wb - 1)), (1 << (net_wb - 1)) - 1
        wide = (neuron < n_out[li]) & ((rows < lo) | (rows > hi))
        for bad, kind in ((pad, "pad"), (wide, "wide")):
            rr, pp = np.nonzero(bad)
            if not rr.size:
                continue
            words = (base[li] + rr) * wpr + lane_word[pp]
            k = int(np.argmin(words))
            r, p = base[li] + int(rr[k]), int(pp[k])
            if kind == "pad":
                msg = (f"non-zero padding lane {p} (neuron {int(neuron[rr[k], p])} >= n_out "
                       f"{n_out[li]}) in layer {li + 1} weight row {r} at word "
                       f"{at + int(words[k])}: {int(wmem[r, p])}")
            else:
                msg = (f"layer {li + 1} weight {int(wmem[r, p])} in row {r} lane {p} at word "
                       f"{at + int(words[k])} does not fit the network's {net_wb}-bit weights")
            cands.append((at + int(words[k]), msg))
    if cands:
        raise ImageError(min(cands)[1])


def _qnet_from(mem: NetworkMemories) -> QNet:
    layers = []
    for li in range(mem.n_layers):
        rows = mem.wmem[mem.weight_base[li]:mem.weight_base[li] + mem.n_in[li] * mem.chunks[li]]
        wts = rows.reshape(mem.n_in[li], mem.chunks[li] * mem.lanes)[:, :mem.n_out[li]]
        layers.append(Layer(np.array(wts), mem.threshold[li].copy(), mem.kernel[li].copy(),
                            mem.leak_shift[li], mem.reset[li]))
    try:
        return QNet(mem.n_inputs, mem.time_steps, tuple(layers), mem.net_weight_bits,
                    mem.potential_bits, mem.readout, mem.early_exit)
    except ConfigError as exc:  # every field was range-checked above; this is a reader bug
        raise AssertionError(f"a validated image made an invalid QNet: {exc}") from exc


def _check_core(image_core: CoreConfig, qnet: QNet, core: CoreConfig | None) -> None:
    if core is None:
        return
    for name in ("lanes", "weight_bits", "potential_bits", "kernel_bits"):
        a, b = getattr(image_core, name), getattr(core, name)
        if a != b:
            raise FitError(f"the image is packed for {name}={a}; this core has {name}={b}")
    core.check_fits(qnet)


def parse_network(words, core: CoreConfig | None = None) -> tuple[QNet, CoreConfig]:
    """The network and the target core of a network section (exactly ``net_words`` words).

    With ``core``, the image must also be packed for that core's lanes and widths and fit its
    sizes (:class:`FitError` otherwise). Words past the section are refused as trailing words.
    """
    w = _as_words(words)
    mem = decode_network(w)
    if len(w) > mem.net_words:
        raise _trailing(mem.net_words - 1, len(w))
    qnet = _qnet_from(mem)
    _check_core(mem.core, qnet, core)
    return qnet, mem.core


def _trailing(end: int, n: int) -> ImageError:
    return ImageError(f"trailing words: the image ends at word {end} but the file has {n} words")


# -- reading: the event section --------------------------------------------------------------


def _walk_events(w: np.ndarray, offset: int):
    """Check the event section's framing and checksum; returns ``(starts, counts, labels, end)``.

    ``starts[n]``/``counts[n]`` locate sample ``n``'s event words in ``w``; ``labels`` is
    ``None`` or an ``int64`` array; ``end`` is the section's length in words.
    """
    n = len(w)
    last = offset + n - 1

    def need(i: int, why: str) -> int:
        if i >= n:
            raise _truncated(last, why)
        return int(w[i])

    magic = need(0, "the event section is missing")
    if magic != EVENT_MAGIC:
        raise ImageError(f"bad magic 0x{magic:08x} at word {offset}; not a TTFS event section")
    version = need(1, f"the event header needs {EVENT_HEADER_WORDS} words")
    if version != EVENT_VERSION:
        raise ImageError(
            f"unsupported event section version {version} at word {offset + 1}; "
            f"this tool reads version {EVENT_VERSION}"
        )
    n_samples = need(2, f"the event header needs {EVENT_HEADER_WORDS} words")
    flags = need(3, f"the event header needs {EVENT_HEADER_WORDS} words")
    _reserved(flags, 1, offset + 3, "event section flags")
    has_labels = bool(flags & 1)
    head = 2 if has_labels else 1
    # every sample takes at least `head` words, so a count the words cannot hold is truncation;
    # this also bounds the loop below by the input's length
    if n_samples * head > n - EVENT_HEADER_WORDS:
        raise _truncated(last, f"{n_samples} samples need at least {n_samples * head} more words")
    starts = np.empty(n_samples, dtype=np.int64)
    counts = np.empty(n_samples, dtype=np.int64)
    labels = np.empty(n_samples, dtype=np.int64) if has_labels else None
    i = EVENT_HEADER_WORDS
    for s in range(n_samples):
        k = need(i, f"sample {s} needs its event count at word {offset + i}")
        if has_labels:
            labels[s] = need(i + 1, f"sample {s} needs its label at word {offset + i + 1}")
        starts[s] = i + head
        counts[s] = k
        i += head + k
        if i > n:
            raise _truncated(last, f"sample {s} has {k} events, up to word {offset + i - 1}")
    stored = need(i, f"the event section's checksum belongs at word {offset + i}")
    expected = checksum(w[:i])
    if stored != expected:
        raise ImageError(
            f"checksum mismatch in the event section: word {offset + i} holds 0x{stored:08x}, "
            f"the words before it sum to 0x{expected:08x}"
        )
    return starts, counts, labels, i + 1


def _check_event_words(w, starts, counts, offset, T, n_inputs) -> None:
    """Refuse the first event word that is out of range or out of order."""
    total = int(counts.sum())
    if not total:
        return
    sample = np.repeat(np.arange(len(counts)), counts)
    first = np.repeat(starts, counts)
    pos = first + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    ev = w[pos].astype(np.int64)
    t, inp = ev >> 16, ev & FIELD16
    prev_same = np.zeros(total, dtype=bool)
    prev_same[1:] = sample[1:] == sample[:-1]
    order = np.zeros(total, dtype=bool)
    order[1:] = prev_same[1:] & (ev[1:] <= ev[:-1])
    bad = (t >= T) | (inp >= n_inputs) | order
    if not bad.any():
        return
    k = int(np.argmax(bad))
    s = int(sample[k])
    e = k - int(np.searchsorted(sample, s))
    where = f"sample {s} event {e} (word {offset + int(pos[k])}, 0x{int(ev[k]):08x})"
    if t[k] >= T:
        raise ImageError(f"{where} has time {int(t[k])}; times must be in 0..{T - 1}")
    if inp[k] >= n_inputs:
        raise ImageError(f"{where} has input {int(inp[k])}; inputs must be in 0..{n_inputs - 1}")
    raise ImageError(
        f"{where} does not come after 0x{int(ev[k - 1]):08x}; events must be strictly "
        "increasing in (t, input)"
    )


def _decode_events(w: np.ndarray, offset: int, T: int, n_inputs: int):
    starts, counts, labels, end = _walk_events(w, offset)
    if len(w) > end:
        raise _trailing(offset + end - 1, offset + len(w))
    _check_event_words(w, starts, counts, offset, T, n_inputs)
    return starts, counts, labels


def parse_events(words, qnet: QNet, offset: int = 0) -> EventSet:
    """The samples of an event section (exactly its words), checked against ``qnet``.

    ``offset`` is the section's first word index in the file, for messages.
    """
    if not isinstance(qnet, QNet):
        raise TypeError(f"qnet must be a QNet, not {type(qnet).__name__}")
    w = _as_words(words)
    starts, counts, labels = _decode_events(w, offset, qnet.time_steps, qnet.n_inputs)
    return _eventset(w, starts, counts, labels)


def _eventset(w, starts, counts, labels) -> EventSet:
    samples = []
    for a, k in zip(starts.tolist(), counts.tolist(), strict=True):
        ev = w[a:a + k].astype(np.int64)
        samples.append(np.stack([ev >> 16, ev & FIELD16], axis=1) if k
                       else np.zeros((0, 2), dtype=np.int64))
    return EventSet(tuple(samples), labels)


# -- files -----------------------------------------------------------------------------------


def from_words(words, core: CoreConfig | None = None) -> Image:
    """Validate a whole image (network section, then event section) and return it.

    With ``core``, the image must be packed for that core (lanes, widths) and fit its sizes.
    """
    w = _as_words(words)
    mem = decode_network(w)
    qnet = _qnet_from(mem)
    _check_core(mem.core, qnet, core)
    ev_w = w[mem.net_words:]
    starts, counts, labels = _decode_events(ev_w, mem.net_words, mem.time_steps, mem.n_inputs)
    events = _eventset(ev_w, starts, counts, labels)
    return Image(qnet, mem.core, events, w[:mem.net_words].copy(), ev_w.copy())


def save_image(image: Image, path: str | os.PathLike) -> None:
    """Write ``image.words`` as 32-bit little-endian words."""
    if not isinstance(image, Image):
        raise TypeError(f"image must be an Image, not {type(image).__name__}")
    Path(path).write_bytes(image.words.astype("<u4").tobytes())


def load_image(path: str | os.PathLike, core: CoreConfig | None = None) -> Image:
    """Read and validate an image file (see :func:`from_words`)."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"image file {str(p)!r} does not exist")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot read image file {str(p)!r}: {exc}") from None
    if len(data) % 4:
        raise ImageError(
            f"image file {str(p)!r} is {len(data)} bytes, not a whole number of 32-bit words"
        )
    return from_words(np.frombuffer(data, dtype="<u4").astype(np.uint32), core)


# -- summary ---------------------------------------------------------------------------------


def image_info(image: Image) -> dict:
    """A JSON-ready summary of ``image`` (for ``ttfs image info``)."""
    q, c = image.qnet, image.core
    wpr = words_per_row(c.lanes, c.weight_bits)
    layers = []
    for k, layer in enumerate(q.layers, start=1):
        base = int(image.net_words[HEADER_WORDS + DESC_WORDS * (k - 1) + 2])
        ch = chunks(layer.n_out, c.lanes)
        layers.append({
            "layer": k,
            "n_in": layer.n_in,
            "n_out": layer.n_out,
            "reset": layer.reset,
            "leak_shift": layer.leak_shift,
            "threshold_constant": layer.threshold_constant,
            "threshold": (int(layer.threshold[0]) if layer.threshold_constant
                          else [int(layer.threshold.min()), int(layer.threshold.max())]),
            "kernel_constant": layer.kernel_constant,
            "kernel": (int(layer.kernel[0]) if layer.kernel_constant
                       else [int(layer.kernel.min()), int(layer.kernel.max())]),
            "weight_base": base,
            "chunks": ch,
            "weight_rows": layer.n_in * ch,
        })
    n_events = [len(s) for s in image.events.samples]
    labels = image.events.labels
    return {
        "format": "ttfs.image",
        "version": VERSION,
        "core": {k: v for k, v in c.to_json().items() if k not in ("format", "version")},
        "network": {
            "sizes": list(q.sizes),
            "time_steps": q.time_steps,
            "weight_bits": q.weight_bits,
            "potential_bits": q.potential_bits,
            "readout": q.readout,
            "early_exit": q.early_exit,
        },
        "layers": layers,
        "weight_rows": int(image.net_words[5]),
        "words_per_row": wpr,
        "net_words": len(image.net_words),
        "event_words": len(image.event_words),
        "words": len(image.net_words) + len(image.event_words),
        "bytes": 4 * (len(image.net_words) + len(image.event_words)),
        "samples": len(image.events),
        "events": int(sum(n_events)),
        "events_per_sample_max": int(max(n_events, default=0)),
        "labels": labels is not None,
        "label_counts": (None if labels is None else
                         {int(v): int(k) for v, k in zip(*np.unique(labels, return_counts=True),
                                                        strict=True)}),
        "net_checksum": f"0x{image.net_checksum:08x}",
        "event_checksum": f"0x{image.event_checksum:08x}",
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _labels_line(info: dict) -> str:
    counts = info["label_counts"]
    if counts is None:
        return "none"
    if not counts:
        return "present, no samples"
    if len(counts) > 16:
        return f"{len(counts)} distinct values in {min(counts)}..{max(counts)}"
    return "count per label " + ", ".join(f"{k}: {v}" for k, v in counts.items())


def _without(core: dict) -> str:
    """``"; without the leak datapath"``-style words for a core's missing build options."""
    missing = [what for key, what in (("leak", "the leak datapath"),
                                      ("subtract", "the subtract reset")) if not core[key]]
    return "; without " + " and ".join(missing) if missing else ""


def format_info(image: Image) -> str:
    """A human summary of ``image``: what ``ttfs image info`` prints."""
    info = image_info(image)
    c, q = info["core"], info["network"]
    lines = [
        f"TTFS image v{info['version']}: network {'-'.join(map(str, q['sizes']))}, "
        f"{q['time_steps']} steps, readout {q['readout']}"
        + (", early exit" if q["early_exit"] else ""),
        f"  core: {c['lanes']} lanes, {c['weight_bits']}-bit weights, "
        f"{c['potential_bits']}-bit potentials, {c['kernel_bits']}-bit kernels; maxima "
        f"{_plural(c['max_neurons'], 'neuron')}, {_plural(c['max_layers'], 'layer')}, "
        f"{_plural(c['max_time_steps'], 'step')}, {_plural(c['weight_depth'], 'weight row')}"
        + _without(c),
        f"  network weights: {q['weight_bits']}-bit",
    ]
    def table(lay: dict, name: str) -> str:
        v = lay[name]
        return f"{name} {v}" if lay[f"{name}_constant"] else f"{name} table {v[0]}..{v[1]}"

    for lay in info["layers"]:
        leak = f"leak >>{lay['leak_shift']}" if lay["leak_shift"] else "no leak"
        lines.append(
            f"  layer {lay['layer']}: {lay['n_in']} -> {lay['n_out']}, {lay['reset']}, {leak}, "
            f"{table(lay, 'threshold')}, {table(lay, 'kernel')}, rows {lay['weight_base']}.."
            f"{lay['weight_base'] + lay['weight_rows'] - 1} ({_plural(lay['chunks'], 'chunk')})"
        )
    lines += [
        f"  weight rows: {info['weight_rows']} x {info['words_per_row']} words",
        f"  words: {info['words']} ({info['bytes']} bytes): network {info['net_words']}, "
        f"events {info['event_words']}",
        f"  samples: {info['samples']}, {info['events']} events "
        f"(at most {info['events_per_sample_max']} per sample)",
        "  labels: " + _labels_line(info),
        f"  checksums: network {info['net_checksum']}, events {info['event_checksum']}",
    ]
    return "\n".join(lines)


# -- the image model -------------------------------------------------------------------------


def _queues(sample: np.ndarray, src: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample event queues: ``Q[s, k]`` is sample ``s``'s k-th source (-1 past its end).

    ``sample`` must be ascending and ``src`` in queue order within each sample.
    """
    counts = np.bincount(sample, minlength=n) if sample.size else np.zeros(n, dtype=np.int64)
    width = int(counts.max()) if n else 0
    Q = np.full((n, width), -1, dtype=np.int64)
    if sample.size:
        rank = np.arange(sample.size) - (np.cumsum(counts) - counts)[sample]
        Q[sample, rank] = src
    return Q, counts


def run_image(image: Image, trace: bool = False, block: int = 4096) -> list[SampleResult]:
    """Run every sample of ``image`` from its packed words (see the module docstring).

    Returns one :class:`~sim.reference.SampleResult` per sample with the prediction, the
    semantic counters (``input_events``, ``spikes_per_layer``, ``sops``, ``saturations``),
    ``steps``, the activity and, with ``trace``, the spikes ``[layer, t, neuron]`` in emission
    order. Hardware counters and cycles are left ``None``. Samples run ``block`` at a time.
    """
    if not isinstance(image, Image):
        raise TypeError(f"image must be an Image, not {type(image).__name__}")
    mem = decode_network(image.net_words)
    ev_w = image.event_words
    starts, counts, _ = _decode_events(ev_w, mem.net_words, mem.time_steps, mem.n_inputs)
    out: list[SampleResult] = []
    for a in range(0, len(starts), block):
        b = min(a + block, len(starts))
        out.extend(_run_block(mem, ev_w, starts[a:b], counts[a:b], trace))
    return out


def _run_block(mem: NetworkMemories, ev_w, starts, counts, trace: bool) -> list[SampleResult]:
    N = len(starts)
    P, L, T = mem.lanes, mem.n_layers, mem.time_steps
    lo, hi = -(1 << (mem.potential_bits - 1)), (1 << (mem.potential_bits - 1)) - 1
    width = [c * P for c in mem.chunks]
    real = [np.arange(wd) < n for wd, n in zip(width, mem.n_out, strict=True)]
    V = [np.zeros((N, wd), dtype=np.int64) for wd in width]
    fired = [np.zeros((N, wd), dtype=bool) for wd in width]
    wmem = mem.wmem

    # the input event stream, decoded once: (sample, t, input) ordered by t, then sample, then
    # word order, so each step's slice lists every sample's queue in order
    total = int(counts.sum())
    ev_s = np.repeat(np.arange(N), counts)
    pos = np.repeat(starts, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts,
                                                                   counts))
    ev = ev_w[pos].astype(np.int64)
    ev_t, ev_i = ev >> 16, ev & FIELD16
    order = np.argsort(ev_t, kind="stable")
    ev_s, ev_t, ev_i = ev_s[order], ev_t[order], ev_i[order]
    t_bounds = np.searchsorted(ev_t, np.arange(T + 1))

    active = np.ones(N, dtype=bool)
    steps = np.full(N, T, dtype=np.int64)
    first = np.full(N, -1, dtype=np.int64)
    sats = np.zeros(N, dtype=np.int64)
    events_in = np.zeros((N, T, L), dtype=np.int64)
    spikes = np.zeros((N, T, L), dtype=np.int64)
    trace_parts: list[np.ndarray] = []
    last_fires = mem.readout == "first_spike"

    for t in range(T):
        if not active.any():
            break
        s_t = ev_s[t_bounds[t]:t_bounds[t + 1]]
        i_t = ev_i[t_bounds[t]:t_bounds[t + 1]]
        keep = active[s_t]
        Q, qn = _queues(s_t[keep], i_t[keep], N)
        out_spk = None
        for li in range(L):
            events_in[:, t, li] = qn
            v = V[li]
            kern = int(mem.kernel[li, t])
            base, ch = mem.weight_base[li], mem.chunks[li]
            lane_rows = np.arange(ch)
            for k in range(Q.shape[1]):
                who = np.flatnonzero(Q[:, k] >= 0)
                # row address of (source j, chunk c): weight_base + j * chunks + c
                addr = base + Q[who, k][:, None] * ch + lane_rows[None, :]
                s = v[who] + wmem[addr].reshape(who.size, width[li]) * kern
                r = np.clip(s, lo, hi)
                sats[who] += np.count_nonzero(r != s, axis=1)
                v[who] = r
            if li == L - 1 and not last_fires:
                break
            th = int(mem.threshold[li, t])
            can = active[:, None] & real[li][None, :]
            if mem.reset[li] == "fire_once":
                can &= ~fired[li]
            spk = can & (v >= th)
            if mem.reset[li] == "fire_once":
                fired[li] |= spk
            elif mem.reset[li] == "zero":
                v[spk] = 0
            else:
                v[spk] -= th
            sh = mem.leak_shift[li]
            if sh:
                v[can] -= v[can] >> sh
            ss, nn = np.nonzero(spk)  # row-major: by sample, then ascending neuron
            spikes[:, t, li] = np.bincount(ss, minlength=N) if ss.size else 0
            if trace and ss.size:
                trace_parts.append(np.stack(
                    [ss, np.full_like(ss, li + 1), np.full_like(ss, t), nn], axis=1))
            Q, qn = _queues(ss, nn, N)
            out_spk = spk
        if last_fires and out_spk is not None:
            any_out = out_spk.any(axis=1)
            newly = any_out & (first < 0)
            first[newly] = np.argmax(out_spk[newly], axis=1)
            if mem.early_exit:
                steps[any_out & active] = t + 1
                active &= ~any_out

    if trace:
        rows = (np.concatenate(trace_parts) if trace_parts
                else np.zeros((0, 4), dtype=np.int64))
        rows = rows[np.argsort(rows[:, 0], kind="stable")]
        bounds = np.searchsorted(rows[:, 0], np.arange(N + 1))
    n_last = mem.n_out[-1]
    fallback = np.argmax(V[-1][:, :n_last], axis=1)
    n_out = np.array(mem.n_out, dtype=np.int64)
    results = []
    for n in range(N):
        s = int(steps[n])
        ei, sp = events_in[n, :s].copy(), spikes[n, :s].copy()
        results.append(SampleResult(
            prediction=int(first[n]) if first[n] >= 0 else int(fallback[n]),
            valid=True,
            counters=Counters(
                input_events=int(ei[:, 0].sum()),
                spikes_per_layer=tuple(int(x) for x in sp.sum(axis=0)),
                sops=int((ei.sum(axis=0) * n_out).sum()),
                saturations=int(sats[n]),
            ),
            steps=s,
            trace=rows[bounds[n]:bounds[n + 1], 1:].copy() if trace else None,
            activity=Activity(ei, sp, s),
        ))
    return results


class ImageBackend:
    """The image model as a :class:`~sim.backend.Backend`: runs from the packed words."""

    name = "image"

    def run(self, image: Image, *, trace: bool = False) -> list[SampleResult]:
        """The image model's results, with the hardware counters and cycles that the cycle-cost
        rule (:mod:`sim.costmodel`) gives for the activity the image model itself recorded."""
        from ttfs.sim.costmodel import cost_hook

        results = run_image(image, trace=trace)
        qnet, core = parse_network(image.net_words)
        hook = cost_hook(core)
        for r in results:
            hw, cycles = hook(qnet, r.activity)
            for k, v in hw.items():
                setattr(r.counters, k, v)
            r.cycles = cycles
        return results
