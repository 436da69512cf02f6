from pathlib import Path

import pytest

from payoutwatch.config import ConfigError, Settings, load_settings, parse_settings, redacted


def test_no_file_means_the_embedded_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PAYOUTWATCH_CONFIG", raising=False)
    settings = load_settings(None)
    assert settings.store.url.get_secret_value() == "sqlite:///./payoutwatch.db"
    assert list(settings.channels) == ["log"]
    assert settings.rules.automation_failure.max_duration_minutes == 30


def test_errors_name_the_key_path() -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(
            {
                "rules": {"fallback_volume": {"max_fallback_ratio": -1, "typo": 1}},
                "channels": {"pd": {"type": "pagerduty"}},
            }
        )
    message = str(info.value)
    assert "rules.fallback_volume.max_fallback_ratio" in message
    assert "rules.fallback_volume.typo: unknown key 'typo'" in message
    assert "channels.pd.routing_key: required, but not set" in message


def test_routes_must_name_known_channels() -> None:
    with pytest.raises(ConfigError, match="no channel named 'pagerduty'"):
        parse_settings({"routes": [{"rule": "automation_failure", "channels": ["pagerduty"]}]})


def test_env_interpolation_and_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PD_KEY", "super-secret-routing-key")
    settings = parse_settings(
        {
            "store": {"url": "postgresql://pw:hunter2@db/pw"},
            "channels": {"pd": {"type": "pagerduty", "routing_key": "${PD_KEY}"}},
        }
    )
    assert settings.channels["pd"].routing_key.get_secret_value() == "super-secret-routing-key"  # type: ignore[union-attr]
    shown = str(redacted(settings))
    assert "super-secret-routing-key" not in shown and "hunter2" not in shown
    assert "********" in shown


def test_missing_env_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE", raising=False)
    with pytest.raises(ConfigError, match="channels.s.webhook_url: environment variable NOPE is not set"):
        parse_settings({"channels": {"s": {"type": "slack", "webhook_url": "${NOPE}"}}})


def test_schedule_start_must_be_naive() -> None:
    with pytest.raises(ConfigError, match="schedule.start"):
        parse_settings({"schedule": {"start": "2026-03-05T06:00:00+00:00"}})
    assert parse_settings({"schedule": {"start": "2026-03-05T06:00:00"}}).schedule.start.hour == 6  # type: ignore[union-attr]


def test_credential_reminders_must_exceed_escalation() -> None:
    with pytest.raises(ConfigError, match="reminder"):
        parse_settings({"rules": {"credential_expiry": {"reminder_days": [30, 2], "escalate_days": 3}}})


def test_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "payoutwatch.example.yaml"
    for name in (
        "PAGERDUTY_ROUTING_KEY",
        "SLACK_OPS_WEBHOOK",
        "SLACK_SECURITY_WEBHOOK",
        "SLACK_ENG_WEBHOOK",
        "JIRA_API_TOKEN",
        "SMTP_PASSWORD",
        "LEDGER_PASSWORD",
        "VAULT_TOKEN",
        "STRIPE_RESTRICTED_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "AIRFLOW_PASSWORD",
        "SIDEKIQ_REDIS_PASSWORD",
        "PAYOUTWATCH_SESSION_SECRET",
    ):
        monkeypatch.setenv(name, "x")
    assert isinstance(load_settings(str(example)), Settings)
