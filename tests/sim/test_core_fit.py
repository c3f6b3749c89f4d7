"""CoreConfig: parameter checks, fit problems with exact messages, for_network, JSON."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttfs.sim.core import CoreConfig, chunks, load_core, save_core, weight_rows
from ttfs.sim.errors import ConfigError, FitError
from ttfs.sim.ir import Layer, QNet
from ttfs.sim.random import random_qnet


def qnet(sizes=(5, 12, 3), T=32, wb=8, pb=16, kernel=1):
    layers = tuple(Layer(np.ones((a, b), dtype=np.int64), 3, kernel)
                   for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    return QNet(sizes[0], T, layers, wb, pb)


def test_chunks_and_weight_rows():
    # 5-12-3 on 8 lanes: layer 1: 5 rows x ceil(12/8)=2 chunks = 10; layer 2: 12 x ceil(3/8)=1
    assert chunks(12, 8) == 2 and chunks(8, 8) == 1 and chunks(1, 8) == 1
    assert weight_rows(qnet(), 8) == 22
    # 4 lanes: 5 x 3 + 12 x 1 = 27
    assert weight_rows(qnet(), 4) == 27


FIT_CASES = [
    (dict(weight_bits=6), [
        "the network has 8-bit weights; this core has 6-bit weights"]),
    (dict(potential_bits=24), [
        "the network has 16-bit potentials; this core has 24-bit potentials"]),
    (dict(max_layers=1), ["the network has 2 layers; this core has 1"]),
    (dict(max_time_steps=16), ["the network needs 32 time steps; this core has 16"]),
    (dict(max_neurons=4), [
        "the network has 5 inputs; this core has 4",
        "layer 1 needs 12 neurons; this core has 4",
    ]),
    (dict(weight_depth=21), ["the network needs 22 weight rows; this core has 21"]),
]


@pytest.mark.parametrize("params, problems", FIT_CASES)
def test_fit_problems_name_every_reason(params, problems):
    core = CoreConfig(**{**dict(lanes=8, max_neurons=16, max_layers=2, max_time_steps=32,
                                weight_depth=22), **params})
    q = qnet()
    assert core.fit_problems(q) == problems
    assert not core.fits(q)
    with pytest.raises(FitError) as exc:
        core.check_fits(q)
    assert str(exc.value) == problems[0]


def test_kernel_wider_than_the_table_does_not_fit():
    q = qnet(kernel=[1] * 31 + [300])
    core = CoreConfig(kernel_bits=8, max_neurons=16, max_time_steps=32)
    assert core.fit_problems(q) == [
        "layer 1 kernel entry 300 does not fit this core's 8-bit kernel table",
        "layer 2 kernel entry 300 does not fit this core's 8-bit kernel table",
    ]
    # 255 is the largest 8-bit entry
    assert CoreConfig(kernel_bits=8, max_neurons=16, max_time_steps=32).fits(
        qnet(kernel=[1] * 31 + [255]))


def test_narrower_network_weights_fit_a_wider_core():
    assert CoreConfig(weight_bits=8, max_neurons=16, max_time_steps=32).fits(qnet(wb=4))


def test_exact_fit_at_every_limit():
    # 5-12-3, T = 32, 8 lanes: 22 rows
    core = CoreConfig(lanes=8, max_neurons=12, max_layers=2, max_time_steps=32, weight_depth=22)
    assert core.fit_problems(qnet()) == []
    core.check_fits(qnet())


def test_for_network_picks_powers_of_two():
    core = CoreConfig.for_network(qnet(), lanes=4)
    assert core == CoreConfig(lanes=4, weight_bits=8, potential_bits=16, kernel_bits=1,
                              max_neurons=16, max_layers=2, max_time_steps=32, weight_depth=32,
                              leak=False, subtract=False)
    assert CoreConfig.for_network(qnet(), lanes=4, max_layers=3).max_layers == 3


def test_a_core_without_a_spiking_output_layer_runs_only_max_potential_networks():
    first = qnet()
    maxpot = QNet(5, 32, first.layers, 8, 16, "max_potential")
    assert CoreConfig.for_network(first).spiking_output
    lean = CoreConfig.for_network(maxpot)  # built only when the readout needs it
    assert not lean.spiking_output and lean.fit_problems(maxpot) == []
    assert CoreConfig.for_network(maxpot, spiking_output=True).spiking_output
    assert lean.fit_problems(first) == [
        "the network reads its output by first spike; this core was built without a spiking "
        "output layer (only max_potential networks fit)"]
    with pytest.raises(ConfigError, match="core spiking_output must be true or false, not 1"):
        CoreConfig(spiking_output=1)


def mode_qnet(leak_shift=0, reset="fire_once"):
    layers = (Layer(np.ones((5, 12), dtype=np.int64), 3, 1),
              Layer(np.ones((12, 3), dtype=np.int64), 3, 1, leak_shift, reset))
    return QNet(5, 32, layers, 8, 16)


def test_leak_and_subtract_are_built_only_when_used():
    for q, leak, subtract in ((mode_qnet(), False, False), (mode_qnet(leak_shift=2), True, False),
                              (mode_qnet(reset="subtract"), False, True),
                              (mode_qnet(reset="zero"), False, False)):
        core = CoreConfig.for_network(q)
        assert (core.leak, core.subtract) == (leak, subtract)
        assert core.fit_problems(q) == []


def test_a_core_without_leak_or_subtract_refuses_networks_that_need_them():
    lean = CoreConfig(max_neurons=16, max_time_steps=32, leak=False, subtract=False)
    assert lean.fit_problems(mode_qnet(leak_shift=3, reset="subtract")) == [
        "layer 2 leaks (leak_shift 3); this core was built without the leak datapath",
        "layer 2 uses the subtract reset; this core was built without it",
    ]
    with pytest.raises(FitError, match="layer 2 leaks"):
        lean.check_fits(mode_qnet(leak_shift=1))
    assert lean.fits(mode_qnet(reset="zero"))
    with pytest.raises(ConfigError) as exc:
        CoreConfig(leak=1)
    assert str(exc.value) == "core leak must be true or false, not 1"


def test_chunk_bounds_is_off_unless_asked_for_and_changes_no_fit():
    q = qnet()
    assert CoreConfig().chunk_bounds == 0
    assert CoreConfig.for_network(q).chunk_bounds == 0
    for n in (1, 2, 4, 8, 16):
        core = CoreConfig.for_network(q, chunk_bounds=n)
        assert core.chunk_bounds == n and core.fit_problems(q) == []


@pytest.mark.parametrize("value, message", [
    (3, "core chunk_bounds must be 0 or a power of two in 1..16, not 3"),
    (32, "core chunk_bounds must be 0 or a power of two in 1..16, not 32"),
    (-1, "core chunk_bounds must be 0 or a power of two in 1..16, not -1"),
    (True, "core chunk_bounds must be an integer, not True"),
    (4.0, "core chunk_bounds must be an integer, not 4.0"),
])
def test_bad_chunk_bounds(value, message):
    with pytest.raises(ConfigError) as exc:
        CoreConfig(chunk_bounds=value)
    assert str(exc.value) == message


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from([1, 2, 3, 4, 8, 16]))
def test_for_network_always_fits(seed, lanes):
    q = random_qnet(np.random.default_rng(seed), max_neurons=70, max_time_steps=40)
    core = CoreConfig.for_network(q, lanes=lanes)
    assert core.fit_problems(q) == []
    assert core.weight_depth >= weight_rows(q, lanes)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(lanes=0), "core lanes must be in 1..64, not 0"),
        (dict(lanes=65), "core lanes must be in 1..64, not 65"),
        (dict(potential_bits=1), "core potential_bits must be in 2..32, not 1"),
        (dict(kernel_bits=17), "core kernel_bits must be in 1..16, not 17"),
        (dict(weight_depth=0), "core weight_depth must be in 1..16777216, not 0"),
        (dict(max_neurons=2.0), "core max_neurons must be an integer, not 2.0"),
        (dict(max_layers=True), "core max_layers must be an integer, not True"),
    ],
)
def test_bad_parameters(params, message):
    with pytest.raises(ConfigError) as exc:
        CoreConfig(**params)
    assert str(exc.value) == message


def test_core_json_round_trip_and_refusals(tmp_path):
    core = CoreConfig(lanes=3, max_neurons=40, weight_depth=100)
    path = tmp_path / "core.json"
    save_core(core, path)
    assert load_core(path) == core
    lean = CoreConfig(lanes=3, leak=False)
    save_core(lean, path)
    assert load_core(path) == lean and '"leak": false' in path.read_text()
    bounded = CoreConfig(lanes=4, chunk_bounds=4)
    save_core(bounded, path)
    assert load_core(path) == bounded and '"chunk_bounds": 4' in path.read_text()
    assert CoreConfig.from_json(bounded.to_json()) == bounded
    with pytest.raises(ConfigError) as exc:
        CoreConfig.from_json({**bounded.to_json(), "chunk_bounds": 3})
    assert str(exc.value) == "core chunk_bounds must be 0 or a power of two in 1..16, not 3"
    # a core file from before the options means a core with both leak and subtract, a spiking
    # output layer and no chunk bounds (the format stays version 1)
    old = {k: v for k, v in core.to_json().items()
           if k not in ("leak", "subtract", "spiking_output", "chunk_bounds")}
    assert CoreConfig.from_json(old) == core
    with pytest.raises(ConfigError) as exc:
        CoreConfig.from_json({**core.to_json(), "clock": 100})
    assert str(exc.value) == (
        "core config has unknown field 'clock'; allowed: ['chunk_bounds', 'format', "
        "'kernel_bits', 'lanes', 'leak', 'max_layers', 'max_neurons', 'max_time_steps', "
        "'potential_bits', 'spiking_output', 'subtract', 'version', 'weight_bits', "
        "'weight_depth']"
    )
    with pytest.raises(ConfigError) as exc:
        CoreConfig.from_json({**core.to_json(), "version": 2})
    assert str(exc.value) == "unsupported ttfs.core version 2; this tool reads version 1"
    with pytest.raises(ConfigError) as exc:
        CoreConfig.from_json("core")
    assert str(exc.value) == "a core file must hold a JSON object, not str"
