"""The cocotb build plumbing: cache location and a clear error when Verilator fails."""

import pytest

from ttfs.sim.errors import ToolchainError
from ttfs.verify.cocotb_backend import build_verilog, cache_root

pytestmark = pytest.mark.cosim


def test_cache_root_follows_ttfs_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TTFS_CACHE", str(tmp_path))
    assert cache_root() == tmp_path / "cocotb"
    monkeypatch.delenv("TTFS_CACHE")
    assert cache_root().parts[-3:] == (".cache", "ttfs", "cocotb")
    assert cache_root(tmp_path / "x") == tmp_path / "x"


def test_broken_verilog_raises_toolchain_error(tmp_path):
    with pytest.raises(ToolchainError, match=r"^Verilator failed to build ttfs_core in ") as info:
        build_verilog("module ttfs_core(input clk;\nendmodule\n", "ttfs_core", "broken",
                      cache_dir=tmp_path)
    assert "%Error" in str(info.value)  # the log tail is quoted
    assert not list(tmp_path.glob("*/built.ok"))
