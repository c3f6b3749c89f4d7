"""The project installs as the one namespace ``ttfs`` (docs/architecture.md): no generic top-level
``sim``/``hw``/``train``/``verify``/``flows`` that a user's own files could shadow, and a wheel that
holds the same packages as the editable install.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "hw", "train", "verify", "flows")
TTFS = Path(sys.executable).with_name("ttfs")

TINY_QNET = {
    "format": "ttfs.qnet", "version": 1, "n_inputs": 3, "time_steps": 8, "weight_bits": 8,
    "potential_bits": 16, "readout": "first_spike", "early_exit": False,
    "layers": [{"weights": [[5, -2, 3, 1], [4, 4, -1, 2], [-3, 6, 2, 2]], "threshold": 6},
               {"weights": [[3, -1], [-2, 4], [2, 2], [1, -3]], "threshold": 3}],
}
TINY_EVENTS = {
    "format": "ttfs.events", "version": 1,
    "samples": [[[0, 0], [1, 1], [3, 2]], [[0, 1], [0, 2]], [[2, 0], [2, 1], [2, 2]], []],
    "labels": [0, 1, 0, 1],
}


def _run(args, cwd, env=None, timeout=600):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", PACKAGES)
def test_packaging_generic_names_are_not_installed(tmp_path, name):
    proc = _run([sys.executable, "-c", f"import {name}"], cwd=tmp_path)
    assert proc.returncode == 1
    assert f"ModuleNotFoundError: No module named '{name}'" in proc.stderr


def _shadow(folder: Path) -> None:
    """A user's folder with their own train.py, sim.py, hw.py, verify.py and flows.py, each of
    which fails loudly if anything imports it."""
    for name in PACKAGES:
        (folder / f"{name}.py").write_text(
            f"raise RuntimeError('the user\\'s own {name}.py was imported')\n", encoding="utf-8"
        )


def test_packaging_users_own_files_do_not_shadow_ttfs(tmp_path):
    _shadow(tmp_path)
    (tmp_path / "tiny.json").write_text(json.dumps(TINY_QNET), encoding="utf-8")
    (tmp_path / "tiny_events.json").write_text(json.dumps(TINY_EVENTS), encoding="utf-8")
    # a script next to those files: its folder leads sys.path, as for any `python script.py`
    (tmp_path / "script.py").write_text(
        "import importlib, sys\n"
        "from ttfs.flows.cli import main\n"
        "for name in sys.argv[1:]:\n"
        "    importlib.import_module(name)\n"
        "assert main(['compile', 'tiny.json', '--events', 'tiny_events.json', '-o', 'tiny.img',"
        " '-q']) == 0\n"
        "assert main(['sim', 'tiny.img', '--backend', 'image', '--check', '-o', 'r.json',"
        " '-q']) == 0\n",
        encoding="utf-8",
    )
    modules = ["ttfs.sim.reference", "ttfs.sim.image", "ttfs.hw.core", "ttfs.hw.emit",
               "ttfs.train.api", "ttfs.verify.backends", "ttfs.verify.verilator",
               "ttfs.flows.steps"]
    proc = _run([sys.executable, "script.py", *modules], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["n_samples"] == 4
    # the console command, from that folder and with the folder on PYTHONPATH as well
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = _run([str(TTFS), "image", "info", "tiny.img"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("TTFS image v1: network 3-4-2, 8 steps")
    proc = _run([sys.executable, "-m", "ttfs.flows.cli", "--version"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ttfs ")


def test_packaging_the_wheel_holds_the_namespace(tmp_path):
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                 "--quiet", "-w", str(tmp_path / "dist"), str(src)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = (tmp_path / "dist").glob("ttfs_codesign-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"ttfs"}
    for required in ("ttfs/sim/reference.py", "ttfs/sim/protocol.py", "ttfs/hw/core.py",
                     "ttfs/train/api.py", "ttfs/verify/verilator.py",
                     "ttfs/verify/harness/harness.cpp", "ttfs/flows/cli.py"):
        assert required in names
    # every module of the checkout is in the wheel
    here = {
        "ttfs/" + str(p.relative_to(ROOT)) for name in PACKAGES for p in (ROOT / name).rglob("*.py")
    }
    assert here <= set(names)
    # the unpacked wheel leads sys.path: its modules are the ones imported, and they run
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    probe = (
        "import json, ttfs.sim.reference as r, ttfs.flows.cli as c, ttfs.verify.verilator as v\n"
        "print(json.dumps([r.__file__, c.__file__, str(v.SHIM_SOURCE), v.SHIM_SOURCE.exists()]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = _run([sys.executable, "-c", probe], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    ref, cli, shim, shim_exists = json.loads(proc.stdout)
    for path in (ref, cli, shim):
        assert Path(path).is_relative_to(site), path
    assert shim_exists
    proc = _run([sys.executable, "-m", "ttfs.flows.cli", "--version"], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ttfs ")
