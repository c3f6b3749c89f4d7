"""Lockstep differential testing of the RTL against the reference model: the cocotb-free half of
the benches.

It holds the reference model the bench feeds from the driven input (:class:`ExpectModel`, which
returns a :class:`sim.compare.Expected` per sample) and the job files that carry work into the
cocotb process and results back (:class:`Program`, :func:`write_job`). The stream words are
those of :mod:`sim.protocol`, the comparison is :func:`sim.compare.sample_divergence`, and the
random differential run is :mod:`verify.random_run`. How the benches check: docs/verification.md.

A *program* is one image load followed by its samples; a *job* is many programs run in one
simulator invocation (the core accepts a new load stream whenever it is idle between samples),
so the per-network cost of a random run is the stream traffic, not a simulator start.

Expectation for a sample: a valid sample equals :func:`sim.reference.run` with
``cost=sim.costmodel.cost_hook(core)`` in validity, status, prediction, steps, cycles, every
counter and the spike trace event by event; an invalid sample (bad events, a bad or missing
image) has ``valid == 0`` and a status holding the required flags and no flag outside the allowed
set (the contract leaves its prediction and counters undefined).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ttfs.sim.compare import Expected
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.protocol import (
    END,
    EVENT_ORDER,
    EVENT_RANGE,
    NO_IMAGE,
    WORD_MASK,
    decode_record,
    event_fields,
    event_payloads,
    load_payloads,
    status_names,
)

__all__ = [
    "COSIM_CORES", "ExpectModel", "event_status",
    "BenchOptions", "Program", "ProgramResult", "program_for", "write_job", "read_job",
    "read_results",
]

#: The HDL parameter sets the cosimulation tests and the random run build: lanes 1, 3, 4 and 8,
#: with widths that make saturation common on some of them. Layer sizes up to 24 are not all
#: multiples of the lanes. The 8-lane build is built without the leak datapath and the subtract
#: reset, like the default flow's core (``CoreConfig.for_network`` of a network that uses
#: neither), and without a spiking output layer (``spiking_output=False``, so it runs
#: max_potential networks only); the other three have all three. The 3- and 4-lane builds keep
#: chunk bounds (``chunk_bounds`` 2 and 4: partial sweeps, two and four chunk bounds scanned a
#: cycle; with 24 neurons their layers have up to 8 and 6 chunks, so up to 4 and 2 groups, the
#: last one partial); the 1- and 8-lane builds sweep whole layers.
COSIM_CORES = {
    "p1": CoreConfig(lanes=1, weight_bits=6, potential_bits=8, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=1536),
    "p3": CoreConfig(lanes=3, weight_bits=8, potential_bits=12, kernel_bits=4, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512, chunk_bounds=2),
    "p4": CoreConfig(lanes=4, weight_bits=8, potential_bits=16, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=512, chunk_bounds=4),
    "p8": CoreConfig(lanes=8, weight_bits=4, potential_bits=10, kernel_bits=3, max_neurons=24,
                     max_layers=3, max_time_steps=16, weight_depth=256, leak=False,
                     subtract=False, spiking_output=False),
}

# -- the expectation: the reference model fed from the driven input ----------------------------


def event_status(words: Sequence[int], time_steps: int, n_inputs: int) -> tuple[int, str]:
    """Flags the core must raise for a sample's event words, with the first reason."""
    flags, why = 0, ""
    prev = None
    for k, w in enumerate(words):
        t, i = event_fields(w)
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
        words = [p & WORD_MASK for p in payloads[:-1]]
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
        rows = np.stack(event_fields(np.array(words, dtype=np.int64)), axis=1)
        if self._cost is None:
            from ttfs.sim.costmodel import cost_hook

            self._cost = cost_hook(self.core)
        res = run(q, EventSet((rows,)), trace=True, cost=self._cost)[0]
        return Expected(result=res)


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
    """Write a job file for the cocotb process (see ``verify/cocotb_tests``)."""
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
