"""The cocotb-free half of the benches: the expectation model and the job files. (The stream
codecs and the comparator they use are sim.protocol and sim.compare: tests/sim.)"""

import numpy as np
import pytest

from ttfs.sim.compare import sample_divergence
from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.protocol import (
    END,
    EVENT_ORDER,
    EVENT_RANGE,
    LOAD_CHECKSUM,
    NO_IMAGE,
    event_payloads,
    load_payloads,
)
from ttfs.sim.reference import run
from ttfs.verify.differential import (
    BenchOptions,
    ExpectModel,
    Program,
    read_job,
    write_job,
)


def _qnet():
    w = np.array([[5, -2, 3], [4, 4, -1]])
    return QNet(2, 6, (Layer(w, threshold=6),), weight_bits=4, potential_bits=8)


def test_expect_model_flags_bad_samples_and_missing_image():
    model = ExpectModel(CoreConfig(lanes=2))
    e = model.sample([END])
    assert not e.valid and e.required == NO_IMAGE
    model.load(_qnet(), LOAD_CHECKSUM)
    e = model.sample([END])
    assert e.required == LOAD_CHECKSUM and e.allowed == LOAD_CHECKSUM | NO_IMAGE
    model.load(_qnet())
    e = model.sample(event_payloads([[2, 1], [1, 0]]))
    assert (e.required, e.allowed) == (EVENT_ORDER, EVENT_ORDER)
    e = model.sample(event_payloads([[1, 2]]))
    assert (e.required, e.allowed) == (EVENT_RANGE, EVENT_RANGE)
    assert e.why == "event 0 (t=1, input=2) is out of range"
    e = model.sample(event_payloads([[6, 0]]))
    assert e.required == EVENT_RANGE
    e = model.sample(event_payloads([[1, 1], [1, 1]]))
    assert e.required == EVENT_ORDER
    e = model.sample(event_payloads([[3, 0], [1, 5]]))
    assert (e.required, e.allowed) == (0, EVENT_ORDER | EVENT_RANGE)


def test_expect_model_refuses_payloads_without_one_end_word():
    model = ExpectModel(CoreConfig(lanes=2))
    with pytest.raises(ConfigError, match="^a sample's payloads must end with exactly one end"):
        model.sample([1, END, END])


def test_expect_model_valid_sample_is_the_reference():
    from ttfs.sim.costmodel import cost_hook

    core = CoreConfig(lanes=2, weight_bits=4, potential_bits=8, max_neurons=8, max_layers=2,
                      max_time_steps=8, weight_depth=64)
    q = _qnet()
    model = ExpectModel(core)
    model.load(q)
    rows = np.array([[0, 0], [0, 1], [3, 1]])
    e = model.sample(event_payloads(rows))
    ref = run(q, EventSet((rows,)), trace=True, cost=cost_hook(core))[0]
    assert e.valid and sample_divergence(ref, e.result) is None
    assert e.result.cycles == ref.cycles and e.result.cycles is not None


def test_job_file_round_trip(tmp_path):
    core = CoreConfig(lanes=3)
    prog = Program("seed 4", samples=[event_payloads([[0, 1]])], load=load_payloads([1, 2]),
                   qnet=_qnet(), load_flag=LOAD_CHECKSUM)
    write_job(tmp_path / "job.json", core, [prog], BenchOptions(seed=9, idle=0.25))
    core2, progs, opts = read_job(tmp_path / "job.json")
    assert core2 == core and opts.seed == 9 and opts.idle == 0.25
    assert progs[0].samples == prog.samples and progs[0].load == prog.load
    assert progs[0].qnet.equals(prog.qnet) and progs[0].load_flag == LOAD_CHECKSUM


def test_bench_options_refuse_probabilities_outside_0_1():
    msg = r"^backpressure probability must be in \[0, 1\), not 1.0$"
    with pytest.raises(ConfigError, match=msg):
        BenchOptions(backpressure=1.0)
