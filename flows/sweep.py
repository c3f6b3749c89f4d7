"""Sweeps: one flow run per point of a grid of axes, each point a Ray task (``docs/sweeps.md``).

A sweep file (TOML) names a base flow config, the axes and the last step every point runs::

    name = "penalties"            # default: the file's stem
    base = "flow.json"            # a flow config (relative to the sweep file), or a [base] table
    to = "report"                 # the last step of every point (default report)
    synth = false                 # false: no synthesis targets in the points (default)

    [axes]
    method = ["baseline", "count"]
    lam = [0.3, 1.0]
    seed = [0, 1, 2]

An axis named like a :class:`~ttfs.flows.flow.FlowConfig` field (``seed``, ``epochs``,
``lanes``, ``dataset``, ``test_samples``, ...) sets that field; ``method`` sets ``methods`` to
that one method; any other axis is a training option (``lam``, ``hidden``, ``reset``, ...) set in
``train_options`` of every method of the point that has it (``count.lam``: of the method
``count`` only). A point whose methods have none of an option axis's options takes no value from
that axis (nothing in its name, an empty cell), and points that come out the same are run once.
Each point is a normal run directory ``OUT/points/<name>`` (``flow.json`` beside it), named from
its axis values in file order (``count_lam-0.3_seed-1``), which ``ttfs run --config
.../flow.json --out ...`` continues alone.

The points run as Ray tasks (``@ray.remote(num_cpus=1)``) on a local Ray instance
(``ray.init(num_cpus=N)``) or on an existing cluster (``ray.init(address=...)``; the run
directories must then be on a file system every node shares). A ``[search]`` table instead of
``[axes]`` has Ray Tune draw ``trials`` points from distributions and rank them by an objective.
This module is the only user of Ray, with :func:`run_sharded`, which splits an image's samples
over Ray actors.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import math
import os
import socket
import sys
import time
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path

from ttfs.flows.flow import DEFAULT_CONFIG, STEPS, FlowConfig, Run, load_config, run_flow
from ttfs.flows.report import pareto_front
from ttfs.sim.errors import ConfigError, TTFSError

__all__ = ["Sweep", "Point", "load_sweep", "run_sweep", "point_row", "ray_session",
           "run_sharded", "write_results", "TABLE_VOLATILE"]

SWEEP_KEYS = ("name", "base", "to", "synth", "axes", "search")
SEARCH_KEYS = ("trials", "objective", "mode", "seed", "space")
#: the results columns an objective may weigh
OBJECTIVE_COLUMNS = ("float_accuracy", "integer_accuracy", "validation_accuracy",
                     "rtl_accuracy", "spikes_per_sample", "hidden_spikes_per_sample",
                     "sops_per_sample", "cycles_per_sample", "membrane_accesses_per_sample",
                     "energy_pj", "energy_compute_pj", "energy_memory_pj")
#: the distributions of a search space: name -> (ray.tune function, what it takes)
_DISTRIBUTIONS = {"uniform": "[low, high]", "loguniform": "[low, high]",
                  "randint": "[low, high) of integers", "choice": "a list of values"}
#: FlowConfig fields that cannot be an axis (the point sets its name; methods via ``method``)
_NOT_AXES = ("name", "methods", "train_options", "core")
#: columns of the results table that are wall-clock times (not equal between two sweeps)
TABLE_VOLATILE = ("seconds",)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Point:
    """One point: its name, its value of each axis (``None``: not applied) and its config."""

    name: str
    values: dict
    config: FlowConfig


@dataclass(frozen=True)
class Sweep:
    name: str
    base: FlowConfig
    to: str
    synth: bool
    axes: dict
    points: tuple
    search: dict | None = None


def _field_axes() -> set:
    return {f.name for f in fields(FlowConfig)} - set(_NOT_AXES)


def _method_options(method: str) -> set:
    from ttfs.train.methods import get_method

    return set(get_method(method).defaults)


def _fmt(value) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, list | tuple):
        text = "x".join(_fmt(v) for v in value)
    else:
        text = str(value)
    return "".join(c if c.isalnum() or c in ".+-" else "_" for c in text)


def _base_config(obj, where: Path) -> FlowConfig:
    if obj is None:
        return DEFAULT_CONFIG
    if isinstance(obj, str):
        path = (where / obj) if not Path(obj).is_absolute() else Path(obj)
        if not path.is_file():
            raise ConfigError(f"the base flow config {path} does not exist")
        return load_config(path)
    if isinstance(obj, dict):
        return FlowConfig.from_json({"format": "ttfs.flow", "version": 1, **obj})
    raise ConfigError("base must be the path of a flow config or a [base] table of its fields")


def _point(base: FlowConfig, combo: dict, synth: bool, field_axes: set,
           digits: int | None = None) -> Point:
    d = base.to_json()
    for axis, v in combo.items():
        if axis == "method":
            d["methods"] = [v]
        elif axis in field_axes:
            d[axis] = v
    opts = json.loads(json.dumps(d["train_options"]))
    values, parts = {}, []
    for axis, v in combo.items():
        if axis != "method" and axis not in field_axes:
            method, _, option = axis.rpartition(".")
            hit = [m for m in d["methods"]
                   if (method in ("", m)) and option in _method_options(m)]
            for m in hit:
                opts.setdefault(m, {})[option] = v
            if not hit:
                values[axis] = None
                continue
        values[axis] = v
        shown = f"{v:.{digits}g}" if digits and isinstance(v, float) else v
        parts.append(_fmt(v) if axis == "method" else f"{axis.rpartition('.')[2]}-{_fmt(shown)}")
    d["train_options"] = opts
    name = "_".join(parts) or "base"
    d["name"] = name
    if not synth:
        d["synth_targets"] = []
    try:
        config = FlowConfig.from_json(d)
    except (ConfigError, TypeError) as exc:
        raise ConfigError(f"point {name}: {exc}") from None
    return Point(name, values, config)


def _check_search(search) -> dict:
    """The ``[search]`` table, checked: trials, objective (weights by column), mode, seed, space."""
    if not isinstance(search, dict):
        raise ConfigError("search must be a table")
    unknown = sorted(set(search) - set(SEARCH_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in [search]; keys: {', '.join(SEARCH_KEYS)}")
    trials = search.get("trials")
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"search trials must be a positive integer, not {trials!r}")
    objective = search.get("objective")
    weights = {objective: 1.0} if isinstance(objective, str) else objective
    if not isinstance(weights, dict) or not weights or any(
            c not in OBJECTIVE_COLUMNS or isinstance(w, bool) or not isinstance(w, int | float)
            for c, w in weights.items()):
        raise ConfigError("search objective must be a results column or a table of weights by "
                          f"column; columns: {', '.join(OBJECTIVE_COLUMNS)}")
    mode = search.get("mode", "max")
    if mode not in ("max", "min"):
        raise ConfigError(f"search mode must be 'max' or 'min', not {mode!r}")
    seed = search.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"search seed must be an integer, not {seed!r}")
    space = search.get("space")
    if not isinstance(space, dict) or not space:
        raise ConfigError("search needs a [search.space] table with at least one axis")
    for axis, dist in space.items():
        kind = next(iter(dist)) if isinstance(dist, dict) and len(dist) == 1 else None
        if kind not in _DISTRIBUTIONS or not isinstance(dist[kind], list) or not dist[kind] or (
                kind != "choice" and len(dist[kind]) != 2):
            raise ConfigError(
                f"search axis {axis!r} must be one of "
                + ", ".join(f"{{{k} = {v}}}" for k, v in _DISTRIBUTIONS.items()))
    return {"trials": trials, "objective": {c: float(w) for c, w in weights.items()},
            "mode": mode, "seed": seed, "space": dict(space)}


def load_sweep(path: str | os.PathLike) -> Sweep:
    """Read and check a sweep file; every problem is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"the sweep file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the sweep file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the sweep file {path} is not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - set(SWEEP_KEYS))
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r} in the sweep file; keys: "
                          f"{', '.join(SWEEP_KEYS)}")
    name = doc.get("name", path.stem)
    if not isinstance(name, str) or not name or _fmt(name) != name:
        raise ConfigError(f"the sweep name must be letters, digits, '.', '+' or '-', not {name!r}")
    to = doc.get("to", "report")
    if to not in STEPS:
        raise ConfigError(f"unknown step {to!r} in 'to'; steps: {', '.join(STEPS)}")
    synth = doc.get("synth", False)
    if not isinstance(synth, bool):
        raise ConfigError(f"synth must be true or false, not {synth!r}")
    base = _base_config(doc.get("base"), path.parent)
    search = None
    if "search" in doc:
        if "axes" in doc:
            raise ConfigError("give [axes] (a grid) or [search] (Ray Tune trials), not both")
        search = _check_search(doc["search"])
        axes = search["space"]
    else:
        axes = doc.get("axes")
        if not isinstance(axes, dict) or not axes:
            raise ConfigError("the sweep file needs an [axes] table with at least one axis")
    field_axes = _field_axes()
    methods = set(base.methods)
    for axis, vals in axes.items():
        if search is not None:
            vals = vals.get("choice", []) if axis == "method" else [0]
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"axis {axis!r} must be a non-empty list of values")
        if axis == "method":
            methods = set(vals)
    for m in methods:
        if not isinstance(m, str):
            raise ConfigError(f"axis 'method' takes method names, not {m!r}")
        _method_options(m)  # an unknown method: ConfigError naming the methods
    for axis in axes:
        if axis in _NOT_AXES:
            raise ConfigError(f"{axis!r} cannot be an axis (set it in the base config)")
        method, _, option = axis.rpartition(".")
        if (axis != "method" and axis not in field_axes
                and not any(method in ("", m) and option in _method_options(m)
                            for m in methods)):
            raise ConfigError(
                f"unknown axis {axis!r}: neither a flow config field "
                f"({', '.join(sorted(field_axes))}) nor a training option of "
                f"{', '.join(sorted(methods))}")
    if search is not None:
        return Sweep(name, base, to, synth, dict(axes), (), search)
    points: dict[str, Point] = {}
    for combo in itertools.product(*axes.values()):
        p = _point(base, dict(zip(axes, combo, strict=True)), synth, field_axes)
        if p.name in points and points[p.name].config != p.config:
            raise ConfigError(f"two points are both named {p.name!r}; choose distinct values")
        points.setdefault(p.name, p)
    return Sweep(name, base, to, synth, dict(axes), tuple(points.values()))


# -- a point's run ---------------------------------------------------------------------------


def point_dir(root: Path, point: Point) -> Path:
    return root / "points" / point.name


def finished(directory: Path, point: Point, to: str) -> bool:
    """The point's run directory, made with the point's config, completed its last step: the
    flow's own test (:meth:`Run.completed`: the manifest read as a resume reads it, the step's
    artifacts present and unchanged)."""
    try:
        return Run(directory, point.config, verbosity=0).completed(to)
    except ConfigError:
        return False


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, TTFSError) else f"{type(exc).__name__}: {text}"


def _partial_report(directory: Path) -> None:
    """report.json from what the point's steps wrote (its flow stopped before ``report``)."""
    from ttfs.flows.report import write_report

    write_report(Run(directory, load_config(directory / "flow.json"), verbosity=0))


def run_point(directory: str, to: str) -> dict:
    """Run one point's flow up to ``to`` (the Ray task); ``{"ok", "seconds", "error"}``."""
    t0 = time.perf_counter()
    try:
        import torch

        torch.set_num_threads(1)
        run_flow(config_path=str(Path(directory) / "flow.json"), out=directory, stop=to,
                 verbosity=0)
        if to != "report":
            _partial_report(Path(directory))
    except Exception as exc:  # a failed point is reported, the others go on
        return {"ok": False, "seconds": time.perf_counter() - t0, "error": _one_line(exc)}
    return {"ok": True, "seconds": time.perf_counter() - t0, "error": None}


def point_row(point: Point, directory: Path, error: str | None = None) -> dict:
    """The results-table row of a point, read from its run directory's report and manifest."""
    from ttfs.flows.artifacts import read_json

    row = {"point": point.name, **point.values, "status": "failed" if error else "done"}
    report = {} if error else (read_json(directory / "report.json") or {})
    method = point.config.methods[0]
    q = (report.get("methods") or {}).get(method, {})
    acc = report.get("accuracy") or {}
    hw = report.get("hardware") or {}
    nb = (report.get("neurobench") or {}).get("per_sample", {})
    en = report.get("energy") or {}
    ops = en.get("ops", {})
    spl = hw.get("spikes_per_layer_mean", q.get("spikes_per_layer"))
    reads, writes = ops.get("membrane_reads"), ops.get("membrane_writes")
    row.update({
        "float_accuracy": acc.get("float", q.get("float_accuracy")),
        "integer_accuracy": acc.get("integer", q.get("integer_accuracy")),
        "validation_accuracy": q.get("validation_accuracy"),
        "rtl_accuracy": acc.get("rtl"),
        "spikes_per_layer": spl,
        "spikes_per_sample": None if spl is None else float(sum(spl)),
        "hidden_spikes_per_sample": None if spl is None else float(sum(spl[:-1])),
        "never_firing_hidden": q.get("never_firing_hidden"),
        "sops_per_sample": (nb.get("sops") or {}).get("mean", q.get("sops_per_sample")),
        "cycles_per_sample": hw.get("cycles_mean", q.get("cycles_per_sample")),
        "membrane_reads_per_sample": reads,
        "membrane_writes_per_sample": writes,
        "membrane_accesses_per_sample": None if reads is None else reads + writes,
        "energy_pj": (en.get("snn_pj") or {}).get("total"),
        "energy_compute_pj": (en.get("snn_pj") or {}).get("compute"),
        "energy_memory_pj": (en.get("snn_pj") or {}).get("memory"),
        "dense_ann_energy_pj": (en.get("dense_ann") or {}).get("total_pj"),
    })
    for target, s in sorted((report.get("synthesis") or {}).items()):
        row[f"{target}_luts"] = s.get("luts")
        row[f"{target}_ffs"] = s.get("ffs")
        row[f"{target}_fmax_mhz"] = s.get("fmax_mhz")
    steps = (read_json(directory / "manifest.json") or {}).get("steps", {}) if not error else {}
    row["seconds"] = round(sum(s.get("seconds", 0) for s in steps.values()), 3) if steps else None
    row["error"] = error
    return row


# -- Ray -------------------------------------------------------------------------------------


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``HOST:PORT`` cluster address accepts a connection (else :class:`ConfigError` at once:
    ``ray.init`` would retry for minutes); ``auto`` and ``ray://`` addresses are left to Ray."""
    if address == "auto" or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be HOST:PORT (the head's ray start --port), "
                          f"not {address!r}")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); "
                          "start its head with ray start --head --port PORT") from None


@contextmanager
def ray_session(address: str | None, workers: int | None):
    """A Ray connection: a local instance with ``workers`` CPUs (default: one per core), or the
    existing cluster at ``address``; shut down (the local instance stopped) on leaving."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError(f"--workers must be a positive integer, not {workers!r}")
    if address:
        check_reachable(address)
    # ray.init sets RAY_AUTH_MODE for this process; a local instance is kept on the loopback
    # address (Ray's single-machine mode, read when ray is first imported: otherwise its nodes
    # talk over the machine's network address although nothing outside the machine takes part).
    # Both are restored below.
    saved = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", LOOPBACK_ENV)}
    if not address:
        os.environ[LOOPBACK_ENV] = "0"
    import ray

    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        _restore(saved)
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise ConfigError(f"cannot start or join {where}: {_one_line(exc)}") from None
    try:
        yield ray
    finally:
        ray.shutdown()
        _restore(saved)


#: Ray's switch for multi-node clusters ("0": every node address is the loopback address, as
#: on a single machine)
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _restore(saved: dict) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _where(ray, address: str | None) -> str:
    cpus = int(ray.cluster_resources().get("CPU", 0))
    nodes = len([n for n in ray.nodes() if n.get("Alive")])
    return (f"Ray cluster at {address}: {nodes} nodes, {cpus} CPUs" if address
            else f"local Ray, {cpus} CPUs")


def run_sweep(path, out=None, address: str | None = None, workers: int | None = None,
              resume: bool = False, echo=_say) -> int:
    """Run a sweep file's points; writes ``results.csv``, ``results.json``, ``pareto.png``.

    Points whose manifest says ``to`` completed are not submitted. Returns 0 when every point
    succeeded, else 2 (the failed points named on the last line).
    """
    sweep = load_sweep(path)
    if address and workers is not None:
        raise ConfigError("--workers sets the CPUs of a local Ray instance; with --address the "
                          "cluster's CPUs are the workers")
    if address:
        check_reachable(address)
    root = Path(out) if out else Path("runs") / sweep.name
    if (root / "sweep.json").exists() and not resume:
        raise ConfigError(f"{root} already holds a sweep; --resume to continue it, or another "
                          "--out")
    root.mkdir(parents=True, exist_ok=True)
    (root / "sweep.json").write_text(json.dumps(
        {"format": "ttfs.sweep", "version": 1, "name": sweep.name, "to": sweep.to,
         "synth": sweep.synth, "axes": sweep.axes, "search": sweep.search,
         "points": [p.name for p in sweep.points]},
        indent=1) + "\n", encoding="utf-8")
    if sweep.search is not None:
        return _run_search(sweep, root, address, workers, echo)
    for p in sweep.points:
        _write_config(root, p)
    todo = [p for p in sweep.points if not finished(point_dir(root, p), p, sweep.to)]
    n = len(sweep.points)
    echo(f"ttfs sweep: {sweep.name}: {n} points to {sweep.to} in {root}"
         + (f", {n - len(todo)} done earlier" if len(todo) < n else ""))
    errors: dict[str, str] = {}
    if todo:
        with ray_session(address, workers) as ray:
            echo(f"  on {_where(ray, address)}")
            task = ray.remote(num_cpus=1, max_retries=0)(run_point)
            pending = {task.remote(str(point_dir(root, p).resolve()), sweep.to): p for p in todo}
            done = 0
            try:
                while pending:
                    ready, _ = ray.wait(list(pending), num_returns=1)
                    p = pending.pop(ready[0])
                    try:
                        res = ray.get(ready[0])
                    except Exception as exc:  # the worker died: the point failed
                        res = {"ok": False, "seconds": math.nan, "error": _one_line(exc)}
                    done += 1
                    state = f"[{done}/{len(todo)}, {len(pending)} queued or running]"
                    if res["ok"]:
                        echo(f"  done {p.name} in {res['seconds']:.1f} s {state}")
                    else:
                        errors[p.name] = res["error"]
                        echo(f"  FAILED {p.name} in {res['seconds']:.1f} s: {res['error']} "
                             f"{state}")
            except BaseException:
                for ref in pending:
                    ray.cancel(ref, force=True)
                raise
    for p in sweep.points:  # a point finished before this sweep whose report was not written
        d = point_dir(root, p)
        if p.name not in errors and not (d / "report.json").exists():
            _partial_report(d)
    rows = sorted((point_row(p, point_dir(root, p), errors.get(p.name)) for p in sweep.points),
                  key=lambda r: r["point"])
    write_results(root, sweep, rows)
    plotted = write_pareto(root / "pareto.png", sweep, rows)
    echo(f"ttfs sweep: {n - len(errors)} of {n} points done; results in {root / 'results.csv'}"
         + ("" if plotted else " (no pareto.png: no point has a modelled energy)"))
    if errors:
        echo(f"ttfs sweep: failed: {', '.join(sorted(errors))}")
        return 2
    return 0


def _write_config(root: Path, p: Point) -> Path:
    """``points/<name>/flow.json`` (rewritten only when it changed); the point's directory."""
    d = point_dir(root, p)
    d.mkdir(parents=True, exist_ok=True)
    text = json.dumps(p.config.to_json(), indent=1) + "\n"
    f = d / "flow.json"
    if not f.exists() or f.read_text(encoding="utf-8") != text:
        f.write_text(text, encoding="utf-8")
    return d


# -- search (Ray Tune) -----------------------------------------------------------------------

#: significant digits of a sampled float in a trial's point name
_NAME_DIGITS = 4


def objective(row: dict, search: dict) -> float | None:
    """The weighted sum of the row's objective columns; ``None`` if one is missing."""
    vals = [row.get(c) for c in search["objective"]]
    if any(v is None for v in vals):
        return None
    return float(sum(w * v for w, v in zip(search["objective"].values(), vals, strict=True)))


def _search_point(sweep: Sweep, config: dict) -> Point:
    plain = {k: v.item() if hasattr(v, "item") else v for k, v in config.items()}  # numpy
    return _point(sweep.base, plain, sweep.synth, _field_axes(), _NAME_DIGITS)


def search_trial(config: dict, root: str, sweep: Sweep) -> dict:
    """One Tune trial: the sampled point's flow (skipped when already finished), its objective
    (the worst value when it failed or lacks a column)."""
    point = _search_point(sweep, config)
    d = _write_config(Path(root), point)
    if finished(d, point, sweep.to):
        res = {"ok": True, "seconds": 0.0, "error": None}
        if not (d / "report.json").exists():
            _partial_report(d)
    else:
        res = run_point(str(d), sweep.to)
    value = None if not res["ok"] else objective(point_row(point, d), sweep.search)
    worst = -math.inf if sweep.search["mode"] == "max" else math.inf
    return {"objective": worst if value is None else value, "point": point.name,
            "ok": res["ok"], "error": res["error"] or "", "seconds": res["seconds"]}


def _tune_space(space: dict) -> dict:
    from ray import tune

    return {axis: getattr(tune, kind)(*args) if kind != "choice" else tune.choice(args)
            for axis, dist in space.items() for kind, args in dist.items()}


def _run_search(sweep: Sweep, root: Path, address, workers, echo) -> int:
    """``trials`` points drawn by Ray Tune's random search (seeded: the same file draws the same
    points, so a second run finds them finished), one Tune trial each."""
    s = sweep.search
    echo(f"ttfs sweep: {sweep.name}: search of {s['trials']} trials to {sweep.to} in {root}, "
         f"{s['mode']} {' + '.join(f'{w:g} * {c}' for c, w in s['objective'].items())}")
    with ray_session(address, workers) as ray:
        from ray import tune
        from ray.tune.search.basic_variant import BasicVariantGenerator

        echo(f"  on {_where(ray, address)}")
        done = [0]

        class Progress(tune.Callback):
            def on_trial_complete(self, iteration, trials, trial, **info):
                r = trial.last_result or {}
                done[0] += 1
                head = f"[{done[0]}/{s['trials']}]"
                if r.get("ok"):
                    echo(f"  done {r['point']} in {r['seconds']:.1f} s, objective "
                         f"{r['objective']:.6g} {head}")
                else:
                    echo(f"  FAILED {r.get('point')} in {r.get('seconds', math.nan):.1f} s: "
                         f"{r.get('error')} {head}")

        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(search_trial, root=str(root.resolve()),
                                                     sweep=sweep), {"cpu": 1}),
            param_space=_tune_space(s["space"]),
            tune_config=tune.TuneConfig(num_samples=s["trials"], metric="objective",
                                        mode=s["mode"],
                                        search_alg=BasicVariantGenerator(random_state=s["seed"])),
            run_config=tune.RunConfig(storage_path=str((root / "tune").resolve()), name="search",
                                      verbose=0, callbacks=[Progress()]))
        grid = tuner.fit()
        results = [(r.config, r.metrics or {}) for r in grid]
    rows, errors = {}, {}
    for config, metrics in results:
        point = _search_point(sweep, config)
        error = (metrics.get("error") or "the trial did not finish") if not metrics.get(
            "ok") else None
        if error:
            errors[point.name] = error
        row = point_row(point, point_dir(root, point), error)
        row["objective"] = None if error else objective(row, s)
        rows[point.name] = row
    table = sorted(rows.values(), key=lambda r: r["point"])
    write_results(root, sweep, table)
    plotted = write_pareto(root / "pareto.png", sweep, table)
    scored = [r for r in table if r["objective"] is not None]
    if scored:
        best = (max if s["mode"] == "max" else min)(scored, key=lambda r: r["objective"])
        echo(f"ttfs sweep: best {best['point']}, objective {best['objective']:.6g}")
    echo(f"ttfs sweep: {len(table) - len(errors)} of {len(table)} trials done; results in "
         f"{root / 'results.csv'}" + ("" if plotted else " (no pareto.png: no modelled energy)"))
    if errors:
        echo(f"ttfs sweep: failed: {', '.join(sorted(errors))}")
        return 2
    return 0


# -- results ---------------------------------------------------------------------------------


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ";".join(_cell(x) for x in v)
    return str(v)


def write_results(root: Path, sweep: Sweep, rows: list[dict]) -> None:
    """``results.json`` (the rows and the sweep) and ``results.csv`` (one row per point)."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns and k != "error"]
    columns.append("error")
    doc = {"format": "ttfs.sweep_results", "version": 1, "sweep": sweep.name, "to": sweep.to,
           "axes": sweep.axes, "columns": columns, "points": rows}
    (root / "results.json").write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    with open(root / "results.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in columns])


def write_pareto(path: Path, sweep: Sweep, rows: list[dict]) -> bool:
    """Accuracy against modelled energy per method, seeds as error bars, the Pareto front."""
    good = [r for r in rows if r["status"] == "done" and r.get("energy_pj") is not None]
    if not good:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    def accuracy(r):
        a = r["rtl_accuracy"] if r["rtl_accuracy"] is not None else r["integer_accuracy"]
        return 100 * a

    groups: dict[tuple, list] = {}
    for r in good:
        key = tuple((a, _cell(r.get(a))) for a in sweep.axes if a != "seed")
        groups.setdefault(key, []).append(r)
    by_method: dict[str, list] = {}
    for key, rs in groups.items():
        method = dict(key).get("method") or sweep.base.methods[0]
        label = ", ".join(f"{a}={v}" for a, v in key if a != "method" and v)
        xs, ys = [r["energy_pj"] for r in rs], [accuracy(r) for r in rs]
        by_method.setdefault(method, []).append(
            (float(np.mean(xs)), float(np.mean(ys)), float(np.std(xs)), float(np.std(ys)),
             label))
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for method, pts in sorted(by_method.items()):
        xs, ys, ex, ey, labels = zip(*pts, strict=True)
        if "seed" in sweep.axes:
            ax.errorbar(xs, ys, xerr=ex, yerr=ey, fmt="o", capsize=3, label=method)
        else:
            ax.plot(xs, ys, "o", label=method)
        for x, y, text in zip(xs, ys, labels, strict=True):
            if text:
                ax.annotate(text, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    front = pareto_front([(x, y) for pts in by_method.values() for x, y, *_ in pts])
    fx, fy = zip(*front, strict=True)
    ax.step(fx, fy, where="post", color="k", lw=0.8, ls="--", label="Pareto front")
    ax.set_xlabel("modelled energy per inference (pJ, estimate)")
    ax.set_ylabel("accuracy (%, RTL or integer)")
    ax.set_title(f"sweep {sweep.name}: accuracy vs energy"
                 + (" (mean ± std over seeds)" if "seed" in sweep.axes else ""), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -- sharded simulation ----------------------------------------------------------------------


class _Shard:
    """A Ray actor's state: one backend (for ``verilator``, one native model built on start)."""

    def __init__(self, backend: str, core, trace: bool):
        from ttfs.verify.backends import get_backend

        self.backend = get_backend(backend)
        self.trace = trace
        if hasattr(self.backend, "harness"):
            self.backend.harness(core, trace=trace)  # build (or find) the model once

    def run(self, image):
        return self.backend.run(image, trace=self.trace)


def _shards(image, parts: int) -> list:
    """``image`` as ``parts`` images of contiguous samples (same network words)."""
    from ttfs.sim.image import pack
    from ttfs.sim.ir import EventSet

    ev = image.events
    n = len(ev.samples)
    out = []
    for k in range(parts):
        a, b = (n * k) // parts, (n * (k + 1)) // parts
        labels = None if ev.labels is None else ev.labels[a:b]
        out.append(pack(image.qnet, EventSet(ev.samples[a:b], labels), image.core))
    return out


def run_sharded(image, backend: str, trace: bool, workers: int | None,
                address: str | None = None) -> list:
    """``image``'s samples split over ``workers`` Ray actors (default: the cluster's CPUs),
    each with its own backend; the results, in sample order, are those of one model."""
    with ray_session(address, workers) as ray:
        n = len(image.events.samples)
        parts = max(1, min(n, workers or int(ray.cluster_resources().get("CPU", 1))))
        actor = ray.remote(num_cpus=1)(_Shard)
        actors = [actor.remote(backend, image.core, trace) for _ in range(parts)]
        refs = [a.run.remote(s) for a, s in zip(actors, _shards(image, parts), strict=True)]
        try:
            return [r for part in ray.get(refs) for r in part]
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, TTFSError) else None
            if cause is not None:
                raise cause from None
            raise
