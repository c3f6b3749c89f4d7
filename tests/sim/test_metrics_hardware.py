"""Membrane updates from hardware counters agree with the per-step activity (via the cycle-cost
rule of sim.costmodel) on random networks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.core import CoreConfig, chunks
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.metrics import hardware_membrane_updates, membrane_updates
from ttfs.sim.random import random_case
from ttfs.sim.reference import run


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from([1, 2, 3, 8]))
def test_hardware_lane_visits_match_activity(seed, lanes):
    case = random_case(seed, n_samples=5, lanes=lanes)
    q = case.qnet
    core = CoreConfig.for_network(q, lanes=lanes)
    for n, r in enumerate(run(q, case.events, cost=cost_hook(core))):
        per_layer = membrane_updates(q, r)
        hw = hardware_membrane_updates(q, r, core)
        # lane visits = neuron visits with the padding lanes of each sweep's last chunk:
        # per layer, sweeps x C_l x P where sweeps = neuron visits / n_l
        padded = sum(v // layer.n_out * chunks(layer.n_out, lanes) * lanes
                     for v, layer in zip(per_layer, q.layers, strict=True))
        assert hw == padded, f"seed {seed} sample {n}"
        if lanes == 1:
            assert hw == sum(per_layer)
        assert r.counters.sweeps == sum(v // layer.n_out for v, layer in
                                        zip(per_layer, q.layers, strict=True))
