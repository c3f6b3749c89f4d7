"""``ttfs sim --workers N``: the samples split over Ray actors, each with its own model, give
exactly the results of one model (flows/sweep.py: run_sharded)."""

from __future__ import annotations

import json

import pytest

from ttfs.flows.cli import main
from ttfs.sim.image import pack, save_image
from ttfs.sim.random import random_case


@pytest.mark.cosim
def test_sharded_verilator_sim_equals_one_model(tmp_path, capsys):
    case = random_case(seed=6, n_samples=11, lanes=4)
    img = tmp_path / "r.img"
    save_image(pack(case.qnet, case.events, case.core), img)
    one, shards = tmp_path / "one.json", tmp_path / "shards.json"
    assert main(["sim", str(img), "--backend", "verilator", "--trace", "-o", str(one)]) == 0
    assert main(["sim", str(img), "--backend", "verilator", "--trace", "--workers", "3", "-o",
                 str(shards)]) == 0
    a, b = json.loads(one.read_text()), json.loads(shards.read_text())
    assert len(a["samples"]) == 11 and any(s["trace"] for s in a["samples"])
    assert b["samples"] == a["samples"]
    assert {k: v for k, v in b.items() if k != "seconds"} == {
        k: v for k, v in a.items() if k != "seconds"}
    capsys.readouterr()
    assert main(["sim", str(img), "--backend", "verilator", "--jobs", "2", "--workers",
                 "2"]) == 2
    assert capsys.readouterr().err == ("ttfs sim: error: give --jobs (threads) or "
                                       "--workers/--address (Ray), not both\n")
