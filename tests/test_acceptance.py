"""The black-box acceptance runner over the public scenarios and ours, against the installed CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT.parent / "shared" / "acceptance" / "run.py"
SUITES = [ROOT.parent / "shared" / "acceptance" / "scenarios", ROOT / "tests" / "acceptance" / "scenarios"]

pytestmark = pytest.mark.acceptance


def cli_command() -> str:
    script = Path(sys.executable).with_name("payoutwatch")
    return str(script) if script.exists() else (shutil.which("payoutwatch") or "payoutwatch")


@pytest.mark.parametrize("suite", SUITES, ids=["public", "ours"])
def test_acceptance_scenarios_pass(suite: Path) -> None:
    if not RUNNER.exists() or not suite.exists():
        if os.environ.get("CI"):
            pytest.fail(f"acceptance runner or scenarios missing: {RUNNER}, {suite}")
        pytest.skip("shared/acceptance is not beside this checkout")
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--cmd", cli_command(), str(suite)], capture_output=True, text=True, timeout=900
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert ", 0 failed" in result.stdout
