"""The incident timeline: runs, transitions, delivery, people's actions and a threshold change, in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app

runner = CliRunner()


def test_a_timeline_shows_what_happened_and_who_changed_what(tmp_path: Path) -> None:
    base: dict[str, Any] = {"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, "schedule": {"start": "2026-03-05"}}
    config = tmp_path / "payoutwatch.yaml"
    config.write_text(yaml.safe_dump(base))

    def cli(*args: str, stdin: str | None = None) -> Any:
        result = runner.invoke(
            app, ["--config", str(config), *args], input=stdin, env={"PAYOUTWATCH_USER": "ops-oliver"}
        )
        assert result.exit_code == 0, result.output
        return result

    cli(
        "ingest",
        "job_runs",
        "-",
        stdin=json.dumps(
            {
                "run_id": "r1",
                "scheduled_for": "2026-03-05T11:00:00Z",
                "started_at": "2026-03-05T11:01:00Z",
                "finished_at": "2026-03-05T11:09:00Z",
                "exit_code": 1,
                "studios_scheduled": 10,
                "studios_processed": 4,
            }
        ),
    )
    cli("evaluate", "--at", "2026-03-05T11:10:00Z")
    cli("ack", "automation_failure:payouts:2026-03-05", "--comment", "bank API outage, rerunning")
    base["rules"] = {"automation_failure": {"max_duration_minutes": 45}}
    config.write_text(yaml.safe_dump(base))
    cli("silence", "add", "--rule", "automation_failure", "--comment", "rerun in progress", "--duration", "1h")
    md = cli("report", "incident", "--from", "2026-03-05T00:00:00Z", "--to", "2030-01-01T00:00:00Z").output
    events = json.loads(
        cli(
            "report", "incident", "--from", "2026-03-05T00:00:00Z", "--to", "2030-01-01T00:00:00Z", "--format", "json"
        ).output
    )["events"]
    texts = [e["text"] for e in events]
    assert [e["kind"] for e in events[:3]] == ["run", "run", "alert"]  # started, failed, fired: in March
    assert "run r1 failed (exit 1), 4/10 studios" in texts[1]
    assert "fired" in texts[2] and "run r1 exited 1" in texts[2]
    acked = next(i for i, t in enumerate(texts) if "acknowledged by ops-oliver" in t)
    assert "rerunning" in texts[acked] and acked > 2 and events[acked]["at"] >= events[2]["at"]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events)
    assert any(e["kind"] == "notification" and "to log: delivered" in e["text"] for e in events)
    assert any(e["kind"] == "silence" and "by ops-oliver: rerun in progress" in e["text"] for e in events)
    assert [e["kind"] for e in events].count("config") == 2  # the first load and the changed threshold
    assert "+    max_duration_minutes: 45.0" in md and "-    max_duration_minutes: 30.0" in md
    assert md.startswith("# Incident timeline")
