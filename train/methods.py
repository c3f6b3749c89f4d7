"""Training methods: the registry the command line dispatches on, and the spike penalties.

A method is a :class:`Method`: a name, a one-line summary, its default options, a ``train``
callable that turns a :class:`TrainRequest` into a checkpoint path, and a ``quantize`` callable
that turns a loaded checkpoint into a :class:`sim.ir.QNet`. Other modules register their own
(``train.kernel`` registers ``kernel``, ``train.convert`` registers ``convert``) with
:func:`register`; :func:`get_method` imports those modules on first use.

The four surrogate-gradient methods of this package share one trainer
(:func:`train.loop.train_surrogate`) and differ only in their penalty, a function of the hidden
layers' spike counts ``N_{l,i}`` (spikes of hidden neuron ``i`` of layer ``l`` in one sample,
averaged over the batch where written ``E[.]``):

``baseline``
    ``loss = task``.
``excess`` (Fontanini et al. 2024)
    ``loss = task + lambda * E[ mean_{l,i} max(0, N_{l,i} - 1) ]``, hidden neurons may spike more
    than once (``zero``/``subtract`` reset). Two phases: for the first ``phase1`` fraction of the
    epochs the penalty is off and a silence term ``mu * mean_{l,i} max(0, r_min - E[N_{l,i}])``
    (each hidden neuron should fire in at least a fraction ``r_min`` of the samples) is on; then
    the penalty switches on. *Our interpretation*: the paper's silence term is not published in
    the abstract; we keep it on in phase 2 too, so the penalty can remove excess spikes but not
    whole neurons. ``two_phase=False`` is the single-phase ablation: penalty from epoch 0 and no
    silence term.
``count`` (Allred et al. 2020)
    ``loss = task + lambda(e) * E[ mean_{l,i} N_{l,i} ]`` with ``lambda(e) = lam * (e / (E - 1))``
    rising linearly from 0 at the first epoch to ``lam`` at the last. *Our interpretation*: the
    paper anneals the weight upward in a simulated-annealing-like way; the linear ramp is ours,
    and we normalise by the number of hidden neurons so ``lam`` is comparable across methods.
``sop`` (Suetake et al. 2023)
    ``loss = task + lambda * E[ sum_l fan_out_l * N_l ] / sum_l fan_out_l * n_l`` with ``N_l``
    the spikes of hidden layer ``l`` in a sample and ``fan_out_l`` the size of layer ``l+1``: the
    synaptic operations the spikes cause, as a fraction of the most a sample can cause. *Our
    interpretation*: the normalisation; the paper penalises the SOP count itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ttfs.sim.errors import ConfigError

__all__ = [
    "Method",
    "TrainRequest",
    "Penalty",
    "register",
    "get_method",
    "method_names",
    "PENALTIES",
    "make_penalty",
]


@dataclass(frozen=True)
class TrainRequest:
    """What :func:`train.api.train_model` hands a method's ``train``.

    ``options`` are already merged with the method's defaults and checked for unknown keys.
    ``progress`` (optional) is called once per epoch with a dict: ``epoch``, ``epochs``,
    ``loss``, ``train_acc``, ``val_acc``, ``spikes_per_sample``, ``seconds``.
    """

    dataset: str
    epochs: int | None
    seed: int
    out: Path
    resume: bool
    progress: Callable[[dict], None] | None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    """A registered training method (see the module docstring)."""

    name: str
    summary: str
    train: Callable[[TrainRequest], Path]
    quantize: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, Method] = {}
#: Modules that register further methods when imported (imported lazily, missing ones skipped).
PLUGIN_MODULES = ("ttfs.train.kernel", "ttfs.train.convert")
_plugins_loaded = False


def register(method: Method) -> Method:
    """Add ``method`` to the registry (a second registration of a name replaces the first)."""
    if not isinstance(method, Method):
        raise TypeError(f"register needs a Method, not {type(method).__name__}")
    _REGISTRY[method.name] = method
    return method


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    importlib.import_module("ttfs.train.loop")  # registers the four surrogate methods
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            # a plugin that is not written yet is simply absent; a plugin that fails to import
            # for another reason is a bug and must surface
            if exc.name != mod:
                raise


def method_names() -> list[str]:
    _load_plugins()
    return sorted(_REGISTRY)


def get_method(name: str) -> Method:
    """The registered method ``name``; :class:`ConfigError` naming the known ones otherwise."""
    _load_plugins()
    if name not in _REGISTRY:
        known = ", ".join(repr(k) for k in sorted(_REGISTRY))
        raise ConfigError(f"method must be one of {known}, not {name!r}")
    return _REGISTRY[name]


# -- penalties ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Penalty:
    """A spike penalty: ``loss_term(counts, fan_outs, epoch, epochs) -> scalar tensor``.

    ``counts`` is a list, one ``(batch, n_l)`` tensor of per-sample spike counts per hidden
    layer (differentiable through the surrogate); ``fan_outs[l]`` is ``n_{l+1}``.
    """

    name: str
    lam: float = 0.0
    two_phase: bool = True
    phase1: float = 0.3
    mu: float = 1.0
    r_min: float = 0.05

    def weight(self, epoch: int, epochs: int) -> float:
        """The penalty weight at ``epoch`` (0-based) of ``epochs``."""
        if self.name == "count":
            return self.lam * (epoch / (epochs - 1) if epochs > 1 else 1.0)
        if self.name == "excess" and self.two_phase and epoch < self.phase1_epochs(epochs):
            return 0.0
        return self.lam if self.name != "baseline" else 0.0

    def phase1_epochs(self, epochs: int) -> int:
        return int(round(self.phase1 * epochs))

    def __call__(self, counts: list, fan_outs: list, epoch: int, epochs: int) -> torch.Tensor:
        zero = counts[0].new_zeros(()) if counts else torch.zeros(())
        if self.name == "baseline" or not counts:
            return zero
        lam = self.weight(epoch, epochs)
        allc = torch.cat(counts, dim=1)  # (batch, hidden neurons)
        term = zero
        if self.name == "excess":
            if lam:
                term = lam * torch.relu(allc - 1).mean()
            if self.two_phase:
                term = term + self.mu * torch.relu(self.r_min - allc.mean(dim=0)).mean()
        elif self.name == "count":
            term = lam * allc.mean()
        elif self.name == "sop":
            sops = sum(f * c.sum(dim=1) for f, c in zip(fan_outs, counts, strict=True))
            most = sum(f * c.shape[1] for f, c in zip(fan_outs, counts, strict=True))
            term = lam * (sops / most).mean()
        return term


PENALTIES = ("baseline", "excess", "count", "sop")


def make_penalty(name: str, options: Mapping[str, Any]) -> Penalty:
    if name not in PENALTIES:
        raise ConfigError(f"penalty must be one of {PENALTIES}, not {name!r}")
    return Penalty(
        name=name,
        lam=float(options.get("lam", 0.0)),
        two_phase=bool(options.get("two_phase", True)),
        phase1=float(options.get("phase1", 0.3)),
        mu=float(options.get("mu", 1.0)),
        r_min=float(options.get("r_min", 0.05)),
    )
