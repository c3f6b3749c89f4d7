"""train.kernel: the TTFS activation, the relaxation ramp, the regularisers, BN folding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ttfs.sim.errors import ConfigError
from ttfs.train.kernel import (
    KernelConfig,
    KernelNet,
    bn_spike_loss,
    fold_bn,
    folded_layers,
    init_value_loss,
    quantize_inputs,
    relax_probability,
    train_kernel,
    ttfs_activation,
)

pytestmark = pytest.mark.train


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    # tiny models: extra threads only contend (and spin) on a shared 2-core machine
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_kernel_relaxation_ramp():
    assert [relax_probability(e, 4) for e in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert relax_probability(0, 50) == 1 / 50
    assert relax_probability(0, 1) == 1.0
    with pytest.raises(ConfigError, match="^ramp_epochs must be an integer >= 1, not 0$"):
        relax_probability(0, 0)
    with pytest.raises(ConfigError, match="^epoch must be an integer >= 0, not -1$"):
        relax_probability(-1, 5)


def test_kernel_activation_hand_values():
    tau, td = torch.tensor(2.0), torch.tensor(0.0)
    v = torch.tensor([1.5, 1.0, 0.5, 0.02, 0.0, -1.0])
    x = ttfs_activation(v, tau, td, window=8)
    # t = relu(-2 ln v): [0, 0, 1.386 -> 2, 7.82 -> 8 (outside 0..7), -, -]
    expected = [1.0, 1.0, math.exp(-1.0), 0.0, 0.0, 0.0]
    assert x.tolist() == pytest.approx(expected, rel=1e-6)
    # without time quantisation the kernel decodes v itself between the clamps
    xc = ttfs_activation(torch.tensor([0.5, 0.3]), tau, td, 8, quantize_time=False)
    assert xc.tolist() == pytest.approx([0.5, 0.3], rel=1e-6)
    # t_d shifts the clamp: with t_d = 1 the largest value is exp(1/2)
    assert float(ttfs_activation(torch.tensor(9.0), tau, torch.tensor(1.0), 8)) == pytest.approx(
        math.exp(0.5), rel=1e-6)


def test_kernel_activation_gradients_reach_v_tau_td():
    # between the clamps x = v (tau, t_d cancel); they act through the clamp at t = 0 (v = 3)
    v = torch.tensor([0.3, 0.7, 3.0], requires_grad=True)
    tau = torch.tensor(2.0, requires_grad=True)
    td = torch.tensor(0.5, requires_grad=True)
    ttfs_activation(v, tau, td, 8).sum().backward()
    assert torch.all(v.grad[:2] > 0) and v.grad[2] == 0
    assert float(td.grad) == pytest.approx(math.exp(0.25) / 2, rel=1e-5)
    assert float(tau.grad) != 0


def test_kernel_bn_spike_loss_hand_values():
    g, b, xt = torch.tensor([1.0]), torch.tensor([1.0]), torch.tensor(0.0)
    # f = 0.5 (1/3 + 2) - 0.5 * 2 = 1/6, L = -1/6
    assert float(bn_spike_loss(g, b, xt)) == pytest.approx(-1 / 6, rel=1e-6)
    g, b, xt = torch.tensor([2.0]), torch.tensor([0.0]), torch.tensor(0.5)
    # f = -(0.25 * 4 + 6) / 6 * 0.5 = -7/12
    assert float(bn_spike_loss(g, b, xt)) == pytest.approx(7 / 12, rel=1e-6)
    # at b = 0 the loss pushes the shift down: dL/db = 0.5 (x_T^2 g + 2) > 0
    b = torch.tensor([0.0], requires_grad=True)
    bn_spike_loss(torch.tensor([1.0]), b, torch.tensor(0.1)).backward()
    assert float(b.grad) == pytest.approx(0.5 * (0.01 + 2), rel=1e-6)


def test_kernel_init_value_loss():
    taus = [torch.tensor(2.5), torch.tensor(1.0)]
    tds = [torch.tensor(0.0), torch.tensor(-0.5)]
    assert float(init_value_loss(taus, tds, 2.0, 0.0)) == pytest.approx(0.25 + 1 + 0.25)


def test_kernel_bn_folding_matches_unfolded_float():
    torch.manual_seed(0)
    net = KernelNet(4, (7, 5), 3)
    for bn in net.bns:
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.2, 3)
        bn.weight.data.uniform_(0.5, 2)
        bn.bias.data.uniform_(-1, 1)
    net.eval()
    x = torch.rand(32, 4, dtype=torch.float64)
    h = x
    folded = folded_layers(net)
    xn = x.numpy()
    for (w, b), lin, bn in zip(folded[:-1], net.linears, net.bns, strict=True):
        ref = bn.double()(lin.double()(h)).detach().numpy()
        got = xn @ w.T + b
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-12)
        h = torch.relu(torch.from_numpy(ref))
        xn = h.numpy()
    w, b = fold_bn(np.eye(2), [1.0, -1.0], [3.0, 0.0], [2.0, 1.0], [0.5, 0.0], 1.0,
                   bias=[1.0, 1.0])
    np.testing.assert_allclose(w, [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(b, [0.5, 2.0])


def test_kernel_quantized_inputs_follow_the_encoder():
    X = np.array([[1.0, 0.0, 0.5, 0.05, 0.08]])
    # window 8: t = rint((1 - x) 7) -> [0, -, 4 (3.5 rounds to even), -, 6]; x_q = 1 - t/7
    got = quantize_inputs(X, 8)
    np.testing.assert_allclose(got, [[1.0, 0.0, 3 / 7, 0.0, 1 / 7]], rtol=1e-6)


def test_kernel_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="^window must be in 2..4096, not 1$"):
        KernelConfig(window=1)
    with pytest.raises(ConfigError, match="^tau0 must be > 0, not -1.0$"):
        KernelConfig(tau0=-1.0)
    with pytest.raises(ConfigError, match="^bn_loss_weight must be >= 0, not -0.1$"):
        KernelConfig(bn_loss_weight=-0.1)
    with pytest.raises(ConfigError, match="^learn_kernel must be true or false, not 0$"):
        KernelConfig(learn_kernel=0)


def test_kernel_parameters_frozen_stay_at_their_initial_values():
    rng = np.random.default_rng(2)
    X = rng.random((64, 3)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)
    cfg = dict(hidden=(5, 4), window=6, epochs=2, batch_size=16, seed=0, tau0=2.5, td0=0.25)
    frozen = train_kernel(X, y, KernelConfig(**cfg, learn_kernel=False)).model
    learned = train_kernel(X, y, KernelConfig(**cfg)).model
    assert [float(t.detach()) for t in frozen.taus] == [2.5, 2.5]
    assert [float(t.detach()) for t in frozen.tds] == [0.25, 0.25]
    assert any(float(t.detach()) != 2.5 for t in learned.taus)  # the ablation changes something
    # the weights still learn
    assert not torch.equal(frozen.linears[0].weight, learned.linears[0].weight)


def test_kernel_training_follows_the_ramp_and_moves_bn_shifts_down():
    rng = np.random.default_rng(0)
    X = rng.random((96, 3)).astype(np.float32)
    y = (X[:, 0] > 0.5).astype(np.int64)

    relaxed = train_kernel(X, y, KernelConfig(hidden=(6,), window=6, epochs=3, ramp_epochs=4,
                                              batch_size=32, seed=0))
    assert [h["p"] for h in relaxed.history] == [0.25, 0.5, 0.75]
    plain = train_kernel(X, y, KernelConfig(hidden=(6,), window=6, epochs=3, relax=False,
                                            batch_size=32, seed=0))
    assert [h["p"] for h in plain.history] == [1.0, 1.0, 1.0]
    # a strong BN spike loss drives the BN shifts negative (fewer neurons above threshold)
    strong = train_kernel(X, y, KernelConfig(hidden=(6,), window=6, epochs=4, batch_size=32,
                                             bn_loss_weight=1.0, bn_loss_start=0, seed=0))
    b_strong = strong.model.bns[0].bias.detach()
    b_plain = plain.model.bns[0].bias.detach()
    assert float(b_strong.mean()) < float(b_plain.mean())
    assert float(b_strong.max()) < 0
