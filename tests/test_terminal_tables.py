"""Terminal tables never cut an id, a key or a date: a narrow terminal folds prose, or prints each row as its
own block; ``--wide`` and a pipe print one line per row."""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from rich.console import Console
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.cli.render import render_rows
from tests.conftest import utc

KEYS = ["credential_expiry:applepay-merchant-identity-2026", "credential_expiry:rk_live_payouts_worker_2026"]
ROWS = [
    {
        "key": key,
        "owner": "payments-engineering",
        "started_at": utc(2026, 11, 1, 5, 30),
        "summary": "Stripe restricted key: payouts worker (stripe_restricted_key) is overdue, rotate it today",
    }
    for key in KEYS
]


def printed(width: int) -> str:
    out = io.StringIO()
    render_rows("alerts", ROWS, Console(file=out, width=width, color_system=None))
    return out.getvalue()


def test_a_table_that_fits_keeps_ids_and_instants_whole_and_folds_the_prose() -> None:
    text = printed(120)
    assert "┃ key" in text  # still a table
    lines = text.splitlines()
    assert all(any(key in line for line in lines) for key in KEYS)
    assert all(len(line) <= 120 for line in lines)
    assert "2026-11-01 05:30:00 UTC" in text and "…" not in text


def test_a_narrow_terminal_prints_each_row_as_a_block_with_every_value_whole() -> None:
    text = printed(70)
    lines = text.splitlines()
    assert all(len(line) <= 70 for line in lines)
    for key in KEYS:
        assert any(line.split() == ["key", key] for line in lines), key
    assert "…" not in text and "rotate it" in text


def cli_store(tmp_path: Path) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    store = {"url": f"sqlite:///{tmp_path / 'pw.db'}"}
    path.write_text(yaml.safe_dump({"store": store, "schedule": {"start": "2026-03-05"}}))
    runs = tmp_path / "runs.jsonl"
    runs.write_text(
        '{"run_id": "r1", "job": "payouts", "scheduled_for": "2026-10-29T10:00:00Z", '
        '"started_at": "2026-10-29T10:00:00Z", "finished_at": "2026-10-29T10:05:00Z", "exit_code": 1}\n'
    )
    runner = CliRunner()
    assert runner.invoke(app, ["--config", str(path), "ingest", "job_runs", str(runs)]).exit_code == 0
    evaluated = runner.invoke(
        app, ["--config", str(path), "evaluate", "--at", "2026-11-01T05:30:00Z", "--allow-future"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "2026-11-01 01:30:00 EDT" in evaluated.output  # the transition, in the schedule's zone
    return path


def test_piped_alerts_are_one_line_per_alert_with_the_summary_and_local_times(tmp_path: Path) -> None:
    config = cli_store(tmp_path)
    result = CliRunner().invoke(app, ["--config", str(config), "alerts"])
    assert result.exit_code == 0
    row = next(line for line in result.output.splitlines() if "automation_failure:payouts:2026-10-29" in line)
    assert "2026-11-01 01:30:00 EDT" in row and "exited 1" in row and "summary" in result.output
    wide = CliRunner().invoke(app, ["--config", str(config), "alerts", "--wide"])
    assert wide.output == result.output


def test_the_terminal_shows_local_times_across_the_change_and_json_keeps_utc(tmp_path: Path) -> None:
    config = cli_store(tmp_path)
    at = ["--at", "2026-10-30T12:00:00Z"]
    table = CliRunner().invoke(app, ["--config", str(config), "dashboard", "payout_health", *at])
    assert "as of 2026-10-30 08:00:00 EDT" in table.output
    assert "2026-11-12 06:00:00 EST" in table.output  # the next run, after the change
    assert "2026-10-29 06:00:00 EDT" in table.output  # the last run's cycle, before it
    assert "12d 23h 0m" in table.output and ".0000" not in table.output
    figures = CliRunner().invoke(app, ["--config", str(config), "dashboard", "payout_health", "--json", *at])
    assert '"next_run_at": "2026-11-12T11:00:00Z"' in figures.output
