"""The sim core depends on numpy only: importing it must not pull in torch, amaranth or cocotb."""

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
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r})))
"""


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_numpy_only(module):
    code = PROBE.format(forbidden=set(FORBIDDEN))
    proc = subprocess.run([sys.executable, "-c", code, module], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", f"importing {module} loaded {proc.stdout.strip()}"


def test_the_probe_detects_a_forbidden_import():
    # the check itself must be able to fail: importing a forbidden package is seen
    code = PROBE.format(forbidden={"json"})
    proc = subprocess.run([sys.executable, "-c", code, "sim.numeric"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == '["json"]'
