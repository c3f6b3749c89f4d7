"""The sim core depends on numpy only: importing it must not pull in torch, amaranth or cocotb.

One fresh interpreter imports the core modules one after another and records, after each, which
forbidden packages are loaded, so the first module that pulls one in is named.
"""

import json
import subprocess
import sys

import pytest

CORE_MODULES = (
    "sim", "sim.ir", "sim.core", "sim.reference", "sim.image", "sim.energy", "sim.metrics",
    "sim.encode", "sim.random", "sim.backend", "sim.numeric", "sim.costmodel",
)
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


def test_the_probe_detects_a_forbidden_import():
    # the check itself must be able to fail: numpy, pulled in by sim.numeric (and not by the
    # probe itself), is reported when it is on the list
    assert probe(["numpy"], ["sim.numeric"]) == {"sim.numeric": ["numpy"]}
    assert probe(["numpy"], ["sim.no_such_module"]) == {
        "sim.no_such_module": "import failed: ModuleNotFoundError: No module named "
                              "'sim.no_such_module'"
    }
