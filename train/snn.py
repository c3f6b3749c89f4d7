"""Fully connected spiking networks in PyTorch whose forward is the integer semantics
(``docs/semantics.md``) over ``T`` steps, and the one integer forward of ``ttfs.train``.

The neuron dynamics are one pure function, :func:`step` (its update equations are in
``docs/training.md``, the network); :class:`TTFSNet` owns the weights and the threshold and kernel
tables and runs a whole layer over all ``T`` steps before the next, the step-major order of the
specification vectorised over batch and time. Three modes, one code path: ``float`` (threshold
units, surrogate gradient), ``qat`` (fake-quantized integer units: the integer network held in
float tensors) and ``int`` (:func:`int_forward` on a :class:`ttfs.sim.ir.QNet`: ``int64``,
saturation event by event in queue order, the reference model's counters).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import READOUTS, RESET_MODES, EventSet, Layer, QNet
from ttfs.sim.numeric import smax, smin

__all__ = [
    "NetConfig",
    "NeuronParams",
    "NeuronState",
    "SpikeFn",
    "step",
    "Forward",
    "TTFSNet",
    "IntRun",
    "events_to_dense",
    "int_forward",
    "predict",
    "quant_scale",
]

MODES = ("float", "qat", "int")
#: The blocking threshold (threshold units) of held steps; the integer table clamps it to the
#: largest potential, which only a saturated membrane reaches.
TH_BLOCK = 1.0e4


# -- configuration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NetConfig:
    """Architecture and semantics of a :class:`TTFSNet` (serialised into checkpoints).

    ``sizes`` is ``(n_inputs, n_1, ..., n_L)`` where ``n_inputs`` counts bias inputs too.
    ``resets`` and ``leak_shifts`` have one entry per layer. ``th_start``/``th_end`` (one float
    per layer, threshold units) define the threshold table as a linear ramp
    ``Theta_l[t] = start + (end - start) * t / (T - 1)``: constant when equal (the common case);
    a falling ramp turns a neuron's potential into a graded spike time even though every input
    event arrives at an integer step (the input-driven potential is a staircase, and a constant
    threshold could only be crossed at an input step). ``th_hold`` (one integer per layer,
    default 0) holds the threshold at the blocking value ``TH_BLOCK`` for the first ``th_hold``
    steps and starts the ramp at ``t = th_hold``: the layer-phased scheme of Rueckauer & Liu
    (2018) and Park & Yoon (2021), where a layer integrates its whole input window first and then
    fires at a time that falls linearly with its potential (a clipped-linear activation,
    ``t = hold + (start - V) / (start - end) * (T - 1 - hold)``). ``kernel_max`` (one integer
    per layer) defines the input-kernel table ``K_l[t] = max(1, kernel_max - t)`` when ``> 1``
    (a falling ramp: an early event weighs more, so a layer reads its inputs' spike *times*; with
    ``kernel_max = t_in`` an input ``x`` encoded at ``t = rint((1-x)(t_in-1))`` contributes
    ``W * (1 + rint(x (t_in-1)))``, i.e. a linear layer on ``x``), or ``K_l[t] = 1`` when 1.
    ``tau`` is the temperature of the first-spike readout loss (in steps), ``slope`` the
    surrogate's steepness.
    """

    sizes: tuple
    time_steps: int
    resets: tuple
    leak_shifts: tuple
    readout: str = "first_spike"
    th_start: tuple | None = None
    th_end: tuple | None = None
    kernel_max: tuple | None = None
    th_hold: tuple | None = None
    weight_bits: int = 8
    potential_bits: int = 16
    tau: float = 2.0
    slope: float = 5.0
    early_exit: bool = False
    init_mean: float = 0.0
    init_std: float = 1.0

    def __post_init__(self):
        sizes = tuple(int(s) for s in self.sizes)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "resets", tuple(self.resets))
        object.__setattr__(self, "leak_shifts", tuple(int(s) for s in self.leak_shifts))
        L = len(sizes) - 1
        for name in ("th_start", "th_end"):
            v = getattr(self, name)
            object.__setattr__(self, name, (1.0,) * L if v is None else tuple(float(t) for t in v))
        km = (1,) * L if self.kernel_max is None else tuple(int(k) for k in self.kernel_max)
        object.__setattr__(self, "kernel_max", km)
        hold = (0,) * L if self.th_hold is None else tuple(int(k) for k in self.th_hold)
        object.__setattr__(self, "th_hold", hold)
        if L < 1 or min(sizes) < 1:
            raise ConfigError(f"sizes must be (n_inputs, n_1, ..., n_L) with every size >= 1, "
                              f"not {sizes}")
        if self.time_steps < 1:
            raise ConfigError(f"time_steps must be >= 1, not {self.time_steps}")
        for name in ("resets", "leak_shifts", "th_start", "th_end", "kernel_max", "th_hold"):
            if len(getattr(self, name)) != L:
                raise ConfigError(f"{name} needs one entry per layer ({L}), "
                                  f"got {len(getattr(self, name))}")
        for r in self.resets:
            if r not in RESET_MODES:
                raise ConfigError(
                    f"Reset mode must be one of 'fire_once', 'zero', 'subtract', not {r!r}")
        for s in self.leak_shifts:
            if not 0 <= s < self.potential_bits:
                raise ConfigError(f"leak_shift must be in 0..{self.potential_bits - 1}, not {s}")
        if self.readout not in READOUTS:
            raise ConfigError(
                f"readout must be one of 'first_spike', 'max_potential', not {self.readout!r}")
        if min(self.th_hold) < 0 or max(self.th_hold) >= self.time_steps:
            raise ConfigError(f"th_hold must be in 0..time_steps-1, not {self.th_hold}")
        if min(self.kernel_max) < 1:
            raise ConfigError(f"kernel_max must be >= 1, not {self.kernel_max}")
        if min(self.th_start + self.th_end) <= 0:
            raise ConfigError(f"thresholds must be > 0, not {self.th_start} .. {self.th_end}")
        if not 2 <= self.weight_bits <= 16 or not 2 <= self.potential_bits <= 32:
            raise ConfigError(
                f"weight_bits must be in 2..16 and potential_bits in 2..32, not "
                f"{self.weight_bits} and {self.potential_bits}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NetConfig:
        return cls(**d)


class NeuronState(NamedTuple):
    """Per-layer state: membrane ``v`` and the 0/1 ``fired`` flags, both ``(batch, n)``."""

    v: torch.Tensor
    fired: torch.Tensor


class NeuronParams(NamedTuple):
    """Parameters of one :func:`step`: ``threshold`` is ``Theta_l[t]`` for this step."""

    threshold: float
    reset: str
    leak_shift: int
    lo: float
    hi: float
    mode: str
    slope: float
    spiking: bool = True
    blocked: bool = False


class SpikeFn(torch.autograd.Function):
    """Heaviside ``H(u)`` forward (``u >= 0`` spikes); fast-sigmoid surrogate backward
    ``dH/du ~ 1 / (1 + slope * |u|)**2`` with ``u`` in threshold units (``(V - Theta)/Theta``)."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, slope: float):
        ctx.save_for_backward(u)
        ctx.slope = slope
        return (u >= 0).to(u.dtype)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return grad / (1.0 + ctx.slope * u.abs()) ** 2, None


def _floor_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.floor(x) - x).detach()


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.round(x) - x).detach()


def step(current: torch.Tensor, state: NeuronState, params: NeuronParams):
    """One time step of one layer: integrate ``current``, fire, reset, leak.

    Returns ``(spikes, state)`` with ``spikes`` a 0/1 tensor of ``state.v``'s dtype. The update
    equations are in ``docs/training.md``; ``params.mode`` selects the leak (``float``:
    ``V * 2**-s``; ``qat``/``int``: ``floor(V / 2**s)``) and the spike function (``int``: exact
    comparison; otherwise :class:`SpikeFn`). A non-spiking layer (``params.spiking`` false,
    the ``max_potential`` output) only integrates.
    """
    v = torch.clamp(state.v + current, params.lo, params.hi)
    if not params.spiking:
        return torch.zeros_like(v), NeuronState(v, state.fired)
    th = params.threshold
    fire_once = params.reset == "fire_once"
    # the gate is detached: a fired neuron's later steps carry no gradient back into the
    # spike that closed the gate (the usual treatment of resets in surrogate training)
    can = (1 - state.fired).detach() if fire_once else None
    if params.mode == "int" or params.blocked:
        # a held (blocking) threshold passes no surrogate gradient: the neuron is not meant to
        # fire there, and the surrogate's tail would otherwise dominate the held steps
        s = (v >= th).to(v.dtype)
    else:
        s = SpikeFn.apply((v - th) / th, params.slope)
    if can is not None:
        s = s * can
    fired = state.fired
    if fire_once:
        fired = fired + s
    elif params.reset == "zero":
        v = v * (1 - s)
    else:
        v = v - s * th
    if params.leak_shift:
        if params.mode == "int":
            delta = torch.div(v, 1 << params.leak_shift, rounding_mode="floor")
        elif params.mode == "qat":
            delta = _floor_ste(v / float(1 << params.leak_shift))
        else:
            delta = v / float(1 << params.leak_shift)
        v = v - (delta * can if can is not None else delta)
    return s, NeuronState(v, fired)


# -- the module -------------------------------------------------------------------------------


class Forward(NamedTuple):
    """What :meth:`TTFSNet.forward` returns, in every mode.

    ``spikes[l]`` is ``(T, batch, n_l)`` (0/1), ``v_final`` the output layer's final membrane,
    ``t_first`` the output neurons' first-spike steps (``T`` when silent; differentiable through
    the surrogate as ``sum_t prod_{t' <= t} (1 - s_t')``), and ``logits`` what the task loss
    takes: ``-t_first / tau`` (first_spike) or ``v_final / (Theta * kernel_max)``
    (max_potential). ``v_peak[l]`` is the largest ``|V|`` layer ``l`` reached (detached; the
    calibration of :meth:`TTFSNet.calibrate`).
    """

    spikes: list
    v_final: torch.Tensor
    t_first: torch.Tensor
    logits: torch.Tensor
    v_peak: list


def quant_scale(w: torch.Tensor, weight_bits: int, potential_bits: int = 32,
                v_peak: float = 0.0, margin: float = 0.9) -> float:
    """Integer units per threshold unit of a layer:
    ``q = min((2**(weight_bits-1) - 1) / max|W|, margin * (2**(potential_bits-1) - 1) / v_peak)``.

    The second bound (only when a calibrated ``v_peak > 0`` is known) keeps the largest membrane
    seen on the training data inside the potential range, at the price of coarser weights.
    """
    m = float(w.detach().abs().max())
    q = smax(weight_bits) / m if m > 0.0 else 1.0
    if v_peak > 0.0:
        q = min(q, margin * smax(potential_bits) / v_peak)
    return q


class TTFSNet(nn.Module):
    """A fully connected spiking network over ``config.time_steps`` steps.

    Parameters are the float weights ``weights[l]`` of shape ``(n_in, n_out)`` (source to
    destination, as in :class:`sim.ir.Layer`); thresholds ``Theta_l[t]`` and kernels ``K_l[t]`` are
    buffers (kernels are integer-valued: ones, or the falling ramp of ``kernel_max``).
    """

    def __init__(self, config: NetConfig, generator: torch.Generator | None = None):
        super().__init__()
        self.config = config
        #: use the closed-form shortcuts (integrate-only prefix, fire_once tail); off = the
        #: plain step loop, which the tests compare them with
        self.vectorise = True
        T = config.time_steps
        self.weights = nn.ParameterList()
        kernels = [self._kernel_table(km, T) for km in config.kernel_max]
        for (a, b), kern in zip(zip(config.sizes[:-1], config.sizes[1:], strict=True), kernels,
                                strict=True):
            # mean init_mean / n_in: a neuron whose inputs all fire receives about init_mean
            # thresholds, so training starts with neurons that spike; divided by the mean kernel
            # entry so a ramp kernel does not multiply the initial potentials
            kscale = float(kern.mean())
            w = torch.randn(a, b, generator=generator) * (config.init_std / np.sqrt(a))
            w = (w + config.init_mean / a) / kscale
            self.weights.append(nn.Parameter(w))
        for li, (a, b) in enumerate(zip(config.th_start, config.th_end, strict=True)):
            hold = config.th_hold[li]
            t = torch.arange(T, dtype=torch.float64)
            ramp = torch.clamp(t - hold, min=0) / max(T - 1 - hold, 1)
            table = a + (b - a) * ramp
            table[:hold] = TH_BLOCK
            table = table.to(torch.float32)
            self.register_buffer(f"threshold{li}", table)
            self.register_buffer(f"kernel{li}", kernels[li])
            # largest |V| in threshold units seen by calibrate(); 0 = not calibrated
            self.register_buffer(f"vpeak{li}", torch.zeros(()))

    @staticmethod
    def _kernel_table(km: int, T: int) -> torch.Tensor:
        t = torch.arange(T, dtype=torch.float32)
        return torch.clamp(km - t, min=1.0) if km > 1 else torch.ones(T)

    @property
    def n_layers(self) -> int:
        return len(self.weights)

    def threshold_table(self, li: int) -> torch.Tensor:
        return getattr(self, f"threshold{li}")

    def kernel_table(self, li: int) -> torch.Tensor:
        return getattr(self, f"kernel{li}")

    def scale(self, li: int) -> float:
        """The integer units per threshold unit of layer ``li`` (:func:`quant_scale`)."""
        cfg = self.config
        return quant_scale(self.weights[li], cfg.weight_bits, cfg.potential_bits,
                           float(getattr(self, f"vpeak{li}")))

    def calibrate(self, x: torch.Tensor, batch: int = 1000) -> list[float]:
        """Record every layer's largest ``|V|`` (float mode) on inputs ``x``; returns them."""
        peaks = [0.0] * self.n_layers
        with torch.no_grad():
            for li in range(self.n_layers):
                getattr(self, f"vpeak{li}").zero_()
            for a in range(0, x.shape[1], batch):
                fwd = self(x[:, a:a + batch], "float")
                peaks = [max(p, float(v)) for p, v in zip(peaks, fwd.v_peak, strict=True)]
            for li, p in enumerate(peaks):
                getattr(self, f"vpeak{li}").fill_(p)
        return peaks

    def layer_params(self, li: int, mode: str):
        """``(W, Theta table, (lo, hi))`` of layer ``li`` in ``mode``'s units."""
        cfg = self.config
        w = self.weights[li]
        th = self.threshold_table(li)
        pb = cfg.potential_bits
        q = self.scale(li)
        if mode == "float":
            if float(getattr(self, f"vpeak{li}")) == 0.0:
                # before calibration the float units of the potential range are unknown; a
                # clamp at the weight-only scale can pin every output at the bound for good
                return w, th, (-float("inf"), float("inf"))
            return w, th, (smin(pb) / q, smax(pb) / q)
        wq = torch.clamp(_round_ste(w * q), smin(cfg.weight_bits), smax(cfg.weight_bits))
        thq = torch.clamp(torch.round(th * q), 1, smax(pb))
        return wq, thq, (float(smin(pb)), float(smax(pb)))

    def _fire_once_tail(self, state: NeuronState, ths: list, held: list, mode: str,
                        lo: float, hi: float):
        """:func:`step` over steps with zero input for a fire_once layer without leak, at once.

        ``s_t = H((V - Theta_t) / Theta_t) * [no spike before t]`` with the gate detached, as in
        :func:`step`; ``V`` stays ``clamp(V, lo, hi)``.
        """
        v = torch.clamp(state.v, lo, hi)
        th = v.new_tensor(ths)[:, None, None]
        u = (v[None] - th) / th
        raw = SpikeFn.apply(u, self.config.slope)
        if any(held):
            hmask = v.new_tensor(held)[:, None, None].bool()
            raw = torch.where(hmask, (u >= 0).to(v.dtype), raw)
        sd = raw.detach()
        before = torch.cumsum(sd, dim=0) - sd + state.fired.detach()[None]
        s = raw * (before == 0).to(v.dtype)
        return s, NeuronState(v, state.fired + s.sum(dim=0))

    @staticmethod
    def _integrate_only_prefix(held: list, spiking: bool, leak_shift: int) -> int:
        """How many leading steps of a layer can only integrate (no fire, no leak, no reset)."""
        if leak_shift:
            return 0
        if not spiking:
            return len(held)
        n = 0
        while n < len(held) and held[n]:
            n += 1
        return n

    def forward(self, x: torch.Tensor, mode: str = "float") -> Forward:
        """Run ``x`` (``(T, batch, n_inputs)`` 0/1 input events) in ``float`` or ``qat`` mode."""
        if mode not in ("float", "qat"):
            raise ConfigError(f"forward mode must be 'float' or 'qat', not {mode!r}")
        cfg = self.config
        T = cfg.time_steps
        if x.dim() != 3 or x.shape[0] != T or x.shape[2] != cfg.sizes[0]:
            raise ConfigError(f"input must have shape (T={T}, batch, {cfg.sizes[0]}), "
                              f"got {tuple(x.shape)}")
        spikes_all = []
        h = x
        B = x.shape[1]
        v = None
        peaks = []
        for li in range(self.n_layers):
            w, th, (lo, hi) = self.layer_params(li, mode)
            K = self.kernel_table(li)
            cur = torch.matmul(h, w) * K[:, None, None]
            last = li == self.n_layers - 1
            spiking = not (last and cfg.readout == "max_potential")
            n = w.shape[1]
            state = NeuronState(x.new_zeros(B, n), x.new_zeros(B, n))
            outs = []
            ths = th.tolist()
            held = (self.threshold_table(li) >= TH_BLOCK).tolist()
            peak = x.new_zeros(())
            t0 = (self._integrate_only_prefix(held, spiking, cfg.leak_shifts[li])
                  if self.vectorise else 0)
            if t0:
                # steps where the layer cannot fire and does not leak only accumulate: one
                # cumsum instead of t0 calls of step(), used only when it is provably the same
                # (no partial sum outside the clamp range, none reaching a held threshold)
                vs = torch.cumsum(cur[:t0], dim=0)
                vd = vs.detach()
                same = bool(vd.max() <= hi) and bool(vd.min() >= lo)
                if spiking:
                    same = same and bool((vd < torch.tensor(ths[:t0])[:, None, None]).all())
                if same:
                    outs.append(torch.zeros_like(vs))
                    state = NeuronState(vs[-1], state.fired)
                    peak = vd.abs().amax()
                else:
                    t0 = 0
            if (t0 < T and self.vectorise and spiking and cfg.resets[li] == "fire_once"
                    and not cfg.leak_shifts[li] and not bool(cur[t0:].detach().any())):
                # no input is left and a fire_once neuron without leak never changes V: the
                # remaining steps only compare the constant V with the threshold table, all at
                # once (the same spikes and surrogate gradients as the loop below)
                s, state = self._fire_once_tail(state, ths[t0:], held[t0:], mode, lo, hi)
                outs.append(s)
                peak = torch.maximum(peak, state.v.detach().abs().amax())
                t0 = T
            for t in range(t0, T):
                p = NeuronParams(ths[t], cfg.resets[li], cfg.leak_shifts[li], lo, hi, mode,
                                 cfg.slope, spiking, held[t])
                s, state = step(cur[t], state, p)
                outs.append(s[None])
                peak = torch.maximum(peak, state.v.detach().abs().amax())
            peaks.append(peak if mode == "float" else peak / self.scale(li))
            h = torch.cat(outs)
            spikes_all.append(h)
            v = state.v
            last_th = ths[-1]
        out = spikes_all[-1]
        notyet = torch.cumprod(1 - out, dim=0)
        t_first = notyet.sum(dim=0)
        if cfg.readout == "first_spike":
            logits = -t_first / cfg.tau
        else:
            logits = v / (last_th * cfg.kernel_max[-1])
        return Forward(spikes_all, v, t_first, logits, peaks)


def predict(fwd: Forward, readout: str) -> torch.Tensor:
    """Class per sample by the readout rule of ``docs/semantics.md`` (ties -> lowest index)."""
    if readout == "max_potential":
        return torch.argmax(fwd.v_final, dim=1)
    out = fwd.spikes[-1] > 0  # (T, B, n)
    any_t = out.any(dim=2)  # (T, B)
    has = any_t.any(dim=0)
    t0 = torch.argmax(any_t.to(torch.int8), dim=0)  # first step with an output spike
    first = torch.argmax(out[t0, torch.arange(out.shape[1])].to(torch.int8), dim=1)
    fallback = torch.argmax(fwd.v_final, dim=1)
    return torch.where(has, first, fallback)


# -- events and the integer forward ------------------------------------------------------------


def events_to_dense(events: EventSet, time_steps: int, n_inputs: int,
                    dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """An :class:`EventSet` as a dense ``(T, N, n_inputs)`` 0/1 tensor (checks the events)."""
    events.check(time_steps, n_inputs)
    N = len(events)
    X = torch.zeros(time_steps, N, n_inputs, dtype=dtype)
    lens = [len(s) for s in events.samples]
    if sum(lens):
        cat = torch.from_numpy(np.concatenate([s for s in events.samples if len(s)]))
        who = torch.from_numpy(np.repeat(np.arange(N), lens))
        X[cat[:, 0], who, cat[:, 1]] = 1
    return X


@dataclass(eq=False)
class IntRun:
    """The integer forward of N samples: everything :func:`sim.reference.run` reports.

    ``spikes[l]`` is an ``int64`` ``(T, N, n_l)`` 0/1 tensor over all ``T`` steps;
    ``steps[n]`` is how many steps sample ``n`` ran (``< T`` only with ``early_exit``); counters
    cover steps ``< steps[n]``. ``saturations`` is ``(T, N)`` per step.
    """

    predictions: np.ndarray
    steps: np.ndarray
    input_events: np.ndarray
    spikes_per_layer: np.ndarray
    sops: np.ndarray
    saturations: np.ndarray
    spikes: list = field(repr=False)
    v_final: torch.Tensor = field(repr=False)

    def trace(self, n: int) -> np.ndarray:
        """Sample ``n``'s spikes as ``[layer, t, neuron]`` rows in emission order (1-based
        layer), truncated at its last step: the ``trace`` of :class:`sim.reference.SampleResult`."""
        rows = []
        s = int(self.steps[n])
        for li, sp in enumerate(self.spikes):
            t, i = torch.nonzero(sp[:s, n], as_tuple=True)
            rows.append(np.stack([np.full(t.numel(), li + 1), t.numpy(), i.numpy()], axis=1))
        allr = np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), np.int64)
        order = np.lexsort((allr[:, 2], allr[:, 0], allr[:, 1]))
        return allr[order]


def int_forward(qnet: QNet, x: torch.Tensor | EventSet) -> IntRun:
    """The integer network ``qnet`` on inputs ``x``, exactly: an :class:`EventSet`, or dense
    ``(T, N, n_inputs)`` 0/1 inputs (:func:`events_to_dense`).

    Same semantics and counters as :func:`sim.reference.run`: per step, a sample whose partial
    sums could leave the potential range (bounded by the positive and negative parts of its
    contributions) is integrated event by event in queue order with a saturating add, counting
    saturations; all others with one matmul, which is then exact.
    """
    if isinstance(x, EventSet):
        x = events_to_dense(x, qnet.time_steps, qnet.n_inputs)
    T, N, n_in = x.shape
    if T != qnet.time_steps or n_in != qnet.n_inputs:
        raise ConfigError(f"input must have shape (T={qnet.time_steps}, N, {qnet.n_inputs}), "
                          f"got {tuple(x.shape)}")
    pb = qnet.potential_bits
    lo, hi = smin(pb), smax(pb)
    h = x.to(torch.int64)
    L = len(qnet.layers)
    spikes, events_in = [], []
    sats = torch.zeros(T, N, dtype=torch.int64)
    v = None
    for li, layer in enumerate(qnet.layers):
        W = torch.from_numpy(np.array(layer.weights, dtype=np.int64))
        K = torch.from_numpy(np.array(layer.kernel, dtype=np.int64))
        th = [int(a) for a in layer.threshold]
        hk = h * K[:, None, None]
        cur = torch.matmul(hk, W)
        up = torch.matmul(hk, W.clamp(min=0))
        down = torch.matmul(hk, W.clamp(max=0))
        events_in.append(h.sum(dim=2))  # (T, N)
        spiking = not (li == L - 1 and qnet.readout == "max_potential")
        state = NeuronState(torch.zeros(N, layer.n_out, dtype=torch.int64),
                            torch.zeros(N, layer.n_out, dtype=torch.int64))
        outs = []
        for t in range(T):
            c = cur[t]
            unsafe = ((state.v + up[t]).amax(dim=1) > hi) | ((state.v + down[t]).amin(dim=1) < lo)
            if bool(unsafe.any()):
                c = c.clone()
                for n in torch.nonzero(unsafe).flatten().tolist():
                    row = state.v[n].clone()
                    wk = W * int(K[t])
                    for j in torch.nonzero(h[t, n]).flatten().tolist():
                        s = row + wk[j]
                        r = s.clamp(lo, hi)
                        sats[t, n] += int((r != s).sum())
                        row = r
                    c[n] = row - state.v[n]
            p = NeuronParams(th[t], layer.reset, layer.leak_shift, lo, hi, "int", 0.0, spiking)
            s, state = step(c, state, p)
            outs.append(s)
        h = torch.stack(outs)
        spikes.append(h)
        v = state.v
    # early exit: a sample stops after the first step in which the output layer spiked
    steps = np.full(N, T, dtype=np.int64)
    out_any = spikes[-1].any(dim=2) if qnet.readout == "first_spike" else None
    if qnet.early_exit and out_any is not None:
        has = out_any.any(dim=0).numpy()
        first_t = torch.argmax(out_any.to(torch.int8), dim=0).numpy()
        steps = np.where(has, first_t + 1, T)
    mask = torch.from_numpy(np.arange(T)[:, None] < steps[None, :])  # (T, N)
    inp = x.to(torch.int64).sum(dim=2)
    input_events = (inp * mask).sum(dim=0).numpy()
    spl = np.stack([(sp.sum(dim=2) * mask).sum(dim=0).numpy() for sp in spikes], axis=1)
    sops = sum((ev * mask).sum(dim=0).numpy() * layer.n_out
               for ev, layer in zip(events_in, qnet.layers, strict=True))
    fwd = Forward(spikes, v, torch.zeros(0), torch.zeros(0), [])
    pred = predict(fwd, qnet.readout).numpy().astype(np.int64)
    return IntRun(
        predictions=pred,
        steps=steps,
        input_events=input_events.astype(np.int64),
        spikes_per_layer=spl.astype(np.int64),
        sops=np.asarray(sops, dtype=np.int64),
        saturations=(sats * mask).sum(dim=0).numpy().astype(np.int64),
        spikes=spikes,
        v_final=v,
    )


def export_layers(model: TTFSNet) -> list[Layer]:
    """The integer layers of ``model``: the ``qat`` forward's weights and thresholds, exactly."""
    cfg = model.config
    layers = []
    for li in range(model.n_layers):
        with torch.no_grad():
            wq, thq, _ = model.layer_params(li, "qat")
        K = model.kernel_table(li)
        if not torch.equal(K, torch.round(K)):
            raise ConfigError(f"layer {li + 1} kernel table is not integer-valued; "
                              "this exporter needs integer kernels")
        table = model.threshold_table(li)
        th_f = table[table < TH_BLOCK] * model.scale(li)  # held steps clamp on purpose
        if float(th_f.max()) > smax(cfg.potential_bits):
            raise ConfigError(
                f"layer {li + 1} threshold {float(th_f.max()):.0f} in integer units does not fit "
                f"potential_bits={cfg.potential_bits}")
        layers.append(Layer(
            weights=wq.detach().to(torch.int64).numpy(),
            threshold=thq.to(torch.int64).numpy(),
            kernel=K.to(torch.int64).numpy(),
            leak_shift=cfg.leak_shifts[li],
            reset=cfg.resets[li],
        ))
    return layers
