"""The spike penalties of the four surrogate-gradient methods, ``baseline``, ``excess``,
``count`` and ``sop``: their formulas, schedules and our interpretations are in
``docs/training.md`` (the penalty methods).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ttfs.sim.errors import ConfigError

__all__ = ["PENALTIES", "PENALTY_DEFAULTS", "SILENCE", "SCHEDULES", "Penalty", "make_penalty"]

PENALTIES = ("baseline", "excess", "count", "sop")

#: The penalty options and their defaults (the surrogate methods' defaults include them).
PENALTY_DEFAULTS: dict[str, Any] = {
    "lam": 0.0,
    "two_phase": True,
    "phase1": 0.3,
    "mu": 1.0,
    "r_min": 0.05,
    "silence": "both",
    "schedule": "ramp",
}
#: when the 2-phase excess schedule applies its silence term: in both phases (our first reading,
#: the default), in phase 1 only (DESIGN's reading of Fontanini et al.), or never (warm-up only)
SILENCE = ("both", "phase1", "none")
#: the count penalty's weight over the epochs: Allred et al.'s upward ramp, or constant
SCHEDULES = ("ramp", "constant")


@dataclass(frozen=True)
class Penalty:
    """A spike penalty: ``loss_term(counts, fan_outs, epoch, epochs) -> scalar tensor``.

    ``counts`` is a list, one ``(batch, n_l)`` tensor of per-sample spike counts per hidden
    layer (differentiable through the surrogate); ``fan_outs[l]`` is ``n_{l+1}``. The fields are
    the options of :data:`PENALTY_DEFAULTS` (:func:`make_penalty` fills them in): ``silence``
    (one of :data:`SILENCE`) places the 2-phase excess schedule's silence term, ``schedule``
    (one of :data:`SCHEDULES`) shapes the count penalty's weight.
    """

    name: str
    lam: float
    two_phase: bool
    phase1: float
    mu: float
    r_min: float
    silence: str = "both"
    schedule: str = "ramp"

    def weight(self, epoch: int, epochs: int) -> float:
        """The penalty weight at ``epoch`` (0-based) of ``epochs``."""
        if self.name == "count":
            if self.schedule == "constant":
                return self.lam
            return self.lam * (epoch / (epochs - 1) if epochs > 1 else 1.0)
        if self.name == "excess" and self.two_phase and epoch < self.phase1_epochs(epochs):
            return 0.0
        return self.lam if self.name != "baseline" else 0.0

    def phase1_epochs(self, epochs: int) -> int:
        return int(round(self.phase1 * epochs))

    def silence_on(self, epoch: int, epochs: int) -> bool:
        """Whether the excess penalty's silence term is in the loss at ``epoch``."""
        if not self.two_phase or self.silence == "none":
            return False
        return self.silence == "both" or epoch < self.phase1_epochs(epochs)

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
            if self.silence_on(epoch, epochs):
                term = term + self.mu * torch.relu(self.r_min - allc.mean(dim=0)).mean()
        elif self.name == "count":
            term = lam * allc.mean()
        elif self.name == "sop":
            sops = sum(f * c.sum(dim=1) for f, c in zip(fan_outs, counts, strict=True))
            most = sum(f * c.shape[1] for f, c in zip(fan_outs, counts, strict=True))
            term = lam * (sops / most).mean()
        return term


def make_penalty(name: str, options: Mapping[str, Any]) -> Penalty:
    """The penalty ``name`` with ``options`` (missing ones at :data:`PENALTY_DEFAULTS`)."""
    if name not in PENALTIES:
        raise ConfigError(f"penalty must be one of {PENALTIES}, not {name!r}")
    o = {**PENALTY_DEFAULTS, **options}
    if o["silence"] not in SILENCE:
        raise ConfigError(f"silence must be one of {SILENCE}, not {o['silence']!r}")
    if o["schedule"] not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {SCHEDULES}, not {o['schedule']!r}")
    if name == "excess" and not o["two_phase"] and o["silence"] != PENALTY_DEFAULTS["silence"]:
        raise ConfigError(f"silence={o['silence']!r} places the silence term of the 2-phase "
                          "schedule, but two_phase is false (the single-phase penalty has none)")
    return Penalty(
        name=name,
        lam=float(o["lam"]),
        two_phase=bool(o["two_phase"]),
        phase1=float(o["phase1"]),
        mu=float(o["mu"]),
        r_min=float(o["r_min"]),
        silence=o["silence"],
        schedule=o["schedule"],
    )
