"""Operator mistakes in the configuration (DESIGN §7, issue 9 points 6, 10): each is refused by
`config check` and at the start of every command, all at once, with its key path, in plain words,
with "did you mean" for a misspelt name, exit 2, no traceback and nothing written to the store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.config import parse_settings
from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases.alert_actions import SilenceRejected, add_silence
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings

runner = CliRunner()

MISTAKES: list[tuple[str, dict[str, Any], str]] = [
    (
        "route names an unknown rule",
        {"routes": [{"rule": "automation_failures", "channels": ["log"]}]},
        "routes.0.rule: unknown rule 'automation_failures' (did you mean 'automation_failure'?)",
    ),
    (
        "route names a stage its rule does not have",
        {"routes": [{"rule": "credential_expiry", "stages": ["3d", "expird"], "channels": ["log"]}]},
        "routes.0.stages: rule credential_expiry has no stage 'expird' (did you mean 'expired'?)",
    ),
    (
        "route names a stage of a rule without stages",
        {"routes": [{"rule": "reserve_breach", "stages": ["3d"], "channels": ["log"]}]},
        "routes.0.stages: rule reserve_breach has no stage '3d' (it has no stages)",
    ),
    (
        "route names a channel no channel has",
        {"channels": {"slack-ops": {"type": "log"}}, "routes": [{"rule": "reserve_breach", "channels": ["slack-op"]}]},
        "routes.0.channels: no channel named 'slack-op' (did you mean 'slack-ops'?)",
    ),
    (
        "PagerDuty severity outside the four",
        {"channels": {"pd": {"type": "pagerduty", "routing_key": "k", "severity_map": {"SEV-1": "crit"}}}},
        "channels.pd.severity_map.SEV-1: 'crit' is not one of critical, error, warning, info "
        "(did you mean 'critical'?)",
    ),
    (
        "RRULE every second",
        {"schedule": {"rrule": "FREQ=SECONDLY"}},
        "schedule.rrule: FREQ=SECONDLY is more frequent than daily",
    ),
    (
        "RRULE hourly",
        {"schedule": {"rrule": "FREQ=HOURLY;INTERVAL=6"}},
        "schedule.rrule: FREQ=HOURLY is more frequent than daily",
    ),
    (
        "RRULE daily at two hours",
        {"schedule": {"rrule": "FREQ=DAILY;BYHOUR=6,18;BYMINUTE=0"}},
        "schedule.rrule: occurs more than once a day",
    ),
    (
        "report schedule every minute",
        {"reports": {"weekly": {"schedule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0,30"}}},
        "reports.weekly.schedule: occurs more than once a day",
    ),
    (
        "a date that does not exist",
        {"schedule": {"start": "2025-13-02"}},
        "schedule.start: '2025-13-02' is not a date that exists",
    ),
    (
        "unknown key",
        {"rules": {"fallback_volume": {"max_fallback_ratoi": 0.1}}},
        "rules.fallback_volume.max_fallback_ratoi: unknown key 'max_fallback_ratoi' "
        "(did you mean 'max_fallback_ratio'?)",
    ),
    (
        "unknown rule section",
        {"rules": {"reserv_breach": {"owner": "finance"}}},
        "rules.reserv_breach: unknown rule 'reserv_breach' (did you mean 'reserve_breach'?)",
    ),
    (
        "unknown channel type",
        {"channels": {"hook": {"type": "webhok", "url": "http://127.0.0.1:9/x"}}},
        "channels.hook: unknown type 'webhok' (did you mean 'webhook'?)",
    ),
    (
        "unknown credential kind",
        {"credentials": {"max_age_days": {"stripe_key": 30}}},
        "credentials.max_age_days: unknown credential kind 'stripe_key' (did you mean 'stripe_restricted_key'?)",
    ),
]


def write_config(tmp_path: Path, body: dict[str, Any]) -> Path:
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}, **body}))
    return path


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(("_case", "body", "expected"), MISTAKES, ids=[case for case, _b, _e in MISTAKES])
def test_each_mistake_is_refused_with_its_key_path_and_nothing_is_written(
    tmp_path: Path, _case: str, body: dict[str, Any], expected: str
) -> None:
    config = write_config(tmp_path, body)
    for command in (["config", "check"], ["alerts"], ["evaluate"]):
        code, output = cli(config, *command)
        assert code == 2, output
        assert expected in output, output
        assert "Traceback" not in output and "Extra inputs" not in output and "Input should" not in output
    assert not (tmp_path / "pw.db").exists()  # refused before the store is opened


def test_every_problem_and_every_missing_variable_is_listed_in_one_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PD_KEY", "HOOK_URL", "SLACK_URL"):
        monkeypatch.delenv(name, raising=False)
    config = write_config(
        tmp_path,
        {
            "schedule": {"rrule": "FREQ=MINUTELY", "start": "2025-02-30"},
            "channels": {
                "pd": {"type": "pagerduty", "routing_key": "${PD_KEY}"},
                "hook": {"type": "webhook", "url": "${HOOK_URL}"},
                "slack": {"type": "slack", "webhook_url": "${SLACK_URL}"},
            },
            "routes": [{"rule": "reserv_breach", "chanels": ["pd"]}],
        },
    )
    code, output = cli(config, "config", "check")
    assert code == 2
    for expected in (
        "channels.pd.routing_key: environment variable PD_KEY is not set",
        "channels.hook.url: environment variable HOOK_URL is not set",
        "channels.slack.webhook_url: environment variable SLACK_URL is not set",
        "schedule.rrule: FREQ=MINUTELY is more frequent than daily",
        "schedule.start: '2025-02-30' is not a date that exists",
        "routes.0.rule: unknown rule 'reserv_breach' (did you mean 'reserve_breach'?)",
        "routes.0.chanels: unknown key 'chanels' (did you mean 'channels'?)",
        "routes.0.channels: required, but not set",
    ):
        assert expected in output, output
    assert "(8 problem(s))" in output


def test_files_that_are_not_yaml_are_one_clean_line(tmp_path: Path) -> None:
    cases = {
        "latin1.yaml": ("timezone: caf\xe9\n".encode("latin-1"), "latin1.yaml, line 1: not UTF-8 text"),
        "binary.yaml": (b"\x7fELF\x02\x01\x01\x00\x00\x00" * 30, "binary.yaml is a binary file"),
        "deep.yaml": (("a: " + "[" * 3000 + "]" * 3000 + "\n").encode(), "deep.yaml: nested too deeply"),
        "syntax.yaml": (b"store:\n  url: [unclosed\ntimezone: x\n", "syntax.yaml, line 3, column 9: not valid YAML"),
        "list.yaml": (b"- a\n- b\n", "list.yaml: the top level must be a mapping"),
    }
    for name, (content, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        code, output = cli(path, "config", "check")
        assert code == 2, output
        assert expected in output and "Traceback" not in output, output
        assert len(output.strip().splitlines()) == 1, output


def test_max_age_days_is_merged_with_the_defaults_per_kind() -> None:
    settings = parse_settings({"credentials": {"max_age_days": {"other": 180}}})
    assert settings.credentials.max_age_days == {
        "stripe_restricted_key": 90,
        "webhook_signing_secret": 365,
        "other": 180,
    }
    overridden = parse_settings({"credentials": {"max_age_days": {"stripe_restricted_key": 30}}})
    assert overridden.credentials.max_age_days["stripe_restricted_key"] == 30
    assert overridden.credentials.max_age_days["webhook_signing_secret"] == 365


def test_a_silence_on_a_rule_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    config = write_config(tmp_path, {})
    code, output = cli(config, "silence", "add", "--rule", "reserv_breach", "--comment", "maintenance")
    assert code == 2
    assert "unknown rule 'reserv_breach' (did you mean 'reserve_breach'?)" in output
    code, output = cli(config, "silence", "add", "--rule", "credential_*", "--comment", "rotation window")
    assert code == 0, output  # a glob that matches a rule is fine
    code, output = cli(config, "silence", "list")
    assert "credential_*" in output and "reserv_breach" not in output


def test_the_use_case_refuses_an_unknown_rule_for_every_front_end(sqlite_store: Engine) -> None:
    with pytest.raises(SilenceRejected, match="did you mean 'source_stale'"):
        add_silence(sqlite_store, Matcher("source_stal", None, None), comment="x", author="a", now=datetime.now(UTC))


def test_the_api_refuses_a_silence_on_an_unknown_rule(sqlite_store: Engine) -> None:
    with sqlite_store.begin() as conn:
        token = create_token(conn, name="ops-bot", role=Role.OPS, actor="test", now=datetime.now(UTC))[1]
    now = datetime.now(UTC)
    client = TestClient(create_app(make_settings(), sqlite_store, now=lambda: now))
    answer = client.post(
        "/api/v1/silences",
        json={"comment": "maintenance", "rule": "reserv_breach"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 422
    assert "did you mean 'reserve_breach'" in answer.text
