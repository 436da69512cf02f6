"""Job pings: start/success/fail, and ``ping JOB -- COMMAND`` passing the exit code through."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app

runner = CliRunner()
CLI = str(Path(sys.executable).with_name("payoutwatch"))


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}}))
    return path


def last_run(config: Path) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["--config", str(config), "dashboard", "payout_health", "--json"])
    return json.loads(result.output)["last_run"]  # type: ignore[no-any-return]


def test_start_then_success_with_figures(config: Path) -> None:
    start = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "ping",
            "payouts",
            "start",
            "--run-id",
            "r1",
            "--figures",
            '{"studios_scheduled": 10}',
        ],
    )
    assert start.exit_code == 0, start.output
    assert last_run(config)["status"] == "running"
    done = runner.invoke(
        app,
        [
            "--config",
            str(config),
            "ping",
            "payouts",
            "success",
            "--figures",
            '{"studios_processed": 9, "cad_processed_cents": 123456}',
        ],
    )
    assert done.exit_code == 0, done.output
    run = last_run(config)
    assert (run["run_id"], run["status"], run["studios_scheduled"], run["studios_processed"]) == (
        "r1",
        "succeeded",
        10,
        9,
    )
    assert run["cad_processed_cents"] == 123456


def test_bad_figures_are_refused_with_the_field_named(config: Path) -> None:
    result = runner.invoke(
        app, ["--config", str(config), "ping", "payouts", "fail", "--figures", '{"studios_processed": -3}']
    )
    assert result.exit_code == 1 and "studios_processed" in result.output
    result = runner.invoke(app, ["--config", str(config), "ping", "payouts", "fail", "--figures", '{"typo": 1}'])
    assert result.exit_code == 1 and "unknown figures ['typo']" in result.output


def test_a_wrapped_command_is_reported_and_its_exit_code_passes_through(config: Path, tmp_path: Path) -> None:
    script = (
        "import json, os, sys; json.dump({'studios_processed': 7}, open(os.environ['PAYOUTWATCH_RUN_REPORT'], "
        "'w')); sys.exit(3)"
    )
    p = subprocess.run(
        [CLI, "--config", str(config), "ping", "payouts", "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 3, p.stderr
    run = last_run(config)
    assert (run["status"], run["exit_code"], run["studios_processed"]) == ("failed", 3, 7)
    assert run["duration_s"] >= 0


def test_the_job_runs_even_when_the_store_cannot_be_reached(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump({"store": {"url": "postgresql://nobody@127.0.0.1:1/none"}}))
    marker = tmp_path / "ran"
    p = subprocess.run(
        [
            CLI,
            "--config",
            str(broken),
            "ping",
            "payouts",
            "--",
            sys.executable,
            "-c",
            f"open({str(marker)!r}, 'w').write('yes')",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and marker.read_text() == "yes"
    assert "ping not recorded" in p.stderr
