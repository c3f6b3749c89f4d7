"""docs/api.md: every ```python block runs, in order, in one namespace, in an empty directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)

pytestmark = [pytest.mark.train, pytest.mark.cosim]


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text(encoding="utf-8"))


def test_api_doc_has_a_block_per_section():
    text = DOC.read_text(encoding="utf-8")
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert len(sections) == 7 and len(blocks()) >= len(sections)
    for name in ("train_model", "quantize_model", "load_split", "encode_for", "pack",
                 "save_image", "CoreConfig.for_network", "get_backend", "check_equal",
                 "summarise", "energy_report", "export_nir", "save_nir", "import_nir"):
        assert f"{name}(" in "\n".join(blocks()), name


def test_api_doc_examples_run_in_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "api_doc"}
    for k, code in enumerate(blocks(), start=1):
        try:
            exec(compile(code, f"docs/api.md block {k}", "exec"), namespace)
        except Exception as exc:  # say which block, then fail with its own error
            raise AssertionError(f"docs/api.md block {k} failed: {exc!r}\n{code}") from exc
