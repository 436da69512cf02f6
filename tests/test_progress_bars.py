"""Long commands draw a progress bar on standard error only when it is a terminal (a pty here); piped, they
print nothing extra (even when rich is told the file is a terminal, as FORCE_COLOR does)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from payoutwatch.cli.progress import CountedReader, progress_bar

BAR = "━"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return config(tmp_path_factory.mktemp("progress"))


@pytest.fixture(scope="module")
def piped(cfg: Path) -> subprocess.CompletedProcess[str]:
    """The backtest with both outputs piped."""
    return payoutwatch(cfg, *BACKTEST, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def config(tmp_path: Path) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}}))
    return path


BACKTEST = ["backtest", "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-02T00:00:00Z", "--step", "1h"]


def payoutwatch(
    cfg: Path, *args: str, env: dict[str, str] | None = None, **streams: int
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from payoutwatch.cli import main; main()", "--config", str(cfg), *args]
    return subprocess.run(command, text=True, timeout=120, env={**os.environ, **(env or {})}, check=False, **streams)  # type: ignore[call-overload,no-any-return]


def test_a_backtest_on_a_terminal_draws_a_bar_on_stderr_and_keeps_stdout_clean(
    cfg: Path, piped: subprocess.CompletedProcess[str]
) -> None:
    leader, follower = pty.openpty()
    try:
        done = payoutwatch(cfg, *BACKTEST, stdout=subprocess.PIPE, stderr=follower)
        drawn = b""
        while select.select([leader], [], [], 0.5)[0]:
            chunk = os.read(leader, 65536)
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(follower)
        os.close(leader)
    assert done.returncode == 0
    text = drawn.decode(errors="replace")
    assert "backtest" in text and BAR in text and "25" in text  # 25 evaluations: 00:00 to 24:00 every hour
    assert done.stdout == piped.stdout and "\x1b[" not in done.stdout  # the bar never enters the results


def test_piped_long_commands_print_no_bar(piped: subprocess.CompletedProcess[str]) -> None:
    assert piped.returncode == 0 and piped.stderr == "" and "against what actually happened" in piped.stdout


def test_a_bar_counts_steps_and_bytes_only_on_a_terminal() -> None:
    screen = FakeTerminal()
    with progress_bar(Console(file=screen, width=80), "ingest job_runs", 10, size=True) as advance:
        reader = io.BufferedReader(CountedReader(io.BytesIO(b"0123456789"), advance))
        assert reader.read() == b"0123456789"
    assert "ingest job_runs" in screen.getvalue() and BAR in screen.getvalue()
    piped = io.StringIO()  # FORCE_COLOR makes rich treat any file as a terminal: the bar still asks isatty
    with progress_bar(Console(file=piped, width=80, force_terminal=True), "sync", 3) as advance:
        advance(3)
    assert piped.getvalue() == ""
