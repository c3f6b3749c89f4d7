"""Quantization: a trained :class:`ttfs.train.snn.TTFSNet` to a :class:`ttfs.sim.ir.QNet`,
spike-exact: the integer network is exactly what the model's ``qat`` forward computes (the per-layer
scale and the rounding rules are in ``docs/training.md``, quantization).
"""

from __future__ import annotations

import torch

from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import QNet
from ttfs.train.snn import NetConfig, TTFSNet, export_layers

__all__ = ["quantize_network"]


def quantize_network(model: TTFSNet, encoder: dict | None = None, weight_bits: int | None = None,
                     potential_bits: int | None = None, early_exit: bool | None = None,
                     meta: dict | None = None) -> QNet:
    """The integer network of ``model`` (``docs/training.md``) as a validated :class:`QNet`.

    ``weight_bits``/``potential_bits`` default to the model's (those it was fine-tuned with);
    other widths re-quantize the same float weights. ``encoder`` (the record the model was
    trained with) is stored in ``meta["encoder"]`` so the events can be reproduced.
    """
    if not isinstance(model, TTFSNet):
        raise TypeError(f"model must be a TTFSNet, not {type(model).__name__}")
    cfg = model.config
    changes = {}
    if weight_bits is not None:
        changes["weight_bits"] = int(weight_bits)
    if potential_bits is not None:
        changes["potential_bits"] = int(potential_bits)
    if changes:
        d = cfg.to_dict()
        d.update(changes)
        clone = TTFSNet(NetConfig.from_dict(d))
        clone.load_state_dict(model.state_dict())
        model = clone
        cfg = model.config
    with torch.no_grad():
        layers = export_layers(model)
    m = dict(meta or {})
    if encoder is not None:
        if encoder.get("time_steps") != cfg.time_steps:
            raise ConfigError(f"encoder time_steps {encoder.get('time_steps')} does not match "
                              f"the network's {cfg.time_steps}")
        m["encoder"] = dict(encoder)
    return QNet(
        n_inputs=cfg.sizes[0],
        time_steps=cfg.time_steps,
        layers=tuple(layers),
        weight_bits=cfg.weight_bits,
        potential_bits=cfg.potential_bits,
        readout=cfg.readout,
        early_exit=cfg.early_exit if early_exit is None else bool(early_exit),
        meta=m,
    )
