"""The image model (runs from the packed words) equals the reference model on every sample."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ttfs.sim.reference
from ttfs.sim.core import CoreConfig
from ttfs.sim.image import Image, ImageBackend, pack, run_image
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.numeric import smax, smin
from ttfs.sim.random import random_case
from ttfs.sim.reference import run, run_sample
from ttfs.verify.backends import get_backend

LANES = (1, 2, 3, 4, 8)


def assert_same(ref, got, where: str) -> None:
    assert got.prediction == ref.prediction, f"{where}: prediction"
    assert got.valid is True, where
    assert got.steps == ref.steps, f"{where}: steps"
    assert got.counters == ref.counters, f"{where}: counters {got.counters} != {ref.counters}"
    assert got.trace.shape == ref.trace.shape, f"{where}: trace shape"
    assert np.array_equal(got.trace, ref.trace), f"{where}: trace"
    assert got.activity.steps == ref.activity.steps, where
    assert np.array_equal(got.activity.events_in, ref.activity.events_in), f"{where}: events_in"
    assert np.array_equal(got.activity.spikes, ref.activity.spikes), f"{where}: spikes"


def check_sops(qnet: QNet, res, where: str) -> None:
    """``sops`` = sum over events of the receiving layer's size, counted from the trace."""
    sizes = [layer.n_out for layer in qnet.layers]
    per_layer = [int((res.trace[:, 0] == k).sum()) for k in range(1, len(sizes) + 1)]
    expected = res.counters.input_events * sizes[0] + sum(
        per_layer[k] * sizes[k + 1] for k in range(len(sizes) - 1))
    assert res.counters.sops == expected, where
    assert list(res.counters.spikes_per_layer) == per_layer, where


def case_core(seed: int) -> CoreConfig | None:
    """Every third seed packs for a 16-bit-weight core, so rows span several words."""
    if seed % 3:
        return None
    return CoreConfig(lanes=LANES[seed % 5], weight_bits=16, potential_bits=12, kernel_bits=3,
                      max_neurons=24, max_layers=3, max_time_steps=16, weight_depth=2048)


def test_image_model_equals_reference_on_240_seeded_cases():
    for seed in range(240):
        core = case_core(seed)
        if core is None:
            case = random_case(seed, n_samples=8, lanes=LANES[seed % 5],
                               max_weight_bits=16 if seed % 2 else 8)
        else:
            case = random_case(seed, n_samples=8, core=core, max_weight_bits=16)
        image = pack(case.qnet, case.events, case.core)
        ref = run(case.qnet, case.events, trace=True)
        got = run_image(image, trace=True)
        assert len(got) == len(ref)
        for n, (r, g) in enumerate(zip(ref, got, strict=True)):
            where = f"seed {seed} lanes {case.core.lanes} sample {n}"
            assert_same(r, g, where)
            check_sops(case.qnet, g, where)
            assert g.cycles is None and g.counters.weight_reads is None


def test_image_model_equals_the_spec_on_seeded_cases():
    for seed in range(500, 560):
        case = random_case(seed, n_samples=6, lanes=LANES[seed % 5])
        got = run_image(pack(case.qnet, case.events, case.core), trace=True)
        for n, g in enumerate(got):
            assert_same(run_sample(case.qnet, case.events.samples[n]), g, f"seed {seed} sample {n}")


def test_without_trace_the_results_are_the_same():
    case = random_case(42, n_samples=10, lanes=3)
    image = pack(case.qnet, case.events, case.core)
    with_t = run_image(image, trace=True)
    without = run_image(image)
    for a, b in zip(with_t, without, strict=True):
        assert b.trace is None
        assert (a.prediction, a.steps, a.counters) == (b.prediction, b.steps, b.counters)


def test_blocks_of_samples_do_not_change_results():
    case = random_case(9, n_samples=13, lanes=2)
    image = pack(case.qnet, case.events, case.core)
    whole = run_image(image, trace=True)
    blocked = run_image(image, trace=True, block=4)
    for n, (a, b) in enumerate(zip(whole, blocked, strict=True)):
        assert_same(a, b, f"sample {n}")


def test_saturating_adds_in_event_order():
    # 4-bit potentials (-8..7), one lane so each neuron is its own chunk. Neuron 0 takes
    # +5, +5, -5 in input order: 0 -> 5 -> 7 (saturated; 10 clipped) -> 2, where the exact sum
    # would be 5. Neuron 1 takes +1 three times -> 3. max_potential: argmax(2, 3) = 1.
    w = np.array([[5, 1], [5, 1], [-5, 1]])
    qnet = QNet(3, 1, (Layer(w, 1),), weight_bits=4, potential_bits=4, readout="max_potential")
    image = pack(qnet, EventSet(([[0, 0], [0, 1], [0, 2]],)), CoreConfig.for_network(qnet, lanes=1))
    (res,) = run_image(image, trace=True)
    assert res.prediction == 1
    assert res.counters.saturations == 1
    assert res.counters.sops == 6 and res.counters.input_events == 3
    assert res.trace.shape == (0, 3)


def test_padding_lanes_never_win_the_readout():
    # 3 neurons on 4 lanes: the padding lane's potential is 0, above every real neuron's
    w = np.array([[-3, -1, -2]])
    qnet = QNet(1, 1, (Layer(w, 1),), weight_bits=4, potential_bits=8, readout="max_potential")
    image = pack(qnet, EventSet(([[0, 0]],)), CoreConfig.for_network(qnet, lanes=4))
    (res,) = run_image(image)
    assert res.prediction == 1


def test_fire_once_leak_and_early_exit_hand_case():
    # layer 1: 2 -> 2, fire_once, threshold 4, leak >>1; layer 2: 2 -> 2 subtract threshold 3
    # t=0: input 0 -> V1 = [4, 2] -> neuron 0 fires (then leaks 4 -> 2), neuron 1 leaks 2 -> 1
    #      layer 2 gets event 0: V2 = [3, 1] -> neuron 0 fires -> subtract -> 0; early exit
    l1 = Layer([[4, 2], [0, 0]], 4, 1, 1, "fire_once")
    l2 = Layer([[3, 1], [0, 0]], 3, 1, 0, "subtract")
    qnet = QNet(2, 5, (l1, l2), weight_bits=4, potential_bits=8, early_exit=True)
    image = pack(qnet, EventSet(([[0, 0], [1, 1]],)), CoreConfig.for_network(qnet, lanes=2))
    (res,) = run_image(image, trace=True)
    assert res.trace.tolist() == [[1, 0, 0], [2, 0, 0]]
    assert res.steps == 1 and res.prediction == 0
    assert res.counters.input_events == 1  # the event at t=1 is never integrated
    assert res.counters.spikes_per_layer == (1, 1)
    assert res.counters.sops == 2 + 2


def test_image_model_runs_from_the_words_not_the_qnet(monkeypatch):
    case = random_case(5, n_samples=6, lanes=2)
    image = pack(case.qnet, case.events, case.core)
    expected = run(case.qnet, case.events, trace=True)
    # a different network carried beside the same words: the model must ignore it
    other = QNet(case.qnet.n_inputs, case.qnet.time_steps,
                 tuple(Layer(np.zeros_like(lay.weights), lay.threshold, lay.kernel,
                             lay.leak_shift, lay.reset) for lay in case.qnet.layers),
                 case.qnet.weight_bits, case.qnet.potential_bits, case.qnet.readout,
                 case.qnet.early_exit)
    swapped = Image(other, image.core, image.events, image.net_words, image.event_words)

    def forbidden(*args, **kwargs):
        raise AssertionError("the image model must not call the reference model")

    monkeypatch.setattr(ttfs.sim.reference, "run", forbidden)
    monkeypatch.setattr(ttfs.sim.reference, "run_sample", forbidden)
    got = run_image(swapped, trace=True)
    for n, (r, g) in enumerate(zip(expected, got, strict=True)):
        assert_same(r, g, f"sample {n}")


def test_image_backend_is_registered():
    backend = get_backend("image")
    assert isinstance(backend, ImageBackend) and backend.name == "image"
    case = random_case(21, n_samples=4, lanes=4)
    image = pack(case.qnet, case.events, case.core)
    ref = get_backend("reference").run(image, trace=True)
    got = backend.run(image, trace=True)
    for n, (r, g) in enumerate(zip(ref, got, strict=True)):
        assert_same(r, g, f"sample {n}")


def test_run_image_refuses_non_images():
    with pytest.raises(TypeError, match="image must be an Image, not list"):
        run_image([1, 2, 3])


# -- property tests: tiny networks built by hypothesis, against the spec ---------------------


@st.composite
def tiny_networks(draw):
    pb = draw(st.integers(2, 10))
    wb = draw(st.integers(2, min(pb, 8)))
    T = draw(st.integers(1, 5))
    sizes = [draw(st.integers(1, 4))] + draw(st.lists(st.integers(1, 7), min_size=1, max_size=3))
    readout = draw(st.sampled_from(READOUTS))
    early = readout == "first_spike" and draw(st.booleans())
    weight = st.integers(smin(wb), smax(wb))
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        w = draw(st.lists(st.lists(weight, min_size=b, max_size=b), min_size=a, max_size=a))
        th_v = st.integers(1, smax(pb))
        th = draw(th_v | st.lists(th_v, min_size=T, max_size=T))
        k_v = st.integers(0, 3)
        k = draw(k_v | st.lists(k_v, min_size=T, max_size=T))
        leak = draw(st.integers(0, pb - 1))
        layers.append(Layer(w, th, k, leak, draw(st.sampled_from(RESET_MODES))))
    qnet = QNet(sizes[0], T, tuple(layers), wb, pb, readout, early)
    pairs = st.tuples(st.integers(0, T - 1), st.integers(0, sizes[0] - 1))
    samples = draw(st.lists(st.sets(pairs), min_size=1, max_size=4))
    events = EventSet(tuple(sorted(s) if s else [] for s in samples))
    lanes = draw(st.sampled_from(LANES + (5,)))
    core = CoreConfig.for_network(qnet, lanes=lanes, weight_bits=draw(st.integers(wb, 16)))
    return qnet, events, core


@settings(max_examples=150, deadline=None)
@given(case=tiny_networks())
def test_property_image_model_equals_spec(case):
    qnet, events, core = case
    got = run_image(pack(qnet, events, core), trace=True)
    for n, g in enumerate(got):
        ref = run_sample(qnet, events.samples[n])
        assert_same(ref, g, f"sample {n}")
        check_sops(qnet, g, f"sample {n}")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lanes=st.sampled_from(LANES))
def test_property_image_model_equals_reference_on_random_cases(seed, lanes):
    case = random_case(seed, n_samples=6, lanes=lanes)
    ref = run(case.qnet, case.events, trace=True)
    got = run_image(pack(case.qnet, case.events, case.core), trace=True)
    for n, (r, g) in enumerate(zip(ref, got, strict=True)):
        assert_same(r, g, f"seed {seed} sample {n}")
