"""The energy crossover sweep (``sim.energy.crossover``): thresholds scaled, activity from the
reference model, energy from the cost model's counters. Tiny random networks; no training."""

import numpy as np
import pytest

from ttfs.sim.core import CoreConfig
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.energy import crossover, energy_report, scale_thresholds
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_events
from ttfs.sim.reference import run


def tiny(seed=0, T=12):
    # 6-16-3, fire_once: a hidden neuron's potential does not depend on its threshold until it
    # fires, so a higher threshold table can only remove hidden spikes
    rng = np.random.default_rng(seed)
    hidden = Layer(rng.integers(-20, 60, size=(6, 16)), rng.integers(20, 120, size=T), 1)
    out = Layer(rng.integers(-10, 40, size=(16, 3)), 40, 1)
    q = QNet(6, T, (hidden, out), 8, 16)
    ev = random_events(rng, q, 40)
    return q, EventSet(ev.samples, rng.integers(0, 3, size=len(ev)))


def test_scale_thresholds_scales_hidden_tables_only():
    q, _ = tiny()
    top = (1 << 15) - 1
    th = q.layers[0].threshold.copy()
    th[0], th[1] = top, 1
    q = QNet(q.n_inputs, q.time_steps, (Layer(q.layers[0].weights, th, 1), q.layers[1]), 8, 16)
    s = scale_thresholds(q, 2.5)
    expect = np.clip(np.rint(th * 2.5), 1, top)
    expect[0] = top  # a blocking entry stays blocking
    assert s.layers[0].threshold.tolist() == expect.tolist()
    assert s.layers[0].threshold[1] == 2  # rint(2.5) = 2 (round half to even)
    assert s.layers[1].threshold.tolist() == q.layers[1].threshold.tolist()
    lo = scale_thresholds(q, 0.001).layers[0].threshold
    assert lo[0] == top and lo[2:].min() >= 1
    assert scale_thresholds(q, 1.0).layers[0].threshold.tolist() == th.tolist()
    with pytest.raises(ConfigError) as exc:
        scale_thresholds(q, 0)
    assert str(exc.value) == "a threshold scale factor must be a positive number, not 0"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_activity_is_monotone_in_the_scale(seed):
    q, ev = tiny(seed)
    core = CoreConfig.for_network(q, lanes=4)
    pts = crossover(q, ev, core, factors=(4.0, 0.25, 0.5, 2.0))  # any order; 1.0 added
    assert [p["factor"] for p in pts] == [0.25, 0.5, 1.0, 2.0, 4.0]
    assert [p["trained"] for p in pts] == [False, False, True, False, False]
    act = [p["spikes_per_neuron"] for p in pts]
    assert all(a >= b for a, b in zip(act, act[1:], strict=False))
    assert act[0] > act[-1]  # the sweep does move the activity
    assert len({p["ann_pj"] for p in pts}) == 1  # the dense ANN does not depend on activity


def test_points_are_the_energy_report_of_the_scaled_network():
    q, ev = tiny(3)
    core = CoreConfig.for_network(q, lanes=4)
    (pt,) = [p for p in crossover(q, ev, core, factors=(2.0,)) if p["factor"] == 2.0]
    s = scale_thresholds(q, 2.0)
    res = run(s, ev, cost=cost_hook(core))
    rep = energy_report(s, res, core=core)
    assert pt["snn_pj"] == rep["snn_pj"]["total"]
    assert pt["ann_pj"] == rep["dense_ann"]["total_pj"]
    spl = np.array([r.counters.spikes_per_layer for r in res])
    assert pt["spikes_per_neuron"] == pytest.approx(spl[:, 0].mean() / 16)
    assert pt["cycles"] == pytest.approx(np.mean([r.cycles for r in res]))
    acc = np.mean([r.prediction == y for r, y in zip(res, ev.labels, strict=True)])
    assert pt["accuracy"] == pytest.approx(acc)
