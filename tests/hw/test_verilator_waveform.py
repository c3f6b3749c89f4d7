"""Waveforms from the native harness: a VCD with the core's stream signals; FST where LZ4 is.

The VCD build writes every cycle of a run (load and samples); the test checks the header
declares the clock, reset and every stream's valid/ready/payload of the core, and that the
dump spans at least as many cycles as the batch took. FST needs the LZ4 development files:
where they are missing the build refuses with a ToolchainError that says so.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.errors import ConfigError, ToolchainError
from ttfs.sim.image import pack
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.verilator import VerilatorBackend

pytestmark = pytest.mark.cosim

CORE = COSIM_CORES["p3"]
SIGNALS = ["clk", "rst"] + [f"{s}__{m}" for s in ("load", "events", "result", "trace")
                            for m in ("valid", "ready", "payload")]


def _lz4_available() -> bool:
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "p.cpp"
        src.write_text("#include <lz4.h>\nint main() { return 0; }\n")
        r = subprocess.run(["g++", str(src), "-o", str(Path(d) / "p"), "-llz4"],
                           capture_output=True)
    return r.returncode == 0


def test_verilator_vcd_has_the_core_signals(tmp_path):
    from ttfs.sim.costmodel import cost_hook

    case = random_case(9, n_samples=3, core=CORE)
    backend = VerilatorBackend()
    path = tmp_path / "run.vcd"
    got = backend.run(pack(case.qnet, case.events, CORE), trace=True, waveform=path)
    backend.close()
    check_equal(run(case.qnet, case.events, trace=True, cost=cost_hook(CORE)), got,
                backend="verilator (VCD build)")
    text = path.read_text()
    header, _, body = text.partition("$enddefinitions")
    assert "$scope module core $end" in header
    declared = set(re.findall(r"\$var \w+ +\d+ \S+ (\S+)", header))
    missing = [s for s in SIGNALS if s not in declared]
    assert missing == []
    times = [int(t) for t in re.findall(r"^#(\d+)$", body, flags=re.M)]
    # two time points per clock cycle; the run is at least the batch's cycles long
    assert times and times[-1] >= 2 * backend.last_cycles


def test_verilator_fst_or_a_clear_refusal(tmp_path):
    case = random_case(10, n_samples=2, core=CORE)
    image = pack(case.qnet, case.events, CORE)
    path = tmp_path / "run.fst"
    backend = VerilatorBackend()
    if _lz4_available():
        backend.run(image, waveform=path)
        assert path.read_bytes()[:1] == b"\x00"  # an FST file starts with its header block
    else:
        with pytest.raises(ToolchainError, match="FST waveforms need the LZ4 development files"):
            backend.run(image, waveform=path)
        assert not path.exists()
    backend.close()


def test_verilator_waveform_suffix_is_checked(tmp_path):
    case = random_case(11, n_samples=1, core=CORE)
    with pytest.raises(ConfigError) as info:
        VerilatorBackend().run(pack(case.qnet, case.events, CORE), waveform=tmp_path / "w.txt")
    bad = str(tmp_path / "w.txt")
    assert str(info.value) == f"waveform file must end in .vcd or .fst, not {bad!r}"
