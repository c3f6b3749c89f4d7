"""Lockstep differential testing of the RTL against the reference model.

This module is the cocotb-free half of the benches: the stream codecs of
``docs/core-interface.md`` (load payloads, event payloads, result records, trace words), the
reference model the bench feeds from the driven input (:class:`ExpectModel`), the checker that
names the first divergence (:func:`first_divergence`, :func:`check_results`), the job files that
carry work into the cocotb process and results back (:class:`Program`, :func:`write_job`), and
the random differential run itself (:func:`run_random`).

A *program* is one image load followed by its samples; a *job* is many programs run in one
simulator invocation (the core accepts a new load stream whenever it is idle between samples),
so the per-network cost of a random run is the stream traffic, not a simulator start.

Expectation for a sample (what the checker compares):

* a valid sample: ``valid``, ``status == 0``, ``prediction``, ``steps``, ``cycles``, every
  counter, and the spike trace event by event, all equal to :func:`sim.reference.run` with
  ``cost=sim.costmodel.cost_hook(core)``;
* an invalid sample (bad events, a bad or missing image): ``valid == 0`` and ``status`` holding
  the required flags and no flag outside the allowed set. Prediction and counters of an invalid
  sample are not defined by the contract and are not compared.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.reference import Counters, SampleResult

__all__ = [
    "COSIM_CORES", "STATUS_FLAGS",
    "NO_IMAGE", "LOAD_TRUNCATED", "LOAD_TOO_LONG", "LOAD_CHECKSUM", "LOAD_BAD_HEADER",
    "EVENT_ORDER", "EVENT_RANGE",
    "LAST", "END",
    "load_payloads", "event_payloads", "decode_record", "encode_record", "record_spikes",
    "decode_trace", "status_names",
    "Expected", "ExpectModel", "event_status", "first_divergence", "check_results",
    "BenchOptions", "Program", "ProgramResult", "program_for", "write_job", "read_job",
    "read_results", "random_programs",
    "RandomRunStats", "run_random",
]

#: The HDL parameter sets the cosimulation tests and the random run build: lanes 1, 3, 4 and 8,
#: with widths that make saturation common on some of them. Layer sizes up to 24 are not all
#: multiples of the lanes. The 8-lane build is built without the leak datapath and the subtract
#: reset, like the default flow's core (``CoreConfig.for_network`` of a network that uses
#: neither); the other three have both.
COSIM_CORES = {
    "p1": CoreConfig(lanes=1, weight_bits=6, potential_bits=8, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=1536),
    "p3": CoreConfig(lanes=3, weight_bits=8, potential_bits=12, kernel_bits=4, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512),
    "p4": CoreConfig(lanes=4, weight_bits=8, potential_bits=16, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512),
    "p8": CoreConfig(lanes=8, weight_bits=4, potential_bits=10, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=256, leak=False,
                     subtract=False),
}

# -- the stream formats of docs/core-interface.md ---------------------------------------------

NO_IMAGE = 1 << 0
LOAD_TRUNCATED = 1 << 1
LOAD_TOO_LONG = 1 << 2
LOAD_CHECKSUM = 1 << 3
LOAD_BAD_HEADER = 1 << 4
EVENT_ORDER = 1 << 5
EVENT_RANGE = 1 << 6

#: status bit -> name, in bit order.
STATUS_FLAGS = {
    NO_IMAGE: "NO_IMAGE",
    LOAD_TRUNCATED: "LOAD_TRUNCATED",
    LOAD_TOO_LONG: "LOAD_TOO_LONG",
    LOAD_CHECKSUM: "LOAD_CHECKSUM",
    LOAD_BAD_HEADER: "LOAD_BAD_HEADER",
    EVENT_ORDER: "EVENT_ORDER",
    EVENT_RANGE: "EVENT_RANGE",
}
_LOAD_FLAGS = LOAD_TRUNCATED | LOAD_TOO_LONG | LOAD_CHECKSUM | LOAD_BAD_HEADER

#: bit 32 of a load payload (last word) and of an event payload (end of sample)
LAST = 1 << 32
END = 1 << 32

_RECORD_HEAD = 10


def status_names(status: int) -> str:
    """``"LOAD_CHECKSUM|NO_IMAGE"``-style names of the flags in ``status`` (``"0"`` when none)."""
    names = [name for bit, name in STATUS_FLAGS.items() if status & bit]
    unknown = status & ~sum(STATUS_FLAGS)
    if unknown:
        names.append(f"0x{unknown:02x}")
    return "|".join(names) if names else "0"


def load_payloads(net_words: Iterable[int]) -> list[int]:
    """The load-stream payloads for a network section: each word, ``LAST`` set on the final one."""
    words = [int(w) & 0xFFFF_FFFF for w in net_words]
    if not words:
        raise ConfigError("a load stream needs at least one word")
    words[-1] |= LAST
    return words


def event_payloads(rows: np.ndarray | Sequence) -> list[int]:
    """The event-stream payloads of one sample: ``(t << 16) | input`` per event, then an end word.

    ``rows`` are ``[t, input]`` pairs; they are encoded as given (no order or range check), so a
    bench can drive bad input on purpose. Each field must fit its 16 bits.
    """
    arr = np.asarray(rows, dtype=np.int64).reshape(-1, 2)
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
        raise ConfigError("event times and inputs must be in 0..65535 to fit an event word")
    return [int(t) << 16 | int(i) for t, i in arr.tolist()] + [END]


def decode_trace(payload: int) -> tuple[int, int, int]:
    """A trace word: ``(layer, t, neuron)`` from bits ``[7:0]``, ``[23:8]``, ``[39:24]``."""
    return payload & 0xFF, (payload >> 8) & 0xFFFF, (payload >> 24) & 0xFFFF


def decode_record(words: Sequence[int], trace: Sequence | None = None) -> SampleResult:
    """A :class:`SampleResult` from one result record (32-bit words, ``last`` bit stripped)."""
    words = [int(w) & 0xFFFF_FFFF for w in words]
    if len(words) < _RECORD_HEAD:
        raise MismatchError(
            f"a result record has {len(words)} words; it needs at least {_RECORD_HEAD}"
        )
    w0 = words[0]
    # words 3..9: input_events, sops, weight_reads, membrane_reads, membrane_writes, sweeps,
    # saturations (encode_record's order); passed by position, no dict per record (the native
    # harness decodes thousands of records per call)
    ev, sops, wr, mr, mw, sw, sat = words[3:_RECORD_HEAD]
    return SampleResult(
        w0 & 0xFFFF, bool(w0 >> 16 & 1),
        Counters(ev, tuple(words[_RECORD_HEAD:]), sops, sat, wr, mr, mw, sw),
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
    return [w0] + [int(x) & 0xFFFF_FFFF for x in body] + [int(x) for x in c.spikes_per_layer]


def record_spikes(words: Sequence[int]) -> int | None:
    """Trace events a record announces (the sum of its spike counters); ``None`` if invalid."""
    if len(words) < _RECORD_HEAD or not words[0] >> 16 & 1:
        return None
    return int(sum(words[_RECORD_HEAD:]))


# -- the expectation: the reference model fed from the driven input ----------------------------


@dataclass
class Expected:
    """What one sample must produce: a reference result, or an invalid status.

    For an invalid expectation, ``required`` flags must all be set in the core's status (or, when
    ``required`` is 0, at least one flag), and no flag outside ``allowed`` may be set.
    """

    result: SampleResult | None = None
    required: int = 0
    allowed: int = 0
    why: str = ""

    @property
    def valid(self) -> bool:
        return self.result is not None


def event_status(words: Sequence[int], time_steps: int, n_inputs: int) -> tuple[int, str]:
    """Flags the core must raise for a sample's event words, with the first reason."""
    flags, why = 0, ""
    prev = None
    for k, w in enumerate(words):
        t, i = w >> 16, w & 0xFFFF
        if t >= time_steps or i >= n_inputs:
            if not flags & EVENT_RANGE:
                why = why or f"event {k} (t={t}, input={i}) is out of range"
            flags |= EVENT_RANGE
        if prev is not None and w <= prev:
            if not flags & EVENT_ORDER:
                why = why or f"event {k} (t={t}, input={i}) is not after the previous event"
            flags |= EVENT_ORDER
        prev = w
    return flags, why


class ExpectModel:
    """The bench's reference model, fed from the driven input.

    :meth:`load` is told each image the load driver starts (the network, the core it runs on and,
    for a stream corrupted on purpose, the load flag it must raise); :meth:`sample` is given each
    sample's payloads as the event driver starts it and returns the :class:`Expected` outcome.
    Valid samples run through :func:`sim.reference.run` with the cycle-cost rule of the core.
    """

    def __init__(self, core):
        self.core = core
        self._cost = None
        self.qnet = None
        self.load_flag = 0

    def load(self, qnet, load_flag: int = 0) -> None:
        self.qnet = None if load_flag else qnet
        self.load_flag = load_flag

    def sample(self, payloads: Sequence[int]) -> Expected:
        from ttfs.sim.ir import EventSet
        from ttfs.sim.reference import run

        if not payloads or payloads[-1] != END:
            raise ConfigError("a sample's payloads must end with exactly one end word")
        words = [p & 0xFFFF_FFFF for p in payloads[:-1]]
        if any(p & END for p in payloads[:-1]):
            raise ConfigError("a sample's payloads must end with exactly one end word")
        if self.load_flag:
            return Expected(required=self.load_flag, allowed=self.load_flag | NO_IMAGE,
                            why=f"the last load raised {status_names(self.load_flag)}")
        if self.qnet is None:
            return Expected(required=NO_IMAGE, allowed=NO_IMAGE, why="no image is loaded")
        q = self.qnet
        flags, why = event_status(words, q.time_steps, q.n_inputs)
        if flags:
            # with two kinds of fault in one sample the core may report either or both
            required = flags if flags in (EVENT_ORDER, EVENT_RANGE) else 0
            return Expected(required=required, allowed=flags, why=why)
        rows = np.array([[w >> 16, w & 0xFFFF] for w in words], dtype=np.int64).reshape(-1, 2)
        if self._cost is None:
            from ttfs.sim.costmodel import cost_hook

            self._cost = cost_hook(self.core)
        res = run(q, EventSet((rows,)), trace=True, cost=self._cost)[0]
        return Expected(result=res)


# -- the checker --------------------------------------------------------------------------------


def first_divergence(exp: Expected | SampleResult, got: SampleResult,
                     compare_trace: bool = True) -> str | None:
    """The first way ``got`` differs from the expectation, as words; ``None`` when equal.

    Order: validity and status, prediction, steps, cycles, each counter, then the trace event by
    event (naming step, layer and neuron).
    """
    if isinstance(exp, SampleResult):
        exp = Expected(result=exp) if exp.valid else Expected(required=exp.status,
                                                              allowed=exp.status)
    if not exp.valid:
        ok = (not got.valid and got.status != 0
              and got.status & exp.required == exp.required
              and got.status & ~exp.allowed == 0)
        if not ok:
            return (f"expected an invalid sample with status {status_names(exp.required)} "
                    f"({exp.why}), got valid={int(got.valid)} status "
                    f"{status_names(got.status)}")
        return None
    e = exp.result
    if not got.valid or got.status:
        return (f"expected a valid sample, got valid={int(got.valid)} status "
                f"{status_names(got.status)}")
    for name, a, b in (("prediction", e.prediction, got.prediction), ("steps", e.steps, got.steps),
                       ("cycles", e.cycles, got.cycles)):
        if a != b:
            return f"{name}: expected {a}, got {b}"
    ec, gc = e.counters.to_json(), got.counters.to_json()
    for name in ec:
        if ec[name] != gc[name]:
            return f"counter {name}: expected {ec[name]}, got {gc[name]}"
    if compare_trace and e.trace is not None and got.trace is not None:
        et, gt = e.trace, got.trace
        for k in range(min(len(et), len(gt))):
            if not np.array_equal(et[k], gt[k]):
                (el, etk, en), (gl, gtk, gn) = et[k].tolist(), gt[k].tolist()
                return (f"trace event {k}: expected spike at step {etk}, layer {el}, neuron {en}; "
                        f"got step {gtk}, layer {gl}, neuron {gn}")
        if len(et) != len(gt):
            k = min(len(et), len(gt))
            if len(et) > len(gt):
                el, etk, en = et[k].tolist()
                return (f"trace ends after {k} events; expected another spike at step {etk}, "
                        f"layer {el}, neuron {en}")
            gl, gtk, gn = gt[k].tolist()
            return (f"trace has {len(gt) - k} extra events, first at step {gtk}, layer {gl}, "
                    f"neuron {gn}")
    return None


def check_results(expected: Sequence, got: Sequence[SampleResult], *, backend: str,
                  label: str = "", compare_trace: bool = True) -> None:
    """Raise :class:`MismatchError` at the first sample where ``got`` diverges from ``expected``."""
    where = f"{backend}: {label + ', ' if label else ''}"
    if len(expected) != len(got):
        raise MismatchError(f"{where}expected {len(expected)} results, got {len(got)}")
    for n, (e, g) in enumerate(zip(expected, got, strict=True)):
        msg = first_divergence(e, g, compare_trace)
        if msg:
            raise MismatchError(f"{where}sample {n}: {msg}")


# -- jobs: work for one simulator invocation -----------------------------------------------------


@dataclass
class Program:
    """One load (or none) followed by samples, as the bench drives them.

    ``load`` holds load payloads (``LAST`` marks the final word; a bad-input test may put it
    anywhere, or nowhere but the end); ``samples`` holds event payloads, each ending with ``END``.
    ``qnet`` is the network the load carries (the reference runs it) and ``load_flag`` the status
    flag the load must raise (0 for a good image).
    """

    name: str
    samples: list
    load: list | None = None
    qnet: object | None = None
    load_flag: int = 0

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "load": self.load,
            "samples": self.samples,
            "qnet": None if self.qnet is None else self.qnet.to_json(),
            "load_flag": self.load_flag,
        }

    @classmethod
    def from_json(cls, obj: dict) -> Program:
        from ttfs.sim.ir import QNet

        return cls(name=obj["name"], samples=obj["samples"], load=obj["load"],
                   qnet=None if obj["qnet"] is None else QNet.from_json(obj["qnet"]),
                   load_flag=obj["load_flag"])


def program_for(image, name: str = "", samples: Iterable[int] | None = None) -> Program:
    """The program that loads ``image`` (a :class:`sim.image.Image`) and runs its samples."""
    idx = range(len(image.events)) if samples is None else samples
    return Program(
        name=name,
        load=load_payloads(np.asarray(image.net_words).tolist()),
        samples=[event_payloads(image.events.samples[n]) for n in idx],
        qnet=image.qnet,
    )


@dataclass
class BenchOptions:
    """How the bench drives the core: seeded idle input cycles and output backpressure."""

    seed: int = 0
    idle: float = 0.0
    backpressure: float = 0.0
    check: bool = True
    stop_on_mismatch: bool = True
    #: cycles without any handshake after which the bench declares the core hung
    stall_limit: int = 20000
    #: optional probe of internal signals (benchmarks): per record, a histogram of the values of
    #: the signals named in ``probe_state`` (comma-separated) over the cycles in which
    #: ``probe_gate`` is high; keys are tuples of the values
    probe_state: str | None = None
    probe_gate: str | None = None

    def __post_init__(self):
        for name in ("idle", "backpressure"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ConfigError(f"{name} probability must be in [0, 1), not {v}")


def write_job(path: str | os.PathLike, core, programs: Sequence[Program],
              options: BenchOptions) -> None:
    """Write a job file for the cocotb process (see ``sim/bench/cocotb_tests``)."""
    obj = {
        "format": "ttfs.bench-job", "version": 1,
        "core": core.to_json(),
        "options": options.__dict__,
        "programs": [p.to_json() for p in programs],
    }
    Path(path).write_text(json.dumps(obj), encoding="utf-8")


def read_job(path: str | os.PathLike):
    obj = json.loads(Path(path).read_text(encoding="utf-8"))
    if obj.get("format") != "ttfs.bench-job" or obj.get("version") != 1:
        raise ConfigError(f"{path} is not a version 1 bench job file")
    core = CoreConfig.from_json(obj["core"])
    return core, [Program.from_json(p) for p in obj["programs"]], BenchOptions(**obj["options"])


@dataclass
class ProgramResult:
    """What the bench collected for one program: records with their traces, and any mismatch."""

    name: str
    results: list = field(default_factory=list)
    mismatch: str | None = None
    spikes_compared: int = 0
    #: per record, ``{(probed values...): cycles}`` when the bench ran a probe
    probes: list = field(default_factory=list)


def read_results(path: str | os.PathLike) -> tuple[list[ProgramResult], dict]:
    """Read the results file the cocotb process wrote: per-program results and run statistics."""
    p = Path(path)
    if not p.exists():
        raise MismatchError(f"the bench wrote no results file {str(p)!r}")
    obj = json.loads(p.read_text(encoding="utf-8"))
    out = []
    for prog in obj["programs"]:
        res = [decode_record(rec["words"], rec["trace"]) for rec in prog["records"]]
        probes = [{tuple(int(x) for x in k.split(",")): v for k, v in rec["probe"].items()}
                  for rec in prog["records"] if rec.get("probe") is not None]
        out.append(ProgramResult(prog["name"], res, prog["mismatch"], prog["spikes_compared"],
                                 probes))
    return out, obj["stats"]


# -- the random differential run -----------------------------------------------------------------


@dataclass
class RandomRunStats:
    """Totals of a random differential run."""

    networks: int = 0
    samples: int = 0
    spikes_compared: int = 0
    sim_cycles: int = 0
    mismatches: list = field(default_factory=list)
    wall_s: float = 0.0

    def summary(self) -> str:
        return (f"{self.networks} networks, {self.samples} samples, {self.spikes_compared} spikes "
                f"compared, {self.sim_cycles} simulated cycles, {len(self.mismatches)} "
                f"mismatches, {self.wall_s:.1f} s wall")


def random_programs(core, seeds: Iterable[int], n_samples: int = 8) -> list[Program]:
    """One program per seed: ``sim.random.random_case(seed, core=core)`` packed into an image."""
    from ttfs.sim.image import pack
    from ttfs.sim.random import random_case

    programs = []
    for seed in seeds:
        case = random_case(seed, n_samples=n_samples, core=core)
        programs.append(program_for(pack(case.qnet, case.events, core), name=f"seed {seed}"))
    return programs


def run_random(core, seeds: Sequence[int], *, n_samples: int = 8, bench_seed: int = 0,
               idle: float = 0.0, backpressure: float = 0.0, per_job: int = 100,
               stop_on_mismatch: bool = False, log=None, cache_dir=None,
               build=None) -> RandomRunStats:
    """Run ``random_case(seed, core=core)`` for every seed on the cocotb simulation of ``core``.

    Every spike event (in order), every counter, the prediction, steps and cycles are compared
    with the reference model inside the bench. ``per_job`` networks share one simulator run.
    Returns the totals; ``mismatches`` lists ``(seed, message)`` pairs.
    """
    from ttfs.verify.cocotb_backend import build_core, run_job

    build = build or build_core(core, cache_dir=cache_dir)
    stats = RandomRunStats()
    t0 = time.monotonic()
    seeds = list(seeds)
    for start in range(0, len(seeds), per_job):
        chunk = seeds[start:start + per_job]
        programs = random_programs(core, chunk, n_samples)
        opts = BenchOptions(seed=bench_seed + start, idle=idle, backpressure=backpressure,
                            check=True, stop_on_mismatch=stop_on_mismatch)
        results, run_stats = run_job(core, programs, opts, build=build, raise_on=False)
        for seed, pr in zip(chunk, results, strict=False):
            stats.networks += 1
            stats.samples += len(pr.results)
            stats.spikes_compared += pr.spikes_compared
            if pr.mismatch:
                stats.mismatches.append((seed, pr.mismatch))
                if log:
                    log(f"MISMATCH seed {seed} (replay: benchmarks/diff_random.py --seed {seed} "
                        f"--lanes {core.lanes}): {pr.mismatch}")
        if len(results) < len(chunk):
            for seed in chunk[len(results):]:
                stats.mismatches.append((seed, run_stats.get("error") or "not run"))
        stats.sim_cycles += run_stats["cycles"]
        if log:
            log(f"  {stats.networks}/{len(seeds)} networks, {stats.spikes_compared} spikes, "
                f"{len(stats.mismatches)} mismatches")
        if stop_on_mismatch and stats.mismatches:
            break
    stats.wall_s = time.monotonic() - t0
    return stats
