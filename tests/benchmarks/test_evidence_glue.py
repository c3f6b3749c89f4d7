"""benchmarks/evidence.py on made-up sweep tables and a tiny multi-spike network: the 3-seed
validation choice, the excess-spike count, the report (no training)."""

import json

import numpy as np
import pytest
from bench_scripts import load_script

from ttfs.sim.ir import Layer, QNet, save_events, save_qnet
from ttfs.sim.random import random_events
from ttfs.sim.reference import run


@pytest.fixture(scope="module")
def ev():
    return load_script("evidence")


def _net(tmp_path):
    """A 4-6-3 network whose hidden neurons reset by subtraction (they may fire again)."""
    rng = np.random.default_rng(3)
    q = QNet(4, 12, (Layer(rng.integers(20, 60, size=(4, 6)), 40, reset="subtract"),
                     Layer(rng.integers(0, 30, size=(6, 3)), 30)), 8, 16)
    qp, ep = tmp_path / "q.json", tmp_path / "e.json"
    save_qnet(q, qp)
    events = random_events(rng, q, 10)
    save_events(events, ep)
    return q, events, qp, ep


def _point(name, method, seed, val, acc, spikes=20.0, lam=None, **axes):
    p = {"point": name, "method": method, "seed": seed, "status": "done",
         "validation_accuracy": val, "integer_accuracy": acc, "hidden_spikes_per_sample": spikes,
         "never_firing_hidden": 0.1, "cycles_per_sample": 100 + spikes,
         "spikes_per_layer": [0.4 * spikes, 0.6 * spikes, 0.0],
         "sops_per_sample": 600 + 3 * spikes,
         "energy_pj": 1000 + 10 * spikes, **axes}
    if lam is not None:
        p["lam" if method == "excess" and "silence" in axes else f"{method}.lam"] = lam
    return p


def _write(root, sweep, points, qp, ep):
    for p in points:
        d = root / sweep / "points" / p["point"]
        d.mkdir(parents=True)
        (d / f"qnet_{p['method']}.json").write_text(qp.read_text())
        (d / "events.json").write_text(ep.read_text())
    (root / sweep / "results.json").write_text(json.dumps({"points": points}))


def _tables(root, qp, ep):
    one = [_point(f"b{s}", "baseline", s, 0.95 + s / 1000, 0.95, 30.0) for s in (0, 1, 2)]
    # lambda 1: validation mean 0.945 (within 1 point of 0.951); lambda 10: 0.93 (outside)
    one += [_point(f"e1_{s}", "excess", s, 0.945, 0.94, 10.0, 1.0) for s in (0, 1, 2)]
    one += [_point(f"e10_{s}", "excess", s, 0.93, 0.10 if s else 0.5, 0.0, 10.0)
            for s in (0, 1, 2)]
    two = [_point(f"n{s}", "excess", s, 0.90, 0.90, 5.0, 1.0, silence="none") for s in (0, 1, 2)]
    _write(root, "fontanini_one", one, qp, ep)
    _write(root, "fontanini_two", two, qp, ep)


def test_the_choice_is_on_the_three_seed_validation_mean(ev, tmp_path):
    *_, qp, ep = _net(tmp_path)
    _tables(tmp_path / "runs", qp, ep)
    runs = ev.load(tmp_path / "runs", ev.FONTANINI)
    assert ev.lambdas(runs, "excess, 1 phase") == [1.0, 10.0]
    assert ev.choose(runs, "excess, 1 phase", ev.BASELINE) == 1.0
    # the iso band is the baseline's validation std (0.08 point): lambda 1 is outside it
    assert ev.choose(runs, "excess, 1 phase", ev.BASELINE, "iso") is None
    # warm-up only: its one lambda is 5 points below on validation: none admissible
    assert ev.choose(runs, "excess, 2 phases, warm-up only", ev.BASELINE) is None
    assert ev.choose(runs, "excess, 2 phases, silence term in both", ev.BASELINE) is None


def test_excess_spikes_count_every_spike_after_a_neurons_first(ev, tmp_path):
    q, events, qp, ep = _net(tmp_path)
    d = tmp_path / "p"
    d.mkdir()
    (d / "qnet_excess.json").write_text(qp.read_text())
    (d / "events.json").write_text(ep.read_text())
    excess = ev.excess_spikes({"_dir": str(d), "_method": "excess"})
    want = []
    for r in run(q, events, trace=True):
        hidden = [int(n) for layer, _, n in r.trace if layer == 1]
        want.append(len(hidden) - len(set(hidden)))
    assert excess == pytest.approx(np.mean(want)) and np.mean(want) > 0  # it fires again
    assert (d / "excess.json").exists()  # cached


def test_the_report_counts_switched_off_seeds(ev, tmp_path):
    *_, qp, ep = _net(tmp_path)
    _tables(tmp_path / "runs", qp, ep)
    md = tmp_path / "f.md"
    ev.penalty_claim("fontanini", tmp_path / "runs", md, tmp_path / "fig")
    text = md.read_text()
    # lambda 10: two seeds at chance (10 classes: at most 20 % counts as switched off)
    assert "| excess, 1 phase | 10 | 93.0 ± 0.0 | 23.3 ± 18.9 |" in text
    assert "| 2 of 3 |" in text
    # the hidden layers' spikes per sample come from the points' spikes_per_layer
    assert "| excess, 1 phase | 1 (chosen: 1pt) | 94.5 ± 0.0 | 94.0 ± 0.0 | 4.0 / 6.0 |" in text
    assert "| excess, 2 phases, warm-up only | 1pt | none admissible |" in text
    assert (tmp_path / "fig" / "evidence_fontanini.png").stat().st_size > 0


def test_the_bn_loss_runaway_starts_at_its_local_maximum(ev):
    """b+ is where dL/db = 0 with d2L/db2 < 0, and beyond it the loss keeps falling."""
    import torch

    from ttfs.train.kernel import bn_spike_loss

    for g, x in ((1.0, 0.0), (0.7, 0.2), (1.6, 0.05)):
        b0 = float(ev.runaway_shift(g, x))
        b = torch.tensor([b0], dtype=torch.float64, requires_grad=True)
        gt = torch.tensor([g], dtype=torch.float64)
        (d,) = torch.autograd.grad(bn_spike_loss(gt, b, torch.tensor(x, dtype=torch.float64)),
                                   b, create_graph=True)
        (d2,) = torch.autograd.grad(d.sum(), b)
        assert abs(float(d.detach())) < 1e-9 and float(d2) < 0
        loss = [float(bn_spike_loss(gt, torch.tensor([v], dtype=torch.float64),
                                    torch.tensor(x, dtype=torch.float64)))
                for v in (b0 + 0.5, b0 + 1.0, b0 + 2.0)]
        assert loss[0] > loss[1] > loss[2]
    assert ev.runaway_shift(1.0, 0.0) == pytest.approx((2 / 7) ** 0.5)  # +0.53
