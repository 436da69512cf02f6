"""The JSON API: every role against every endpoint, ingest errors, pings, webhooks, metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from payoutwatch.store.tables import api_tokens, audit_log
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.stripe_webhook import sign
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import credential, failed_run, load, manual

NOW = utc(2026, 3, 5, 11, 30)
SECRET = "whsec_api_test_secret"


@pytest.fixture
def api(store: Engine) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = make_settings(sources={"stripe": {"type": "stripe", "api_key": "rk_x", "webhook_secrets": [SECRET]}})
    failed_run(store, settings, NOW)
    load(store, settings, "credentials", [credential("cert", utc(2025, 1, 1), expires_at=utc(2026, 3, 20))], NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    tokens = {}
    with store.begin() as conn:
        for role in Role:
            tokens[role.value] = create_token(conn, name=f"{role.value}-bot", role=role, actor="test", now=NOW)[1]
    yield TestClient(create_app(settings, store, now=lambda: NOW)), tokens


def call(client: TestClient, method: str, path: str, token: str | None, **kwargs: Any) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.request(method, path, headers=headers, **kwargs).status_code


KEY = "automation_failure:payouts:2026-03-05"
ENDPOINTS = [  # method, path, body, roles allowed
    ("GET", "/api/v1/dashboards/payout_health", None, {"viewer", "ops", "finance", "engineering", "security", "admin"}),
    ("GET", "/api/v1/dashboards/credentials", None, {"ops", "engineering", "security", "admin"}),
    ("GET", "/api/v1/alerts", None, {"viewer", "ops", "finance", "engineering", "security", "admin"}),
    ("GET", "/api/v1/notifications", None, {"viewer", "ops", "finance", "engineering", "security", "admin"}),
    ("POST", f"/api/v1/alerts/{KEY}/ack", {"comment": "on it"}, {"ops", "admin"}),
    ("POST", "/api/v1/silences", {"comment": "maintenance", "rule": "reserve_breach"}, {"ops", "admin"}),
    ("POST", "/api/v1/ping/payouts/start", {}, {"ingest", "admin"}),
    ("GET", "/api/v1/silences", None, {"viewer", "ops", "finance", "engineering", "security", "admin"}),
]


def test_silences_are_listed_and_expired(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    ops = {"Authorization": f"Bearer {tokens['ops']}"}
    created = client.post("/api/v1/silences", json={"comment": "window", "key": "reserve_breach:*"}, headers=ops)
    silence_id = created.json()["id"]
    listed = client.get("/api/v1/silences", headers={"Authorization": f"Bearer {tokens['viewer']}"}).json()
    assert [s["id"] for s in listed["silences"]] == [silence_id]
    assert (
        client.delete(
            f"/api/v1/silences/{silence_id}", headers={"Authorization": f"Bearer {tokens['viewer']}"}
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/silences/{silence_id}", headers=ops).status_code == 200
    assert client.delete(f"/api/v1/silences/{silence_id}", headers=ops).status_code == 404
    assert client.get("/api/v1/silences", headers=ops).json() == {"silences": []}


@pytest.mark.parametrize("method,path,body,allowed", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_every_role_gets_exactly_what_the_permission_table_says(
    api: tuple[TestClient, dict[str, str]], method: str, path: str, body: Any, allowed: set[str]
) -> None:
    client, tokens = api
    assert call(client, method, path, None, json=body) == 401
    assert call(client, method, path, "pwt_not-a-token", json=body) == 401
    for role, token in tokens.items():
        expected = (200, 201) if role in allowed else (403,)
        assert call(client, method, path, token, json=body) in expected, role


def test_health_and_metrics_need_no_token(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    text = client.get("/metrics").text
    assert 'payoutwatch_alerts_firing{rule="automation_failure"} 1.0' in text
    assert "payoutwatch_credential" not in text  # credential series only for a token that may see them
    scraper = client.get("/metrics", headers={"Authorization": f"Bearer {tokens['metrics']}"}).text
    assert 'payoutwatch_credential_days_left{credential_id="cert",kind="other"} 14.0' in scraper
    assert "payoutwatch_next_run_timestamp_seconds 1.7739144e+09" in text  # 2026-03-19T10:00Z
    response = client.get("/healthz")
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Frame-Options"] == "DENY"


def test_the_api_and_the_cli_show_the_same_dashboard(api: tuple[TestClient, dict[str, str]], store: Engine) -> None:
    from payoutwatch.metrics import compute

    client, tokens = api
    figures = client.get(
        "/api/v1/dashboards/payout_health?at=2026-03-05T11:20:00Z",
        headers={"Authorization": f"Bearer {tokens['viewer']}"},
    ).json()
    with store.connect() as conn:
        expected = json.loads(json.dumps(compute("payout_health", conn, utc(2026, 3, 5, 11, 20), make_settings())))
    assert figures == expected
    assert call(client, "GET", "/api/v1/dashboards/payout_health?at=yesterday", tokens["viewer"]) == 422
    assert call(client, "GET", "/api/v1/dashboards/nope", tokens["viewer"]) == 404


def test_ingest_refuses_a_bad_batch_with_the_lines_named(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    good = json.dumps(manual("m1", utc(2026, 3, 5, 12), 500), default=str).replace("+00:00", "Z")
    bad = '{"id": "m2", "studio_id": "s", "amount_cents": 5, "currency": "USD", "detected_at": "2026-03-05T12:00:00Z"}'
    response = client.post(
        "/api/v1/ingest/manual_payouts",
        content=good + "\n" + bad,
        headers={"Authorization": f"Bearer {tokens['ingest']}"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == ["line 2: currency: 'USD' is not the base currency CAD"]
    ok = client.post(
        "/api/v1/ingest/manual_payouts", content=f"[{good}]", headers={"Authorization": f"Bearer {tokens['ingest']}"}
    )
    assert ok.json() == {"kind": "manual_payouts", "stored": 1}
    assert call(client, "POST", "/api/v1/ingest/manual_payouts", tokens["viewer"], content=good) == 403


def test_resolving_through_the_api_is_audited_with_the_token(
    api: tuple[TestClient, dict[str, str]], store: Engine
) -> None:
    client, tokens = api
    auth = {"Authorization": f"Bearer {tokens['ops']}"}
    assert client.post(f"/api/v1/alerts/{KEY}/resolve", json={"comment": "rerun ok"}, headers=auth).status_code == 200
    assert client.post(f"/api/v1/alerts/{KEY}/resolve", headers=auth).status_code == 404
    with store.connect() as conn:
        entry = conn.execute(select(audit_log).where(audit_log.c.action == "resolve")).one()
        used = conn.execute(select(api_tokens.c.last_used_at).where(api_tokens.c.name == "ops-bot")).scalar()
    assert (entry.actor, entry.target) == ("token:ops-bot", KEY) and used == NOW


def test_the_stripe_webhook_is_verified(api: tuple[TestClient, dict[str, str]], store: Engine) -> None:
    client, _ = api
    body = json.dumps(
        {
            "id": "evt_9",
            "type": "transfer.created",
            "created": int(NOW.timestamp()),
            "data": {"object": {"id": "tr_9", "amount": 100, "currency": "cad", "created": int(NOW.timestamp())}},
        }
    ).encode()
    stamp = int(NOW.timestamp())
    good = client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": f"t={stamp},v1={sign(body, SECRET, stamp)}"}
    )
    assert good.json() == {"id": "evt_9", "applied": True, "records": 1}
    forged = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": f"t={stamp},v1=00"})
    assert forged.status_code == 400 and "no v1 signature matches" in forged.json()["detail"]
    old = stamp - 3600
    stale = client.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": f"t={old},v1={sign(body, SECRET, old)}"}
    )
    assert stale.status_code == 400 and "tolerance" in stale.json()["detail"]
    with store.connect() as conn:
        assert len(conn.execute(select(audit_log).where(audit_log.c.action == "stripe_webhook_refused")).all()) == 2


def test_pings_start_and_finish_a_run(api: tuple[TestClient, dict[str, str]]) -> None:
    client, tokens = api
    auth = {"Authorization": f"Bearer {tokens['ingest']}"}
    started = client.post("/api/v1/ping/nightly/start", json={"run_id": "n1"}, headers=auth).json()
    done = client.post("/api/v1/ping/nightly/fail", json={"exit_code": 2, "figures": {"error_count": 3}}, headers=auth)
    assert started["run_id"] == "n1" and done.json()["run_id"] == "n1"
    assert client.post("/api/v1/ping/nightly/explode", headers=auth).status_code == 404
    assert client.post("/api/v1/ping/nightly/fail", json={"figures": {"typo": 1}}, headers=auth).status_code == 422
