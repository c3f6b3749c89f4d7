"""Temporal-kernel TTFS training (Park & Yoon, arXiv 2106.02568, 2021) and its export to a
layer-phased TTFS network that runs on the core through its kernel and threshold tables.

The surrogate DNN (``Linear -> BatchNorm1d -> TTFS activation`` per hidden layer, trainable
per-layer kernel parameters ``tau_l`` and ``t_d,l``), the training pieces (stochastic relaxation,
initial-value regularisation, the kernel-aware BN spike loss and our interpretation of it) and
the export (BN folding, one window of ``T_w`` steps per layer, bias neurons, the saturation-free
``potential_bits``) are in ``docs/kernel_and_conversion.md``, section 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ttfs.sim.encode import encode_ttfs, ttfs_times
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.numeric import smax
from ttfs.sim.reference import run as reference_run
from ttfs.train import oneshot
from ttfs.train.data import load_split

__all__ = [
    "KernelConfig",
    "KernelNet",
    "KernelResult",
    "relax_probability",
    "ttfs_activation",
    "init_value_loss",
    "bn_spike_loss",
    "fold_bn",
    "quantize_inputs",
    "calibrate_export",
    "train_kernel",
    "export_kernel",
    "encode_kernel",
    "METHOD",
]


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelConfig:
    """Hyper-parameters of temporal-kernel training and export
    (``docs/kernel_and_conversion.md``)."""

    hidden: tuple = (120,)
    window: int = 8
    tau0: float = 2.0
    td0: float = 0.0
    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    relax: bool = True
    ramp_epochs: int = 10
    init_reg: float = 1e-5
    bn_loss_weight: float = 0.0
    bn_loss_start: int = 10
    quantize_time: bool = True
    learn_kernel: bool = True
    weight_bits: int = 8
    kernel_bits: int = 8
    seed: int = 0

    def __post_init__(self):
        hidden = tuple(self.hidden)
        for k, n in enumerate(hidden):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"hidden[{k}] must be a positive integer, not {n!r}")
        object.__setattr__(self, "hidden", tuple(int(n) for n in hidden))
        ints = (("window", 2, 1 << 12), ("epochs", 0, 1 << 20), ("batch_size", 1, 1 << 20),
                ("ramp_epochs", 1, 1 << 20), ("bn_loss_start", 0, 1 << 20),
                ("weight_bits", 2, 16), ("kernel_bits", 2, 16), ("seed", 0, 1 << 62))
        for name, lo, hi in ints:
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ConfigError(f"{name} must be an integer, not {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(f"{name} must be in {lo}..{hi}, not {v}")
        for name in ("tau0", "td0", "lr", "init_reg", "bn_loss_weight"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number, not {v!r}")
        if self.tau0 <= 0:
            raise ConfigError(f"tau0 must be > 0, not {self.tau0}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, not {self.lr}")
        for name in ("init_reg", "bn_loss_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, not {getattr(self, name)}")
        for name in ("relax", "quantize_time", "learn_kernel"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")

    @property
    def cutoff(self) -> float:
        """Input cut-off: values whose event would land on the last step (kernel value 0)."""
        return 0.5 / (self.window - 1)


# -- the math ---------------------------------------------------------------------------------


def relax_probability(epoch: int, ramp_epochs: int) -> float:
    """``p = min(1, (epoch + 1) / ramp_epochs)``: the chance a layer uses the TTFS activation."""
    if not isinstance(epoch, (int, np.integer)) or epoch < 0:
        raise ConfigError(f"epoch must be an integer >= 0, not {epoch!r}")
    if not isinstance(ramp_epochs, (int, np.integer)) or ramp_epochs < 1:
        raise ConfigError(f"ramp_epochs must be an integer >= 1, not {ramp_epochs!r}")
    return min(1.0, (int(epoch) + 1) / int(ramp_epochs))


def ttfs_activation(v: torch.Tensor, tau: torch.Tensor, td: torch.Tensor, window: int,
                    quantize_time: bool = True) -> torch.Tensor:
    """Encode -> decode through the temporal kernel: ``x(v; tau, t_d)``
    (``docs/kernel_and_conversion.md``)."""
    pos = v > 0
    t = torch.relu(td - tau * torch.log(torch.clamp(v, min=1e-30)))
    if quantize_time:
        t = t + (torch.ceil(t) - t).detach()
    x = torch.exp((td - t) / tau)
    keep = pos & (t <= window - 1)
    return torch.where(keep, x, torch.zeros_like(x))


def init_value_loss(taus, tds, tau0: float, td0: float) -> torch.Tensor:
    """``sum_l (tau_l - tau0)^2 + (t_d,l - td0)^2`` (the caller multiplies by ``init_reg``)."""
    total = torch.zeros(())
    for tau, td in zip(taus, tds, strict=True):
        total = total + (tau - tau0) ** 2 + (td - td0) ** 2
    return total


def bn_spike_loss(g: torch.Tensor, b: torch.Tensor, x_t: torch.Tensor) -> torch.Tensor:
    """Kernel-aware BN spike loss of one layer, summed over its channels
    (``docs/kernel_and_conversion.md``).

    ``L = -sum(0.5 (g^2/3 + g + 1) b^3 - 0.5 x_T b^2 - 0.5 (x_T^2 g + 2) b
    - (x_T^2 g^2 + 6) / 6 * x_T)``; ``x_T`` should be detached by the caller.
    """
    f = (0.5 * (g ** 2 / 3 + g + 1) * b ** 3 - 0.5 * x_t * b ** 2
         - 0.5 * (x_t ** 2 * g + 2) * b - (x_t ** 2 * g ** 2 + 6) / 6 * x_t)
    return -f.sum()


def quantize_inputs(X: np.ndarray, window: int) -> np.ndarray:
    """The input values the core decodes: ``1 - t / (T_w - 1)`` with ``sim.encode``'s ``t``
    (``t = rint((1 - x)(T_w - 1))``, no event -> 0 below the cut-off ``0.5 / (T_w - 1)``)."""
    t = ttfs_times(X, window, 0.5 / (window - 1))
    xq = 1.0 - t.astype(np.float64) / (window - 1)
    xq[t < 0] = 0.0
    return xq.astype(np.float32)


# -- the surrogate DNN ------------------------------------------------------------------------


class KernelNet(nn.Module):
    """The surrogate DNN: ``[Linear(no bias) -> BN -> TTFS act] * H -> Linear``.

    ``forward(x, ttfs_mask=None)``: ``x`` are *quantised* inputs (:func:`quantize_inputs`);
    ``ttfs_mask[l]`` chooses the TTFS activation (True) or ReLU (False) for hidden layer ``l``
    (default: TTFS everywhere, the network that is exported).
    """

    def __init__(self, n_in: int, hidden: tuple, n_out: int, window: int = 8,
                 tau0: float = 2.0, td0: float = 0.0, quantize_time: bool = True):
        super().__init__()
        sizes = (n_in,) + tuple(hidden)
        self.window = int(window)
        self.quantize_time = bool(quantize_time)
        self.linears = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )
        self.bns = nn.ModuleList(nn.BatchNorm1d(b) for b in hidden)
        self.out = nn.Linear(sizes[-1], n_out)
        self.taus = nn.ParameterList(nn.Parameter(torch.tensor(float(tau0))) for _ in hidden)
        self.tds = nn.ParameterList(nn.Parameter(torch.tensor(float(td0))) for _ in hidden)

    def kernel_params(self):
        return list(self.taus) + list(self.tds)

    def tau(self, l: int) -> torch.Tensor:
        # tau must stay positive; the clamp only bites if training drives it there
        return torch.clamp(self.taus[l], min=0.05)

    def forward(self, x: torch.Tensor, ttfs_mask=None, return_hidden: bool = False):
        hs = []
        for li, (lin, bn) in enumerate(zip(self.linears, self.bns, strict=True)):
            v = bn(lin(x))
            use = True if ttfs_mask is None else bool(ttfs_mask[li])
            if use:
                x = ttfs_activation(v, self.tau(li), self.tds[li], self.window, self.quantize_time)
            else:
                x = torch.relu(v)
            hs.append(x)
        logits = self.out(x)
        return (logits, hs) if return_hidden else logits

    def x_t(self, l: int) -> torch.Tensor:
        """``x_T = exp(-(T_w - t_d) / tau)`` of hidden layer ``l`` (0-based)."""
        return torch.exp(-(self.window - self.tds[l]) / self.tau(l))


def fold_bn(weight: np.ndarray, bn_mean, bn_var, gamma, beta, eps: float,
            bias=None) -> tuple[np.ndarray, np.ndarray]:
    """Fold an eval-mode BN into the linear layer before it (float64).

    ``weight`` is torch's ``(out, in)``. ``y = gamma (W x + c - mu) / sqrt(var + eps) + beta``
    becomes ``y = W' x + b'`` with ``W' = W * s[:, None]``, ``b' = (c - mu) s + beta``,
    ``s = gamma / sqrt(var + eps)``.
    """
    w = np.asarray(weight, dtype=np.float64)
    s = np.asarray(gamma, dtype=np.float64) / np.sqrt(np.asarray(bn_var, dtype=np.float64) + eps)
    c = np.zeros(w.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    b = (c - np.asarray(bn_mean, dtype=np.float64)) * s + np.asarray(beta, dtype=np.float64)
    return w * s[:, None], b


def folded_layers(model: KernelNet) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W (out, in), b (out,))]`` of every layer with BN folded in (float64)."""
    out = []
    for lin, bn in zip(model.linears, model.bns, strict=True):
        out.append(fold_bn(lin.weight.detach().numpy(), bn.running_mean.numpy(),
                           bn.running_var.numpy(), bn.weight.detach().numpy(),
                           bn.bias.detach().numpy(), bn.eps))
    out.append((model.out.weight.detach().numpy().astype(np.float64),
                model.out.bias.detach().numpy().astype(np.float64)))
    return out


# -- training ---------------------------------------------------------------------------------


@dataclass
class KernelResult:
    """A trained surrogate and its training history (per epoch: loss, train accuracy, p)."""

    model: KernelNet
    config: KernelConfig
    history: list = field(default_factory=list)


def _check_xy(X, y, what: str):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ConfigError(f"{what} X must be 2-D (samples, features), got shape {X.shape}")
    if y.shape != (X.shape[0],):
        raise ConfigError(f"{what} y must have one label per sample ({X.shape[0]}), "
                          f"got shape {y.shape}")
    if X.shape[0] == 0:
        raise ConfigError(f"{what} set is empty")
    return X, y.astype(np.int64)


def train_kernel(X, y, config: KernelConfig | None = None, n_classes: int | None = None,
                 log=None, on_epoch=None) -> KernelResult:
    """Train the surrogate DNN on ``X`` (values in [0, 1]) and labels ``y``.

    ``log(str)`` gets a line per epoch; ``on_epoch(record, model)`` the epoch's record (``epoch``,
    ``loss``, ``train_acc``, ``p``) and the model, which it may evaluate.
    """
    cfg = config or KernelConfig()
    if not isinstance(cfg, KernelConfig):
        raise TypeError(f"config must be a KernelConfig, not {type(cfg).__name__}")
    X, y = _check_xy(X, y, "training")
    n_classes = int(n_classes or (y.max() + 1))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = KernelNet(X.shape[1], cfg.hidden, n_classes, cfg.window, cfg.tau0, cfg.td0,
                      cfg.quantize_time)
    for q in model.kernel_params():  # learn_kernel=False: tau and t_d stay at tau0 and td0
        q.requires_grad_(cfg.learn_kernel)
    xq = torch.from_numpy(quantize_inputs(X, cfg.window))
    yt = torch.from_numpy(y)
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    lossf = nn.CrossEntropyLoss()
    res = KernelResult(model, cfg)
    H = len(cfg.hidden)
    for epoch in range(cfg.epochs):
        model.train()
        p = relax_probability(epoch, cfg.ramp_epochs) if cfg.relax else 1.0
        perm = rng.permutation(len(y))
        tot, correct = 0.0, 0
        for s in range(0, len(y), cfg.batch_size):
            idx = torch.from_numpy(perm[s:s + cfg.batch_size])
            mask = [bool(rng.random() < p) for _ in range(H)]
            logits = model(xq[idx], ttfs_mask=mask)
            loss = lossf(logits, yt[idx])
            if cfg.init_reg:
                loss = loss + cfg.init_reg * init_value_loss(
                    [model.tau(k) for k in range(H)], list(model.tds), cfg.tau0, cfg.td0)
            if cfg.bn_loss_weight and epoch >= cfg.bn_loss_start:
                bl = sum(bn_spike_loss(bn.weight, bn.bias, model.x_t(k).detach())
                         for k, bn in enumerate(model.bns))
                loss = loss + cfg.bn_loss_weight * bl
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yt[idx]).sum())
        sched.step()
        res.history.append({"epoch": epoch, "loss": tot / len(y), "train_acc": correct / len(y),
                            "p": p})
        if on_epoch is not None:
            on_epoch(res.history[-1], model)
        if log is not None:
            log(f"kernel epoch {epoch + 1}/{cfg.epochs} loss {tot / len(y):.4f} "
                f"acc {correct / len(y):.4f} p {p:.2f}")
    model.eval()
    return res


@torch.no_grad()
def float_predict(model: KernelNet, X) -> tuple[np.ndarray, np.ndarray]:
    """Float surrogate (TTFS everywhere, eval BN): ``(predictions, spikes per sample)``.

    Spikes count hidden neurons with ``x > 0`` (bias neurons of the export not included).
    """
    model.eval()
    xq = torch.from_numpy(quantize_inputs(np.asarray(X), model.window))
    logits, hs = model(xq, return_hidden=True)
    spikes = sum((h > 0).sum(1) for h in hs) if hs else torch.zeros(len(xq))
    return logits.argmax(1).numpy(), np.asarray(spikes)


# -- export -----------------------------------------------------------------------------------


def _potential_bits(layers_int, kmax_per_layer, thresholds, floor: int = 16) -> int:
    bound = 0
    for (W, _), kmax in zip(layers_int, kmax_per_layer, strict=True):
        bound = max(bound, int(np.abs(W).sum(axis=0).max()) * int(kmax))
    bound = max(bound, max(thresholds))
    pb = max(floor, bound.bit_length() + 2)
    if pb > 32:
        raise ConfigError(
            f"the exported network needs {pb}-bit potentials to be saturation-free; "
            "the IR allows 32 (use fewer kernel_bits or weight_bits)"
        )
    return pb


def export_kernel(model: KernelNet, kernel_bits: int = 8, weight_bits: int = 8,
                  potential_bits: int = 16, meta: dict | None = None,
                  clip_percentile: float = 100.0) -> QNet:
    """The layer-phased integer TTFS network of a trained surrogate
    (``docs/kernel_and_conversion.md``).

    ``potential_bits`` is a minimum: the export widens it to the smallest width (up to 32) in
    which no partial sum can saturate.
    ``clip_percentile`` < 100 sets each layer's scale from that percentile of ``|w|`` and
    ``|b|/x_b`` instead of their maximum, clipping the few larger weights to ``+-wmax`` (BN
    folding can leave a handful of very large weights that would otherwise take the resolution
    of all the others); :func:`calibrate_export` picks it on training data.
    """
    if not 50.0 <= clip_percentile <= 100.0:
        raise ConfigError(f"clip_percentile must be in 50..100, not {clip_percentile}")
    if not isinstance(model, KernelNet):
        raise TypeError(f"model must be a KernelNet, not {type(model).__name__}")
    for name, v, lo, hi in (("kernel_bits", kernel_bits, 2, 16),
                            ("weight_bits", weight_bits, 2, 16),
                            ("potential_bits", potential_bits, 2, 32)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not lo <= v <= hi:
            raise ConfigError(f"{name} must be an integer in {lo}..{hi}, not {v!r}")
    Tw = model.window
    layers = folded_layers(model)
    L = len(layers)
    T = L * Tw
    S = (1 << kernel_bits) - 1
    wmax = smax(weight_bits)
    u = np.arange(Tw, dtype=np.float64)
    taus = [float(model.tau(k).detach()) for k in range(L - 1)]
    tds = [float(model.tds[k].detach()) for k in range(L - 1)]

    kernels, scales = [], []
    k1 = np.zeros(T, dtype=np.int64)
    k1[:Tw] = np.rint(S * (1.0 - u / (Tw - 1)))
    kernels.append(k1)
    scales.append(float(S))
    for l in range(1, L):
        tau, td = taus[l - 1], tds[l - 1]
        s = S * math.exp(-td / tau)
        k = np.zeros(T, dtype=np.int64)
        k[l * Tw:(l + 1) * Tw] = np.rint(s * np.exp(-(u - td) / tau))
        kernels.append(k)
        scales.append(s)

    ints, th_float = [], []
    for l in range(L):
        w, b = layers[l]  # (out, in)
        s = scales[l]
        x_b = kernels[l][l * Tw] / s  # decoded value of the bias source (first step of window l)
        wb = np.concatenate([np.abs(w).ravel(), np.abs(b) / x_b])
        cands = [float(np.percentile(wb, clip_percentile)) / wmax]
        if l < L - 1:
            cands.append(s * math.exp(tds[l] / taus[l]) / (wmax * S))
        a = max(max(cands), 1e-12)
        W = np.clip(np.rint(w.T / a), -wmax, wmax).astype(np.int64)  # (in, out)
        Wb = np.clip(np.rint(b / (a * x_b)), -wmax, wmax).astype(np.int64)
        ints.append((W, Wb))
        th_float.append(s / a)
    thr_peak = [int(round(th_float[l] * math.exp(tds[l] / taus[l]))) for l in range(L - 1)]
    kmax = [int(k.max()) for k in kernels]
    full = []
    for l in range(L):
        W, Wb = ints[l]
        Wfull = np.vstack([W, Wb[None, :]])
        if l < L - 1:  # append this layer's bias neuron: wmax from the previous bias source
            col = np.zeros((Wfull.shape[0], 1), dtype=np.int64)
            col[-1, 0] = wmax
            Wfull = np.hstack([Wfull, col])
        full.append((Wfull, None))
    pb = _potential_bits(full, kmax, thr_peak + [1], int(potential_bits))
    top = smax(pb)
    qlayers = []
    for l in range(L):
        Wfull = full[l][0]
        if l < L - 1:
            th = np.full(T, top, dtype=np.int64)
            vals = np.rint(th_float[l] * np.exp(-(u - tds[l]) / taus[l]))
            th[(l + 1) * Tw:(l + 2) * Tw] = np.clip(vals, 1, top)
            bias_fire = wmax * kernels[l][l * Tw]
            if bias_fire < th[(l + 1) * Tw]:
                raise ConfigError(
                    f"layer {l + 1} bias neuron would not fire at the start of its window "
                    f"({bias_fire} < {int(th[(l + 1) * Tw])})"
                )
        else:
            th = top
        qlayers.append(Layer(Wfull, th, kernels[l], 0, "fire_once"))
    meta = {
        **(meta or {}),
        "method": "kernel",
        "window": Tw,
        "encoder": {"kind": "ttfs", "time_steps": T, "t_in": Tw, "cutoff": 0.5 / (Tw - 1),
                    "bias_steps": [0]},
        "tau": taus,
        "t_d": tds,
        "clip_percentile": float(clip_percentile),
    }
    return QNet(int(layers[0][0].shape[1]) + 1, T, tuple(qlayers), weight_bits, pb,
                "max_potential", False, meta)


CLIP_PERCENTILES = (100.0, 99.99, 99.9, 99.5, 99.0, 98.0)


def calibrate_export(model: KernelNet, X_calib, y_calib=None, kernel_bits: int = 8,
                     weight_bits: int = 8, potential_bits: int = 16, meta: dict | None = None,
                     percentiles=CLIP_PERCENTILES) -> QNet:
    """:func:`export_kernel` at the clip percentile whose integer network agrees best with the
    float surrogate on ``X_calib`` (training data; ``y_calib`` given: accuracy instead of
    agreement). Ties go to the earlier (less clipping) percentile."""
    X_calib = np.asarray(X_calib)
    ref, _ = float_predict(model, X_calib)
    target = ref if y_calib is None else np.asarray(y_calib)
    best = None
    for p in percentiles:
        q = export_kernel(model, kernel_bits, weight_bits, potential_bits, meta, p)
        pred = [r.prediction for r in reference_run(q, encode_kernel(q, X_calib))]
        score = float(np.mean(np.asarray(pred) == target))
        if best is None or score > best[0]:
            best = (score, q)
    q = best[1]
    q.meta["calibration"] = {"clip_percentile_score": best[0], "samples": int(len(X_calib))}
    return q


def encode_kernel(qnet: QNet, X, labels=None) -> EventSet:
    """The input events of ``X`` for an exported kernel network (``qnet.meta['encoder']``, the
    record :func:`train.api.encode_for` also reads)."""
    enc = qnet.meta.get("encoder") if isinstance(qnet.meta, dict) else None
    if not enc or enc.get("kind") != "ttfs":
        raise ConfigError("qnet meta has no 'encoder' of kind 'ttfs'; was it made by "
                          "export_kernel?")
    return encode_ttfs(X, qnet.time_steps, t_in=enc["t_in"], cutoff=enc["cutoff"],
                       bias_steps=tuple(enc["bias_steps"]), labels=labels)


# -- the method ------------------------------------------------------------------------------

#: Options of ``ttfs train --method kernel`` (every one can be overridden).
METHOD_DEFAULTS = {
    "hidden": (120,),
    "window": 16,
    "tau0": 2.0,
    "td0": 0.0,
    "batch_size": 64,
    "lr": 1e-2,
    "relax": True,
    "ramp_epochs": 10,
    "init_reg": 1e-5,
    "bn_loss_weight": 0.02,
    "bn_loss_start": 10,
    "quantize_time": True,
    "learn_kernel": True,
    "weight_bits": 8,
    "kernel_bits": 8,
    "threads": 1,
}
METHOD_EPOCHS = {"yinyang": 60, "digits": 40, "idx": 10}


def encoder_record(cfg: KernelConfig) -> dict:
    """The ``sim.encode`` TTFS settings of a kernel network (``train.api.encode_for`` form)."""
    T = (len(cfg.hidden) + 1) * cfg.window
    return {"kind": "ttfs", "time_steps": T, "t_in": cfg.window,
            "cutoff": 0.5 / (cfg.window - 1), "bias_steps": [0]}


def _fit(run: oneshot.Fit) -> oneshot.Fitted:
    def on_epoch(rec, model):
        if run.progress is None:
            return
        pred, spk = float_predict(model, run.Xv)
        run.report(epoch=rec["epoch"] + 1, loss=rec["loss"], train_acc=rec["train_acc"],
                   val_acc=float(np.mean(pred == run.yv)),
                   spikes_per_sample=float(np.mean(spk)), p=rec["p"])

    res = train_kernel(run.X, run.y, run.cfg, n_classes=run.n_classes, on_epoch=on_epoch)
    return oneshot.Fitted(res.model, res.history, encoder_record(run.cfg))


def model_from_checkpoint(ck: dict) -> KernelNet:
    """Rebuild the trained surrogate of a ``kernel`` checkpoint."""
    c = dict(ck["config"])
    c["hidden"] = tuple(c["hidden"])
    cfg = KernelConfig(**c)
    model = KernelNet(ck["n_features"], cfg.hidden, ck["n_classes"], cfg.window, cfg.tau0,
                      cfg.td0, cfg.quantize_time)
    model.load_state_dict(ck["model"])
    model.eval()
    return model


def _method_quantize(ck: dict, weight_bits: int | None = None,
                     potential_bits: int | None = None, kernel_bits: int | None = None) -> QNet:
    """``train.api.quantize_model`` for ``kernel`` checkpoints (``potential_bits`` is a floor);
    the weight-clip percentile is calibrated on the first 1000 training samples."""
    cfg = ck["config"]
    X, _ = load_split(ck["dataset"], "train")
    return calibrate_export(
        model_from_checkpoint(ck),
        X[:1000],
        kernel_bits=int(kernel_bits or cfg["kernel_bits"]),
        weight_bits=int(weight_bits or cfg["weight_bits"]),
        potential_bits=int(potential_bits or 16),
        meta={"dataset": ck["dataset"], "seed": ck["seed"]},
    )


def _method_predict(ck: dict, X) -> np.ndarray:
    """The float surrogate's predictions for a ``kernel`` checkpoint."""
    return float_predict(model_from_checkpoint(ck), X)[0]


METHOD = oneshot.method(
    "kernel", "temporal-kernel TTFS surrogate DNN, layer-phased export (Park & Yoon 2021)",
    KernelConfig, METHOD_DEFAULTS, METHOD_EPOCHS, _fit, _method_quantize, _method_predict,
)
