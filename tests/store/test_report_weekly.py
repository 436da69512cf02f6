"""The weekly snapshot: the dashboards' own figures, three renderings, sent on demand and on schedule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.demo import build_platform, load
from payoutwatch.metrics import compute
from payoutwatch.reports.render import render
from payoutwatch.reports.scheduled import run_scheduled
from payoutwatch.reports.weekly import weekly
from payoutwatch.store.tables import report_runs
from payoutwatch.usecases.evaluation import evaluate
from tests.conftest import make_settings, utc
from tests.integration.servers import ChannelServer

NOW = utc(2026, 11, 26, 14)


@pytest.fixture
def demo_settings() -> Settings:
    return make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
    )


@pytest.fixture
def platform(store: Engine, demo_settings: Settings) -> Engine:
    load(store, build_platform(demo_settings, NOW, studios=60), demo_settings, NOW)
    evaluate(store, demo_settings, at=NOW, now=NOW)
    return store


def test_the_snapshot_uses_the_dashboards_figures(platform: Engine, demo_settings: Settings) -> None:
    with platform.connect() as conn:
        report = weekly(conn, NOW, demo_settings)
        health = compute("payout_health", conn, NOW, demo_settings)
        fallback = compute("fallback_activity", conn, NOW, demo_settings)
        reserves = compute("reserves", conn, NOW, demo_settings)
    assert report["payout_health"]["last_run"] == health["last_run"]
    assert report["payout_health"]["current_cycle_cad_cents"] == health["current_cycle_cad_cents"]
    assert report["fallback"]["fallback_cents"] == fallback["fallback_cents"]
    assert report["reserves"]["held_payouts"] == reserves["held_payouts"]
    assert report["reserves"]["near_threshold_count"] == len(reserves["near_threshold"])
    assert {a["key"] for a in report["open_alerts"]} >= {"fallback_volume", "credential_expiry:applepay-processing"}
    assert [c["credential_id"] for c in report["credentials_due"]] == ["rk_live_payouts", "applepay-processing"]


def test_markdown_html_and_json(platform: Engine, demo_settings: Settings) -> None:
    with platform.connect() as conn:
        figures = weekly(conn, NOW, demo_settings)
    md = render("weekly", figures, "md", zone=demo_settings.display_tz)
    assert md.startswith("# payoutwatch weekly snapshot") and "## Open alerts" in md
    assert "`credential_expiry:applepay-processing`" in md and "**not acknowledged**" in md
    held_line = next(line for line in md.splitlines() if line.startswith("- Held by reserve caps"))
    studios = md.split(held_line, 1)[1].split("\n## ", 1)[0]
    assert studios.lstrip().startswith("- Studios inside the warning buffer"), (
        "near-threshold studios are not held payouts"
    )
    html = render("weekly", figures, "html", zone=demo_settings.display_tz)
    assert (
        html.startswith("<!doctype html>")
        and '<table class="stack">' in html
        and "Apple Pay payment processing" in html
    )
    assert json.loads(render("weekly", figures, "json", zone=demo_settings.display_tz))["report"] == "weekly"


def test_scheduled_sends_once_per_occurrence(platform: Engine) -> None:
    with ChannelServer() as server:
        settings = make_settings(
            schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"},
            channels={"slack-ops": {"type": "slack", "webhook_url": f"{server.url}/slack/ops"}},
            reports={"weekly": {"channels": ["slack-ops"], "schedule": "FREQ=WEEKLY;BYDAY=TH;BYHOUR=9;BYMINUTE=0"}},
        )
        assert not run_scheduled(platform, settings, now=utc(2026, 11, 26, 13, 59))  # 08:59 Toronto: not yet
        server.slack.faults = [503]
        assert not run_scheduled(platform, settings, now=NOW)  # due, but Slack is down: retried next tick
        assert run_scheduled(platform, settings, now=NOW + timedelta(minutes=1))
        assert not run_scheduled(platform, settings, now=NOW + timedelta(minutes=2))  # already sent
        assert not run_scheduled(platform, settings, now=NOW + timedelta(days=2))  # more than a day late: skipped
        [message] = server.slack.requests
        assert message["body"]["text"].startswith("payoutwatch weekly snapshot 2026-11-26")
        assert server.slack.problems == []
    with platform.connect() as conn:
        row = conn.execute(select(report_runs)).one()
    assert (row.occurrence, row.attempts, row.error) == (utc(2026, 11, 26, 14), 2, None)


def test_cli_send_posts_to_slack_and_mails_html(tmp_path: object, demo_settings: Settings) -> None:
    from pathlib import Path

    import yaml
    from typer.testing import CliRunner

    from payoutwatch.cli import app
    from payoutwatch.store.engine import open_store
    from tests.integration.test_channels_live import SMTPCapture

    folder = Path(str(tmp_path))
    engine = open_store(f"sqlite:///{folder / 'pw.db'}")
    load(engine, build_platform(demo_settings, NOW, studios=20), demo_settings, NOW)
    engine.dispose()
    with ChannelServer() as server, SMTPCapture() as smtp:
        config = folder / "c.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": {"url": f"sqlite:///{folder / 'pw.db'}"},
                    "schedule": {"start": "2025-01-02"},
                    "channels": {
                        "slack-ops": {"type": "slack", "webhook_url": f"{server.url}/slack/ops"},
                        "email-finance": {
                            "type": "email",
                            "host": "127.0.0.1",
                            "port": smtp.port,
                            "to": ["finance@example.com"],
                        },
                    },
                    "reports": {"weekly": {"channels": ["slack-ops", "email-finance"]}},
                }
            )
        )
        result = CliRunner().invoke(
            app, ["--config", str(config), "report", "weekly", "--send", "--at", "2026-11-26T14:00:00Z"]
        )
        assert result.exit_code == 0, result.output
        [(rcpts, mail)] = smtp.messages
    assert rcpts == ["finance@example.com"] and mail["X-Payoutwatch-Report"].startswith("payoutwatch weekly")
    assert '<table class="stack">' in mail.get_body(("html",)).get_content()
    assert len(server.slack.requests) == 1 and server.slack.problems == []
