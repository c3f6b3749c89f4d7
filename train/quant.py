"""Quantization: a trained :class:`train.snn.TTFSNet` to a :class:`sim.ir.QNet`, spike-exact.

Per layer ``l`` the scale is ``q_l = (2**(weight_bits-1) - 1) / max|W_l|`` (integer units per
threshold unit). The integer network is::

    W_int[j, i]   = round(W[j, i] * q_l)                 (weight_bits signed)
    Theta_int[t]  = round(Theta_l[t] * q_l)              (clamped to 1 .. 2**(potential_bits-1)-1)
    K_int[t]      = K_l[t]                               (integer-valued kernels only)
    leak          = the same shift s_l:  V - (V >> s_l)  for the float factor (1 - 2**-s_l)
    reset, readout, early_exit unchanged

which is exactly what the ``qat`` forward of :class:`train.snn.TTFSNet` computes, so a network
fine-tuned in ``qat`` mode is exported without a further approximation. Scaling a layer's
weights and thresholds by the same factor leaves its spikes unchanged (the reset and the leak are
linear in ``V``), so the only losses are the rounding of weights, thresholds and leak, and the
saturation bound.
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
    """The integer network of ``model`` (module docstring) as a validated :class:`QNet`.

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
