"""The sources issue's end-to-end check, through the CLI: a PostgreSQL ledger, a certificate folder
and a moto-backed AWS source populate all four dashboards; a stopped source raises source_stale."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app
from tests.certs import make_certificate, write
from tests.conftest import fresh_postgres_database
from tests.integration.test_source_aws import moto_url, seed  # noqa: F401  (the fixture)
from tests.integration.test_source_sql_ledger import run_sql

pytestmark = pytest.mark.integration
runner = CliRunner()
NOW = datetime.now(UTC)
STALE_AFTER = timedelta(seconds=6)  # the aws source's staleness limit: short, so the test waits for it
CYCLE = (NOW - timedelta(days=3)).replace(hour=11, minute=0, second=0, microsecond=0)

LEDGER = f"""
CREATE TABLE scheduled_payouts (payout_id TEXT, studio_id TEXT, scheduled_for TIMESTAMPTZ, amount_cents BIGINT,
  currency TEXT, status TEXT, paid_at TIMESTAMPTZ, run_id TEXT);
CREATE TABLE reserve_snapshots (account_id TEXT, as_of TIMESTAMPTZ, balance_cents BIGINT, threshold_cents BIGINT);
CREATE TABLE manual_payouts (id TEXT, studio_id TEXT, amount_cents BIGINT, currency TEXT, detected_at TIMESTAMPTZ);
CREATE TABLE job_runs (run_id TEXT, job TEXT, scheduled_for TIMESTAMPTZ, started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ, exit_code INTEGER);
INSERT INTO job_runs VALUES ('r1', 'payouts', '{CYCLE.isoformat()}', '{(CYCLE + timedelta(minutes=1)).isoformat()}',
  '{(CYCLE + timedelta(minutes=12)).isoformat()}', 0);
INSERT INTO scheduled_payouts VALUES ('p1', 's1', '{CYCLE.isoformat()}', 250000, 'CAD', 'paid',
  '{(CYCLE + timedelta(minutes=5)).isoformat()}', 'r1');
INSERT INTO scheduled_payouts VALUES ('p2', 's2', '{CYCLE.isoformat()}', 175000, 'CAD', 'paid',
  '{(CYCLE + timedelta(minutes=6)).isoformat()}', 'r1');
INSERT INTO reserve_snapshots VALUES ('s1', '{(NOW - timedelta(days=1)).isoformat()}', 500000, 300000);
INSERT INTO manual_payouts VALUES ('m1', 's3', 9900, 'CAD', '{(NOW - timedelta(days=2)).isoformat()}')
"""


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_sync_populates_every_dashboard_and_a_stopped_source_goes_stale(
    tmp_path: Path,
    postgres_server: str,
    moto_url: str,  # noqa: F811
) -> None:
    ledger = fresh_postgres_database(postgres_server)
    run_sql(ledger, LEDGER)
    certs = tmp_path / "certs"
    certs.mkdir()
    cert, key = make_certificate(
        "Apple Pay Payment Processing:merchant.com.example",
        NOW - timedelta(days=700),
        NOW + timedelta(days=12, hours=1),
    )
    write(certs / "apple_pay.cer", cert, key)
    seed(moto_url)
    schedule_start = (CYCLE - timedelta(days=1)).astimezone(UTC).strftime("%Y-%m-%d")
    config: dict[str, Any] = {
        "store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"},
        "timezone": "UTC",
        "schedule": {
            "rrule": f"FREQ=WEEKLY;INTERVAL=2;BYHOUR=11;BYMINUTE=0;BYDAY={CYCLE.strftime('%a')[:2].upper()}",
            "start": schedule_start,
        },
        "sources": {
            "ledger": {"type": "sql_ledger", "url": ledger},
            "certs": {"type": "certificates", "paths": [str(certs / "*")], "owner": "security"},
            "aws": {
                "type": "aws_secrets_manager",
                "region": "ca-central-1",
                "endpoint_url": moto_url,
                "name_prefix": "payouts/",
                "interval_minutes": 5,
                "max_staleness_minutes": STALE_AFTER.total_seconds() / 60,
                "retries": 0,
                "timeout_seconds": 2,
            },
        },
    }
    path = tmp_path / "payoutwatch.yaml"
    path.write_text(yaml.safe_dump(config))
    code, output = cli(path, "sync")
    synced = datetime.now(UTC)
    assert code == 0, output
    assert "ledger: ok, 2 scheduled_payouts, 1 reserve_snapshots, 1 manual_payouts, 1 job_runs" in output
    at = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    boards = {
        name: json.loads(cli(path, "dashboard", name, "--json", "--at", at)[1])
        for name in ("payout_health", "fallback_activity", "reserves", "credentials")
    }
    assert boards["payout_health"]["last_run"]["run_id"] == "r1"
    assert boards["payout_health"]["current_cycle_cad_cents"] == 425000  # derived from the ledger's payouts
    assert boards["fallback_activity"]["manual_payout_count"] == 1
    assert boards["reserves"]["aggregate_balance_cents"] == 500000
    kinds = {c["credential_id"]: c["kind"] for c in boards["credentials"]["credentials"]}
    assert kinds["apple_pay"] == "apple_pay_certificate" and kinds["payouts/stripe-rk"] == "stripe_restricted_key"
    sources = json.loads(cli(path, "sources", "--json")[1])["sources"]
    assert {s["source"]: s["state"] for s in sources} == {"ledger": "ok", "certs": "ok", "aws": "ok"}

    config["sources"]["aws"]["endpoint_url"] = "http://127.0.0.1:1"  # the AWS endpoint goes away
    path.write_text(yaml.safe_dump(config))
    code, output = cli(path, "sync", "aws")
    assert code == 1 and "aws: FAILED" in output
    # alert state only moves forward, so both evaluations are at the clock: the first once the limit passed
    time.sleep(max(0.0, (synced + STALE_AFTER - datetime.now(UTC)).total_seconds() + 0.5))
    code, output = cli(path, "evaluate")
    assert code == 0 and "source_stale:aws" in output
    config["sources"]["aws"]["endpoint_url"] = moto_url
    path.write_text(yaml.safe_dump(config))
    assert cli(path, "sync", "aws")[0] == 0
    code, output = cli(path, "evaluate")  # within STALE_AFTER of the successful sync
    assert "resolved" in output and "source_stale:aws" in output
