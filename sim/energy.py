"""The energy model: operation counts x a per-operation energy table (``docs/energy.md``).

These are **estimates from a model, not measurements of silicon**. The default table is
Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, for a 45 nm
process at 0.9 V:

=========================  =========
operation                  energy
=========================  =========
8-bit integer add          0.03 pJ
16-bit integer add         0.05 pJ
32-bit integer add         0.1 pJ
8-bit integer multiply     0.2 pJ
32-bit int multiply        3.1 pJ
64-bit SRAM read, 8 KB     10 pJ
64-bit SRAM read, 32 KB    20 pJ
64-bit SRAM read, 1 MB     100 pJ
=========================  =========

**Other widths (our choice, not from the source).** An adder's energy grows about linearly with
its width and an array multiplier's about with the square of it (the published 8- and 32-bit
multiplies, 0.2 and 3.1 pJ, are 15.5x apart against 16x for the square). So an operation of ``b``
bits is interpolated linearly in ``b ** p`` between the two nearest listed widths, with ``p = 1``
for adds and ``p = 2`` for multiplies, and scaled as ``E(b0) * (b / b0) ** p`` from the nearest
listed width ``b0`` outside the listed range. For example the 16-bit multiply is
``0.2 + (3.1 - 0.2) * (16**2 - 8**2) / (32**2 - 8**2) = 0.78 pJ``; a 12-bit add is 0.04 pJ.

**Memories are priced by their size (our fit to the three published SRAM points).** The energy
of one 64-bit access grows about with the square root of the capacity (8 -> 32 KB: 4x the size,
2x the energy; 32 KB -> 1 MB: 32x the size, 5x the energy against sqrt(32) = 5.7x). So the
energy ``E64(S)`` of a 64-bit access to a memory of ``S`` bytes is interpolated linearly in
``sqrt(S)`` between the published sizes and scaled as ``E64(S0) * sqrt(S / S0)`` from the
nearest published size ``S0`` outside them; an access of ``k`` bits costs ``k / 64 x E64(S)``
(linear in the word width), and a write costs as a read. A memory's size ``S`` is its depth x
word width / 8, padding included. Examples: 8 KB 10 pJ, 16 KB 14.14 pJ (= 10 sqrt 2: the
8-32 KB segment is proportional to sqrt(S)), 2 KB 5 pJ, 512 B 2.5 pJ. So a 16-bit word read
from an 8 KB memory is 2.5 pJ and from a 512 B one 0.625 pJ.

The memories of a core (:func:`core_memories`, sizes as ``hw.params.Widths`` derives them from
the :class:`CoreConfig`): the weight memory (``weight_depth`` words of ``lanes x weight_bits``),
the membrane memory (``max_layers << bits(max_chunks - 1)`` words of ``lanes x potential_bits``
potentials plus ``lanes`` fired bits), the threshold table (``max_layers <<
bits(max_time_steps - 1)`` entries of ``potential_bits - 1`` bits), the kernel table (as many
entries of ``kernel_bits``) and the event queue (``max_neurons`` entries of a weight-row address,
``bits(weight_depth)`` bits).

The model (:func:`energy_report`), per sample, then averaged over samples:

* **synaptic**: every SOP is one add at ``potential_bits``; in a layer whose kernel table is not
  all ones it is also one multiply at ``max(weight_bits, kernel_bits)`` (``W * K_l[t]``).
* **membrane updates**: every neuron visit of a fire/leak sweep (:func:`sim.metrics.
  membrane_updates`) is one compare (an add) at ``potential_bits``, plus one add for the leak
  when ``leak_shift > 0``; every spike of a ``subtract``-reset layer adds one add (the reset).
  That is the rule of :func:`sim.metrics.membrane_updates`, used without a core. With a core
  and hardware counters (the RTL's, or the cost model's through :func:`sim.costmodel.cost_hook`,
  which equal them) the visits are the core's own: the lane visits of its sweep ops from the
  counters (:func:`sim.metrics.hardware_membrane_updates`), charged two adds each when any
  swept layer leaks (an upper bound: the split per layer is unknown) and one otherwise; so RTL
  results and reference results with the cost model give the same figure.
* **memory**, with a core and hardware counters: ``weight_reads`` words of the weight memory,
  ``membrane_reads + membrane_writes`` words of the membrane memory, one threshold-table and one
  kernel-table entry per sweep (``sweeps``; the kernel entry an event phase of a layer that is
  not swept at that step reads is not counted: the counters do not tell those phases apart), and
  the event queue: one write per spike and one read per event integrated by layers ``2..L``
  (the spikes of layers ``1..L-1``); on a core with chunk bounds (``chunk_bounds = SW``), the
  chunk-bound memory (``max_layers << bits(groups - 1)`` words of ``SW x (potential_bits -
  1)`` bits): one lane written per membrane write (every op writes its chunk's
  bound) and, per sweep, the scan's ``ceil(C_l / SW)`` words of the largest layer without a
  leak that may fire (the counters do not split sweeps by layer; exact with one such layer).
  Without them (core ``None`` or counters ``None``) the model
  counts per neuron against memories sized by the network: one ``weight_bits`` read per SOP from
  a weight memory holding the network's weights (``sum_l n_in_l n_l weight_bits`` bits), and one
  ``potential_bits`` membrane read and one write per SOP and per membrane update from a membrane
  memory holding every neuron's potential (``sum_l n_l potential_bits`` bits); tables and queue
  are not counted. The report says which was used.
* **the crossover** (:func:`crossover`): the SNN's energy against the dense ANN's as the
  activity varies. Every threshold table of the scaled layers (all but the output layer; the
  only layer of a one-layer network) is multiplied by a factor, rounded and clipped to
  ``1 .. 2**(potential_bits-1) - 1`` (entries already at that maximum, which block firing, are
  kept), and the network runs on the reference model with the cost model's hardware counters
  (:func:`sim.costmodel.cost_hook`, equal to the RTL's) on the same events; the activity is the
  scaled layers' spikes per neuron per sample. Factor 1 is the trained network.
* **dense ANN** of the same network (weights and activations at ``weight_bits``): ``sum_l
  n_in_l x n_l`` MACs per inference (one multiply plus one add at ``weight_bits`` each); every
  weight read once from a weight memory holding the network's weights (``sum_l n_in_l n_l
  weight_bits`` bits); each input activation of a layer read once for that layer (held in a
  register while it meets the layer's ``n_l`` weights; the ``n_l`` accumulators are registers,
  not memory) and each output activation written once, ``sum_l n_in_l`` reads and ``sum_l n_l``
  writes of ``weight_bits`` from an activation memory of ``max_l (n_in_l + n_l) x weight_bits``
  bits (the input and output buffers of the largest layer). This is a lower bound for the ANN:
  no activation function, bias or readout energy, and no re-read of inputs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ttfs.sim.core import CoreConfig, chunks
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, QNet
from ttfs.sim.jsonio import check_format, check_keys, is_int, read_json
from ttfs.sim.metrics import (
    check_qnet,
    check_results,
    dense_macs,
    hardware_membrane_updates,
    kernel_bits,
    kernel_is_ones,
    layer_sops,
    membrane_source,
    membrane_updates,
)
from ttfs.sim.reference import SampleResult, run

__all__ = ["EnergyTable", "DEFAULT", "HOROWITZ_45NM", "Memory", "core_memories",
           "network_memories", "dense_ann", "energy_report", "load_table", "save_table",
           "CROSSOVER_FACTORS", "scale_thresholds", "crossover"]

ENERGY_FORMAT = "ttfs.energy"

ESTIMATE_NOTE = (
    "These figures are estimates from an energy model (operation counts x a per-operation "
    "energy table), not measurements of silicon."
)

#: the byte size a bare ``sram_pj`` number (one figure, no sizes) stands for
DEFAULT_SRAM_BYTES = 8192
_MAX_BYTES = 1 << 40


def _points(value: Any, what: str, key: str = "bit width", lo: int = 1,
            hi: int = 128) -> tuple[tuple[int, float], ...]:
    """``{key: pJ}`` (keys may be strings, as in JSON) as sorted ``((key, pJ), ...)``."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TypeError(f"{what} must be a mapping of {key} to pJ, not {type(value).__name__}")
    unit = "bits" if key == "bit width" else "bytes"
    out = {}
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ConfigError(f"{what} entries must be ({unit}, pJ) pairs, not {item!r}")
        b, e = item
        if isinstance(b, str) and b.isdigit():
            b = int(b)
        if not is_int(b) or not lo <= b <= hi:
            raise ConfigError(f"{what} {key} must be an integer in {lo}..{hi}, not {b!r}")
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e <= 0:
            raise ConfigError(f"{what} energy for {b} {unit} must be a positive number, not {e!r}")
        if int(b) in out:
            raise ConfigError(f"{what} lists {b} {unit} twice")
        out[int(b)] = float(e)
    if not out:
        raise ConfigError(f"{what} needs at least one ({unit}, pJ) entry")
    return tuple(sorted(out.items()))


def _scale(points: tuple[tuple[int, float], ...], x: float, p: float) -> float:
    """Energy at ``x``: linear in ``x ** p`` between listed points, ``E0 (x / x0) ** p``
    outside them."""
    for b, e in points:
        if b == x:
            return e
    lo = [pt for pt in points if pt[0] < x]
    hi = [pt for pt in points if pt[0] > x]
    if lo and hi:
        (b0, e0), (b1, e1) = lo[-1], hi[0]
        return e0 + (e1 - e0) * (x**p - b0**p) / (b1**p - b0**p)
    b0, e0 = lo[-1] if lo else hi[0]
    return e0 * (x / b0) ** p


@dataclass(frozen=True)
class Memory:
    """One memory: ``depth`` words of ``width`` bits (``bits`` and ``bytes`` its capacity)."""

    name: str
    depth: int
    width: int

    @property
    def bits(self) -> int:
        return self.depth * self.width

    @property
    def bytes(self) -> float:
        return self.bits / 8


def _bits(n: int) -> int:
    """Bits to hold ``0 .. n`` (at least 1), as ``hw.params.bits``."""
    return max(1, int(n).bit_length())


def core_memories(core: CoreConfig) -> dict[str, Memory]:
    """The memories of a core build by their real size (the derivation of ``hw.params.Widths``
    and ``hw.blocks``, recomputed here: ``sim`` does not import ``hw``)."""
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")
    P, ML = core.lanes, core.max_layers
    table_depth = ML << _bits(core.max_time_steps - 1)
    mems = {
        "weight": Memory("weight", core.weight_depth, P * core.weight_bits),
        "membrane": Memory("membrane", ML << _bits(core.max_chunks - 1),
                           P * core.potential_bits + P),
        "threshold": Memory("threshold", table_depth, max(1, core.potential_bits - 1)),
        "kernel": Memory("kernel", table_depth, core.kernel_bits),
        "queue": Memory("queue", core.max_neurons, _bits(core.weight_depth)),
    }
    if core.chunk_bounds:
        # SW chunk bounds a word, a word per group of SW chunks (hw.blocks.NeuronArray)
        groups = -(-core.max_chunks // core.chunk_bounds)
        mems["chunk_bounds"] = Memory("chunk_bounds", ML << (groups - 1).bit_length(),
                                      core.chunk_bounds * max(1, core.potential_bits - 1))
    return mems


def network_memories(qnet: QNet) -> dict[str, Memory]:
    """Memories sized by the network alone (no core): ``weight`` (every weight, ``weight_bits``
    words), ``membrane`` (every neuron's potential, ``potential_bits`` words) and ``activation``
    (the dense ANN's input and output buffers of its largest layer, ``weight_bits`` words)."""
    wb, pb = qnet.weight_bits, qnet.potential_bits
    return {
        "weight": Memory("weight", dense_macs(qnet), wb),
        "membrane": Memory("membrane", sum(layer.n_out for layer in qnet.layers), pb),
        "activation": Memory("activation",
                             max(layer.n_in + layer.n_out for layer in qnet.layers), wb),
    }


@dataclass(frozen=True)
class EnergyTable:
    """Per-operation energies in pJ, with their source.

    ``add_pj``/``mult_pj`` map a bit width to the energy of one integer add/multiply of that
    width (widths not listed are derived as the module docstring says, with exponents
    ``add_exponent``/``mult_exponent``). ``sram_pj`` maps a memory capacity in bytes to the
    energy of one ``sram_bits``-wide access to it (a bare number is the figure of an 8 KB
    memory); other sizes follow ``sram_exponent`` (0.5: the square root of the size; 0, with a
    single figure: every memory costs the same).
    """

    name: str
    source: str
    add_pj: Any
    mult_pj: Any
    sram_pj: Any
    sram_bits: int = 64
    add_exponent: int = 1
    mult_exponent: int = 2
    sram_exponent: float = 0.5
    derivation: str = ""

    def __post_init__(self):
        for f in ("name", "source", "derivation"):
            if not isinstance(getattr(self, f), str):
                raise TypeError(f"{f} must be a string, not {type(getattr(self, f)).__name__}")
        object.__setattr__(self, "add_pj", _points(self.add_pj, "add_pj"))
        object.__setattr__(self, "mult_pj", _points(self.mult_pj, "mult_pj"))
        e = self.sram_pj
        if isinstance(e, (dict, list, tuple)):
            object.__setattr__(self, "sram_pj", _points(e, "sram_pj", "size in bytes", 1,
                                                        _MAX_BYTES))
        elif isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) \
                or e <= 0:
            raise ConfigError(f"sram_pj must be a positive number, not {e!r}")
        else:
            object.__setattr__(self, "sram_pj", ((DEFAULT_SRAM_BYTES, float(e)),))
        for f, lo, hi in (("sram_bits", 1, 4096), ("add_exponent", 1, 3), ("mult_exponent", 1, 3)):
            v = getattr(self, f)
            if not is_int(v):
                raise TypeError(f"{f} must be an integer, not {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(f"{f} must be in {lo}..{hi}, not {v}")
        x = self.sram_exponent
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not 0 <= x <= 1:
            raise ConfigError(f"sram_exponent must be a number in 0..1, not {x!r}")
        object.__setattr__(self, "sram_exponent", float(x))
        if x == 0 and len(self.sram_pj) > 1:
            raise ConfigError("sram_exponent 0 (memories cost the same at every size) needs a "
                              f"single sram_pj figure, not {len(self.sram_pj)}")

    def add(self, bits: int) -> float:
        """pJ of one ``bits``-wide integer add."""
        return _scale(self.add_pj, bits, self.add_exponent)

    def mult(self, bits: int) -> float:
        """pJ of one ``bits``-wide integer multiply."""
        return _scale(self.mult_pj, bits, self.mult_exponent)

    def mac(self, bits: int) -> float:
        """pJ of one ``bits``-wide multiply-accumulate: a multiply plus an add."""
        return self.mult(bits) + self.add(bits)

    def sram(self, size_bytes: float) -> float:
        """pJ of one ``sram_bits``-wide access to a memory of ``size_bytes`` bytes."""
        s = size_bytes
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            raise ConfigError(f"a memory size must be a positive number of bytes, not {s!r}")
        if self.sram_exponent == 0:
            return self.sram_pj[0][1]
        return _scale(self.sram_pj, float(s), self.sram_exponent)

    def memory(self, bits: int | float, size_bytes: float) -> float:
        """pJ of moving ``bits`` bits to or from a memory of ``size_bytes`` bytes:
        ``bits / sram_bits x sram(size_bytes)`` (writes cost as reads)."""
        return float(bits) / self.sram_bits * self.sram(size_bytes)

    def access(self, mem: Memory, words: int | float = 1) -> float:
        """pJ of ``words`` accesses of ``mem``'s full word."""
        return self.memory(float(words) * mem.width, mem.bytes)

    def to_json(self) -> dict:
        return {
            "format": ENERGY_FORMAT, "version": 1, "name": self.name, "source": self.source,
            "derivation": self.derivation,
            "add_pj": {str(b): e for b, e in self.add_pj},
            "mult_pj": {str(b): e for b, e in self.mult_pj},
            "sram_pj": {str(b): e for b, e in self.sram_pj}, "sram_bits": self.sram_bits,
            "add_exponent": self.add_exponent, "mult_exponent": self.mult_exponent,
            "sram_exponent": self.sram_exponent,
        }

    @classmethod
    def from_json(cls, obj: Any) -> EnergyTable:
        if not isinstance(obj, dict):
            raise ConfigError(f"an energy table must be a JSON object, not {type(obj).__name__}")
        check_format(obj, ENERGY_FORMAT, (1,))
        fields = {"name", "source", "derivation", "add_pj", "mult_pj", "sram_pj", "sram_bits",
                  "add_exponent", "mult_exponent", "sram_exponent"}
        check_keys(obj, fields | {"format", "version"},
                    {"name", "source", "add_pj", "mult_pj", "sram_pj"}, "energy table")
        return cls(**{k: v for k, v in obj.items() if k in fields})


HOROWITZ_45NM = EnergyTable(
    name="horowitz-isscc2014-45nm",
    source=("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
            "ISSCC 2014, 45 nm, 0.9 V: integer add 8/16/32-bit 0.03/0.05/0.1 pJ, "
            "integer multiply 8/32-bit 0.2/3.1 pJ, 64-bit SRAM read 10 pJ (8 KB), "
            "20 pJ (32 KB), 100 pJ (1 MB)"),
    add_pj={8: 0.03, 16: 0.05, 32: 0.1},
    mult_pj={8: 0.2, 32: 3.1},
    sram_pj={8192: 10.0, 32768: 20.0, 1 << 20: 100.0},
    sram_bits=64,
    sram_exponent=0.5,
    derivation=("our choice: widths not listed are interpolated linearly in bits (adds) or "
                "bits**2 (multiplies) between listed widths, and scaled by (bits/b0)**p outside; "
                "our fit to the three SRAM points: a 64-bit access to a memory of S bytes is "
                "linear in sqrt(S) between the published sizes and E(S0) sqrt(S/S0) outside; "
                "an access of k bits costs k/64 of it; writes cost as reads"),
)

DEFAULT = HOROWITZ_45NM


def load_table(path: str | os.PathLike) -> EnergyTable:
    return EnergyTable.from_json(read_json(path, "energy table"))


def save_table(table: EnergyTable, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(table.to_json(), indent=1) + "\n", encoding="utf-8")


def _has_hw(results: list[SampleResult]) -> bool:
    keys = ("weight_reads", "membrane_reads", "membrane_writes")
    return all(getattr(r.counters, k) is not None for r in results for k in keys)


def _memory_json(table: EnergyTable, mems: dict[str, Memory]) -> dict:
    return {name: {"depth": m.depth, "width_bits": m.width, "bytes": m.bytes,
                   "pj_per_64bit": table.memory(64, m.bytes), "pj_per_word": table.access(m)}
            for name, m in mems.items()}


def dense_ann(qnet: QNet, table: EnergyTable = DEFAULT) -> dict:
    """The dense ANN of ``qnet`` (same layers, weights and activations at ``weight_bits``):
    pJ per inference as the module docstring counts it, with its counts and memories."""
    check_qnet(qnet)
    if not isinstance(table, EnergyTable):
        raise TypeError(f"table must be an EnergyTable, not {type(table).__name__}")
    wb = qnet.weight_bits
    mems = network_memories(qnet)
    macs = dense_macs(qnet)
    a_reads = sum(layer.n_in for layer in qnet.layers)
    a_writes = sum(layer.n_out for layer in qnet.layers)
    compute = macs * table.mac(wb)
    w_mem = table.access(mems["weight"], macs)
    a_mem = table.access(mems["activation"], a_reads + a_writes)
    return {
        "macs": macs, "weight_reads": macs, "activation_reads": a_reads,
        "activation_writes": a_writes,
        "memories": _memory_json(table, {k: mems[k] for k in ("weight", "activation")}),
        "compute_pj": compute, "weight_memory_pj": w_mem, "activation_memory_pj": a_mem,
        "memory_pj": w_mem + a_mem, "total_pj": compute + w_mem + a_mem,
    }


def energy_report(
    qnet: QNet,
    results: list[SampleResult],
    table: EnergyTable = DEFAULT,
    core: CoreConfig | None = None,
) -> dict:
    """Per-inference energy estimate in pJ (mean over ``results``), beside the dense ANN's.

    See the module docstring for the model. Returns a JSON-ready dict with ``note`` (the
    estimate disclaimer), ``table`` (name and source), ``counts`` (which memory counts were used),
    ``memories`` (the SNN's memories: size and pJ per access), ``snn_pj`` (``synaptic``,
    ``membrane_update``, ``compute``, ``weight_memory``, ``membrane_memory``, ``table_memory``,
    ``queue_memory``, ``memory``, ``total``), ``ops`` (mean operation and access counts),
    ``dense_ann`` (:func:`dense_ann`) and the ratios SNN / ANN with and without memory.
    """
    check_qnet(qnet)
    res = check_results(qnet, results)
    if not isinstance(table, EnergyTable):
        raise TypeError(f"table must be an EnergyTable, not {type(table).__name__}")
    if core is not None and not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig or None, not {type(core).__name__}")
    pb = qnet.potential_bits
    mult_bits = max(qnet.weight_bits, kernel_bits(qnet, core))
    ones = kernel_is_ones(qnet)
    e_add = table.add(pb)
    e_mult = table.mult(mult_bits)
    hw = core is not None and _has_hw(res)
    tables = hw and all(r.counters.sweeps is not None for r in res)
    mems = core_memories(core) if hw else network_memories(qnet)
    if not hw:
        del mems["activation"]
    L = len(qnet.layers)
    # with a core and its counters, the sweeps the core did (not the activity's sweep rule)
    source = "hardware" if hw else membrane_source(res, core)
    sweepable = qnet.layers[:-1] if qnet.readout == "max_potential" else qnet.layers
    hw_visit = e_add * (2 if any(layer.leak_shift > 0 for layer in sweepable) else 1)
    e_table = (table.access(mems["threshold"]) + table.access(mems["kernel"])) if hw else 0.0
    # a core with chunk bounds: each membrane write (an op) also writes its
    # chunk's bound (one lane of the word), and each scan of a layer without a leak reads its
    # groups, ceil(C_l / SW) words; the counters do not split sweeps by layer, so a sweep is
    # charged the largest such layer's scan (exact with one sweepable layer without a leak)
    cb_mem = mems.get("chunk_bounds") if hw else None
    cb_scan = 0
    if cb_mem is not None:
        groups = [-(-chunks(layer.n_out, core.lanes) // core.chunk_bounds)
                  for layer in sweepable if layer.leak_shift == 0]
        cb_scan = max(groups, default=0)

    rows = []
    for n, r in enumerate(res):
        sops = layer_sops(qnet, r)
        spk = r.counters.spikes_per_layer
        syn = sum(s * (e_add + (0.0 if o else e_mult)) for s, o in zip(sops, ones, strict=True))
        upd = 0.0
        if source == "activity":
            mu = membrane_updates(qnet, r, f"results[{n}]")
            for li, layer in enumerate(qnet.layers):
                upd += mu[li] * e_add * (2 if layer.leak_shift > 0 else 1)
        else:
            mu = [hardware_membrane_updates(qnet, r, core, f"results[{n}]")]
            upd += mu[0] * hw_visit
        for li, layer in enumerate(qnet.layers):
            fires = not (li == L - 1 and qnet.readout == "max_potential")
            if layer.reset == "subtract" and fires:
                upd += spk[li] * e_add
        t_reads = q_reads = q_writes = cb_reads = cb_writes = 0
        t_mem = q_mem = cb_e = 0.0
        if hw:
            w_reads = r.counters.weight_reads
            m_reads = r.counters.membrane_reads
            m_writes = r.counters.membrane_writes
            if tables:
                t_reads = r.counters.sweeps
                t_mem = t_reads * e_table
            q_writes, q_reads = sum(spk), sum(spk[:-1])
            q_mem = table.access(mems["queue"], q_writes + q_reads)
            if cb_mem is not None and tables:
                cb_writes, cb_reads = m_writes, r.counters.sweeps * cb_scan
                cb_e = table.memory(cb_writes * (cb_mem.width // core.chunk_bounds)
                                    + cb_reads * cb_mem.width, cb_mem.bytes)
        else:
            w_reads = sum(sops)
            m_reads = m_writes = sum(sops) + sum(mu)
        w_mem = table.access(mems["weight"], w_reads)
        m_mem = table.access(mems["membrane"], m_reads + m_writes)
        rows.append((syn, upd, w_mem, m_mem, t_mem, q_mem, sum(sops),
                     sum(s for s, o in zip(sops, ones, strict=True) if not o), sum(mu),
                     w_reads, m_reads, m_writes, t_reads, q_reads, q_writes, cb_e, cb_reads,
                     cb_writes))
    m = np.asarray(rows, dtype=np.float64).mean(axis=0)
    syn, upd, w_mem, m_mem, t_mem, q_mem = (float(x) for x in m[:6])
    cb_e = float(m[15])
    compute = syn + upd
    memory = w_mem + m_mem + t_mem + q_mem + cb_e
    ann = dense_ann(qnet, table)
    if hw:
        counts = (f"hardware counters of a {core.lanes}-lane core: weight reads of "
                  f"{core.lanes} x {core.weight_bits} bits, membrane reads/writes of "
                  f"{core.lanes} x ({pb} + 1) bits, event-queue writes per spike and reads per "
                  "spike of layers 1..L-1")
        counts += ("; one threshold and one kernel entry per sweep" if tables
                   else "; table reads not counted (no sweep counter)")
        if cb_mem is not None and tables:
            counts += ("; a chunk-bound lane written per membrane write and a scan's words "
                       "read per sweep")
        counts += "; each memory priced by its size in this core"
    else:
        counts = ("per-neuron counts (no hardware counters): one weight read per SOP, one "
                  "membrane read and one write per SOP and per membrane update, from memories "
                  "sized by the network; tables and event queue not counted")
    if source == "hardware":
        counts += ("; membrane updates as lane visits of the core's sweep ops "
                   "((membrane_writes - weight_reads) x lanes)")
    return {
        "note": ESTIMATE_NOTE,
        "table": {"name": table.name, "source": table.source, "derivation": table.derivation},
        "samples": len(res),
        "counts": counts,
        "unit": "pJ per inference (mean over samples)",
        "op_pj": {f"add_{pb}bit": e_add, f"mult_{mult_bits}bit": e_mult,
                  f"mac_{qnet.weight_bits}bit": table.mac(qnet.weight_bits)},
        "memories": _memory_json(table, mems),
        "ops": {
            "sops": float(m[6]), "sops_with_multiply": float(m[7]),
            "membrane_updates": float(m[8]), "weight_reads": float(m[9]),
            "membrane_reads": float(m[10]), "membrane_writes": float(m[11]),
            "table_reads": float(m[12]), "queue_reads": float(m[13]),
            "queue_writes": float(m[14]),
            **({"chunk_bound_reads": float(m[16]), "chunk_bound_writes": float(m[17])}
               if cb_mem is not None else {}),
        },
        "snn_pj": {
            "synaptic": syn, "membrane_update": upd, "compute": compute,
            "weight_memory": w_mem, "membrane_memory": m_mem, "table_memory": t_mem,
            "queue_memory": q_mem,
            **({"chunk_bound_memory": cb_e} if cb_mem is not None else {}),
            "memory": memory, "total": compute + memory,
        },
        "dense_ann": ann,
        "snn_over_ann": {
            "compute": compute / ann["compute_pj"],
            "total": (compute + memory) / ann["total_pj"],
        },
    }


#: threshold scale factors of the crossover sweep (factor 1: the trained network)
CROSSOVER_FACTORS = (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def _scaled_layers(qnet: QNet) -> range:
    L = len(qnet.layers)
    return range(L - 1) if L > 1 else range(1)


def scale_thresholds(qnet: QNet, factor: float) -> QNet:
    """``qnet`` with the threshold tables of its hidden layers (all but the output layer; the
    only layer of a one-layer network) times ``factor``, rounded to the nearest integer and
    clipped to ``1 .. 2**(potential_bits-1) - 1``; entries already at that maximum (they block
    firing) are kept."""
    check_qnet(qnet)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
            or not math.isfinite(factor) or factor <= 0:
        raise ConfigError(f"a threshold scale factor must be a positive number, not {factor!r}")
    top = (1 << (qnet.potential_bits - 1)) - 1
    layers = list(qnet.layers)
    for li in _scaled_layers(qnet):
        th = np.asarray(layers[li].threshold, dtype=np.int64)
        new = np.clip(np.rint(th * float(factor)), 1, top).astype(np.int64)
        new = np.where(th == top, th, new)
        layers[li] = dataclasses.replace(layers[li], threshold=new)
    return dataclasses.replace(qnet, layers=tuple(layers))


def crossover(
    qnet: QNet,
    events: EventSet,
    core: CoreConfig,
    factors: Sequence[float] = CROSSOVER_FACTORS,
    table: EnergyTable = DEFAULT,
) -> list[dict]:
    """The SNN's modelled energy per inference against the dense ANN's as activity varies.

    For each factor (1.0 is added when missing: the trained network), :func:`scale_thresholds`
    and :func:`sim.reference.run` on ``events`` with :func:`sim.costmodel.cost_hook` of ``core``,
    priced by :func:`energy_report`. One dict per factor, in increasing factor order: ``factor``,
    ``trained`` (factor 1), ``spikes_per_neuron`` (spikes of the scaled layers per neuron per
    sample), ``spikes_per_sample`` (all layers), ``sops``, ``sops_per_synapse`` (SOPs / dense
    MACs), ``cycles``, ``snn_pj``, ``ann_pj``, ``snn_over_ann`` and ``accuracy`` (``None``
    without labels). Model estimates, not silicon.
    """
    check_qnet(qnet)
    if not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig, not {type(core).__name__}")
    fs = sorted({float(f) for f in factors} | {1.0})
    hook = cost_hook(core)
    scaled = list(_scaled_layers(qnet))
    neurons = sum(qnet.layers[li].n_out for li in scaled)
    macs = dense_macs(qnet)
    labels = None if events.labels is None else np.asarray(events.labels)
    points = []
    for f in fs:
        q = scale_thresholds(qnet, f)
        core.check_fits(q)
        res = run(q, events, cost=hook)
        rep = energy_report(q, res, table, core)
        spl = np.asarray([r.counters.spikes_per_layer for r in res], dtype=np.float64)
        acc = None
        if labels is not None:
            pred = np.asarray([r.prediction if r.valid else -1 for r in res])
            acc = float(np.mean(pred == labels))
        points.append({
            "factor": f, "trained": f == 1.0,
            "spikes_per_neuron": float(spl[:, scaled].sum(axis=1).mean()) / neurons,
            "spikes_per_sample": float(spl.sum(axis=1).mean()),
            "sops": rep["ops"]["sops"], "sops_per_synapse": rep["ops"]["sops"] / macs,
            "cycles": float(np.mean([r.cycles for r in res])),
            "snn_pj": rep["snn_pj"]["total"], "ann_pj": rep["dense_ann"]["total_pj"],
            "snn_over_ann": rep["snn_over_ann"]["total"], "accuracy": acc,
        })
    return points
