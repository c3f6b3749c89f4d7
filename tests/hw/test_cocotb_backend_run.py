"""The cocotb backend returns the reference's results, and its lockstep checker does fail."""

import numpy as np
import pytest

from ttfs.sim.compare import check_equal
from ttfs.sim.costmodel import cost_hook
from ttfs.sim.errors import MismatchError
from ttfs.sim.image import pack
from ttfs.sim.protocol import event_payloads
from ttfs.sim.random import random_case
from ttfs.sim.reference import run
from ttfs.verify.backends import get_backend
from ttfs.verify.cocotb_backend import KEPT, CocotbBackend, run_job
from ttfs.verify.differential import (
    COSIM_CORES,
    BenchOptions,
    Program,
    program_for,
)

pytestmark = pytest.mark.cosim

CORE = COSIM_CORES["p4"]


def test_backend_results_equal_reference(cocotb_build):
    build = cocotb_build(CORE)
    # the build keeps only its executable, its Verilog and its log: the runs below use that
    assert sorted(p.name for p in build.dir.iterdir()) == sorted(
        [build.toplevel, f"{build.toplevel}.v", *KEPT])
    case = random_case(41, n_samples=6, core=CORE)
    img = pack(case.qnet, case.events, CORE)
    backend = get_backend("cocotb")
    assert isinstance(backend, CocotbBackend) and backend.name == "cocotb"
    got = backend.run(img, trace=True)
    ref = run(case.qnet, case.events, trace=True, cost=cost_hook(CORE))
    check_equal(ref, got, backend="cocotb")
    assert sum(len(r.trace) for r in got) > 0
    plain = backend.run(img)
    assert all(r.trace is None for r in plain)
    check_equal(ref, plain, backend="cocotb", compare_cycles=True)


def test_lockstep_checker_names_the_first_divergence(cocotb_build):
    """The bench's model is told the wrong network: the run must stop at sample 0."""
    a = random_case(42, n_samples=3, core=CORE)
    img = pack(a.qnet, a.events, CORE)
    prog = program_for(img, name="wrong model")
    # same sizes, weights negated: the reference now predicts different spikes/counters
    layers = tuple(type(layer)(np.clip(-layer.weights, -(1 << (CORE.weight_bits - 1)),
                                       (1 << (CORE.weight_bits - 1)) - 1),
                               layer.threshold, layer.kernel, layer.leak_shift, layer.reset)
                   for layer in a.qnet.layers)
    wrong = type(a.qnet)(a.qnet.n_inputs, a.qnet.time_steps, layers, a.qnet.weight_bits,
                         a.qnet.potential_bits, a.qnet.readout, a.qnet.early_exit)
    bad = Program(prog.name, samples=prog.samples, load=prog.load, qnet=wrong)
    dense = np.argwhere(np.ones((a.qnet.time_steps, a.qnet.n_inputs), dtype=bool))
    bad.samples = [event_payloads(dense)] + bad.samples
    with pytest.raises(MismatchError, match=r"^cocotb: wrong model, sample 0: "):
        run_job(CORE, [bad], BenchOptions(seed=2), build=cocotb_build(CORE))
