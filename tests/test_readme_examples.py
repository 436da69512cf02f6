"""The README's examples work as they stand on the data ``make demo`` builds (issue 12, point 9).

Every fenced ``sh`` block right after a ``<!-- readme-examples ... -->`` comment is run, one command per
line (a line ending in a backslash continues), with ``bash`` in a temporary folder holding a fresh demo
store and the repository's ``docs/`` (the examples are run from the repository's folder). The comment
lists one ``expect: TEXT`` per command, in order: each command must exit 0 and print TEXT. The README is
read when the tests run, so an example edited on ``main`` is checked as it now reads.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKED = re.compile(r"<!-- readme-examples(?P<head>[^\n]*)\n(?P<body>.*?)-->\s*\n```sh\n(?P<block>.*?)```", re.S)
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Example:
    line: int  # of the command in README.md
    command: str
    expect: str

    def __str__(self) -> str:
        return f"README.md:{self.line}: {self.command.split('  #', 1)[0].strip()}"


def commands(block: str, first_line: int) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = first_line
    for offset, line in enumerate(block.splitlines()):
        if not pending:
            start = first_line + offset
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        out.append((start, " ".join([*pending, line]).strip()))
        pending = []
    return out


def readme_examples() -> list[Example]:
    text = README.read_text(encoding="utf-8")
    found: list[Example] = []
    for match in MARKED.finditer(text):
        expects = [line.strip()[len("expect:") :].strip() for line in match["body"].splitlines() if line.strip()]
        first = text.count("\n", 0, match.start("block")) + 1
        listed = commands(match["block"], first)
        assert len(expects) == len(listed), (
            f"README.md:{first}: {len(listed)} commands but {len(expects)} 'expect:' lines in the comment above"
        )
        found += [Example(line, command, expect) for (line, command), expect in zip(listed, expects, strict=True)]
    return found


EXAMPLES = readme_examples()


def test_the_readme_marks_its_examples() -> None:
    assert len(EXAMPLES) >= 15, "the README's example blocks lost their readme-examples comment"
    assert all(example.expect for example in EXAMPLES)


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTWATCH_")}
    env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}", "PAYOUTWATCH_USER": "readme", "COLUMNS": "200"})
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh demo store (what `make demo` builds, without serving it), beside the repository's docs."""
    folder = tmp_path_factory.mktemp("readme")
    (folder / "docs").symlink_to(ROOT / "docs")
    built = run("payoutwatch demo", folder)
    assert built.returncode == 0, built.stdout + built.stderr
    return folder


@pytest.mark.parametrize("example", EXAMPLES, ids=str)
def test_the_example_works_on_demo_data(example: Example, demo_folder: Path) -> None:
    result = run(example.command, demo_folder)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{example}\nexit {result.returncode}\n{output}"
    assert example.expect in output, f"{example}\nexpected {example.expect!r} in:\n{output}"
    assert "Traceback" not in output
