"""The snnTorch side of the NIR round trip (docs/nir.md, "snnTorch round trip"), shared by
``tests/train/test_snntorch_roundtrip.py`` and ``benchmarks/nir_roundtrip.py``.

snnTorch (and the nirtorch its ``export_to_nir`` needs) is a dev-only dependency, so this code
lives beside the tests, not in the ``ttfs`` package. :func:`roundtrip` is the whole experiment:

1. encode a data set with the project's TTFS encoder (:func:`ttfs.sim.encode.encode_ttfs`); the
   same :class:`EventSet` is the integer side's input and, as a dense 0/1 tensor, snnTorch's;
2. train ``Linear -> Leaky -> Linear -> Leaky`` in snnTorch (bias-free ``Linear``, ``beta = 1 -
   2**-s``, reset to zero, threshold 1, per-neuron parameter tensors so the export is typed);
3. export it with snnTorch's own ``export_to_nir`` and import it with
   :func:`ttfs.train.nir.import_nir` (``dt = 1e-4``: snnTorch's export hard-codes it);
4. run the integer network on the reference model (every test sample) and on the Verilator RTL
   (the first ``samples``), and compare with :func:`ttfs.sim.compare.check_equal`.

snnTorch's prediction is decoded with *our* ``first_spike`` rule (earliest output spike, lowest
index on ties, else the largest final membrane), so agreement measures the network, not two
different decision rules.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import snntorch as snn
import torch
import torch.nn.functional as F
from snntorch import utils as snn_utils
from snntorch.export_nir import export_to_nir

from ttfs.sim.compare import check_equal
from ttfs.sim.core import CoreConfig
from ttfs.sim.encode import encode_ttfs
from ttfs.sim.errors import MismatchError
from ttfs.sim.image import pack
from ttfs.sim.ir import EventSet
from ttfs.sim.reference import run as reference_run
from ttfs.train.data import load_split
from ttfs.train.nir import float_predict, import_nir
from ttfs.train.snn import events_to_dense
from ttfs.verify.backends import get_backend

#: snnTorch's export_to_nir writes tau = DT / (1 - beta) with this DT hard-coded
DT = 1e-4


@dataclass(frozen=True)
class Options:
    """One round trip's settings (the benchmark's command line, the test's short version)."""

    dataset: str = "yinyang"
    epochs: int = 30
    samples: int = 200  # test samples run on the RTL (the reference model runs them all)
    seed: int = 0
    time_steps: int = 32
    t_in: int | None = None  # encoding window; default time_steps // 2
    hidden: int = 32
    leak_shift: int = 4  # beta = 1 - 2**-leak_shift
    batch: int = 64
    lr: float = 2e-3
    train_samples: int | None = None  # None: the whole train split
    test_samples: int | None = None  # None: the whole test split
    calibration: int = 256  # train samples whose events calibrate the importer
    weight_bits: int = 8
    potential_bits: int = 16
    lanes: int = 8


@dataclass
class Figures:
    """What one round trip measured (accuracies are fractions of the test samples used)."""

    float_acc: float
    int_acc: float
    rtl_acc: float
    rtl_mismatch: str | None  # None: the RTL equals the reference model on every sample
    agreement: float
    nir_float_agreement: float  # the float NIR graph run with our step order (float_predict)
    rtl_agreement: float
    n_test: int
    n_rtl: int
    float_spikes: float  # mean hidden + output spikes per sample, snnTorch
    int_spikes: float  # the same on the integer network (reference model)
    spike_decided: float  # fraction of samples snnTorch decides by an output spike (not fallback)
    notes: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)


def encode(X: np.ndarray, y: np.ndarray, time_steps: int,
           t_in: int) -> tuple[EventSet, torch.Tensor]:
    """The TTFS events of ``X`` and the same events as a dense ``(T, N, n_in)`` 0/1 tensor."""
    events = encode_ttfs(X, time_steps, t_in=t_in, labels=y)
    return events, events_to_dense(events, time_steps, X.shape[1])


def build(n_in: int, hidden: int, n_out: int, leak_shift: int, seed: int) -> torch.nn.Sequential:
    """``Linear -> Leaky -> Linear -> Leaky``, exportable by ``export_to_nir``.

    ``beta`` and ``threshold`` are per-neuron tensors: with scalars the exported LIF nodes have
    no shape and NIR's type inference fails. ``Linear`` has no bias: snnTorch adds a bias as a
    constant current every step, which a TTFS input event cannot reproduce.
    """
    torch.manual_seed(seed)
    beta = 1.0 - 2.0 ** -leak_shift

    def leaky(n: int, **kw) -> snn.Leaky:
        return snn.Leaky(beta=torch.full((n,), beta), threshold=torch.ones(n), init_hidden=True,
                         reset_mechanism="zero", **kw)

    net = torch.nn.Sequential(
        torch.nn.Linear(n_in, hidden, bias=False), leaky(hidden),
        torch.nn.Linear(hidden, n_out, bias=False), leaky(n_out, output=True),
    )
    with torch.no_grad():  # TTFS inputs fire once each: start with weights that reach threshold
        net[0].weight.mul_(4.0)
        net[2].weight.mul_(2.0)
    return net


def forward(net: torch.nn.Sequential, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Run ``x`` (``(T, N, n_in)``) through ``net``: ``(hidden spikes, output spikes, output
    membrane)``, each ``(T, N, n)``."""
    snn_utils.reset(net)
    hid, out, mem = [], [], []
    for t in range(x.shape[0]):
        h = net[1](net[0](x[t]))
        s, m = net[3](net[2](h))
        hid.append(h)
        out.append(s)
        mem.append(m)
    return torch.stack(hid), torch.stack(out), torch.stack(mem)


def first_spike_predictions(spk: torch.Tensor, mem: torch.Tensor) -> np.ndarray:
    """Our ``first_spike`` readout applied to snnTorch's output: the earliest spiking neuron
    (lowest index on ties), else the largest final membrane (lowest index on ties)."""
    T = spk.shape[0]
    fired = spk.detach() > 0
    steps = torch.arange(T).view(T, 1, 1).expand_as(fired)
    t_first = torch.where(fired, steps, torch.full_like(steps, T)).amin(0)  # (N, n_out)
    first = torch.argmin(t_first, dim=1)  # argmin returns the first (lowest) index on ties
    fallback = torch.argmax(mem[-1].detach(), dim=1)
    any_spike = fired.any(0).any(1)
    return torch.where(any_spike, first, fallback).numpy()


def loss_fn(spk: torch.Tensor, mem: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on each output's membrane averaged over the steps before its first spike
    (0 from the spike on). This trains a membrane readout: the output layer learns to stay below
    threshold, and the prediction is the ``first_spike`` rule's fallback, the largest final
    membrane (docs/nir.md, "snnTorch round trip", explains the choice)."""
    before = torch.cumsum(spk.detach(), 0) == 0
    return F.cross_entropy((mem * before).mean(0) * 4.0, y)


def train(net: torch.nn.Sequential, x: torch.Tensor, y: torch.Tensor, opt: Options) -> None:
    """A few epochs of Adam with snnTorch's surrogate gradients (BPTT over all steps)."""
    gen = torch.Generator().manual_seed(opt.seed)
    optim = torch.optim.Adam(net.parameters(), lr=opt.lr)
    N = x.shape[1]
    for _ in range(opt.epochs):
        order = torch.randperm(N, generator=gen)
        for k in range(0, N, opt.batch):
            idx = order[k:k + opt.batch]
            _, spk, mem = forward(net, x[:, idx])
            loss = loss_fn(spk, mem, y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()


def export(net: torch.nn.Sequential, n_in: int):
    """snnTorch's own NIR export (its nirtorch call warns that it is deprecated: silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return export_to_nir(net, torch.zeros(1, n_in), ignore_dims=[0])


def _data(dataset: str, split: str, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_split(dataset, split)
    return (X, y) if limit is None else (X[:limit], y[:limit])


def roundtrip(opt: Options) -> Figures:
    """Train, export, import, compile and run: the figures of docs/nir.md's table."""
    sec: dict[str, float] = {}
    T = opt.time_steps
    t_in = opt.t_in or T // 2
    Xtr, ytr = _data(opt.dataset, "train", opt.train_samples)
    Xte, yte = _data(opt.dataset, "test", opt.test_samples)
    ev_tr, x_tr = encode(Xtr, ytr, T, t_in)
    ev_te, x_te = encode(Xte, yte, T, t_in)
    n_in, n_out = Xtr.shape[1], int(ytr.max()) + 1

    t0 = time.perf_counter()
    net = build(n_in, opt.hidden, n_out, opt.leak_shift, opt.seed)
    train(net, x_tr, torch.from_numpy(ytr), opt)
    sec["train"] = time.perf_counter() - t0
    with torch.no_grad():
        hid, spk, mem = forward(net, x_te)
    float_pred = first_spike_predictions(spk, mem)
    float_spikes = float((hid.sum() + spk.sum()) / len(yte))
    spike_decided = float((spk.sum((0, 2)) > 0).float().mean())

    t0 = time.perf_counter()
    graph = export(net, n_in)
    calib = EventSet(ev_tr.samples[:opt.calibration], ev_tr.labels[:opt.calibration])
    result = import_nir(graph, time_steps=T, dt=DT, calibration=calib, readout="first_spike",
                        weight_bits=opt.weight_bits, potential_bits=opt.potential_bits)
    nir_pred = float_predict(graph, ev_te, time_steps=T, dt=DT, readout="first_spike")
    qnet = result.qnet
    sec["export+import"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ref = reference_run(qnet, ev_te, trace=True)
    int_pred = np.array([r.prediction for r in ref])
    int_spikes = float(np.mean([sum(r.counters.spikes_per_layer) for r in ref]))
    sec["reference"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    n_rtl = min(opt.samples, len(yte))
    ev_rtl = EventSet(ev_te.samples[:n_rtl], ev_te.labels[:n_rtl])
    image = pack(qnet, ev_rtl, CoreConfig.for_network(qnet, lanes=opt.lanes))
    expected = get_backend("reference").run(image, trace=True)
    got = get_backend("verilator").run(image, trace=True)
    rtl_pred = np.array([r.prediction for r in got])
    try:
        check_equal(expected, got, backend="verilator")
        mismatch = None
    except MismatchError as exc:  # reported as a figure; the test asserts it is None
        mismatch = str(exc)
    sec["rtl"] = time.perf_counter() - t0

    return Figures(
        float_acc=float(np.mean(float_pred == yte)),
        int_acc=float(np.mean(int_pred == yte)),
        rtl_acc=float(np.mean(rtl_pred == yte[:n_rtl])),
        rtl_mismatch=mismatch,
        agreement=float(np.mean(int_pred == float_pred)),
        nir_float_agreement=float(np.mean(nir_pred == float_pred)),
        rtl_agreement=float(np.mean(rtl_pred == float_pred[:n_rtl])),
        n_test=len(yte),
        n_rtl=n_rtl,
        float_spikes=float_spikes,
        int_spikes=int_spikes,
        spike_decided=spike_decided,
        notes=tuple(result.notes),
        seconds=sec,
    )
