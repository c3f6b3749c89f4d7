"""train.snn: the pure neuron step (every reset mode, leak, held thresholds), the surrogate, the
readout rule, and the module's config checks."""

from __future__ import annotations

import pytest
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.snn import (
    TH_BLOCK,
    Forward,
    NetConfig,
    NeuronParams,
    NeuronState,
    SpikeFn,
    TTFSNet,
    predict,
    step,
)

pytestmark = pytest.mark.train


def _p(reset, shift=0, mode="int", th=10, spiking=True, lo=-128, hi=127):
    return NeuronParams(th, reset, shift, lo, hi, mode, 5.0, spiking)


def _state(v, fired=None):
    v = torch.tensor([v], dtype=torch.int64)
    f = torch.zeros_like(v) if fired is None else torch.tensor([fired], dtype=torch.int64)
    return NeuronState(v, f)


def test_fire_once_fires_once_and_leaks_only_unfired_neurons():
    # neurons: below threshold, reaches it, already fired
    s, st = step(torch.tensor([[3, 4, 50]]), _state([4, 6, 30], [0, 0, 1]), _p("fire_once", 1))
    assert s.tolist() == [[0, 1, 0]]
    assert st.fired.tolist() == [[0, 1, 1]]
    # 7 - (7 >> 1) = 4; the neuron that fired this step still leaks: 10 - 5 = 5; the one that
    # fired earlier integrates but neither fires nor leaks: 80
    assert st.v.tolist() == [[4, 5, 80]]


def test_zero_and_subtract_resets():
    s, st = step(torch.tensor([[15, 25]]), _state([0, 0]), _p("zero"))
    assert s.tolist() == [[1, 1]] and st.v.tolist() == [[0, 0]]
    s, st = step(torch.tensor([[15, 25]]), _state([0, 0]), _p("subtract"))
    assert s.tolist() == [[1, 1]] and st.v.tolist() == [[5, 15]]


def test_leak_is_an_arithmetic_shift_in_int_and_a_factor_in_float():
    _, st = step(torch.tensor([[-7, 7]]), _state([0, 0]), _p("subtract", 2, th=100))
    assert st.v.tolist() == [[-7 - (-7 >> 2), 7 - (7 >> 2)]] == [[-5, 6]]
    v = torch.tensor([[-7.0, 7.0]])
    p = NeuronParams(100.0, "subtract", 2, -128.0, 127.0, "float", 5.0)
    _, st = step(v, NeuronState(torch.zeros(1, 2), torch.zeros(1, 2)), p)
    assert st.v.tolist() == [[-7.0 * 0.75, 7.0 * 0.75]]
    p = p._replace(mode="qat")
    _, st = step(v, NeuronState(torch.zeros(1, 2), torch.zeros(1, 2)), p)
    assert st.v.tolist() == [[-5.0, 6.0]]


def test_saturation_is_a_clamp_and_non_spiking_layers_only_integrate():
    s, st = step(torch.tensor([[100, -100]]), _state([100, -100]), _p("zero", 3, spiking=False))
    assert s.tolist() == [[0, 0]] and st.v.tolist() == [[127, -128]]


def test_surrogate_gradient_is_a_fast_sigmoid():
    u = torch.tensor([-1.0, 0.0, 0.5], requires_grad=True)
    out = SpikeFn.apply(u, 4.0)
    assert out.tolist() == [0.0, 1.0, 1.0]
    out.sum().backward()
    assert u.grad.tolist() == pytest.approx([1 / 25, 1.0, 1 / 9])


def test_held_threshold_blocks_gradient_but_not_the_exact_comparison():
    v = torch.tensor([[5.0]], requires_grad=True)
    p = NeuronParams(4.0, "fire_once", 0, -100.0, 100.0, "qat", 5.0, True, True)
    s, _ = step(v, NeuronState(torch.zeros(1, 1), torch.zeros(1, 1)), p)
    assert s.tolist() == [[1.0]] and not s.requires_grad


def test_forward_returns_the_same_type_in_every_mode():
    cfg = NetConfig(sizes=(3, 5, 2), time_steps=6, resets=("fire_once", "zero"),
                    leak_shifts=(0, 1), th_start=(1.0, 1.0), th_end=(0.5, 1.0), th_hold=(2, 0))
    net = TTFSNet(cfg, torch.Generator().manual_seed(0))
    assert net.threshold_table(0)[:2].tolist() == [TH_BLOCK, TH_BLOCK]
    assert net.threshold_table(0)[2:].tolist() == pytest.approx([1.0, 0.833333, 0.666667, 0.5],
                                                                 rel=1e-5)
    x = (torch.rand(6, 4, 3, generator=torch.Generator().manual_seed(1)) < 0.4).float()
    for mode in ("float", "qat"):
        f = net(x, mode)
        assert isinstance(f, Forward)
        assert [s.shape for s in f.spikes] == [(6, 4, 5), (6, 4, 2)]
        assert f.logits.shape == (4, 2) and f.t_first.shape == (4, 2)


def test_predict_first_spike_ties_and_fallback():
    T, B, n = 3, 3, 3
    out = torch.zeros(T, B, n)
    out[1, 0, 2] = out[1, 0, 1] = 1  # sample 0: tie at t=1 -> lowest index 1
    out[0, 1, 2] = out[2, 1, 0] = 1  # sample 1: earliest is neuron 2
    v = torch.tensor([[0.0, 0, 0], [0, 0, 0], [1.0, 3.0, 3.0]])  # sample 2: no spike -> argmax
    f = Forward([out], v, torch.zeros(B, n), torch.zeros(B, n), [])
    assert predict(f, "first_spike").tolist() == [1, 2, 1]
    assert predict(f, "max_potential").tolist() == [0, 0, 1]


def test_config_errors_name_the_problem():
    with pytest.raises(ConfigError) as exc:
        NetConfig(sizes=(3, 2), time_steps=4, resets=("hold",), leak_shifts=(0,))
    assert str(exc.value) == (
        "Reset mode must be one of 'fire_once', 'zero', 'subtract', not 'hold'")
    with pytest.raises(ConfigError, match=r"resets needs one entry per layer \(2\), got 1"):
        NetConfig(sizes=(3, 2, 2), time_steps=4, resets=("zero",), leak_shifts=(0, 0))
    with pytest.raises(ConfigError, match="th_hold must be in 0..time_steps-1"):
        NetConfig(sizes=(3, 2), time_steps=4, resets=("zero",), leak_shifts=(0,), th_hold=(4,))


@pytest.mark.parametrize("reset", ["fire_once", "subtract"])
def test_closed_form_shortcuts_equal_the_step_loop(reset):
    """The integrate-only prefix (cumsum) and the fire_once tail give the loop's spikes and
    outputs exactly in qat mode, and its gradients (up to float summation order)."""
    cfg = NetConfig(sizes=(3, 7, 2), time_steps=12, resets=(reset, "fire_once"),
                    leak_shifts=(0, 0), readout="max_potential", th_start=(2.0, 1.0),
                    th_end=(0.1, 1.0), th_hold=(6, 0), kernel_max=(6, 12))
    net = TTFSNet(cfg, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(12, 16, 3)
    t = torch.randint(0, 6, (16, 3), generator=g)  # inputs only in the window 0..5
    x[t, torch.arange(16)[:, None], torch.arange(3)[None, :]] = 1
    y = torch.randint(0, 2, (16,), generator=g)
    net.calibrate(x)
    out = {}
    for vec in (True, False):
        net.vectorise = vec
        net.zero_grad()
        f = net(x, "qat")
        torch.nn.functional.cross_entropy(f.logits, y).backward()
        out[vec] = (f, [w.grad.clone() for w in net.weights])
    (fa, ga), (fb, gb) = out[True], out[False]
    assert all(torch.equal(a, b) for a, b in zip(fa.spikes, fb.spikes, strict=True))
    assert torch.equal(fa.v_final, fb.v_final) and torch.equal(fa.logits, fb.logits)
    assert fa.spikes[0].sum() > 0  # the hidden layer fired: the tail was exercised
    for a, b in zip(ga, gb, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
