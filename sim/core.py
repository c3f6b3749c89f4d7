"""Core configuration: the elaboration-time parameters of the neuron core, and the fit check.

A :class:`CoreConfig` is what ``hw`` elaborates and what an image is compiled for. The lanes,
widths and kernel width must match the image exactly; the sizes (neurons, layers, steps,
weight rows) are maxima that one build shares between every network that fits.

JSON form (``core.json``, format ``ttfs.core``, version 1)::

    {"format": "ttfs.core", "version": 1, "lanes": 8, "weight_bits": 8, "potential_bits": 16,
     "kernel_bits": 8, "max_neurons": 128, "max_layers": 4, "max_time_steps": 64,
     "weight_depth": 4096, "leak": true, "subtract": true}

``leak`` and ``subtract`` (optional, default ``true``) say whether the build has the leak
datapath (``V - (V >> s)``) and the ``subtract`` reset; a core without them is smaller (the
leak's shifters are most of a lane's logic) and refuses images whose layers need them.
``spiking_output`` (optional, default ``true``) says whether the top layer slot may fire; a core
without it keeps no bound and no threshold lookahead for that slot and runs only networks read
by potential (``max_potential``).
``chunk_bounds`` (optional, default ``0``) is 0, or the number of chunk bounds (a power of two,
1..16) the core reads and compares per cycle. With it the core keeps, beside each layer's bound,
the bound of every chunk, and a layer without a leak sweeps only the chunks that fire at a step
(it first scans the chunk bounds, ``chunk_bounds`` a cycle); 0: whole-layer sweeps. It changes
cycles and the membrane counters, never a result.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ttfs.sim.errors import ConfigError, FitError
from ttfs.sim.ir import QNet
from ttfs.sim.jsonio import check_format, check_keys, is_int, read_json

__all__ = ["CoreConfig", "CHUNK_BOUNDS", "load_core", "save_core", "chunks", "weight_rows"]

CORE_FORMAT = "ttfs.core"
#: the values ``CoreConfig.chunk_bounds`` may take: 0 (whole-layer sweeps) or a power of two
CHUNK_BOUNDS = (0, 1, 2, 4, 8, 16)


def chunks(n_out: int, lanes: int) -> int:
    """Row chunks of a layer with ``n_out`` neurons on a ``lanes``-wide core: ``ceil(n_out/P)``."""
    return -(-n_out // lanes)


def weight_rows(qnet: QNet, lanes: int) -> int:
    """Weight-memory rows a network needs: ``sum_l n_in_l * ceil(n_out_l / P)``."""
    return sum(layer.n_in * chunks(layer.n_out, lanes) for layer in qnet.layers)


@dataclass(frozen=True)
class CoreConfig:
    """Elaboration parameters of :class:`hw.core.NeuronCore`.

    ``lanes`` (P) neurons are updated per cycle; a weight-memory row holds P weights.
    ``max_neurons`` bounds every layer's size *and* ``n_inputs``; ``kernel_bits`` is the width
    of the unsigned kernel-table entries ``K_l[t]`` (the multiplier's second operand).
    ``leak`` / ``subtract``: the build has the leak datapath / the ``subtract`` reset. Without
    them a layer with ``leak_shift != 0`` / ``reset == "subtract"`` does not fit.
    ``spiking_output``: the top layer slot (``max_layers - 1``) may fire, so a network may read
    its output by first spike. Without it the slot has no bound and no threshold lookahead (it
    is never swept) and only a ``max_potential`` network fits.
    ``chunk_bounds``: 0, or the number of chunk bounds (a power of two, 1..16) the core reads and
    compares per cycle. With it the core keeps, beside each layer's bound, the bound of every
    chunk, and a layer without a leak sweeps only the chunks that fire at a step (it first scans
    the chunk bounds, ``chunk_bounds`` a cycle); 0: whole-layer sweeps. It changes cycles and
    the membrane counters, never a result.
    """

    lanes: int = 8
    weight_bits: int = 8
    potential_bits: int = 16
    kernel_bits: int = 8
    max_neurons: int = 128
    max_layers: int = 4
    max_time_steps: int = 64
    weight_depth: int = 4096
    leak: bool = True
    subtract: bool = True
    spiking_output: bool = True
    chunk_bounds: int = 0

    def __post_init__(self):
        for name, lo, hi in (
            ("lanes", 1, 64),
            ("weight_bits", 2, 16),
            ("potential_bits", 2, 32),
            ("kernel_bits", 1, 16),
            ("max_neurons", 1, 1 << 16),
            ("max_layers", 1, 64),
            ("max_time_steps", 1, 1 << 16),
            ("weight_depth", 1, 1 << 24),
        ):
            v = getattr(self, name)
            if not is_int(v):
                raise ConfigError(f"core {name} must be an integer, not {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(f"core {name} must be in {lo}..{hi}, not {v}")
        for name in ("leak", "subtract", "spiking_output"):
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise ConfigError(f"core {name} must be true or false, not {v!r}")
        cb = self.chunk_bounds
        if not is_int(cb):
            raise ConfigError(f"core chunk_bounds must be an integer, not {cb!r}")
        if cb not in CHUNK_BOUNDS:
            raise ConfigError(
                f"core chunk_bounds must be 0 or a power of two in 1..16, not {cb}"
            )

    @property
    def max_chunks(self) -> int:
        return chunks(self.max_neurons, self.lanes)

    def fit_problems(self, qnet: QNet) -> list[str]:
        """Every reason ``qnet`` cannot run on this core, first problem first (empty if it fits)."""
        problems = []
        if qnet.weight_bits > self.weight_bits:
            problems.append(
                f"the network has {qnet.weight_bits}-bit weights; "
                f"this core has {self.weight_bits}-bit weights"
            )
        if qnet.readout == "first_spike" and not self.spiking_output:
            problems.append(
                "the network reads its output by first spike; this core was built without a "
                "spiking output layer (only max_potential networks fit)"
            )
        if qnet.potential_bits != self.potential_bits:
            problems.append(
                f"the network has {qnet.potential_bits}-bit potentials; "
                f"this core has {self.potential_bits}-bit potentials"
            )
        if len(qnet.layers) > self.max_layers:
            problems.append(
                f"the network has {len(qnet.layers)} layers; this core has {self.max_layers}"
            )
        if qnet.time_steps > self.max_time_steps:
            problems.append(
                f"the network needs {qnet.time_steps} time steps; "
                f"this core has {self.max_time_steps}"
            )
        if qnet.n_inputs > self.max_neurons:
            problems.append(
                f"the network has {qnet.n_inputs} inputs; this core has {self.max_neurons}"
            )
        for k, layer in enumerate(qnet.layers, start=1):
            if layer.n_out > self.max_neurons:
                problems.append(
                    f"layer {k} needs {layer.n_out} neurons; this core has {self.max_neurons}"
                )
            kmax = int(layer.kernel.max())
            if kmax >= 1 << self.kernel_bits:
                problems.append(
                    f"layer {k} kernel entry {kmax} does not fit this core's "
                    f"{self.kernel_bits}-bit kernel table"
                )
            if layer.leak_shift and not self.leak:
                problems.append(
                    f"layer {k} leaks (leak_shift {layer.leak_shift}); this core was built "
                    "without the leak datapath"
                )
            if layer.reset == "subtract" and not self.subtract:
                problems.append(
                    f"layer {k} uses the subtract reset; this core was built without it"
                )
        rows = weight_rows(qnet, self.lanes)
        if rows > self.weight_depth:
            problems.append(
                f"the network needs {rows} weight rows; this core has {self.weight_depth}"
            )
        return problems

    def fits(self, qnet: QNet) -> bool:
        return not self.fit_problems(qnet)

    def check_fits(self, qnet: QNet) -> None:
        """Raise :class:`FitError` naming the first reason ``qnet`` does not fit."""
        problems = self.fit_problems(qnet)
        if problems:
            raise FitError(problems[0])

    @classmethod
    def for_network(cls, qnet: QNet, lanes: int = 8, **overrides) -> CoreConfig:
        """The smallest sensible core (powers of two) that runs ``qnet``.

        The leak datapath, the subtract reset and a spiking output layer are built only when
        the network uses them (a ``max_potential`` network gets a core without a spiking output
        layer: the room the UP5K needs for the overlapped emission,
        docs/microarchitecture.md).
        """

        def pow2(n: int) -> int:
            return 1 << max(0, math.ceil(math.log2(max(n, 1))))

        kmax = max(int(layer.kernel.max()) for layer in qnet.layers)
        params = dict(
            lanes=lanes,
            weight_bits=qnet.weight_bits,
            potential_bits=qnet.potential_bits,
            kernel_bits=max(1, kmax.bit_length()),
            max_neurons=pow2(max(qnet.sizes)),
            max_layers=len(qnet.layers),
            max_time_steps=pow2(qnet.time_steps),
            weight_depth=pow2(weight_rows(qnet, lanes)),
            leak=any(layer.leak_shift for layer in qnet.layers),
            subtract=any(layer.reset == "subtract" for layer in qnet.layers),
            spiking_output=qnet.readout != "max_potential",
        )
        params.update(overrides)
        return cls(**params)

    def to_json(self) -> dict:
        return {"format": CORE_FORMAT, "version": 1, **asdict(self)}

    @classmethod
    def from_json(cls, obj) -> CoreConfig:
        if not isinstance(obj, dict):
            raise ConfigError(f"a core file must hold a JSON object, not {type(obj).__name__}")
        check_format(obj, CORE_FORMAT, (1,))
        fields = set(cls.__dataclass_fields__)
        check_keys(obj, fields | {"format", "version"}, set(), "core config")
        return cls(**{k: v for k, v in obj.items() if k in fields})


def load_core(path: str | os.PathLike) -> CoreConfig:
    return CoreConfig.from_json(read_json(path, "core config"))


def save_core(core: CoreConfig, path: str | os.PathLike) -> None:
    Path(path).write_text(json.dumps(core.to_json(), indent=1) + "\n", encoding="utf-8")
