"""The energy model: operation counts x a per-operation energy table (``docs/energy.md``).

These are **estimates from a model, not measurements of silicon**. The default table is
Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014, for a 45 nm
process at 0.9 V:

=====================  =========
operation              energy
=====================  =========
8-bit integer add      0.03 pJ
16-bit integer add     0.05 pJ
32-bit integer add     0.1 pJ
8-bit integer multiply 0.2 pJ
32-bit int multiply    3.1 pJ
64-bit SRAM read, 8 KB 10 pJ
=====================  =========

**Other widths (our choice, not from the source).** An adder's energy grows about linearly with
its width and an array multiplier's about with the square of it (the published 8- and 32-bit
multiplies, 0.2 and 3.1 pJ, are 15.5x apart against 16x for the square). So an operation of ``b``
bits is interpolated linearly in ``b ** p`` between the two nearest listed widths, with ``p = 1``
for adds and ``p = 2`` for multiplies, and scaled as ``E(b0) * (b / b0) ** p`` from the nearest
listed width ``b0`` outside the listed range. For example the 16-bit multiply is
``0.2 + (3.1 - 0.2) * (16**2 - 8**2) / (32**2 - 8**2) = 0.78 pJ``; a 12-bit add is 0.04 pJ.
A memory access of ``k`` bits (read or write; we charge writes as reads) costs
``k / 64 x 10 pJ``.

The model (:func:`energy_report`), per sample, then averaged over samples:

* **synaptic**: every SOP is one add at ``potential_bits``; in a layer whose kernel table is not
  all ones it is also one multiply at ``max(weight_bits, kernel_bits)`` (``W * K_l[t]``).
* **membrane updates**: every neuron visit of a fire/leak sweep (:func:`sim.metrics.
  membrane_updates`) is one compare (an add) at ``potential_bits``, plus one add for the leak
  when ``leak_shift > 0``; every spike of a ``subtract``-reset layer adds one add (the reset).
  Results without per-step activity (read back from the RTL) count lane visits from the
  hardware counters instead (see :mod:`sim.metrics`), charged two adds each when any swept
  layer leaks (an upper bound: the split per layer is unknown) and one otherwise.
* **memory**: with a core and hardware counters, ``weight_reads`` are weight-memory words of
  ``lanes x core.weight_bits`` bits and ``membrane_reads``/``membrane_writes`` are membrane-memory
  words of ``lanes x potential_bits`` bits. Without them (core ``None`` or counters ``None``) the
  model counts per neuron: one ``weight_bits`` weight read per SOP, and one ``potential_bits``
  membrane read and one write per SOP and per membrane update. The report says which was used.
* **dense ANN** of the same network: ``sum_l n_in_l x n_l`` MACs per inference, each one multiply
  plus one add at ``weight_bits``, and (for the figure with memory) one ``weight_bits`` weight read
  per MAC.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import QNet
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
from ttfs.sim.reference import SampleResult

__all__ = ["EnergyTable", "DEFAULT", "HOROWITZ_45NM", "energy_report", "load_table", "save_table"]

ENERGY_FORMAT = "ttfs.energy"

ESTIMATE_NOTE = (
    "These figures are estimates from an energy model (operation counts x a per-operation "
    "energy table), not measurements of silicon."
)


def _points(value: Any, what: str) -> tuple[tuple[int, float], ...]:
    """``{bits: pJ}`` (keys may be strings, as in JSON) as sorted ``((bits, pJ), ...)``."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise TypeError(f"{what} must be a mapping of bit width to pJ, not {type(value).__name__}")
    out = {}
    for item in items:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise ConfigError(f"{what} entries must be (bits, pJ) pairs, not {item!r}")
        b, e = item
        if isinstance(b, str) and b.isdigit():
            b = int(b)
        if not is_int(b) or not 1 <= b <= 128:
            raise ConfigError(f"{what} bit width must be an integer in 1..128, not {b!r}")
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e <= 0:
            raise ConfigError(f"{what} energy for {b} bits must be a positive number, not {e!r}")
        if int(b) in out:
            raise ConfigError(f"{what} lists {b} bits twice")
        out[int(b)] = float(e)
    if not out:
        raise ConfigError(f"{what} needs at least one (bits, pJ) entry")
    return tuple(sorted(out.items()))


def _scale(points: tuple[tuple[int, float], ...], bits: int, p: int) -> float:
    """Energy at ``bits``: linear in ``bits ** p`` between listed widths, ``E0 (b / b0) ** p``
    outside them."""
    for b, e in points:
        if b == bits:
            return e
    lo = [pt for pt in points if pt[0] < bits]
    hi = [pt for pt in points if pt[0] > bits]
    if lo and hi:
        (b0, e0), (b1, e1) = lo[-1], hi[0]
        return e0 + (e1 - e0) * (bits**p - b0**p) / (b1**p - b0**p)
    b0, e0 = lo[-1] if lo else hi[0]
    return e0 * (bits / b0) ** p


@dataclass(frozen=True)
class EnergyTable:
    """Per-operation energies in pJ, with their source.

    ``add_pj``/``mult_pj`` map a bit width to the energy of one integer add/multiply of that
    width (widths not listed are derived as the module docstring says, with exponents
    ``add_exponent``/``mult_exponent``); ``sram_pj`` is one ``sram_bits``-wide SRAM access.
    """

    name: str
    source: str
    add_pj: Any
    mult_pj: Any
    sram_pj: float
    sram_bits: int = 64
    add_exponent: int = 1
    mult_exponent: int = 2
    derivation: str = ""

    def __post_init__(self):
        for f in ("name", "source", "derivation"):
            if not isinstance(getattr(self, f), str):
                raise TypeError(f"{f} must be a string, not {type(getattr(self, f)).__name__}")
        object.__setattr__(self, "add_pj", _points(self.add_pj, "add_pj"))
        object.__setattr__(self, "mult_pj", _points(self.mult_pj, "mult_pj"))
        e = self.sram_pj
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not math.isfinite(e) or e <= 0:
            raise ConfigError(f"sram_pj must be a positive number, not {e!r}")
        object.__setattr__(self, "sram_pj", float(e))
        for f, lo, hi in (("sram_bits", 1, 4096), ("add_exponent", 1, 3), ("mult_exponent", 1, 3)):
            v = getattr(self, f)
            if not is_int(v):
                raise TypeError(f"{f} must be an integer, not {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(f"{f} must be in {lo}..{hi}, not {v}")

    def add(self, bits: int) -> float:
        """pJ of one ``bits``-wide integer add."""
        return _scale(self.add_pj, bits, self.add_exponent)

    def mult(self, bits: int) -> float:
        """pJ of one ``bits``-wide integer multiply."""
        return _scale(self.mult_pj, bits, self.mult_exponent)

    def mac(self, bits: int) -> float:
        """pJ of one ``bits``-wide multiply-accumulate: a multiply plus an add."""
        return self.mult(bits) + self.add(bits)

    def memory(self, bits: int | float) -> float:
        """pJ of moving ``bits`` bits to or from SRAM: ``bits / sram_bits x sram_pj``."""
        return float(bits) / self.sram_bits * self.sram_pj

    def to_json(self) -> dict:
        return {
            "format": ENERGY_FORMAT, "version": 1, "name": self.name, "source": self.source,
            "derivation": self.derivation,
            "add_pj": {str(b): e for b, e in self.add_pj},
            "mult_pj": {str(b): e for b, e in self.mult_pj},
            "sram_pj": self.sram_pj, "sram_bits": self.sram_bits,
            "add_exponent": self.add_exponent, "mult_exponent": self.mult_exponent,
        }

    @classmethod
    def from_json(cls, obj: Any) -> EnergyTable:
        if not isinstance(obj, dict):
            raise ConfigError(f"an energy table must be a JSON object, not {type(obj).__name__}")
        check_format(obj, ENERGY_FORMAT, (1,))
        fields = {"name", "source", "derivation", "add_pj", "mult_pj", "sram_pj", "sram_bits",
                  "add_exponent", "mult_exponent"}
        check_keys(obj, fields | {"format", "version"},
                    {"name", "source", "add_pj", "mult_pj", "sram_pj"}, "energy table")
        return cls(**{k: v for k, v in obj.items() if k in fields})


HOROWITZ_45NM = EnergyTable(
    name="horowitz-isscc2014-45nm",
    source=("M. Horowitz, 'Computing's energy problem (and what we can do about it)', "
            "ISSCC 2014, 45 nm, 0.9 V: integer add 8/16/32-bit 0.03/0.05/0.1 pJ, "
            "integer multiply 8/32-bit 0.2/3.1 pJ, 64-bit read from an 8 KB SRAM about 10 pJ"),
    add_pj={8: 0.03, 16: 0.05, 32: 0.1},
    mult_pj={8: 0.2, 32: 3.1},
    sram_pj=10.0,
    sram_bits=64,
    derivation=("our choice: widths not listed are interpolated linearly in bits (adds) or "
                "bits**2 (multiplies) between listed widths, and scaled by (bits/b0)**p outside; "
                "an SRAM access of k bits costs k/64 of the 64-bit read; writes cost as reads"),
)

DEFAULT = HOROWITZ_45NM


def load_table(path: str | os.PathLike) -> EnergyTable:
    return EnergyTable.from_json(read_json(path, "energy table"))


def save_table(table: EnergyTable, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(table.to_json(), indent=1) + "\n", encoding="utf-8")


def _has_hw(results: list[SampleResult]) -> bool:
    keys = ("weight_reads", "membrane_reads", "membrane_writes")
    return all(getattr(r.counters, k) is not None for r in results for k in keys)


def energy_report(
    qnet: QNet,
    results: list[SampleResult],
    table: EnergyTable = DEFAULT,
    core: CoreConfig | None = None,
) -> dict:
    """Per-inference energy estimate in pJ (mean over ``results``), beside the dense ANN's.

    See the module docstring for the model. Returns a JSON-ready dict with ``note`` (the
    estimate disclaimer), ``table`` (name and source), ``counts`` (which memory counts were used),
    ``snn_pj`` (``synaptic``, ``membrane_update``, ``compute``, ``weight_memory``,
    ``membrane_memory``, ``memory``, ``total``), ``ops`` (mean operation counts), ``dense_ann``
    and the ratios SNN / ANN with and without memory.
    """
    check_qnet(qnet)
    res = check_results(qnet, results)
    if not isinstance(table, EnergyTable):
        raise TypeError(f"table must be an EnergyTable, not {type(table).__name__}")
    if core is not None and not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig or None, not {type(core).__name__}")
    pb, wb = qnet.potential_bits, qnet.weight_bits
    mult_bits = max(wb, kernel_bits(qnet, core))
    ones = kernel_is_ones(qnet)
    e_add = table.add(pb)
    e_mult = table.mult(mult_bits)
    hw = core is not None and _has_hw(res)
    L = len(qnet.layers)
    source = membrane_source(res, core)
    sweepable = qnet.layers[:-1] if qnet.readout == "max_potential" else qnet.layers
    hw_visit = e_add * (2 if any(layer.leak_shift > 0 for layer in sweepable) else 1)

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
        if hw:
            w_reads = r.counters.weight_reads
            m_reads = r.counters.membrane_reads
            m_writes = r.counters.membrane_writes
            w_mem = table.memory(w_reads * core.lanes * core.weight_bits)
            m_mem = table.memory((m_reads + m_writes) * core.lanes * pb)
        else:
            w_reads = sum(sops)
            m_reads = m_writes = sum(sops) + sum(mu)
            w_mem = table.memory(w_reads * wb)
            m_mem = table.memory((m_reads + m_writes) * pb)
        rows.append((syn, upd, w_mem, m_mem, sum(sops), sum(s for s, o in zip(sops, ones,
                     strict=True) if not o), sum(mu), w_reads, m_reads, m_writes))
    m = np.asarray(rows, dtype=np.float64).mean(axis=0)
    syn, upd, w_mem, m_mem = (float(x) for x in m[:4])
    compute = syn + upd
    memory = w_mem + m_mem
    macs = dense_macs(qnet)
    ann_compute = macs * table.mac(wb)
    ann_memory = table.memory(macs * wb)
    if hw:
        counts = (f"hardware counters of a {core.lanes}-lane core: weight reads of "
                  f"{core.lanes} x {core.weight_bits} bits, membrane reads/writes of "
                  f"{core.lanes} x {pb} bits")
    else:
        counts = ("per-neuron counts (no hardware counters): one weight read per SOP, one "
                  "membrane read and one write per SOP and per membrane update")
    if source == "hardware":
        counts += ("; membrane updates as lane visits of sweep ops "
                   "((membrane_writes - weight_reads - chunks) x lanes), no per-step activity")
    return {
        "note": ESTIMATE_NOTE,
        "table": {"name": table.name, "source": table.source, "derivation": table.derivation},
        "samples": len(res),
        "counts": counts,
        "unit": "pJ per inference (mean over samples)",
        "op_pj": {f"add_{pb}bit": e_add, f"mult_{mult_bits}bit": e_mult,
                  f"mac_{wb}bit": table.mac(wb), f"sram_{table.sram_bits}bit": table.sram_pj},
        "ops": {
            "sops": float(m[4]), "sops_with_multiply": float(m[5]),
            "membrane_updates": float(m[6]), "weight_reads": float(m[7]),
            "membrane_reads": float(m[8]), "membrane_writes": float(m[9]),
        },
        "snn_pj": {
            "synaptic": syn, "membrane_update": upd, "compute": compute,
            "weight_memory": w_mem, "membrane_memory": m_mem, "memory": memory,
            "total": compute + memory,
        },
        "dense_ann": {
            "macs": macs, "compute_pj": ann_compute, "weight_memory_pj": ann_memory,
            "total_pj": ann_compute + ann_memory,
        },
        "snn_over_ann": {
            "compute": compute / ann_compute,
            "total": (compute + memory) / (ann_compute + ann_memory),
        },
    }
