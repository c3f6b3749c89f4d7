"""ANN-to-SNN conversion with the L4-norm weight adjustment (Allred & Roy, arXiv 2111.09446).

A bias-free ReLU network is trained, its thresholds balanced on the training data (Rueckauer et
al. 2017), its hidden layers' incoming weights scaled by the L4 factors, and exported as a
rate-coded integrate-and-fire network (``subtract`` reset, ``max_potential`` readout). The
pipeline, the derivation of the L4 rule (the project's formalisation; the paper's rule is
unknown) and the default ``l4_beta`` are in ``docs/kernel_and_conversion.md``, section 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ttfs.sim.encode import encode_rate
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import EventSet, Layer, QNet
from ttfs.sim.numeric import smax
from ttfs.train import oneshot
from ttfs.train.data import load_split

__all__ = [
    "ConvertConfig",
    "ConvertResult",
    "ReluNet",
    "train_convert",
    "balance",
    "l4_factors",
    "l4_factors_wiener",
    "normalised_weights",
    "export_convert",
    "encode_convert",
    "METHOD",
]


@dataclass(frozen=True)
class ConvertConfig:
    """Hyper-parameters of ANN training, balancing, the L4 adjustment and export."""

    hidden: tuple = (64,)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-2
    weight_decay: float = 1e-4
    percentile: float = 99.9
    time_steps: int = 32
    max_rate: float = 1.0
    l4: bool = True
    l4_beta: float = 0.25
    l4_rule: str = "rectified"
    damping: float = 1.0
    weight_bits: int = 8
    seed: int = 0
    encode_seed: int = 0

    def __post_init__(self):
        hidden = tuple(self.hidden)
        for k, n in enumerate(hidden):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ConfigError(f"hidden[{k}] must be a positive integer, not {n!r}")
        object.__setattr__(self, "hidden", tuple(int(n) for n in hidden))
        for name, lo, hi in (("epochs", 0, 1 << 20), ("batch_size", 1, 1 << 20),
                             ("time_steps", 1, 1 << 16), ("weight_bits", 2, 16),
                             ("seed", 0, 1 << 62), ("encode_seed", 0, 1 << 62)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ConfigError(f"{name} must be an integer, not {v!r}")
            if not lo <= v <= hi:
                raise ConfigError(f"{name} must be in {lo}..{hi}, not {v}")
        for name in ("lr", "weight_decay", "percentile", "max_rate", "l4_beta", "damping"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
                raise ConfigError(f"{name} must be a finite number, not {v!r}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be > 0, not {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be >= 0, not {self.weight_decay}")
        if not 0 < self.percentile <= 100:
            raise ConfigError(f"percentile must be in (0, 100], not {self.percentile}")
        if not 0 < self.max_rate <= 1:
            raise ConfigError(f"max_rate must be in (0, 1], not {self.max_rate}")
        if self.l4_beta < 0:
            raise ConfigError(f"l4_beta must be >= 0, not {self.l4_beta}")
        if self.damping <= 0:
            raise ConfigError(f"damping must be > 0, not {self.damping}")
        if self.l4_rule not in ("rectified", "wiener"):
            raise ConfigError(f"l4_rule must be 'rectified' or 'wiener', not {self.l4_rule!r}")
        if not isinstance(self.l4, bool):
            raise ConfigError(f"l4 must be true or false, not {self.l4!r}")


def augment(X) -> np.ndarray:
    """The network's input features as float64 (no extra features: the net is bias-free)."""
    return np.asarray(X, dtype=np.float64)


class ReluNet(nn.Module):
    """Bias-free ReLU MLP; the last layer gives logits."""

    def __init__(self, n_in: int, hidden: tuple, n_out: int):
        super().__init__()
        sizes = (n_in,) + tuple(hidden) + (n_out,)
        self.linears = nn.ModuleList(
            nn.Linear(a, b, bias=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
        )

    def forward(self, xa: torch.Tensor, return_hidden: bool = False):
        hs = []
        for lin in self.linears[:-1]:
            xa = torch.relu(lin(xa))
            hs.append(xa)
        out = self.linears[-1](xa)
        return (out, hs) if return_hidden else out

    def weights(self) -> list[np.ndarray]:
        """Every layer's weights as ``(in, out)`` float64 arrays."""
        return [lin.weight.detach().numpy().T.astype(np.float64) for lin in self.linears]


@dataclass
class ConvertResult:
    """A trained ReLU network, its config and training history."""

    model: ReluNet
    config: ConvertConfig
    history: list = field(default_factory=list)


def train_convert(X, y, config: ConvertConfig | None = None, n_classes: int | None = None,
                  log=None) -> ConvertResult:
    """Train the ReLU network (Adam, cross-entropy, cosine learning rate)."""
    cfg = config or ConvertConfig()
    if not isinstance(cfg, ConvertConfig):
        raise TypeError(f"config must be a ConvertConfig, not {type(cfg).__name__}")
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
        raise ConfigError(f"training data must be X (samples, features) and y (samples,), "
                          f"got shapes {X.shape} and {y.shape}")
    n_classes = int(n_classes or (y.max() + 1))
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = ReluNet(X.shape[1], cfg.hidden, n_classes)
    xa = torch.from_numpy(augment(X).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(cfg.epochs, 1))
    lossf = nn.CrossEntropyLoss()
    res = ConvertResult(model, cfg)
    for epoch in range(cfg.epochs):
        model.train()
        perm = rng.permutation(len(y))
        tot, correct = 0.0, 0
        for s in range(0, len(y), cfg.batch_size):
            idx = torch.from_numpy(perm[s:s + cfg.batch_size])
            logits = model(xa[idx])
            loss = lossf(logits, yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == yt[idx]).sum())
        sched.step()
        res.history.append({"epoch": epoch, "loss": tot / len(y), "train_acc": correct / len(y)})
        if log is not None:
            log(f"convert epoch {epoch + 1}/{cfg.epochs} loss {tot / len(y):.4f} "
                f"acc {correct / len(y):.4f}")
    model.eval()
    return res


@torch.no_grad()
def ann_predict(model: ReluNet, X) -> np.ndarray:
    """The float ANN's predictions."""
    return model(torch.from_numpy(augment(X).astype(np.float32))).argmax(1).numpy()


def balance(weights: list[np.ndarray], Xa: np.ndarray, percentile: float) -> list[float]:
    """``lambda_l``: the ``percentile`` of hidden layer ``l``'s ReLU activations on ``Xa``.

    Computed with the unadjusted float weights (``(in, out)`` arrays); a layer that is never
    active gets ``lambda = 1`` (any value works: its neurons never fire).
    """
    lams = []
    h = Xa
    for w in weights[:-1]:
        h = np.maximum(h @ w, 0.0)
        pos = h[h > 0]
        lam = float(np.percentile(pos, percentile)) if pos.size else 1.0
        lams.append(lam if lam > 0 else 1.0)
    return lams


def l4_factors(w_hat: np.ndarray, rates: np.ndarray, time_steps: int, beta: float = 1.0,
               rule: str = "rectified") -> np.ndarray:
    """The L4 factors ``c_i`` of one layer; ``rule`` picks the model (the derivation is in
    ``docs/kernel_and_conversion.md``).

    ``w_hat`` is the layer's ``(in, out)`` weights in rate units, ``rates`` the ``(samples, in)``
    input rates, ``mu = rates @ w_hat`` the per-step drifts. With the L4 bound
    ``s_i^2 = beta ||w_hat[:, i]||_4^2 mean ||rates||_2 / T`` and ``z = mu / s``,
    ``rule="rectified"`` (default) models the SNN rate as ``relu(mu + e)``, ``e ~ N(0, s^2)``,
    with mean ``m = mu Phi(z) + s phi(z)`` and second moment
    ``q = (mu^2 + s^2) Phi(z) + mu s phi(z)``, and returns
    ``c_i = sum_n relu(mu) m / sum_n q``, the minimiser of
    ``sum_n E[(c relu(mu + e) - relu(mu))^2]``; ``rule="wiener"`` is
    :func:`l4_factors_wiener`. ``c_i = 0`` for a neuron never active on the data.
    """
    from scipy.special import ndtr

    if time_steps < 1:
        raise ConfigError(f"time_steps must be >= 1, not {time_steps}")
    if beta < 0:
        raise ConfigError(f"beta must be >= 0, not {beta}")
    if rule == "wiener":
        return l4_factors_wiener(w_hat, rates, time_steps, beta)
    if rule != "rectified":
        raise ConfigError(f"l4 rule must be 'rectified' or 'wiener', not {rule!r}")
    mu = rates @ w_hat
    l4sq = np.sqrt((w_hat ** 4).sum(axis=0))
    s = np.sqrt(beta * l4sq * np.linalg.norm(rates, axis=1).mean() / time_steps)
    s = np.maximum(s, 1e-12)[None, :]
    z = mu / s
    Phi, phi = ndtr(z), np.exp(-0.5 * z ** 2) / math.sqrt(2 * math.pi)
    m = mu * Phi + s * phi
    q = (mu ** 2 + s ** 2) * Phi + mu * s * phi
    num = (np.maximum(mu, 0.0) * m).sum(axis=0)
    den = q.sum(axis=0)
    return np.where(num > 0, num / np.where(den > 0, den, 1.0), 0.0)


def l4_factors_wiener(w_hat: np.ndarray, rates: np.ndarray, time_steps: int,
                      beta: float = 1.0) -> np.ndarray:
    """The L4 Wiener factors ``c_i = P_i / (P_i + beta N_i)`` of one layer
    (``docs/kernel_and_conversion.md``).

    ``w_hat`` is the layer's ``(in, out)`` weights in rate units, ``rates`` the ``(samples, in)``
    input rates; ``P_i = mean min(relu(rates @ w_hat), 1)^2`` per neuron,
    ``N_i = ||w_hat[:, i]||_4^2 * mean ||rates||_2 / T``. ``c_i = 0`` where ``P_i = 0``.
    """
    if time_steps < 1:
        raise ConfigError(f"time_steps must be >= 1, not {time_steps}")
    if beta < 0:
        raise ConfigError(f"beta must be >= 0, not {beta}")
    mu = np.clip(rates @ w_hat, 0.0, 1.0)
    P = (mu ** 2).mean(axis=0)
    l4sq = np.sqrt((w_hat ** 4).sum(axis=0))
    noise = l4sq * np.linalg.norm(rates, axis=1).mean() / time_steps
    den = P + beta * noise
    return np.where(P > 0, P / np.where(den > 0, den, 1.0), 0.0)


def normalised_weights(model: ReluNet, X_train, cfg: ConvertConfig,
                       time_steps: int | None = None) -> tuple[list[np.ndarray], list]:
    """Balanced (and, with ``cfg.l4``, L4-adjusted) weights in rate units, ``(in, out)``.

    Returns ``(w_hat, factors)`` where ``factors[l]`` are the factors of hidden layer ``l``'s
    neurons: the L4 factors (all ones without the adjustment) times ``cfg.damping``, a factor
    uniform over every hidden neuron (1: none), the control that tells what the L4 rule adds to
    a plain per-layer damping.
    """
    T = cfg.time_steps if time_steps is None else int(time_steps)
    ws = model.weights()
    Xa = augment(X_train)
    lams = [1.0 / cfg.max_rate] + balance(ws, Xa, cfg.percentile)
    rates = Xa * cfg.max_rate
    out, factors = [], []
    for li, w in enumerate(ws):
        if li == len(ws) - 1:
            out.append(w * lams[li])  # output layer: keep the logit scale, threshold unused
            break
        wh = w * lams[li] / lams[li + 1]
        c = (l4_factors(wh, rates, T, cfg.l4_beta, cfg.l4_rule) if cfg.l4
             else np.ones(wh.shape[1])) * cfg.damping
        wh = wh * c[None, :]
        factors.append(c)
        out.append(wh)
        rates = np.clip(rates @ wh, 0.0, 1.0)
    return out, factors


def export_convert(model: ReluNet, X_train, config: ConvertConfig | None = None,
                   time_steps: int | None = None, potential_bits: int = 16,
                   meta: dict | None = None) -> QNet:
    """The integer rate-coded IF network (``docs/kernel_and_conversion.md``), ``subtract`` reset.

    ``X_train`` is the data the thresholds are balanced on (and the L4 factors estimated on).
    ``potential_bits`` is a minimum: it is widened to the smallest width (up to 32) in which no
    partial sum over ``time_steps`` steps can saturate.
    """
    cfg = config or ConvertConfig()
    if not isinstance(model, ReluNet):
        raise TypeError(f"model must be a ReluNet, not {type(model).__name__}")
    T = cfg.time_steps if time_steps is None else int(time_steps)
    if not 1 <= T <= 1 << 16:
        raise ConfigError(f"time_steps must be in 1..65536, not {T}")
    wh, factors = normalised_weights(model, X_train, cfg, T)
    wmax = smax(cfg.weight_bits)
    ints, ths = [], []
    for w in wh:
        m = float(np.abs(w).max())
        a = m / wmax if m > 0 else 1.0
        ints.append(np.rint(w / a).astype(np.int64))
        ths.append(max(1, int(round(1.0 / a))))
    bound = max(T * int(np.abs(W).sum(axis=0).max()) for W in ints)
    bound = max(bound, max(ths[:-1], default=1))
    pb = max(int(potential_bits), bound.bit_length() + 2)
    if pb > 32:
        raise ConfigError(f"the exported network needs {pb}-bit potentials to be saturation-free "
                          f"over {T} steps; the IR allows 32")
    L = len(ints)
    layers = []
    for li, W in enumerate(ints):
        th = ths[li] if li < L - 1 else smax(pb)
        layers.append(Layer(W, th, 1, 0, "subtract"))
    meta = {
        **(meta or {}),
        "method": "convert",
        "encoder": {"kind": "rate", "time_steps": T, "seed": cfg.encode_seed,
                    "max_rate": cfg.max_rate, "bias_steps": []},
        "l4": cfg.l4,
        "l4_beta": cfg.l4_beta,
        "l4_rule": cfg.l4_rule,
        "damping": cfg.damping,
        "percentile": cfg.percentile,
        "l4_factors_mean": [float(np.mean(c)) for c in factors],
    }
    return QNet(ints[0].shape[0], T, tuple(layers), cfg.weight_bits, pb, "max_potential",
                False, meta)


def encode_convert(qnet: QNet, X, labels=None, first_index: int = 0) -> EventSet:
    """Seeded rate-coded events of ``X`` for an exported conversion network
    (``qnet.meta['encoder']``, the record :func:`train.api.encode_for` also reads)."""
    enc = qnet.meta.get("encoder") if isinstance(qnet.meta, dict) else None
    if not enc or enc.get("kind") != "rate":
        raise ConfigError("qnet meta has no 'encoder' of kind 'rate'; was it made by "
                          "export_convert?")
    return encode_rate(augment(X), qnet.time_steps, seed=int(enc["seed"]),
                       max_rate=float(enc["max_rate"]), labels=labels, first_index=first_index)


# -- the method ------------------------------------------------------------------------------

#: Options of ``ttfs train --method convert`` (every one can be overridden).
METHOD_DEFAULTS = {
    "hidden": (64,),
    "batch_size": 64,
    "lr": 1e-2,
    "weight_decay": 1e-4,
    "percentile": 99.9,
    "time_steps": 32,
    "max_rate": 1.0,
    "l4": True,
    "l4_beta": 0.25,
    "l4_rule": "rectified",
    "damping": 1.0,
    "weight_bits": 8,
    "encode_seed": 0,
    "threads": 1,
}
METHOD_EPOCHS = {"yinyang": 40, "digits": 40, "idx": 10}
#: Options that only matter at conversion time: ``quantize_model(..., **these)`` may override.
CONVERSION_OPTIONS = ("time_steps", "percentile", "max_rate", "l4", "l4_beta", "l4_rule",
                      "damping", "encode_seed")


def _fit(run: oneshot.Fit) -> oneshot.Fitted:
    res = train_convert(run.X, run.y, run.cfg, n_classes=run.n_classes)
    for rec in res.history:
        run.report(epoch=rec["epoch"] + 1, loss=rec["loss"], train_acc=rec["train_acc"])
    if run.progress is not None:
        run.report(epoch=run.epochs,
                   val_acc=float(np.mean(ann_predict(res.model, run.Xv) == run.yv)))
    cfg = run.cfg
    encoder = {"kind": "rate", "time_steps": cfg.time_steps, "seed": cfg.encode_seed,
               "max_rate": cfg.max_rate, "bias_steps": []}
    return oneshot.Fitted(res.model, res.history, encoder)


def model_from_checkpoint(ck: dict) -> ReluNet:
    """Rebuild the trained ReLU network of a ``convert`` checkpoint."""
    model = ReluNet(ck["n_features"], tuple(ck["config"]["hidden"]), ck["n_classes"])
    model.load_state_dict(ck["model"])
    model.eval()
    return model


def _method_quantize(ck: dict, weight_bits: int | None = None,
                     potential_bits: int | None = None, **conversion) -> QNet:
    """``train.api.quantize_model`` for ``convert`` checkpoints.

    Balances thresholds (and estimates the L4 factors) on the dataset's training split; the
    conversion options (``time_steps``, ``l4``, ``l4_beta``, ...) may be overridden here.
    """
    unknown = sorted(set(conversion) - set(CONVERSION_OPTIONS))
    if unknown:
        raise ConfigError(f"convert quantization has no option {unknown[0]!r}; "
                          f"options: {sorted(CONVERSION_OPTIONS)}")
    c = {**ck["config"], **conversion}
    c["hidden"] = tuple(c["hidden"])
    if weight_bits is not None:
        c["weight_bits"] = int(weight_bits)
    cfg = ConvertConfig(**c)
    X, _ = load_split(ck["dataset"], "train")
    return export_convert(model_from_checkpoint(ck), X, cfg,
                          potential_bits=int(potential_bits or 16),
                          meta={"dataset": ck["dataset"], "seed": ck["seed"]})


def _method_predict(ck: dict, X) -> np.ndarray:
    """The float ANN's predictions for a ``convert`` checkpoint."""
    return ann_predict(model_from_checkpoint(ck), X)


METHOD = oneshot.method(
    "convert", "ReLU ANN -> rate-coded IF SNN with the L4-norm adjustment (Allred & Roy 2021)",
    ConvertConfig, METHOD_DEFAULTS, METHOD_EPOCHS, _fit, _method_quantize, _method_predict,
)
