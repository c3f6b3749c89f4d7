"""The native Verilator harness equals the reference model on many random networks.

One harness build per core configuration (:data:`verify.differential.COSIM_CORES`) runs
many networks by reloading images through the core's load stream. Every sample is compared
with :func:`sim.reference.run` (``trace=True``, ``cost=sim.costmodel.cost_hook(core)``) by
integer equality: prediction, validity, steps, cycles, every counter and the spike trace event
by event. Seeds are in the failure message; ``random_case(seed, core=core)`` replays a case.
"""

from __future__ import annotations

import numpy as np
import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.random import random_case, random_events
from ttfs.sim.reference import run
from ttfs.verify.differential import COSIM_CORES
from ttfs.verify.verilator import VerilatorBackend

pytestmark = pytest.mark.cosim

N_NETWORKS = 30
N_SAMPLES = 10


@pytest.fixture(scope="module")
def backends():
    made = {}

    def get(idle: int = 0) -> VerilatorBackend:
        if idle not in made:
            made[idle] = VerilatorBackend(idle_percent=idle, seed=7 + idle)
        return made[idle]

    yield get
    for b in made.values():
        b.close()


def _expected(qnet, events, core):
    from ttfs.sim.costmodel import cost_hook

    return run(qnet, events, trace=True, cost=cost_hook(core))


@pytest.mark.parametrize("name", sorted(COSIM_CORES))
def test_verilator_random_networks_equal_reference(name, backends):
    core = COSIM_CORES[name]
    backend = backends(0)
    compared = spikes = 0
    for k in range(N_NETWORKS):
        seed = 50_000 + 1_000 * core.lanes + k
        case = random_case(seed, n_samples=N_SAMPLES, core=core)
        image = pack(case.qnet, case.events, core)
        got = backend.run(image, trace=True)
        exp = _expected(case.qnet, case.events, core)
        check_equal(exp, got, backend="verilator", label=f"core {name}, seed {seed}")
        compared += len(got)
        spikes += sum(len(r.trace) for r in exp)
    assert compared == N_NETWORKS * N_SAMPLES
    assert spikes > 0  # the random networks do spike, so the trace comparison is not vacuous


@pytest.mark.parametrize("name", ["p3", "p8"])
def test_verilator_idle_and_backpressure_do_not_change_results(name, backends):
    """Random idle input cycles and withheld ready on the outputs: same records and cycles
    (the core's cycle counter excludes stalls)."""
    core = COSIM_CORES[name]
    backend = backends(35)
    for k in range(8):
        seed = 70_000 + 1_000 * core.lanes + k
        case = random_case(seed, n_samples=N_SAMPLES, core=core)
        got = backend.run(pack(case.qnet, case.events, core), trace=True)
        check_equal(_expected(case.qnet, case.events, core), got, backend="verilator",
                    label=f"core {name}, idle/backpressure 35%, seed {seed}")


def test_verilator_full_size_network_equals_reference(backends):
    """A network as large as the core allows (every chunk, every step), without a trace."""
    core = COSIM_CORES["p4"]
    rng = np.random.default_rng(4)
    lim = (1 << (core.weight_bits - 1)) - 1
    n = core.max_neurons
    layers = (
        Layer(rng.integers(-lim // 2, lim + 1, size=(n, n)), threshold=2 * lim, leak_shift=2,
              reset="zero"),
        Layer(rng.integers(-lim // 2, lim + 1, size=(n, n - 1)), threshold=2 * lim,
              reset="subtract"),
        Layer(rng.integers(-lim // 2, lim + 1, size=(n - 1, 5)), threshold=lim),
    )
    q = QNet(n, core.max_time_steps, layers, core.weight_bits, core.potential_bits,
             "first_spike", False)
    events = random_events(rng, q, 40)
    got = backends(0).run(pack(q, events, core))
    exp = _expected(q, events, core)
    for r in exp:
        r.trace = None
    check_equal(exp, got, backend="verilator", label="full-size network on p4",
                compare_trace=False)
    assert sum(r.counters.sops for r in got) > 0


def test_verilator_empty_and_dense_samples(backends):
    """An empty sample (just the end word) and a sample where every input fires every step."""
    core = COSIM_CORES["p3"]
    case = random_case(123, n_samples=1, core=core)
    q = case.qnet
    dense = np.array([[t, i] for t in range(q.time_steps) for i in range(q.n_inputs)])
    events = EventSet((np.zeros((0, 2), dtype=np.int64), dense, np.zeros((0, 2), dtype=np.int64)))
    got = backends(0).run(pack(q, events, core), trace=True)
    check_equal(_expected(q, events, core), got, backend="verilator",
                label="empty and dense samples")
    assert got[0].counters.input_events == 0
    # every input event up to the last step run (an early exit ends the sample sooner)
    assert got[1].counters.input_events == int((dense[:, 0] < got[1].steps).sum()) > 0


def test_verilator_parallel_models_equal_reference():
    """``jobs=3``: the samples split over three models on three threads; same results, in order,
    traces included, and a sample count that does not divide evenly."""
    core = COSIM_CORES["p8"]
    backend = VerilatorBackend(jobs=3)
    try:
        for k in range(4):
            seed = 90_000 + k
            case = random_case(seed, n_samples=10 + k, core=core)
            got = backend.run(pack(case.qnet, case.events, core), trace=True)
            check_equal(_expected(case.qnet, case.events, core), got, backend="verilator",
                        label=f"jobs=3, seed {seed}")
        assert len(backend._harnesses) == 3
    finally:
        backend.close()
