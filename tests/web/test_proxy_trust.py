"""Forwarded and SSO headers count only from a trusted proxy, checked against a real ``payoutwatch serve``
(uvicorn on loopback): the TestClient never goes through uvicorn's proxy handling, and that handling is what
let a local request claim to come from the proxy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from sqlalchemy import Engine, create_engine, select
from starlette.testclient import TestClient

from payoutwatch.store.tables import audit_log, sso_users
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.web.test_serve import serve_process

SPOOF = {"X-Forwarded-For": "10.0.0.5", "X-Forwarded-User": "mallory", "X-Forwarded-Groups": "admins"}


@contextmanager
def serving(tmp_path: Path, trusted: list[str]) -> Iterator[tuple[str, str]]:
    """``payoutwatch serve`` on a free loopback port with SSO trusting ``trusted``; yields (base URL, store URL)."""
    store = f"sqlite:///{tmp_path / 'pw.db'}"
    config = tmp_path / "c.yaml"
    sso = {"trusted_proxies": trusted, "group_roles": {"admins": "admin"}}
    config.write_text(yaml.safe_dump({"store": {"url": store}, "service": {"tick_seconds": 0.2}, "web": {"sso": sso}}))
    with serve_process(config) as (base, _process):
        yield base, store


def sso_names(store: str) -> list[str]:
    engine = create_engine(store)
    try:
        with engine.connect() as conn:
            return [r.name for r in conn.execute(select(sso_users))]
    finally:
        engine.dispose()


def test_loopback_request_naming_the_proxy_is_not_an_sso_admin(tmp_path: Path) -> None:
    with serving(tmp_path, ["10.0.0.5/32"]) as (base, store):
        page = httpx.get(f"{base}/", headers=SPOOF)
        alerts = httpx.get(f"{base}/alerts", headers=SPOOF)
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert alerts.status_code == 303 and "mallory" not in alerts.text
    assert sso_names(store) == []  # no SSO user was created


def test_a_trusted_proxy_still_signs_people_in_when_it_forwards_their_address(tmp_path: Path) -> None:
    # the control: loopback IS the proxy here; X-Forwarded-For names the real client, which must not make
    # the request untrusted (SSO checks the direct peer, not the forwarded address)
    headers = {**SPOOF, "X-Forwarded-For": "203.0.113.9"}
    with serving(tmp_path, ["127.0.0.1/32"]) as (base, store):
        page = httpx.get(f"{base}/", headers=headers)
    assert page.status_code == 200 and "sso:mallory (admin)" in page.text
    assert sso_names(store) == ["sso:mallory"]


def test_x_forwarded_for_moves_the_client_address_only_for_a_trusted_peer(store: Engine) -> None:
    # the address the webhook refusal limit and the audit row see: the forwarded client's only when the
    # direct peer is the trusted proxy; a loopback peer's X-Forwarded-For is dropped
    settings = make_settings(
        sources={"stripe": {"type": "stripe", "api_key": "rk_x", "webhook_secrets": ["whsec_x"]}},
        web={"sso": {"trusted_proxies": ["10.0.0.5/32"]}},
    )
    app = create_app(settings, store, now=lambda: utc(2026, 3, 5, 11, 30))
    forged = {"Stripe-Signature": "t=1,v1=00", "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    for peer in ("127.0.0.1", "10.0.0.5"):
        client = TestClient(app, client=(peer, 4000))  # type: ignore[arg-type]
        assert client.post("/webhooks/stripe", content=b"{}", headers=forged).status_code == 400
    with store.connect() as conn:
        [row] = conn.execute(select(audit_log).where(audit_log.c.action == "stripe_webhook_refused")).all()
    assert row.details["addresses"] == ["127.0.0.1", "203.0.113.9"]
