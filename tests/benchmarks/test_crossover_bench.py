"""benchmarks/crossover.py on a tiny random network (no training): table, JSON and PNG."""

import json

import numpy as np
from bench_scripts import load_script

from ttfs.sim.ir import Layer, QNet, save_events, save_qnet
from ttfs.sim.random import random_events


def test_crossover_script_on_a_tiny_network(tmp_path, capsys):
    rng = np.random.default_rng(5)
    q = QNet(4, 10, (Layer(rng.integers(0, 50, size=(4, 8)), rng.integers(20, 90, size=10)),
                     Layer(rng.integers(0, 30, size=(8, 2)), 30)), 8, 16)
    qp, ep = tmp_path / "q.json", tmp_path / "e.json"
    save_qnet(q, qp)
    save_events(random_events(rng, q, 12), ep)
    mod = load_script("crossover")
    assert mod.main(["--case", f"tiny:{qp}:{ep}", "--factors", "0.5", "2", "--png",
                     str(tmp_path / "x.png"), "--json", str(tmp_path / "x.json")]) == 0
    out = capsys.readouterr().out
    assert "model estimate, not silicon" in out and "<- trained" in out
    doc = json.loads((tmp_path / "x.json").read_text())
    pts = doc["cases"]["tiny"]
    assert [p["factor"] for p in pts] == [0.5, 1.0, 2.0]
    act = [p["spikes_per_neuron"] for p in pts]
    assert act[0] >= act[1] >= act[2]
    assert "not measurements of silicon" in doc["note"]
    assert (tmp_path / "x.png").stat().st_size > 1000
