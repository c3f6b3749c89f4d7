"""What a training method is: a :class:`Method`, and the :class:`TrainRequest` it trains from.

Every method module builds its ``Method``; the registry :mod:`ttfs.train.methods` names them.
See ``docs/training.md`` and ``docs/architecture.md`` (where a new method goes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Method", "TrainRequest"]


@dataclass(frozen=True)
class TrainRequest:
    """What :func:`ttfs.train.api.train_model` hands a method's ``train``.

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
    #: the dataset's scaling record (a ``csv:`` dataset's training range), written into every
    #: checkpoint of the run; ``None`` for datasets without one
    scaling: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Method:
    """A training method: how it trains, exports and predicts.

    ``train(request) -> checkpoint path``; ``quantize(checkpoint dict, weight_bits=,
    potential_bits=, **options) -> QNet`` (the integer network); ``defaults`` every option with
    its default; ``predict(checkpoint dict, X) -> class per sample`` of the float model (``None``:
    the method has no float evaluation).
    """

    name: str
    summary: str
    train: Callable[[TrainRequest], Path]
    quantize: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    predict: Callable[[dict, Any], Any] | None = None
