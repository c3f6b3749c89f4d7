"""The README's worked example is what the commands really print.

The example block is read from README.md: each ``$ cat FILE`` writes the lines under it to FILE,
each ``$ ttfs ...`` runs the console command in the same folder, and its output (stdout and
stderr) must equal the lines under it, with wall-clock times (``in 0.36 s``) the only thing
allowed to differ.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TTFS = Path(sys.executable).with_name("ttfs")
_TIME = re.compile(r"in \d+\.\d+ s\b")


def example_steps(readme: str) -> list[tuple[str, list[str]]]:
    """``[(command, output lines)]`` of the first ``sh`` block after "## Worked example"."""
    section = readme.split("## Worked example", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


def _normalise(lines: list[str]) -> list[str]:
    return [_TIME.sub("in <t> s", line.rstrip()) for line in lines]


@pytest.mark.amaranth
def test_readme_worked_example_prints_what_the_readme_says(tmp_path):
    steps = example_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [cmd for cmd, _ in steps if cmd.startswith("ttfs ")]
    assert len(commands) >= 4, "the README's worked example has lost its commands"
    for cmd, lines in steps:
        argv = shlex.split(cmd)
        if argv[0] == "cat":
            (tmp_path / argv[1]).write_text("\n".join(lines) + "\n", encoding="utf-8")
            continue
        assert argv[0] == "ttfs", f"the worked example runs {cmd!r}; this test knows cat and ttfs"
        proc = subprocess.run([str(TTFS), *argv[1:]], cwd=tmp_path, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
        got = (proc.stdout + proc.stderr).splitlines()
        assert _normalise(got) == _normalise(lines), cmd


def test_readme_example_parser_reads_commands_and_output():
    readme = "x\n## Worked example\n\n```sh\n$ cat a.json\n{}\n$ ttfs sim a\nok in 1.25 s\n```\n"
    assert example_steps(readme) == [("cat a.json", ["{}"]), ("ttfs sim a", ["ok in 1.25 s"])]
    assert _normalise(["ok in 1.25 s -> r.json "]) == ["ok in <t> s -> r.json"]
