"""Secret sweep (issue 10 point 4): a distinct secret in every secret-bearing setting; after `config
check`, `config show`, a sync of every source, an evaluation whose channels fail (against a server that
echoes what it was sent), a rotation of the secrets and `report incident`, none of them appears in any
output, any log line or any table of the store."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.config import load_settings
from payoutwatch.service import send_heartbeat
from payoutwatch.store.tables import metadata
from tests.conftest import fresh_postgres_database
from tests.integration.jsonserver import JsonServer

runner = CliRunner()
NOW = datetime.now(UTC).replace(microsecond=0)


def secrets(generation: int) -> dict[str, str]:
    """One distinct value per secret-bearing setting (as environment variables)."""
    g = f"g{generation}"
    return {
        "STORE_PASSWORD": f"StorePw-{g}@kq7",  # an unencoded @ in the store password
        "STORE_SSLPASSWORD": f"SslPw-{g}-33x",
        "PD_ROUTING_KEY": f"pdRoutingKey-{g}-a91",
        "SLACK_HOOK_TOKEN": f"slackHookToken-{g}-b72",
        "SLACK_BOT_TOKEN": f"xoxb-slackBot-{g}-c63",
        "HOOK_PATH_TOKEN": f"hookPathToken-{g}-d54",
        "HOOK_QUERY_TOKEN": f"hookQueryToken-{g}-e45",
        "HOOK_HEADER_TOKEN": f"hookHeader-{g}-f36",
        "JIRA_API_TOKEN": f"jiraApiToken-{g}-g27",
        "SMTP_PASSWORD": f"smtpPassword-{g}-h18",
        "STRIPE_KEY": f"rk_test_stripeKey-{g}-i09",
        "STRIPE_WEBHOOK_SECRET": f"whsec_stripeHook-{g}-j98",
        "VAULT_TOKEN": f"vaultToken-{g}-k87",
        "AIRFLOW_PASSWORD": f"airflowPw-{g}-l76",
        "CHRONOS_PASSWORD": f"chronosPw-{g}-m65",
        "REDIS_PASSWORD": f"redisPw-{g}-n54",
        "LEDGER_PASSWORD": f"ledgerPw-{g}-o43",
        "SESSION_SECRET": f"sessionSecret-{g}-p32",
        "HEARTBEAT_KEY": f"heartbeatKey-{g}-q21",
    }


@pytest.fixture
def echo() -> Iterator[JsonServer]:
    """A vendor that fails every call and echoes back what it was sent (body, Authorization, path)."""

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        sent = {"path": path, "auth": headers.get("Authorization"), "body": body.decode(errors="replace")}
        return 500, {"error": "echo", "sent": sent}, {}

    server = JsonServer(route)
    yield server
    server.close()


def configuration(store_url: str, echo_url: str, max_manual: int) -> dict[str, Any]:
    fast = {"retries": 0, "timeout_seconds": 2}
    return {
        "store": {"url": store_url},
        "rules": {"fallback_volume": {"max_manual_payouts": max_manual}},
        "web": {"session_secret": "${SESSION_SECRET}"},
        "service": {"heartbeat_url": f"{echo_url}/ping/${{HEARTBEAT_KEY}}"},
        "channels": {
            "pd": {"type": "pagerduty", "routing_key": "${PD_ROUTING_KEY}", "events_url": f"{echo_url}/pd"},
            "slack-hook": {"type": "slack", "webhook_url": f"{echo_url}/services/T0/B0/${{SLACK_HOOK_TOKEN}}"},
            "slack-bot": {
                "type": "slack",
                "bot_token": "${SLACK_BOT_TOKEN}",
                "channel": "#ops",
                "api_url": f"{echo_url}/chat.postMessage",
            },
            "hook": {
                "type": "webhook",
                "url": f"{echo_url}/hook/${{HOOK_PATH_TOKEN}}?token=${{HOOK_QUERY_TOKEN}}",
                "headers": {"Authorization": "Bearer ${HOOK_HEADER_TOKEN}"},
            },
            "jira": {
                "type": "jira",
                "base_url": echo_url,
                "api_version": 2,
                "project": "PAY",
                "email": "bot@example.com",
                "api_token": "${JIRA_API_TOKEN}",
            },
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": 1,
                "username": "bot",
                "password": "${SMTP_PASSWORD}",
                "from": "payoutwatch@example.com",
                "to": ["finance@example.com"],
            },
        },
        "routes": [{"rule": "fallback_volume", "channels": ["pd", "slack-hook", "slack-bot", "hook", "jira", "mail"]}],
        "sources": {
            "stripe": {
                "type": "stripe",
                "api_key": "${STRIPE_KEY}",
                "api_base": echo_url,
                "webhook_secrets": ["${STRIPE_WEBHOOK_SECRET}"],
                **fast,
            },
            "vault": {"type": "vault_kv", "url": echo_url, "token": "${VAULT_TOKEN}", **fast},
            "airflow": {
                "type": "airflow",
                "base_url": echo_url,
                "dag_id": "payouts",
                "username": "pw",
                "password": "${AIRFLOW_PASSWORD}",
                **fast,
            },
            "chronos": {
                "type": "chronos",
                "base_url": echo_url,
                "job": "payouts",
                "username": "pw",
                "password": "${CHRONOS_PASSWORD}",
                **fast,
            },
            "sidekiq": {
                "type": "sidekiq",
                "redis_url": "redis://:${REDIS_PASSWORD}@127.0.0.1:1/0",
                "job_class": "PayoutJob",
                **fast,
            },
            "ledger": {
                "type": "sql_ledger",
                "url": "postgresql://reader:${LEDGER_PASSWORD}@127.0.0.1:1/ledger",
                "relations": {"manual_payouts": "manual"},
                **fast,
            },
        },
    }


def store_url(admin_url: str) -> str:
    """The test database's URL with a password (unencoded @ included) and an sslpassword: trust
    authentication ignores both, so the store works and every place its URL can appear is exercised."""
    scheme, rest = admin_url.split("://", 1)
    user = rest.split("@", 1)[0].split(":", 1)[0]
    host_and_db = rest.split("@", 1)[1]
    separator = "&" if "?" in host_and_db else "?"
    return f"{scheme}://{user}:${{STORE_PASSWORD}}@{host_and_db}{separator}sslpassword=${{STORE_SSLPASSWORD}}"


def test_no_secret_appears_in_any_output_log_or_table(
    tmp_path: Path,
    postgres_server: str,
    echo: JsonServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    database = fresh_postgres_database(postgres_server)
    config = tmp_path / "payoutwatch.yaml"
    outputs: list[str] = []

    def run(*args: str, ok: bool = True) -> None:
        result = runner.invoke(app, ["--config", str(config), "--verbose", *args])
        text = result.output + (repr(result.exception) if result.exception else "")
        outputs.append(text)
        assert "Traceback" not in text
        if ok:
            assert result.exit_code == 0, (args, text)

    payouts = tmp_path / "manual.jsonl"
    payouts.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"m{i}",
                    "studio_id": f"s{i}",
                    "amount_cents": 100,
                    "currency": "CAD",
                    "detected_at": (NOW - timedelta(hours=i + 1)).isoformat(),
                }
            )
            for i in range(4)
        )
    )
    every_secret: set[str] = set()
    for generation, max_manual in ((1, 1), (2, 2)):  # the second run rotates every secret and a threshold
        values = secrets(generation)
        every_secret.update(values.values())
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        config.write_text(yaml.safe_dump(configuration(store_url(database), echo.url, max_manual)))
        run("config", "check")
        run("config", "show")
        run("ingest", "manual_payouts", str(payouts))
        run("sync", ok=False)  # every source fails against the echo server or a closed port
        run("sources")
        run("evaluate", ok=False)  # every channel fails (the echo server answers 500)
        run("deliver", "--retry-now", ok=False)
        run("notifications")
        run("alerts", "--all")
        assert not send_heartbeat(load_settings(str(config)))  # the echo server answers 500: logged, not raised
    run(
        "report",
        "incident",
        "--from",
        (NOW - timedelta(days=1)).isoformat(),
        "--to",
        (NOW + timedelta(hours=1)).isoformat(),
    )
    assert any("config" in out.lower() for out in outputs[-1:])
    assert len(echo.requests) >= 5  # the channels really were called

    engine = create_engine(database)
    with engine.connect() as conn:
        tables = {
            table.name: [str(tuple(row)) for row in conn.execute(select(table))] for table in metadata.sorted_tables
        }
    engine.dispose()
    assert tables["config_versions"] and tables["notifications"] and tables["source_state"]
    dumped = "\n".join(f"{name}: {row}" for name, rows in tables.items() for row in rows)
    places = {"outputs": "\n".join(outputs), "logs": caplog.text, "store": dumped}
    forms = {form for secret in every_secret for form in (secret, quote(secret, safe=""), secret.split("@")[-1])}
    leaks = [(form, where) for form in sorted(forms) for where, text in places.items() if form in text]
    assert leaks == [], "\n".join(f"{form} in {where}" for form, where in leaks)
