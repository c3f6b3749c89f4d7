"""NeuroBench-style figures from the counters of a run (``docs/energy.md``).

All figures are computed per sample from :class:`sim.reference.SampleResult` objects (any backend:
the counters are identical by contract) and summarised as mean/min/max over samples.

Definitions (``n_l`` = neurons of layer ``l``, ``steps`` = time steps the sample ran, fewer than
``T`` after an early exit):

* **spiking neurons**: ``N_s = sum of n_l`` over the layers that can fire (every layer, except the
  output layer under the ``max_potential`` readout, which only integrates).
* **activation sparsity**: ``1 - spikes / (N_s * steps)``, with ``spikes`` the sample's spikes in
  those layers. 1.0 means no neuron fired at any step; a ``fire_once`` network can reach at most
  ``1 / steps`` density per neuron.
* **synaptic operations** ``SOP``: one weight applied to one neuron; ``sops_l = e_l * n_l`` where
  ``e_l`` is the number of events layer ``l`` integrated (the sample's input events for layer 1,
  the spikes of layer ``l - 1`` otherwise). They split into **effective ACs** (SOPs of layers whose
  kernel table is all ones: a pure accumulate) and **effective MACs** (SOPs of the other layers:
  ``W * K_l[t]`` needs a multiply).
* **dense MACs**: the multiply-accumulates of the equivalent dense ANN, ``sum_l n_in_l * n_l``
  per inference, whatever the input.
* **membrane updates**: neuron visits of the fire/leak sweeps. Layer ``l`` is swept at step ``t``
  when it has a leak (every step), or when it spikes at ``t``: without a leak the core keeps an
  exact bound of the potentials that may still fire and sweeps the layer only when the bound
  reaches ``Theta_l[t]``, that is, exactly when one of its neurons fires there
  (``docs/microarchitecture.md``, "The skip rule"). A sweep visits all ``n_l`` neurons. The
  ``max_potential`` output layer is never swept. This needs the per-step activity of the result
  (reference and image models). Results without it (read back from the RTL, say) use the
  hardware counters instead, with a core. By
  the cycle-cost rule (:mod:`sim.costmodel`) ``membrane_writes = weight_reads + sweep
  chunks`` (one write per integrate op and per swept chunk; nothing clears the membranes, the
  lazy clear), so the membrane updates are ``(membrane_writes - weight_reads) x lanes``: lane
  visits, the padding lanes of a layer's last chunk included (with one lane they equal the
  neuron visits). The summary says which was used.
* **footprint**: bytes of the weights and per-layer tables at their packed widths. Without a core:
  ``ceil((sum_l n_in_l * n_l * weight_bits + sum_l T * (potential_bits + kernel_bits)) / 8)``
  with ``kernel_bits`` the bit length of the largest kernel entry (at least 1). With a core, the
  weights are counted as the core stores them: ``weight_rows * lanes * core.weight_bits`` bits
  (padding of partly filled rows included), and the tables at ``core.kernel_bits``.
* **accuracy**: correct predictions / samples; an invalid sample counts as wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ttfs.sim.core import CoreConfig, weight_rows
from ttfs.sim.errors import ConfigError
from ttfs.sim.ir import QNet
from ttfs.sim.jsonio import is_int
from ttfs.sim.reference import SampleResult

__all__ = [
    "check_qnet",
    "check_results",
    "dense_macs",
    "footprint",
    "kernel_bits",
    "kernel_is_ones",
    "layer_events",
    "layer_sops",
    "membrane_source",
    "membrane_updates",
    "sample_metrics",
    "spiking_neurons",
    "summarise",
]


def check_qnet(qnet: Any) -> QNet:
    """``qnet``, refused with :class:`TypeError` unless it is a :class:`QNet`."""
    if not isinstance(qnet, QNet):
        raise TypeError(f"qnet must be a QNet, not {type(qnet).__name__}")
    return qnet


def check_results(qnet: QNet, results: Any) -> list[SampleResult]:
    """``results`` as a list: at least one :class:`SampleResult`, each with a spike count per
    layer of ``qnet``."""
    if isinstance(results, SampleResult) or not isinstance(results, Sequence):
        raise TypeError(f"results must be a list of SampleResult, not {type(results).__name__}")
    out = list(results)
    if not out:
        raise ConfigError("results must hold at least one sample, got none")
    L = len(qnet.layers)
    for n, r in enumerate(out):
        if not isinstance(r, SampleResult):
            raise TypeError(f"results[{n}] must be a SampleResult, not {type(r).__name__}")
        if len(r.counters.spikes_per_layer) != L:
            raise ConfigError(
                f"results[{n}] has spike counts for {len(r.counters.spikes_per_layer)} layers; "
                f"the network has {L}"
            )
    return out


def kernel_is_ones(qnet: QNet) -> list[bool]:
    """Per layer: whether ``K_l[t] == 1`` at every step (its SOPs are plain accumulates)."""
    return [bool(np.all(layer.kernel == 1)) for layer in qnet.layers]


def spiking_neurons(qnet: QNet) -> int:
    """Neurons that can fire: all layers, less a ``max_potential`` output layer."""
    sizes = [layer.n_out for layer in qnet.layers]
    if qnet.readout == "max_potential":
        sizes = sizes[:-1]
    return int(sum(sizes))


def dense_macs(qnet: QNet) -> int:
    """MACs of the equivalent dense ANN per inference: ``sum_l n_in_l * n_l``."""
    return int(sum(layer.n_in * layer.n_out for layer in qnet.layers))


def layer_events(qnet: QNet, result: SampleResult) -> list[int]:
    """Events each layer integrated: input events for layer 1, layer ``l-1``'s spikes after."""
    c = result.counters
    return [int(c.input_events)] + [int(s) for s in c.spikes_per_layer[:-1]]


def layer_sops(qnet: QNet, result: SampleResult) -> list[int]:
    """SOPs per layer: ``events integrated x n_l``; their sum is ``counters.sops``."""
    return [e * layer.n_out for e, layer in zip(layer_events(qnet, result), qnet.layers,
                                                strict=True)]


def swept(qnet: QNet) -> list[bool]:
    """Per layer: whether it is swept at every step regardless of events (a leak), for the
    membrane-update rule; the ``max_potential`` output layer is excluded separately."""
    return [layer.leak_shift > 0 for layer in qnet.layers]


def membrane_updates(qnet: QNet, result: SampleResult, where: str = "result") -> list[int]:
    """Neuron visits of the fire/leak sweeps per layer (see the module docstring)."""
    act = result.activity
    if act is None:
        raise ConfigError(
            f"{where} has no per-step activity; membrane updates need it "
            "(use results of the reference or image model)"
        )
    L = len(qnet.layers)
    always = swept(qnet)
    out = []
    for li, layer in enumerate(qnet.layers):
        if li == L - 1 and qnet.readout == "max_potential":
            out.append(0)
            continue
        if always[li]:
            sweeps = int(act.steps)
        else:
            busy = act.spikes[: act.steps, li] > 0
            sweeps = int(np.count_nonzero(busy))
        out.append(sweeps * layer.n_out)
    return out


MEMBRANE_SOURCES = {
    "activity": "neuron visits from the per-step activity",
    "hardware": "lane visits of sweep ops from the hardware counters: "
                "(membrane_writes - weight_reads - sum of chunks) x lanes, padding lanes "
                "included",
}


def membrane_source(results: list[SampleResult], core: CoreConfig | None) -> str:
    """How membrane updates are counted for ``results``: ``"activity"`` when every result has
    its per-step activity, else ``"hardware"`` when a core is given and every result has its
    hardware counters; otherwise :class:`ConfigError`."""
    if all(r.activity is not None for r in results):
        return "activity"
    n = next(k for k, r in enumerate(results) if r.activity is None)
    hw = all(r.counters.membrane_writes is not None and r.counters.weight_reads is not None
             for r in results)
    if core is None or not hw:
        raise ConfigError(
            f"results[{n}] has no per-step activity; membrane updates need it (results of the "
            "reference or image model) or hardware counters and a core"
        )
    return "hardware"


def hardware_membrane_updates(
    qnet: QNet, result: SampleResult, core: CoreConfig, where: str = "result"
) -> int:
    """Lane visits of the sweep ops: ``(membrane_writes - weight_reads) x lanes``."""
    c = result.counters
    sweep_chunks = c.membrane_writes - c.weight_reads
    if sweep_chunks < 0:
        raise ConfigError(
            f"{where} has {c.membrane_writes} membrane writes; a {core.lanes}-lane core writes "
            f"at least one per weight read ({c.weight_reads})"
        )
    return int(sweep_chunks) * core.lanes


def kernel_bits(qnet: QNet, core: CoreConfig | None) -> int:
    """Bits of a kernel entry: the core's, else the bit length of the largest entry (at least 1)."""
    if core is not None:
        return core.kernel_bits
    return max(1, max(int(layer.kernel.max()) for layer in qnet.layers).bit_length())


def footprint(qnet: QNet, core: CoreConfig | None = None) -> dict:
    """Bytes of weights and tables at their packed widths (see the module docstring)."""
    check_qnet(qnet)
    if core is not None and not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig or None, not {type(core).__name__}")
    kb = kernel_bits(qnet, core)
    if core is None:
        w_bits = dense_macs(qnet) * qnet.weight_bits
        packing = "weights at weight_bits each, no padding"
    else:
        w_bits = weight_rows(qnet, core.lanes) * core.lanes * core.weight_bits
        packing = (f"weights as stored by a {core.lanes}-lane core: rows of {core.lanes} x "
                   f"{core.weight_bits}-bit weights, padding included")
    t_bits = len(qnet.layers) * qnet.time_steps * (qnet.potential_bits + kb)
    return {
        "weight_bits_total": int(w_bits),
        "table_bits_total": int(t_bits),
        "weights_bytes": -(-int(w_bits) // 8),
        "tables_bytes": -(-int(t_bits) // 8),
        "total_bytes": -(-int(w_bits + t_bits) // 8),
        "parameters": dense_macs(qnet),
        "packing": packing,
    }


def sample_metrics(
    qnet: QNet,
    result: SampleResult,
    where: str = "result",
    source: str = "activity",
    core: CoreConfig | None = None,
) -> dict:
    """The per-sample figures (integers, plus the sparsity as a float); ``source`` says how
    membrane updates are counted (:data:`MEMBRANE_SOURCES`; ``"hardware"`` needs ``core``)."""
    if source == "activity":
        updates = int(sum(membrane_updates(qnet, result, where)))
    elif source == "hardware" and isinstance(core, CoreConfig):
        updates = hardware_membrane_updates(qnet, result, core, where)
    else:
        raise ConfigError(f"source must be 'activity' or 'hardware' with a core, not {source!r}")
    ones = kernel_is_ones(qnet)
    sops = layer_sops(qnet, result)
    spk = list(result.counters.spikes_per_layer)
    if qnet.readout == "max_potential":
        spk = spk[:-1]
    neurons = spiking_neurons(qnet)
    steps = int(result.steps)
    denom = neurons * steps
    spikes = int(sum(spk))
    return {
        "spikes": spikes,
        "activation_sparsity": 1.0 - spikes / denom if denom else 1.0,
        "sops": int(sum(sops)),
        "effective_acs": int(sum(s for s, o in zip(sops, ones, strict=True) if o)),
        "effective_macs": int(sum(s for s, o in zip(sops, ones, strict=True) if not o)),
        "dense_macs": dense_macs(qnet),
        "membrane_updates": updates,
        "input_events": int(result.counters.input_events),
        "saturations": int(result.counters.saturations),
        "steps": steps,
    }


def _labels(labels: Any, n: int) -> np.ndarray:
    if isinstance(labels, np.ndarray):
        if labels.dtype.kind not in "iu":
            raise TypeError(f"labels must be integers, not an array of dtype {labels.dtype}")
        arr = labels
    else:
        if isinstance(labels, (str, bytes)) or not isinstance(labels, Sequence):
            raise TypeError(f"labels must be a sequence of integers, not {type(labels).__name__}")
        for k, x in enumerate(labels):
            if not is_int(x):
                raise TypeError(f"labels[{k}] must be an integer, not {x!r}")
        arr = np.array(list(labels), dtype=np.int64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ConfigError(f"labels must have one entry per result ({n}), got shape {arr.shape}")
    return arr.astype(np.int64)


def _stats(values: list) -> dict:
    arr = np.asarray(values, dtype=np.float64)
    return {"mean": float(arr.mean()), "min": float(arr.min()), "max": float(arr.max())}


def summarise(
    qnet: QNet,
    results: Sequence[SampleResult],
    labels: Any = None,
    core: CoreConfig | None = None,
) -> dict:
    """NeuroBench-style summary of a run: mean/min/max per sample of every figure in
    :func:`sample_metrics` (and of ``cycles`` when every result has them), spikes per layer
    (means), the footprint, and the accuracy when ``labels`` are given."""
    check_qnet(qnet)
    res = check_results(qnet, results)
    if core is not None and not isinstance(core, CoreConfig):
        raise TypeError(f"core must be a CoreConfig or None, not {type(core).__name__}")
    source = membrane_source(res, core)
    per = [sample_metrics(qnet, r, f"results[{n}]", source, core) for n, r in enumerate(res)]
    out: dict = {"samples": len(res), "valid": int(sum(bool(r.valid) for r in res))}
    out["membrane_updates_counted_as"] = MEMBRANE_SOURCES[source]
    out["per_sample"] = {k: _stats([p[k] for p in per]) for k in per[0]}
    if all(r.cycles is not None for r in res):
        out["per_sample"]["cycles"] = _stats([r.cycles for r in res])
    spl = np.array([r.counters.spikes_per_layer for r in res], dtype=np.float64)
    out["spikes_per_layer_mean"] = [float(x) for x in spl.mean(axis=0)]
    out["footprint"] = footprint(qnet, core)
    if labels is not None:
        lab = _labels(labels, len(res))
        pred = np.array([r.prediction for r in res], dtype=np.int64)
        ok = np.array([bool(r.valid) for r in res])
        correct = int(np.count_nonzero((pred == lab) & ok))
        out["correct"] = correct
        out["accuracy"] = correct / len(res)
    out["definitions"] = {
        "activation_sparsity": "1 - spikes / (neurons that can fire x steps run)",
        "effective_acs": "SOPs in layers whose kernel table is all ones",
        "effective_macs": "SOPs in layers with any kernel entry other than 1",
        "dense_macs": "sum over layers of n_in x n_out (the dense ANN, per inference)",
        "membrane_updates": "neuron visits of fire/leak sweeps (a layer is swept at a step with "
                            "events, after a step it spiked in with subtract reset, or at every "
                            "step with leak or a varying threshold)",
    }
    return out
