"""The sim core depends on numpy only: importing it must not pull in torch, amaranth or cocotb.

One fresh interpreter imports every module of the ``ttfs.sim`` package (found by walking it, so a
new module is covered without a list to update) one after another and records, after each, which
forbidden packages are loaded, so the first module that pulls one in is named.
"""

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import ttfs.sim

SIM_DIR = Path(ttfs.sim.__file__).parent


def sim_modules() -> tuple[str, ...]:
    """``ttfs.sim`` and every module and sub-package below it."""
    found = pkgutil.walk_packages(ttfs.sim.__path__, prefix="ttfs.sim.")
    return ("ttfs.sim", *sorted(m.name for m in found))


CORE_MODULES = sim_modules()
FORBIDDEN = ("torch", "amaranth", "cocotb")

PROBE = """
import importlib, json, sys
forbidden = set(json.loads(sys.argv[1]))
report = {}
for name in sys.argv[2:]:
    try:
        importlib.import_module(name)
    except Exception as exc:
        report[name] = f"import failed: {type(exc).__name__}: {exc}"
        continue
    report[name] = sorted({m.split(".")[0] for m in sys.modules} & forbidden)
print(json.dumps(report))
"""


def probe(forbidden, modules) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(list(forbidden)), *modules],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def report():
    return probe(FORBIDDEN, CORE_MODULES)


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_numpy_only(report, module):
    assert report[module] == [], f"importing {module}: {report[module]}"


def test_the_walk_finds_every_module_file():
    names = set()
    for path in SIM_DIR.rglob("*.py"):
        parts = path.relative_to(SIM_DIR).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.add(".".join(("ttfs", "sim", *parts)))
    assert names == set(CORE_MODULES)
    assert {"ttfs.sim.protocol", "ttfs.sim.image", "ttfs.sim.image.model"} <= set(CORE_MODULES)


def test_the_probe_detects_a_forbidden_import():
    # the check itself must be able to fail: numpy, pulled in by sim.numeric (and not by the
    # probe itself), is reported when it is on the list
    assert probe(["numpy"], ["ttfs.sim.numeric"]) == {"ttfs.sim.numeric": ["numpy"]}
    assert probe(["numpy"], ["ttfs.sim.no_such_module"]) == {
        "ttfs.sim.no_such_module": "import failed: ModuleNotFoundError: No module named "
                                   "'ttfs.sim.no_such_module'"
    }
