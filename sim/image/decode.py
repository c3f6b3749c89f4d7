"""The one validating decoder of images: the network section into the memories a core holds
(:func:`decode_network`) or a :class:`QNet` (:func:`parse_network`), the event section
(:func:`parse_events`, :func:`walk_events`), and whole images (:func:`from_words`,
:func:`load_image`). It raises on the first problem, in the order of ``docs/image.md``
("Errors").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttfs.sim.core import CHUNK_BOUNDS, CoreConfig, chunks
from ttfs.sim.errors import ConfigError, FitError, ImageError
from ttfs.sim.image.format import (
    D1_USED,
    DESC_WORDS,
    EVENT_HEADER_WORDS,
    EVENT_MAGIC,
    EVENT_VERSION,
    FIELD16,
    HEADER_WORDS,
    MAGIC,
    VERSION,
    W3_USED,
    W8_CHUNK_BOUNDS_SHIFT,
    W8_NO_LEAK,
    W8_NO_SPIKING_OUT,
    W8_NO_SUBTRACT,
    W8_USED,
    WORD_MASK,
    Image,
    checksum,
    network_words,
    words_per_row,
)
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.protocol import event_fields

__all__ = [
    "NetworkMemories", "decode_network", "parse_network", "walk_events", "event_positions",
    "decode_events", "parse_events", "from_words", "load_image",
]

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
    _reserved(w3, W3_USED, offset + 3, "bits 31:10 of the network word")
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
    _reserved(w8, W8_USED, offset + 8, "bits 31:24 of the max_layers word")
    params["leak"] = not w8 & W8_NO_LEAK
    params["subtract"] = not w8 & W8_NO_SUBTRACT
    params["spiking_output"] = not w8 & W8_NO_SPIKING_OUT
    params["chunk_bounds"] = w8 >> W8_CHUNK_BOUNDS_SHIFT & 0x1F
    if params["chunk_bounds"] not in CHUNK_BOUNDS:
        raise ImageError(
            f"chunk_bounds {params['chunk_bounds']} at word {offset + 8} is not 0 or a power "
            "of two in 1..16"
        )
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
    if readout == "first_spike" and not core.spiking_output:
        raise FitError(
            f"the network reads its output by first spike (word {offset + 3}); this core was "
            "built without a spiking output layer (only max_potential networks fit)"
        )
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
        _reserved(d1, D1_USED, offset + at + 1, f"layer {k}'s reset/leak descriptor")
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


def walk_events(w: np.ndarray, offset: int = 0):
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


def event_positions(starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every event word of the samples :func:`walk_events` located, in order: ``(sample, pos)``,
    the sample each belongs to and its index in the section's words."""
    total = int(counts.sum())
    sample = np.repeat(np.arange(len(counts)), counts)
    pos = np.repeat(starts, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts,
                                                                   counts))
    return sample, pos


def _check_event_words(w, starts, counts, offset, T, n_inputs) -> None:
    """Refuse the first event word that is out of range or out of order."""
    sample, pos = event_positions(starts, counts)
    total = len(pos)
    if not total:
        return
    ev = w[pos].astype(np.int64)
    t, inp = event_fields(ev)
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


def decode_events(w: np.ndarray, offset: int, T: int, n_inputs: int):
    """:func:`walk_events` for a whole section (no trailing words) whose event words are all in
    range for ``T`` steps and ``n_inputs`` inputs, and strictly increasing in each sample;
    returns ``(starts, counts, labels)``."""
    starts, counts, labels, end = walk_events(w, offset)
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
    starts, counts, labels = decode_events(w, offset, qnet.time_steps, qnet.n_inputs)
    events = _eventset(w, starts, counts, labels)
    events.check_labels(qnet.n_outputs, ImageError)
    return events


def _eventset(w, starts, counts, labels) -> EventSet:
    samples = []
    for a, k in zip(starts.tolist(), counts.tolist(), strict=True):
        ev = w[a:a + k].astype(np.int64)
        samples.append(np.stack(event_fields(ev), axis=1) if k
                       else np.zeros((0, 2), dtype=np.int64))
    return EventSet(tuple(samples), labels)


def from_words(words, core: CoreConfig | None = None) -> Image:
    """Validate a whole image (network section, then event section) and return it.

    With ``core``, the image must be packed for that core (lanes, widths) and fit its sizes.
    """
    w = _as_words(words)
    mem = decode_network(w)
    qnet = _qnet_from(mem)
    _check_core(mem.core, qnet, core)
    ev_w = w[mem.net_words:]
    starts, counts, labels = decode_events(ev_w, mem.net_words, mem.time_steps, mem.n_inputs)
    events = _eventset(ev_w, starts, counts, labels)
    events.check_labels(qnet.n_outputs, ImageError)
    return Image(qnet, mem.core, events, w[:mem.net_words].copy(), ev_w.copy())


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
