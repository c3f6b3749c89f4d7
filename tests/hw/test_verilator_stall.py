"""A core that never answers: the harness stops after ``stall_limit`` quiet cycles and says how
far it got, instead of hanging. The core here is a stand-in that takes every word and never
presents a result (a hung ``ttfs_core``), built from a few lines of Verilog."""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.errors import ToolchainError
from ttfs.sim.protocol import batch_payloads
from ttfs.verify.verilator import Harness, build_harness

pytestmark = pytest.mark.cosim

HUNG_CORE = """
module ttfs_core(input wire clk, input wire rst,
  input wire load__valid, output wire load__ready, input wire [32:0] load__payload,
  input wire events__valid, output wire events__ready, input wire [32:0] events__payload,
  output wire result__valid, input wire result__ready, output wire [32:0] result__payload);
  assign load__ready = 1'b1;
  assign events__ready = 1'b1;
  assign result__valid = 1'b0;
  assign result__payload = 33'd0;
endmodule
"""


def test_verilator_hung_core_is_reported(tmp_path):
    build = build_harness(HUNG_CORE, has_trace=False, cache_dir=tmp_path)
    samples = [np.array([[0, 1], [2, 0]]), np.zeros((0, 2), dtype=np.int64)]
    with Harness(build, stall_limit=1000) as h:
        assert h.load([1, 2, 3]) > 0  # the stand-in takes load words
        start = h.cycles
        with pytest.raises(ToolchainError) as info:
            h.run(batch_payloads(samples), len(samples), 16)
        # the call's first cycle (the wrapper's registers still quiet), the 4 event words, then
        # 1000 quiet cycles and the one that ends the call
        assert h.cycles - start == 1 + 4 + 1001
    assert str(info.value) == (
        "the harness stopped: no stream moved for 1000 cycles: 0 of 2 results received, "
        "4 of 4 event words taken")
