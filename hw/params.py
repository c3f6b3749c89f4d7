"""Widths and constants every block of the core derives from one :class:`sim.core.CoreConfig`.

The stream words, record layout and status flags are :mod:`sim.protocol`'s (re-exported here
for the blocks); the format: ``docs/core-interface.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import (
    EMIT_PIPE,
    EMIT_TAIL,
    FILL_CYCLES,
    GAP_CYCLES,
    REACH_CYCLES,
    SETTLE_CYCLES,
    TAIL_CYCLES,
    WAIT_CYCLES,
)
from ttfs.sim.image.format import params_word, words_per_row
from ttfs.sim.protocol import MAGIC, RECORD_HEAD, STATUS, VERSION

__all__ = ["Widths", "STATUS", "RECORD_HEAD", "MAGIC", "VERSION", "WAIT_CYCLES", "SETTLE_CYCLES",
           "REACH_CYCLES", "TAIL_CYCLES", "GAP_CYCLES", "bits", "counter_bounds", "counter_width"]

def bits(n: int) -> int:
    """Bits to hold the values ``0 .. n`` (at least 1)."""
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class Widths:
    """Signal widths of a core build (all at least one bit).

    ``*_idx`` widths hold an index ``0 .. max-1``, ``*_cnt`` widths a count ``0 .. max``.
    Membrane words live at ``Cat(chunk, layer)`` and table entries at ``Cat(t, layer)``, so the
    membrane memory is ``max_layers << chunk_idx`` words and each table ``max_layers << t_idx``.

    ``poison``: the simulation build, in which a memory read in the cycle of a write to the same
    address returns its bits inverted (:func:`hw.blocks.guarded_read`).
    """

    config: CoreConfig
    poison: bool = False

    @property
    def P(self) -> int:
        return self.config.lanes

    @property
    def WB(self) -> int:
        return self.config.weight_bits

    @property
    def PB(self) -> int:
        return self.config.potential_bits

    @property
    def KB(self) -> int:
        return self.config.kernel_bits

    @property
    def ML(self) -> int:
        return self.config.max_layers

    @property
    def MN(self) -> int:
        return self.config.max_neurons

    @property
    def MT(self) -> int:
        return self.config.max_time_steps

    @property
    def MC(self) -> int:
        return self.config.max_chunks

    @property
    def WD(self) -> int:
        return self.config.weight_depth

    @property
    def leak(self) -> bool:
        """The build has the leak datapath (``V - (V >> s)``)."""
        return self.config.leak

    @property
    def subtract(self) -> bool:
        """The build has the ``subtract`` reset (``V - Theta``)."""
        return self.config.subtract

    @property
    def fire_layers(self) -> int:
        """Layer slots that may fire (have a bound and a threshold lookahead): all of them, or
        all but the top one on a build without a spiking output layer."""
        return self.ML if self.config.spiking_output else self.ML - 1

    @property
    def SW(self) -> int:
        """Chunk bounds read and compared per cycle (``CoreConfig.chunk_bounds``); 0: the build
        keeps no chunk bounds and sweeps whole layers."""
        return self.config.chunk_bounds

    @property
    def sw_bits(self) -> int:
        """``log2(SW)``: a chunk's bank is its low ``sw_bits`` bits, its group the rest."""
        return max(0, self.SW - 1).bit_length()

    @property
    def groups(self) -> int:
        """Groups of ``SW`` chunks in a layer of ``max_chunks`` chunks (0 without chunk bounds)."""
        return -(-self.MC // self.SW) if self.SW else 0

    @property
    def group_bits(self) -> int:
        """Width of a group index within a layer (0 when a layer has one group)."""
        return max(0, self.groups - 1).bit_length()

    @property
    def neuron_idx(self) -> int:
        return bits(self.MN - 1)

    @property
    def neuron_cnt(self) -> int:
        return bits(self.MN)

    @property
    def chunk_idx(self) -> int:
        return bits(self.MC - 1)

    @property
    def chunk_cnt(self) -> int:
        return bits(self.MC)

    @property
    def layer_idx(self) -> int:
        return bits(self.ML - 1)

    @property
    def layer_cnt(self) -> int:
        return bits(self.ML)

    @property
    def t_idx(self) -> int:
        return bits(self.MT - 1)

    @property
    def t_cnt(self) -> int:
        return bits(self.MT)

    @property
    def row(self) -> int:
        """Width of a weight-row address or count (``0 .. weight_depth``)."""
        return bits(self.WD)

    @property
    def wpw(self) -> int:
        """Weights per 32-bit image word."""
        return 32 // self.WB

    @property
    def wpr(self) -> int:
        """Image words per weight row."""
        return words_per_row(self.P, self.WB)

    @property
    def memb_depth(self) -> int:
        return self.ML << self.chunk_idx

    @property
    def table_depth(self) -> int:
        return self.ML << self.t_idx

    @property
    def memb_width(self) -> int:
        """A membrane word: P potentials, then P fired bits."""
        return self.P * self.PB + self.P

    @property
    def params_word(self) -> int:
        """Image word 2 for this core."""
        return params_word(self.config)


def counter_bounds(w: Widths) -> dict[str, int]:
    """The largest value each result counter reaches in a *valid* sample on this build.

    From the cycle-cost rule (``sim.costmodel``) at the build's maxima: at most ``max_neurons``
    events enter a layer per step (the stream's words strictly increase, a neuron fires at most
    once per step) and as many spikes leave it, every layer is swept and spikes at every one of
    ``max_time_steps`` steps, and the output is read by potential. :func:`counter_width` adds a
    spare bit, so a valid sample's counter cannot wrap; the record's words are zero-extended.
    """
    MT, ML, MN, MC, P = w.MT, w.ML, w.MN, w.MC, w.P
    integ = MT * ML * MN * MC  # row chunks integrated
    swept = MT * ML * MC  # chunks swept
    # a drain and the waits of an event phase after a drained emission (at most EMIT_PIPE - 1),
    # or the waits after an overlapped one (at most TAIL_CYCLES - 2, no drain), and the last
    # layer's emission (sim.costmodel)
    per_layer = (2 + MN * MC + 1 + SETTLE_CYCLES + MC
                 + max(WAIT_CYCLES + EMIT_PIPE - 1, TAIL_CYCLES - 2) + MN + EMIT_TAIL)
    if w.SW:
        per_layer += 1 + w.groups  # DECIDE no longer issues a sweep op; the scan
    return {
        "cycles": MT * (1 + ML * per_layer + 1) + 1 + FILL_CYCLES + 2 * MC + MN,
        "input_events": MT * MN,
        "sops": MT * ML * MN * MN,
        "weight_reads": integ,
        "membrane_reads": integ + swept + MC,
        "membrane_writes": integ + swept,
        "sweeps": MT * ML,
        "saturations": integ * P,
        "spikes": MT * MN,
    }


def counter_width(bound: int) -> int:
    """Bits of a counter that counts to ``bound``: one spare bit, at most the record's 32."""
    return min(32, bits(bound) + 1)
