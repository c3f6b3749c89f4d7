"""The neuron core's stream protocol, defined once: the words of the load, event, result and trace
streams, the result record and the status flags, with their codecs. The RTL (``ttfs.hw``), the
benches and the native harness (``ttfs.verify``) and the image (``ttfs.sim.image``) import them
from here. The format: ``docs/core-interface.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.reference import Counters, SampleResult

__all__ = [
    "MAGIC", "VERSION", "WORD_MASK", "LAST", "END", "EVENT_FIELD",
    "NO_IMAGE", "LOAD_TRUNCATED", "LOAD_TOO_LONG", "LOAD_CHECKSUM", "LOAD_BAD_HEADER",
    "EVENT_ORDER", "EVENT_RANGE", "STATUS_FLAGS", "STATUS", "status_names",
    "RECORD_HEAD", "record_words",
    "load_payloads", "event_words", "event_fields", "event_payloads", "batch_payloads",
    "decode_trace", "decode_record", "encode_record", "record_spikes",
]

#: word 0 of the network section, the first word of a load stream (b"TTFS" little-endian)
MAGIC = 0x53465454
#: word 1 of the network section: the image format version
VERSION = 1

#: the data bits of a stream word
WORD_MASK = 0xFFFF_FFFF
#: bit 32 of a load or result payload: the last word of the image or of the record
LAST = 1 << 32
#: bit 32 of an event payload: the end of the sample (the word carries no event)
END = LAST
#: the largest time or input an event word holds (16 bits each)
EVENT_FIELD = 0xFFFF

# -- status flags: bit n of the status byte of a result record --------------------------------

NO_IMAGE = 1 << 0
LOAD_TRUNCATED = 1 << 1
LOAD_TOO_LONG = 1 << 2
LOAD_CHECKSUM = 1 << 3
LOAD_BAD_HEADER = 1 << 4
EVENT_ORDER = 1 << 5
EVENT_RANGE = 1 << 6

#: status flag -> name, in bit order
STATUS_FLAGS = {
    NO_IMAGE: "NO_IMAGE",
    LOAD_TRUNCATED: "LOAD_TRUNCATED",
    LOAD_TOO_LONG: "LOAD_TOO_LONG",
    LOAD_CHECKSUM: "LOAD_CHECKSUM",
    LOAD_BAD_HEADER: "LOAD_BAD_HEADER",
    EVENT_ORDER: "EVENT_ORDER",
    EVENT_RANGE: "EVENT_RANGE",
}

#: status flag name -> bit number (how the RTL sets them)
STATUS = {name: flag.bit_length() - 1 for flag, name in STATUS_FLAGS.items()}


def status_names(status: int) -> str:
    """``"LOAD_CHECKSUM|NO_IMAGE"``-style names of the flags in ``status`` (``"0"`` when none)."""
    names = [name for bit, name in STATUS_FLAGS.items() if status & bit]
    unknown = status & ~sum(STATUS_FLAGS)
    if unknown:
        names.append(f"0x{unknown:02x}")
    return "|".join(names) if names else "0"


# -- the result record --------------------------------------------------------------------------

#: words of a result record before the per-layer spike counts
RECORD_HEAD = 10


def record_words(config) -> int:
    """The longest result record a core built for ``config`` (a :class:`sim.core.CoreConfig`)
    can send: the head, one spike count per layer, and one spare word."""
    return RECORD_HEAD + config.max_layers + 1


def decode_record(words: Sequence[int], trace: Sequence | None = None) -> SampleResult:
    """A :class:`SampleResult` from one result record (32-bit words, ``last`` bit stripped)."""
    words = [int(w) & WORD_MASK for w in words]
    if len(words) < RECORD_HEAD:
        raise MismatchError(
            f"a result record has {len(words)} words; it needs at least {RECORD_HEAD}"
        )
    w0 = words[0]
    # words 3..9: input_events, sops, weight_reads, membrane_reads, membrane_writes, sweeps,
    # saturations (encode_record's order); passed by position, no dict per record (the native
    # harness decodes thousands of records per call)
    ev, sops, wr, mr, mw, sw, sat = words[3:RECORD_HEAD]
    return SampleResult(
        w0 & 0xFFFF, bool(w0 >> 16 & 1),
        Counters(ev, tuple(words[RECORD_HEAD:]), sops, sat, wr, mr, mw, sw),
        words[1], words[2],
        None if trace is None else np.asarray(trace, dtype=np.int64).reshape(-1, 3),
        status=w0 >> 24,
    )


def encode_record(res: SampleResult) -> list[int]:
    """The result record a core presents for ``res`` (the inverse of :func:`decode_record`)."""
    c = res.counters
    w0 = (res.prediction & 0xFFFF) | int(res.valid) << 16 | (res.status & 0xFF) << 24
    body = [res.steps, res.cycles, c.input_events, c.sops, c.weight_reads, c.membrane_reads,
            c.membrane_writes, c.sweeps, c.saturations]
    return [w0] + [int(x) & WORD_MASK for x in body] + [int(x) for x in c.spikes_per_layer]


def record_spikes(words: Sequence[int]) -> int | None:
    """Trace events a record announces (the sum of its spike counters); ``None`` if invalid."""
    if len(words) < RECORD_HEAD or not words[0] >> 16 & 1:
        return None
    return int(sum(words[RECORD_HEAD:]))


# -- the load and event streams -----------------------------------------------------------------


def load_payloads(net_words: Iterable[int]) -> list[int]:
    """The load-stream payloads for a network section: each word, ``LAST`` set on the final one."""
    words = [int(w) & WORD_MASK for w in net_words]
    if not words:
        raise ConfigError("a load stream needs at least one word")
    words[-1] |= LAST
    return words


def event_words(rows: np.ndarray | Sequence) -> np.ndarray:
    """The event words ``(t << 16) | input`` (``uint64``) of ``[t, input]`` rows, in the order
    given (no order or range check against a network, so a bench can drive bad input on
    purpose). Each field must fit its 16 bits."""
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    if arr.size and (arr.min() < 0 or arr.max() > EVENT_FIELD):
        raise ConfigError("event times and inputs must be in 0..65535 to fit an event word")
    return (arr[:, 0].astype(np.uint64) << np.uint64(16)) | arr[:, 1].astype(np.uint64)


def event_fields(words):
    """``(t, input)`` of event words: an ``int`` or an integer array (then two arrays)."""
    return words >> 16, words & EVENT_FIELD


def event_payloads(rows: np.ndarray | Sequence) -> list[int]:
    """The event-stream payloads of one sample: its :func:`event_words`, then an end word."""
    return event_words(rows).tolist() + [END]


_END_WORD = np.array([END], dtype=np.uint64)


def batch_payloads(samples: Iterable) -> np.ndarray:
    """The event-stream payloads of many samples (each ``[t, input]`` rows) as one ``uint64``
    array: every sample's :func:`event_words`, each closed by an end word."""
    parts = []
    for s in samples:
        parts += [event_words(s), _END_WORD]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


# -- the trace stream ---------------------------------------------------------------------------

#: the fields of a trace word: (first bit, width) of layer (1-based), t and neuron
_TRACE_FIELDS = ((0, 8), (8, 16), (24, 16))


def decode_trace(payloads):
    """Trace words as ``(layer, t, neuron)``: a tuple for one ``int`` word, ``(k, 3)`` ``int64``
    rows for a sequence or array of words."""
    if isinstance(payloads, (int, np.integer)):
        p = int(payloads)
        return tuple(p >> lo & ((1 << n) - 1) for lo, n in _TRACE_FIELDS)
    w = np.asarray(payloads, dtype=np.uint64).reshape(-1)
    return np.stack([(w >> np.uint64(lo)) & np.uint64((1 << n) - 1) for lo, n in _TRACE_FIELDS],
                    axis=1).astype(np.int64)
