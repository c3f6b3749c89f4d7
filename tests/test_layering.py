"""The layers of docs/architecture.md hold: every import of every module, read with ast (nothing is
run), goes down or sideways within its own package, never up, and no set of modules imports itself
in a circle.

The import graph includes imports inside functions and under ``TYPE_CHECKING``, lazy imports through
``importlib.import_module("...")`` with a constant name, and registry entries written as
``"ttfs.package.module:Name"`` strings: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: package -> the packages its modules may import (its own included). Bottom to top:
#: sim -> hw, train (side by side, never each other) -> verify -> flows.
ALLOWED = {
    "sim": {"sim"},
    "hw": {"sim", "hw"},
    "train": {"sim", "train"},
    "verify": {"sim", "hw", "verify"},
    "flows": {"sim", "hw", "train", "verify", "flows"},
}

#: third-party packages only the tests and benchmarks may import (dev extras, not installed for
#: a user)
DEV_ONLY = {"pytest", "hypothesis", "snntorch"}

#: third-party packages a layer must not import (the sim's numpy-only rule is also checked by
#: running it, in tests/sim/test_purity.py)
FORBIDDEN_THIRD_PARTY = {
    "sim": {"torch", "amaranth", "cocotb", "matplotlib", "sklearn", "nir", "h5py", "ray"}
    | DEV_ONLY,
    "hw": {"torch", "cocotb", "sklearn", "ray"} | DEV_ONLY,
    "train": {"amaranth", "cocotb", "ray"} | DEV_ONLY,
    "verify": {"torch", "sklearn", "ray"} | DEV_ONLY,
    "flows": DEV_ONLY,
}

_REGISTRY_STRING = re.compile(r"^(ttfs(?:\.\w+)+):\w+$")


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the five packages: ``ttfs.sim.ir`` -> ``sim/ir.py``."""
    out = {}
    for pkg in ALLOWED:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(("ttfs", *parts))] = path
    return out


def _resolve(name: str, modules: set[str]) -> str | None:
    """The longest prefix of dotted ``name`` that is one of ``modules``."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def imports_of(module: str, source: str, modules: set[str]) -> tuple[set[str], set[str], list]:
    """``(project modules, third-party top-level names, private names)`` ``module`` imports.

    Private names are ``(target, name)`` pairs of ``from target import _name`` across modules.
    """
    tree = ast.parse(source)
    is_package = module in modules and any(m.startswith(module + ".") for m in modules)
    own, third, private = set(), set(), []

    def add(name: str) -> None:
        if name.split(".")[0] == "ttfs":
            target = _resolve(name, modules)
            if target is None:
                raise AssertionError(f"{module} imports {name!r}, which is not a module here")
            if target != module:
                own.add(target)
        else:
            third.add(name.split(".")[0])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in modules:  # `from package import submodule`
                    add(full)
                else:
                    add(target)
                    if alias.name.startswith("_") and target.startswith("ttfs.") \
                            and target != module:
                        private.append((target, alias.name))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) \
                    and isinstance(node.args[0].value, str):
                add(node.args[0].value)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _REGISTRY_STRING.match(node.value)
            if match:
                add(match.group(1))
    return own, third, private


def import_graph(root: Path = ROOT):
    files = module_files(root)
    names = set(files)
    graph, third, private = {}, {}, {}
    for module, path in files.items():
        graph[module], third[module], private[module] = imports_of(
            module, path.read_text(encoding="utf-8"), names
        )
    return graph, third, private


def package_of(module: str) -> str:
    return module.split(".")[1]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{src} imports {dst}"
        for src, targets in graph.items()
        for dst in targets
        if package_of(dst) not in ALLOWED[package_of(src)]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


@pytest.fixture(scope="module")
def graph_parts():
    return import_graph()


def test_layering_no_import_goes_up(graph_parts):
    graph, _, _ = graph_parts
    assert layer_violations(graph) == []


def test_layering_no_import_circles(graph_parts):
    graph, _, _ = graph_parts
    assert cycles(graph) == []


def test_layering_third_party_per_layer(graph_parts):
    _, third, _ = graph_parts
    bad = sorted(
        f"{m} imports {t}"
        for m, names in third.items()
        for t in names & FORBIDDEN_THIRD_PARTY[package_of(m)]
    )
    assert bad == []


def test_layering_no_private_name_crosses_modules(graph_parts):
    _, _, private = graph_parts
    bad = sorted(f"{m} imports {t}.{n}" for m, pairs in private.items() for t, n in pairs)
    assert bad == []


def test_layering_the_checks_can_fail():
    graph = {
        "ttfs.sim.a": {"ttfs.hw.b"},  # up
        "ttfs.hw.b": {"ttfs.train.c"},  # sideways into another package
        "ttfs.train.c": {"ttfs.train.d"},
        "ttfs.train.d": {"ttfs.train.e"},
        "ttfs.train.e": {"ttfs.train.c"},  # a circle of three
        "ttfs.flows.f": {"ttfs.sim.a", "ttfs.verify.g"},  # fine
        "ttfs.verify.g": {"ttfs.hw.b"},  # fine
    }
    assert layer_violations(graph) == ["ttfs.hw.b imports ttfs.train.c",
                                       "ttfs.sim.a imports ttfs.hw.b"]
    assert cycles(graph) == [["ttfs.train.c", "ttfs.train.d", "ttfs.train.e"]]
    # the parser finds function-local, relative, lazy and registry-string imports
    modules = {"ttfs.sim", "ttfs.sim.x", "ttfs.sim.y", "ttfs.hw.z", "ttfs.verify.w"}
    source = (
        "import numpy\n"
        "from . import y\n"
        "def f():\n    from ttfs.hw.z import thing, _secret\n"
        "REG = {'a': 'ttfs.verify.w:Cls'}\n"
        "importlib.import_module('ttfs.sim.y')\n"
    )
    own, third, private = imports_of("ttfs.sim.x", source, modules)
    assert own == {"ttfs.sim.y", "ttfs.hw.z", "ttfs.verify.w"}
    assert third == {"numpy"}
    assert private == [("ttfs.hw.z", "_secret")]


def test_layering_every_package_folder_is_installed():
    """pyproject.toml lists packages one by one; a package folder it forgets would not install."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setup = config["tool"]["setuptools"]
    listed = set(setup["packages"])
    folders = {
        ".".join(("ttfs", *init.parent.relative_to(ROOT).parts))
        for pkg in ALLOWED for init in (ROOT / pkg).rglob("__init__.py")
    }
    assert folders == listed
    assert setup["package-dir"] == {f"ttfs.{p}": p for p in ALLOWED}
    # a folder of modules without an __init__.py would be left out of the wheel silently
    loose = sorted(
        str(d.relative_to(ROOT)) for pkg in ALLOWED for d in [ROOT / pkg, *(ROOT / pkg).rglob("*")]
        if d.is_dir() and any(d.glob("*.py")) and not (d / "__init__.py").exists()
    )
    assert loose == []
