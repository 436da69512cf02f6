"""Finance's reserve review: the period's reserve_breach episodes, marked reviewed one by one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app


def test_episodes_in_the_period_and_their_review_marks(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "schedule": {"start": "2030-01-03"}})
    )
    runner = CliRunner()

    def cli(*args: str, stdin: str | None = None) -> Any:
        result = runner.invoke(app, ["--config", str(config), *args], input=stdin, env={"PAYOUTWATCH_USER": "fin-fay"})
        assert result.exit_code == 0, result.output
        return result

    snapshots = [
        {"account_id": "st_a", "as_of": "2026-03-01T00:00:00Z", "balance_cents": 500, "threshold_cents": 1000},
        {"account_id": "st_b", "as_of": "2026-03-01T00:00:00Z", "balance_cents": 900, "threshold_cents": 1000},
        {"account_id": "st_c", "as_of": "2026-02-01T00:00:00Z", "balance_cents": 1, "threshold_cents": 1000},
    ]
    cli("ingest", "reserve_snapshots", "-", stdin=json.dumps(snapshots))
    cli("evaluate", "--at", "2026-03-02T00:00:00Z")
    cli(
        "ingest",
        "reserve_snapshots",
        "-",
        stdin=json.dumps(
            [{"account_id": "st_b", "as_of": "2026-03-03T00:00:00Z", "balance_cents": 5000, "threshold_cents": 1000}]
        ),
    )
    cli("evaluate", "--at", "2026-03-04T00:00:00Z")  # st_b recovered
    cli("review", "reserve_breach:st_a", "--note", "top-up wired 3 March")
    report = json.loads(cli("report", "reserve-review", "--at", "2026-03-05T00:00:00Z", "--format", "json").output)
    episodes = {e["account_id"]: e for e in report["episodes"]}
    assert set(episodes) == {"st_a", "st_b", "st_c"}
    assert (episodes["st_a"]["reviewed_by"], episodes["st_a"]["note"]) == ("fin-fay", "top-up wired 3 March")
    assert episodes["st_b"]["state"] == "resolved" and episodes["st_b"]["reviewed_by"] is None
    assert report["unreviewed"] == 2 and episodes["st_a"]["balance_cents"] == 500
    md = cli("report", "reserve-review", "--at", "2026-03-05T00:00:00Z").output
    assert "2 not reviewed yet" in md and "fin-fay" in md
    later = json.loads(cli("report", "reserve-review", "--at", "2026-03-20T00:00:00Z", "--format", "json").output)
    assert {e["account_id"] for e in later["episodes"]} == {"st_a", "st_c"}  # st_b resolved more than 7 days ago
    failed = runner.invoke(app, ["--config", str(config), "review", "reserve_breach:nope"])
    assert failed.exit_code == 1 and "no alert with key" in failed.output
