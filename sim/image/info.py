"""The summary of an image that ``ttfs image info`` prints: :func:`image_info` (JSON-ready) and
:func:`format_info` (text). The fields: ``docs/image.md``.
"""

from __future__ import annotations

import numpy as np

from ttfs.sim.core import chunks
from ttfs.sim.image.format import DESC_WORDS, HEADER_WORDS, VERSION, Image, words_per_row

__all__ = ["image_info", "format_info"]


def image_info(image: Image) -> dict:
    """A JSON-ready summary of ``image`` (for ``ttfs image info``)."""
    q, c = image.qnet, image.core
    wpr = words_per_row(c.lanes, c.weight_bits)
    layers = []
    for k, layer in enumerate(q.layers, start=1):
        base = int(image.net_words[HEADER_WORDS + DESC_WORDS * (k - 1) + 2])
        ch = chunks(layer.n_out, c.lanes)
        layers.append({
            "layer": k,
            "n_in": layer.n_in,
            "n_out": layer.n_out,
            "reset": layer.reset,
            "leak_shift": layer.leak_shift,
            "threshold_constant": layer.threshold_constant,
            "threshold": (int(layer.threshold[0]) if layer.threshold_constant
                          else [int(layer.threshold.min()), int(layer.threshold.max())]),
            "kernel_constant": layer.kernel_constant,
            "kernel": (int(layer.kernel[0]) if layer.kernel_constant
                       else [int(layer.kernel.min()), int(layer.kernel.max())]),
            "weight_base": base,
            "chunks": ch,
            "weight_rows": layer.n_in * ch,
        })
    n_events = [len(s) for s in image.events.samples]
    labels = image.events.labels
    return {
        "format": "ttfs.image",
        "version": VERSION,
        "core": {k: v for k, v in c.to_json().items() if k not in ("format", "version")},
        "network": {
            "sizes": list(q.sizes),
            "time_steps": q.time_steps,
            "weight_bits": q.weight_bits,
            "potential_bits": q.potential_bits,
            "readout": q.readout,
            "early_exit": q.early_exit,
        },
        "layers": layers,
        "weight_rows": int(image.net_words[5]),
        "words_per_row": wpr,
        "net_words": len(image.net_words),
        "event_words": len(image.event_words),
        "words": len(image.net_words) + len(image.event_words),
        "bytes": 4 * (len(image.net_words) + len(image.event_words)),
        "samples": len(image.events),
        "events": int(sum(n_events)),
        "events_per_sample_max": int(max(n_events, default=0)),
        "labels": labels is not None,
        "label_counts": (None if labels is None else
                         {int(v): int(k) for v, k in zip(*np.unique(labels, return_counts=True),
                                                        strict=True)}),
        "net_checksum": f"0x{image.net_checksum:08x}",
        "event_checksum": f"0x{image.event_checksum:08x}",
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _labels_line(info: dict) -> str:
    counts = info["label_counts"]
    if counts is None:
        return "none"
    if not counts:
        return "present, no samples"
    if len(counts) > 16:
        return f"{len(counts)} distinct values in {min(counts)}..{max(counts)}"
    return "count per label " + ", ".join(f"{k}: {v}" for k, v in counts.items())


def _without(core: dict) -> str:
    """``"; without the leak datapath"``-style words for a core's missing build options."""
    missing = [what for key, what in (("leak", "the leak datapath"),
                                      ("subtract", "the subtract reset"),
                                      ("spiking_output", "a spiking output layer"))
               if not core[key]]
    if not missing:
        return ""
    return "; without " + (missing[0] if len(missing) == 1
                           else ", ".join(missing[:-1]) + " and " + missing[-1])


def _chunk_bounds(core: dict) -> str:
    """``"; per-chunk bounds, 4 a cycle"`` for a core built with them, else nothing."""
    n = core["chunk_bounds"]
    return f"; per-chunk bounds, {n} a cycle" if n else ""


def format_info(image: Image) -> str:
    """A human summary of ``image``: what ``ttfs image info`` prints."""
    info = image_info(image)
    c, q = info["core"], info["network"]
    lines = [
        f"TTFS image v{info['version']}: network {'-'.join(map(str, q['sizes']))}, "
        f"{q['time_steps']} steps, readout {q['readout']}"
        + (", early exit" if q["early_exit"] else ""),
        f"  core: {c['lanes']} lanes, {c['weight_bits']}-bit weights, "
        f"{c['potential_bits']}-bit potentials, {c['kernel_bits']}-bit kernels; maxima "
        f"{_plural(c['max_neurons'], 'neuron')}, {_plural(c['max_layers'], 'layer')}, "
        f"{_plural(c['max_time_steps'], 'step')}, {_plural(c['weight_depth'], 'weight row')}"
        + _without(c) + _chunk_bounds(c),
        f"  network weights: {q['weight_bits']}-bit",
    ]
    def table(lay: dict, name: str) -> str:
        v = lay[name]
        return f"{name} {v}" if lay[f"{name}_constant"] else f"{name} table {v[0]}..{v[1]}"

    for lay in info["layers"]:
        leak = f"leak >>{lay['leak_shift']}" if lay["leak_shift"] else "no leak"
        lines.append(
            f"  layer {lay['layer']}: {lay['n_in']} -> {lay['n_out']}, {lay['reset']}, {leak}, "
            f"{table(lay, 'threshold')}, {table(lay, 'kernel')}, rows {lay['weight_base']}.."
            f"{lay['weight_base'] + lay['weight_rows'] - 1} ({_plural(lay['chunks'], 'chunk')})"
        )
    lines += [
        f"  weight rows: {info['weight_rows']} x {info['words_per_row']} words",
        f"  words: {info['words']} ({info['bytes']} bytes): network {info['net_words']}, "
        f"events {info['event_words']}",
        f"  samples: {info['samples']}, {info['events']} events "
        f"(at most {info['events_per_sample_max']} per sample)",
        "  labels: " + _labels_line(info),
        f"  checksums: network {info['net_checksum']}, events {info['event_checksum']}",
    ]
    return "\n".join(lines)
