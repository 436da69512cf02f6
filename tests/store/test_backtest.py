"""Back-tests: a changed threshold shows when an alert would have fired; live state is untouched."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.config import ConfigError
from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.usecases.backtest import Replayed, against_current, compare, replay, with_overrides
from payoutwatch.usecases.evaluation import evaluate
from tests.conftest import make_settings, utc
from tests.helpers import load, manual, run

QUIET = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2026-03-05"}


def history(store: Engine) -> None:
    settings = make_settings(schedule=QUIET)
    runs = [
        run(
            f"r{i}",
            c + timedelta(minutes=1),
            scheduled_for=c,
            finished_at=c + timedelta(minutes=20),
            exit_code=0,
            studios_scheduled=10,
            studios_processed=10,
            cad_processed_cents=1_000_000,
        )
        for i, c in enumerate([utc(2026, 3, 5, 11), utc(2026, 3, 19, 10), utc(2026, 4, 2, 10)])
    ]
    load(store, settings, "job_runs", runs, utc(2026, 6, 1))
    load(store, settings, "manual_payouts", [manual("m1", utc(2026, 3, 25, 14, 30), 30_000)], utc(2026, 6, 1))


def counts(store: Engine) -> tuple[int, int, int]:
    with store.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(t)).scalar_one()  # type: ignore[return-value]
            for t in (alerts, alert_history, notifications)
        )


def test_a_lower_ratio_fires_at_the_right_instant_and_live_state_is_unchanged(store: Engine) -> None:
    history(store)
    settings = make_settings(schedule=QUIET)
    evaluate(store, settings, at=utc(2026, 3, 26), now=utc(2026, 6, 1))  # the live service saw nothing
    before = counts(store)
    start, end = utc(2026, 3, 20), utc(2026, 4, 10)
    as_is = replay(store, settings, start=start, end=end, step=timedelta(hours=1))
    assert as_is == []  # 30,000 of 2,000,000 = 1.5 %: under the 5 % limit
    tuned = with_overrides(settings, ["rules.fallback_volume.max_fallback_ratio=0.01"])
    replayed = replay(store, tuned, start=start, end=end, step=timedelta(hours=1))
    assert [(r.key, r.event, r.at) for r in replayed] == [
        ("fallback_volume", "firing", utc(2026, 3, 25, 15)),  # 30,000 / 2,000,000 = 1.5 % > 1 %
        ("fallback_volume", "resolved", utc(2026, 4, 2, 11)),  # the 2 April run: 30,000 / 3,000,000 = 1 %, not more
        ("fallback_volume", "firing", utc(2026, 4, 4, 12)),  # the 5 March run leaves the window: 1.5 % again
    ]
    assert counts(store) == before
    diff = compare(replayed, [])
    assert diff.only_backtest == [("fallback_volume", "firing"), ("fallback_volume", "resolved")]
    assert diff.only_actual == diff.both == []


def test_overrides_are_validated_like_the_config_file() -> None:
    settings = make_settings()
    with pytest.raises(ConfigError, match="no key 'rules.fallback_volume.max_ratio'"):
        with_overrides(settings, ["rules.fallback_volume.max_ratio=0.01"])
    with pytest.raises(ConfigError, match="max_fallback_ratio"):
        with_overrides(settings, ["rules.fallback_volume.max_fallback_ratio=-1"])
    assert (
        with_overrides(
            settings, ["rules.automation_failure.max_duration_minutes=45"]
        ).rules.automation_failure.max_duration_minutes
        == 45
    )


def history_config(tmp_path: Path) -> Path:
    """A SQLite store holding ``history`` and a config file naming it, for the CLI."""
    db = tmp_path / "store.db"
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{db}"}, "schedule": QUIET}))
    engine = open_store(f"sqlite:///{db}")
    history(engine)
    engine.dispose()
    return config


def test_cli_backtest_json_lists_key_rule_event_at(tmp_path: Path) -> None:
    config = history_config(tmp_path)
    result = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "backtest",
            "--from",
            "2026-03-20T00:00:00Z",
            "--to",
            "2026-04-10T00:00:00Z",
            "--step",
            "1h",
            "--set",
            "rules.fallback_volume.max_fallback_ratio=0.01",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {"key": "fallback_volume", "rule": "fallback_volume", "event": "firing", "at": "2026-03-25T15:00:00Z"},
        {"key": "fallback_volume", "rule": "fallback_volume", "event": "resolved", "at": "2026-04-02T11:00:00Z"},
        {"key": "fallback_volume", "rule": "fallback_volume", "event": "firing", "at": "2026-04-04T12:00:00Z"},
    ]
    table = CliRunner().invoke(
        app,
        [
            "--config",
            str(config),
            "backtest",
            "--from",
            "2026-03-20T00:00:00Z",
            "--to",
            "2026-04-10T00:00:00Z",
            "--step",
            "1d",
        ],
    )
    assert table.exit_code == 0 and "nothing would have fired" in table.output


def test_against_the_current_configuration_names_what_would_fire_stop_move_or_restage() -> None:
    slow = "automation_failure:payouts:2026-11-19"
    cred = "credential_expiry:rk"
    current = [
        Replayed(slow, "automation_failure", "firing", utc(2026, 11, 19, 12)),
        Replayed("fallback_volume", "fallback_volume", "firing", utc(2026, 11, 5, 12)),
        Replayed(cred, "credential_expiry", "reminder", utc(2026, 11, 1), "30d"),
        Replayed(cred, "credential_expiry", "reminder", utc(2026, 11, 10), "14d"),
        Replayed("reserve_breach:st_1", "reserve_breach", "firing", utc(2026, 11, 20)),
    ]
    changed = [
        Replayed("fallback_volume", "fallback_volume", "firing", utc(2026, 11, 6, 9)),
        Replayed(cred, "credential_expiry", "reminder", utc(2026, 11, 1), "30d"),
        Replayed(cred, "credential_expiry", "reminder", utc(2026, 11, 10), "14d"),
        Replayed(cred, "credential_expiry", "reminder", utc(2026, 11, 17), "7d"),
        Replayed("reserve_breach:st_1", "reserve_breach", "firing", utc(2026, 11, 20)),
        Replayed("reserve_breach:st_2", "reserve_breach", "firing", utc(2026, 11, 21)),
        Replayed("reserve_breach:st_2", "reserve_breach", "resolved", utc(2026, 11, 22)),
        Replayed("reserve_breach:st_2", "reserve_breach", "firing", utc(2026, 11, 23)),
    ]
    assert [c.describe() for c in against_current(current, changed)] == [
        f"{slow} would not fire (under the current configuration it fires 2026-11-19T12:00:00Z)",
        f"{cred} would reach stage 30d, 14d, 7d instead of stage 30d, 14d",
        "fallback_volume would first fire 2026-11-06T09:00:00Z instead of 2026-11-05T12:00:00Z",
        "reserve_breach:st_2 would fire 2026-11-21T00:00:00Z (under the current configuration it does not fire)",
    ]
    twice = against_current(changed[-3:-2], changed[-3:])
    assert [c.describe() for c in twice] == ["reserve_breach:st_2 would fire 2 times instead of once"]
    assert against_current(current, current) == []


def test_cli_backtest_with_overrides_compares_with_the_current_configuration(tmp_path: Path) -> None:
    config = history_config(tmp_path)
    window = ["--from", "2026-03-24T00:00:00Z", "--to", "2026-03-27T00:00:00Z", "--step", "1h"]
    args = ["--config", str(config), "backtest", *window]
    lower = CliRunner().invoke(app, [*args, "--set", "rules.fallback_volume.max_fallback_ratio=0.01"])
    assert lower.exit_code == 0, lower.output
    assert "against the current configuration over the same window: with " in lower.output
    assert "rules.fallback_volume.max_fallback_ratio=0.01, 1 alert would change:" in lower.output
    assert (
        "fallback_volume would fire 2026-03-25 11:00 EDT (under the current configuration it does not fire)"
        in lower.output
    )
    same = CliRunner().invoke(app, [*args, "--set", "rules.fallback_volume.max_fallback_ratio=0.04"])
    assert same.exit_code == 0 and "the same alerts fire at the same instants" in same.output
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 0 and "against the current configuration" not in plain.output
