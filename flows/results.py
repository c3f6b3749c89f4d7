"""The library behind the command line and the flow's steps: backend runs and their
``ttfs.results`` documents, JSON output, training progress lines (``docs/architecture.md``).
"""

from __future__ import annotations

import json
from pathlib import Path

from ttfs.hw.synth import TARGETS
from ttfs.sim.errors import ConfigError
from ttfs.verify.backends import BACKENDS, get_backend

__all__ = ["BACKEND_NAMES", "SYNTH_TARGETS", "dumps_results", "write_json", "results_document",
           "backend_options", "run_backend", "format_epoch"]

#: The backends of the registry :data:`ttfs.verify.backends.BACKENDS`, in its order.
BACKEND_NAMES = tuple(BACKENDS)
#: The synthesis targets of :data:`ttfs.hw.synth.TARGETS`, in its order.
SYNTH_TARGETS = tuple(TARGETS)


def dumps_results(obj) -> str:
    """JSON with one line per list item of ``samples`` (readable, diffable, compact traces)."""
    if not isinstance(obj, dict) or not isinstance(obj.get("samples"), list):
        return json.dumps(obj, indent=1) + "\n"
    head = {k: v for k, v in obj.items() if k != "samples"}
    lines = json.dumps(head, indent=1)[:-2].rstrip()
    items = ",\n  ".join(json.dumps(s, separators=(",", ":")) for s in obj["samples"])
    sep = "," if head else ""
    return f"{lines}{sep}\n \"samples\": [\n  {items}\n ]\n}}\n"


def write_json(path: str | Path, obj) -> None:
    """Write ``obj`` as :func:`dumps_results` text to ``path`` (folders made, atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(dumps_results(obj), encoding="utf-8")
    tmp.replace(path)


def results_document(image, results, backend: str, trace: bool, seconds: float) -> dict:
    """The ``ttfs.results`` JSON document for one backend run."""
    doc = {
        "format": "ttfs.results",
        "version": 1,
        "backend": backend,
        "network": image.qnet.describe(),
        "n_samples": len(results),
        "seconds": round(seconds, 3),
    }
    labels = image.events.labels
    if labels is not None:
        correct = sum(int(r.valid and r.prediction == int(y)) for r, y in zip(results, labels,
                                                                               strict=True))
        doc["accuracy"] = correct / max(1, len(results))
    doc["invalid"] = sum(1 for r in results if not r.valid)
    doc["samples"] = [r.to_json(with_trace=trace) for r in results]
    return doc


def backend_options(backend: str, jobs: int, what: str = "--jobs") -> dict:
    """The options of ``backend`` for ``jobs`` parallel models (the native harness only)."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"{what} must be a positive integer, not {jobs!r}")
    if jobs == 1:
        return {}
    if backend != "verilator":
        raise ConfigError(f"{what} > 1 needs the verilator backend (it splits the samples over "
                          f"several native models); the {backend} backend runs one")
    return {"jobs": jobs}


def run_backend(image, backend: str, trace: bool, jobs: int = 1):
    """The results of ``image`` on ``backend`` with ``jobs`` parallel models."""
    return get_backend(backend, **backend_options(backend, jobs)).run(image, trace=trace)


def format_epoch(info, prefix: str = "") -> str:
    """One progress line from a trainer's per-epoch record (or any message)."""
    if not isinstance(info, dict):
        return f"{prefix}{info}"
    parts = [f"{prefix}epoch {info.get('epoch')}/{info.get('epochs')}"]
    for key, fmt in (("loss", "loss {:.4f}"), ("train_acc", "train acc {:.4f}"),
                     ("val_acc", "val acc {:.4f}"), ("spikes_per_sample", "spikes/sample {:.2f}"),
                     ("seconds", "{:.1f} s")):
        if info.get(key) is not None:
            parts.append(fmt.format(info[key]))
    return ", ".join(parts)
