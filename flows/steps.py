"""The flow's steps. Each step function takes the run, reads earlier artifacts from the run
directory, writes its own, and returns ``(artifact paths relative to the run directory, manifest
extras)``; :data:`STEP_LOOKUP` at the end names them in flow order.

See :mod:`ttfs.flows.flow` for the list of steps and artifacts.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ttfs.flows.artifacts import model_path, qnet_path, relative, train_dir
from ttfs.flows.console import say
from ttfs.flows.report import write_report
from ttfs.flows.results import backend_options, format_epoch, results_document, write_json
from ttfs.sim.compare import first_divergence
from ttfs.sim.core import CoreConfig, load_core, save_core
from ttfs.sim.errors import ConfigError, MismatchError
from ttfs.sim.ir import load_qnet, save_events

__all__ = ["STEP_LOOKUP", "step_train", "step_quantize", "step_compile", "step_rtl",
           "step_cosim", "step_synth", "step_report"]


def _options(run, method: str) -> dict:
    opts = run.config.train_options
    if not isinstance(opts, dict):
        raise ConfigError("train_options must map a method name to its options")
    per = opts.get(method, {})
    if not isinstance(per, dict):
        raise ConfigError(f"train_options[{method!r}] must be an object of options")
    return dict(per)


# -- train -----------------------------------------------------------------------------------


def step_train(run):
    from ttfs.train.api import train_model

    cfg = run.config
    artifacts = []
    for method in cfg.methods:
        out = model_path(run, method)
        t0 = time.perf_counter()

        def progress(info, method=method):
            say(run, format_epoch(info, prefix=f"  {method} "), level=1)

        path = train_model(dataset=cfg.dataset, method=method, epochs=cfg.epochs, seed=cfg.seed,
                           out=train_dir(run, method), resume=True, progress=progress,
                           **_options(run, method))
        if Path(path).resolve() != out.resolve():
            raise ConfigError(f"the trainer wrote {path}, expected {out}")
        say(run, f"  {method}: trained in {time.perf_counter() - t0:.1f} s -> {relative(run, out)}")
        artifacts.append(relative(run, out))
    return artifacts, {}


# -- quantize --------------------------------------------------------------------------------


def _test_events(run, method: str, qnet=None):
    from ttfs.train.api import encode_for, load_split

    # with the model: labels within its outputs, a csv file's training range as recorded
    X, y = load_split(run.config.dataset, "test", model=model_path(run, method))
    if run.config.test_samples is not None:
        X, y = X[: run.config.test_samples], y[: run.config.test_samples]
    return encode_for(model_path(run, method), X, y)


def _validation_accuracy(run, method: str, qnet) -> float:
    """The integer network's accuracy on the whole validation split (what a sweep chooses on;
    the test split is only reported)."""
    from ttfs.sim.reference import run as reference_run
    from ttfs.train.api import encode_for, load_split

    X, y = load_split(run.config.dataset, "validation", model=model_path(run, method))
    events = encode_for(qnet, X, y)
    pred = np.array([r.prediction for r in reference_run(qnet, events)])
    return float(np.mean(pred == events.labels))


def _never_firing_hidden(qnet, results) -> float | None:
    """The fraction of hidden neurons that fire on no test sample (integer network); None
    for a network without a hidden layer."""
    sizes = [layer.n_out for layer in qnet.layers[:-1]]
    if not sizes:
        return None
    fired = set()
    for r in results:
        hidden = r.trace[r.trace[:, 0] < len(qnet.layers)]
        fired.update(zip(hidden[:, 0].tolist(), hidden[:, 2].tolist(), strict=True))
    return 1.0 - len(fired) / sum(sizes)


def step_quantize(run):
    """Export every method's integer network and measure it on the test split (reference)."""
    from ttfs.sim.costmodel import cost_hook
    from ttfs.sim.energy import energy_report
    from ttfs.sim.metrics import summarise
    from ttfs.sim.reference import run as reference_run
    from ttfs.train.api import load_split, quantize_model
    from ttfs.train.evaluate import float_accuracy

    cfg = run.config
    artifacts, summary = [], {}
    for method in cfg.methods:
        qpath = qnet_path(run, method)
        qnet = quantize_model(model_path(run, method), qpath, weight_bits=cfg.weight_bits,
                              potential_bits=cfg.potential_bits)
        events = _test_events(run, method, qnet)
        core = CoreConfig.for_network(qnet, lanes=cfg.lanes)
        results = reference_run(qnet, events, trace=True, cost=cost_hook(core))
        int_summary = summarise(qnet, results, events.labels, core)
        energy = energy_report(qnet, results, core=core)
        val_acc = _validation_accuracy(run, method, qnet)
        X, y = load_split(cfg.dataset, "test")
        n = cfg.test_samples or len(y)
        float_acc = float_accuracy(model_path(run, method), X[:n], y[:n])
        summary[method] = {
            "network": qnet.describe(),
            "float_accuracy": float_acc,
            "integer_accuracy": int_summary["accuracy"],
            "quantization_loss": float_acc - int_summary["accuracy"],
            "validation_accuracy": val_acc,
            "never_firing_hidden": _never_firing_hidden(qnet, results),
            "hidden_spikes_per_sample": float(sum(int_summary["spikes_per_layer_mean"][:-1])),
            "spikes_per_sample": float(sum(int_summary["spikes_per_layer_mean"])),
            "spikes_per_layer": int_summary["spikes_per_layer_mean"],
            "sops_per_sample": int_summary["per_sample"]["sops"]["mean"],
            "cycles_per_sample": int_summary["per_sample"]["cycles"]["mean"],
            "membrane_accesses_per_sample": (energy["ops"]["membrane_reads"]
                                             + energy["ops"]["membrane_writes"]),
            "energy_pj": energy["snn_pj"]["total"],
            "dense_ann_energy_pj": energy["dense_ann"]["total_pj"],
            "energy_note": energy["note"],
        }
        say(run, f"  {method}: {qnet.describe()}, float {float_acc:.4f}, integer "
                 f"{int_summary['accuracy']:.4f}, {summary[method]['spikes_per_sample']:.1f} "
                 f"spikes/sample")
        artifacts.append(relative(run, qpath))
    write_json(run.path("quantize.json"), summary)
    artifacts.append("quantize.json")
    return artifacts, {}


# -- compile / rtl ---------------------------------------------------------------------------


def _core_for(run, qnet) -> CoreConfig:
    cfg = run.config
    if cfg.core is not None:
        core = CoreConfig.from_json({"format": "ttfs.core", "version": 1, **cfg.core})
    else:
        core = CoreConfig.for_network(qnet, lanes=cfg.lanes)
    core.check_fits(qnet)
    return core


def step_compile(run):
    from ttfs.sim.image import pack, save_image

    method = run.config.methods[0]
    qnet = load_qnet(qnet_path(run, method))
    events = _test_events(run, method, qnet)
    core = _core_for(run, qnet)
    image = pack(qnet, events, core)
    save_events(events, run.path("events.json"))
    save_core(core, run.path("core.json"))
    save_image(image, run.path("image.img"))
    say(run, f"  image: {qnet.describe()} on P={core.lanes}, {len(events)} samples, "
             f"{len(image.net_words)} network words")
    return ["events.json", "core.json", "image.img"], {}


def step_rtl(run):
    from ttfs.hw.emit import verilog

    core = load_core(run.path("core.json"))
    text = verilog(core)
    run.path("core.v").write_text(text, encoding="utf-8")
    say(run, f"  core.v: {len(text.splitlines())} lines")
    return ["core.v"], {}


# -- cosim -----------------------------------------------------------------------------------


def step_cosim(run):
    """The whole test set on the RTL; equal to the reference model on every sample, or exit 4."""
    from ttfs.sim.image import load_image
    from ttfs.verify.backends import get_backend

    image = load_image(run.path("image.img"))
    backend = run.config.cosim_backend
    options = backend_options(backend, run.config.cosim_jobs, "cosim_jobs")
    t0 = time.perf_counter()
    expected = get_backend("reference").run(image, trace=True)
    t_ref = time.perf_counter() - t0
    say(run, f"  reference: {len(expected)} samples in {t_ref:.2f} s")
    t0 = time.perf_counter()
    got = get_backend(backend, **options).run(image, trace=True)
    t_rtl = time.perf_counter() - t0
    say(run, f"  {backend}: {len(got)} samples in {t_rtl:.2f} s")
    write_json(run.path("results_reference.json"),
               results_document(image, expected, "reference", True, t_ref))
    write_json(run.path(f"results_{backend}.json"),
               results_document(image, got, backend, True, t_rtl))
    msg = first_divergence(expected, got, backend=backend)
    if msg is not None:
        raise MismatchError(msg)
    spikes = sum(len(r.trace) for r in expected)
    cycles = sum(r.cycles for r in got)
    say(run, f"  RTL == reference on all {len(got)} samples ({spikes} spikes, "
             f"{cycles} cycles compared)")
    return ["results_reference.json", f"results_{backend}.json"], {
        "samples": len(got), "spikes_compared": spikes, "cycles": cycles,
        "rtl_seconds": round(t_rtl, 3),
    }


# -- synth -----------------------------------------------------------------------------------


def step_synth(run):
    from ttfs.hw.synth import synth

    core = load_core(run.path("core.json"))
    artifacts = []
    for target in run.config.synth_targets:
        say(run, f"  {target}: synthesis and place-and-route (first yosys call compiles "
                 "WebAssembly, ~1 minute) ...")
        t0 = time.perf_counter()
        report = synth(core, target, seed=run.config.synth_seed,
                       workdir=run.path(f"synth_{target}"))
        obj = report.to_json()
        obj["seconds"] = round(time.perf_counter() - t0, 1)
        write_json(run.path(f"synth_{target}.json"), obj)
        say(run, "  " + report.summary().replace("\n", "\n  "))
        artifacts.append(f"synth_{target}.json")
    return artifacts, {}


# -- report ----------------------------------------------------------------------------------


def step_report(run):
    paths = write_report(run)
    return [relative(run, p) for p in paths], {}


#: The flow's steps in order: name -> step function (the flow runs them from this table).
STEP_LOOKUP = {
    "train": step_train,
    "quantize": step_quantize,
    "compile": step_compile,
    "rtl": step_rtl,
    "cosim": step_cosim,
    "synth": step_synth,
    "report": step_report,
}
