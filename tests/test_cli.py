"""The command line as a person meets it: clear errors, exit codes, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"},
                "schedule": {"start": "2026-03-05"},
            }
        )
    )
    return path


def cli(config: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args], input=stdin)
    return result.exit_code, result.output


def test_bad_batch_exits_1_names_every_line_and_shows_no_traceback(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "runs.jsonl"
    bad.write_text('{"run_id": "a", "started_at": "2026-03-05T11:00:00Z"}\n{"run_id": "b"}\n{"run_id": 3,\n')
    code, output = cli(config, "ingest", "job_runs", str(bad))
    assert code == 1
    assert "line 2: started_at: required field is missing" in output
    assert "line 3: (json): not valid JSON" in output
    assert "nothing was written" in output and "Traceback" not in output
    code, output = cli(config, "dashboard", "payout_health", "--json", "--at", "2026-03-06T00:00:00Z")
    assert json.loads(output)["last_run"] is None


def test_ingest_reads_stdin_and_reports_counts(config: Path) -> None:
    code, output = cli(
        config,
        "ingest",
        "manual_payouts",
        "-",
        stdin=json.dumps(
            [
                {
                    "id": "m1",
                    "studio_id": "s",
                    "amount_cents": 5,
                    "currency": "CAD",
                    "detected_at": "2026-03-06T00:00:00Z",
                }
            ]
        ),
    )
    assert (code, output.strip()) == (0, "stored 1 manual_payouts record(s)")


def test_unknown_kind_dashboard_and_instant_are_usage_errors(config: Path) -> None:
    assert cli(config, "ingest", "payouts", "-", stdin="")[0] == 2
    assert cli(config, "dashboard", "nope")[0] == 2
    code, output = cli(config, "evaluate", "--at", "2026-03-05 11:00")
    assert code == 2 and "with an offset" in output


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("rules:\n  automation_failure:\n    max_duration_minutes: -5\n")
    code, output = cli(path, "config", "check")
    assert code == 2 and "rules.automation_failure.max_duration_minutes" in output


def test_config_show_redacts_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.slack.com/services/T000/B000/very-secret")
    path = tmp_path / "c.yaml"
    path.write_text("channels:\n  s:\n    type: slack\n    webhook_url: ${HOOK}\n")
    code, output = cli(path, "config", "show")
    assert code == 0 and "very-secret" not in output and "********" in output


def test_evaluate_ack_resolve_and_alerts(config: Path) -> None:
    cli(
        config,
        "ingest",
        "job_runs",
        "-",
        stdin=json.dumps(
            {
                "run_id": "r1",
                "scheduled_for": "2026-03-05T11:00:00Z",
                "started_at": "2026-03-05T11:00:00Z",
                "finished_at": "2026-03-05T11:10:00Z",
                "exit_code": 1,
            }
        ),
    )
    code, output = cli(config, "evaluate", "--at", "2026-03-05T11:11:00Z")
    assert code == 0 and "automation_failure:payouts:2026-03-05" in output and "1 sent" in output
    assert cli(config, "ack", "automation_failure:payouts:2026-03-05")[0] == 0
    [alert] = json.loads(cli(config, "alerts", "--json")[1])["alerts"]
    assert alert["acked_by"] and alert["state"] == "firing" and alert["severity"] == "SEV-2"
    assert cli(config, "resolve", "automation_failure:payouts:2026-03-05")[0] == 0
    assert json.loads(cli(config, "alerts", "--json")[1])["alerts"] == []
    assert json.loads(cli(config, "alerts", "--json", "--all")[1])["alerts"][0]["resolved_by"]
    code, output = cli(config, "ack", "nope")
    assert code == 1 and "no firing alert" in output
    rows = json.loads(cli(config, "notifications", "--json")[1])["notifications"]
    assert [(r["channel"], r["event"], r["state"]) for r in rows] == [
        ("log", "resolved", "sent"),
        ("log", "firing", "sent"),
    ]


def test_silence_add_list_expire(config: Path) -> None:
    code, output = cli(config, "silence", "add", "--rule", "reserve_breach", "--comment", "top-up planned")
    assert code == 0
    [row] = json.loads(cli(config, "silence", "list", "--json")[1])["silences"]
    assert (row["rule"], row["comment"]) == ("reserve_breach", "top-up planned")
    assert cli(config, "silence", "expire", str(row["id"]))[0] == 0
    assert json.loads(cli(config, "silence", "list", "--json")[1])["silences"] == []
    assert cli(config, "silence", "add", "--comment", "no matcher")[0] == 2
    code, _ = cli(
        config,
        "silence",
        "add",
        "--key",
        "reserve_breach:*",
        "--duration",
        "1h30m",
        "--author",
        "ana",
        "--comment",
        "c",
    )
    [row] = json.loads(cli(config, "silence", "list", "--json")[1])["silences"]
    assert code == 0 and row["author"] == "ana"
    assert cli(config, "silence", "add", "--key", "x", "--duration", "soon", "--comment", "c")[0] == 2


def test_demo_builds_evaluates_and_refuses_a_store_it_did_not_build(config: Path, tmp_path: Path) -> None:
    code, output = cli(config, "demo", "--studios", "40")
    assert code == 0, output
    for title in ("Payout Health", "Fallback Activity", "Reserves & Balances", "Credential Expiry", "open alerts"):
        assert title in output
    assert "credential_expiry:applepay-processing" in output and "fallback_volume" in output
    code, listed = cli(config, "silence", "list", "--json")  # the demo shows a silenced alert: who, why, until
    [silence] = json.loads(listed)["silences"]
    assert silence["key"].startswith("reserve_breach:") and silence["owner"] == "finance", silence
    assert silence["author"] and "Top-up" in silence["comment"] and silence["ends_at"] > silence["starts_at"]
    assert cli(config, "demo", "--studios", "40")[0] == 0  # a demo store can be rebuilt
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'real.db'}"}}))
    cli(
        other,
        "ingest",
        "manual_payouts",
        "-",
        stdin=json.dumps(
            {"id": "m1", "studio_id": "s", "amount_cents": 5, "currency": "CAD", "detected_at": "2026-03-06T00:00:00Z"}
        ),
    )
    code, output = cli(other, "demo")
    assert code == 2 and "did not write" in output
