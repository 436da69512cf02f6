"""Access review: tokens with role, age, last use and what needs attention; credentials and owners."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import yaml
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.reports.access_review import access_review
from payoutwatch.store.engine import open_store
from payoutwatch.usecases.tokens import authenticate, create_token, revoke_token
from payoutwatch.vocabulary import Role
from tests.conftest import make_settings, utc
from tests.helpers import credential, load

NOW = utc(2026, 11, 26)


def test_tokens_and_credentials_with_what_needs_attention(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'pw.db'}")
    settings = make_settings()
    with engine.begin() as conn:
        _, ingest = create_token(conn, name="airflow", role=Role.INGEST, actor="ana", now=NOW - timedelta(days=200))
        authenticate(conn, ingest, now=NOW - timedelta(days=2))
        create_token(conn, name="old-laptop", role=Role.VIEWER, actor="ana", now=NOW - timedelta(days=120))
        gone, _ = create_token(conn, name="leaver", role=Role.OPS, actor="ana", now=NOW - timedelta(days=300))
        revoke_token(conn, gone, now=NOW - timedelta(days=10))
        create_token(conn, name="root", role=Role.ADMIN, actor="ana", now=NOW - timedelta(days=1))
    load(
        engine,
        settings,
        "credentials",
        [
            credential("cert", utc(2025, 1, 1), expires_at=utc(2026, 12, 10)),
            credential("rk", utc(2026, 10, 1), "stripe_restricted_key", owner="eng"),
        ],
        NOW,
    )
    with engine.connect() as conn:
        report = access_review(conn, NOW, settings)
    tokens = {t["name"]: t for t in report["tokens"]}
    assert (tokens["airflow"]["age_days"], tokens["airflow"]["attention"]) == (200, None)
    assert tokens["old-laptop"]["attention"] == "never used"
    assert tokens["leaver"]["revoked_at"] and tokens["leaver"]["attention"] is None
    assert tokens["root"]["attention"] == "admin" and report["active_tokens"] == 3
    assert [c["credential_id"] for c in report["credentials"]] == ["cert", "rk"]
    assert report["credentials_without_owner"] == ["cert"]
    engine.dispose()
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}}))
    md = CliRunner().invoke(app, ["--config", str(config), "report", "access-review", "--at", "2026-11-26T00:00:00Z"])
    assert md.exit_code == 0 and "| old-laptop | viewer | 120 |" in md.output and "never used" in md.output
    js = CliRunner().invoke(app, ["--config", str(config), "report", "access-review", "--format", "json"])
    assert json.loads(js.output)["active_tokens"] == 3 and "pwt_" not in js.output


def test_token_cli_prints_the_token_once_on_the_last_line(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{tmp_path / 'pw.db'}"}}))
    runner = CliRunner()
    created = runner.invoke(app, ["--config", str(config), "token", "create", "--name", "ci", "--role", "ingest"])
    assert created.exit_code == 0
    token = created.output.strip().splitlines()[-1]
    assert token.startswith("pwt_") and len(token) > 40
    listed = runner.invoke(app, ["--config", str(config), "token", "list", "--json"]).output
    assert token not in listed and json.loads(listed)["tokens"][0]["role"] == "ingest"
    assert runner.invoke(app, ["--config", str(config), "token", "revoke", "1"]).exit_code == 0
    assert runner.invoke(app, ["--config", str(config), "token", "revoke", "1"]).exit_code == 1
    assert (
        runner.invoke(app, ["--config", str(config), "token", "create", "--name", "x", "--role", "god"]).exit_code == 2
    )
