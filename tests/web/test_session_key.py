"""Without ``web.session_secret`` the session key is generated once and kept in the store, so replicas
and restarts accept each other's session cookies; a configured secret still signs when set."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from payoutwatch.store.service_secrets import SESSION_KEY, kept_secret
from payoutwatch.store.tables import service_secrets
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc

NOW = utc(2026, 3, 5, 12)
COOKIE = "payoutwatch_session"


def test_two_app_instances_on_one_store_accept_each_others_sessions(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False})
    with store.begin() as conn:
        token = create_token(conn, name="ana", role=Role.OPS, actor="t", now=NOW)[1]
    first = TestClient(create_app(settings, store, now=lambda: NOW))
    assert first.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    cookie = first.cookies[COOKIE]
    # another replica, or the same service after a restart: a new app, the same store
    second = TestClient(create_app(settings, store, now=lambda: NOW), cookies={COOKIE: cookie})
    page = second.get("/", follow_redirects=False)
    assert page.status_code == 200 and "token:ana (ops)" in page.text
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(service_secrets)).scalar() == 1
    # a configured secret signs instead, so it does not accept a cookie signed with the stored key
    configured = make_settings(web={"secure_cookies": False, "session_secret": "s" * 40})
    other = TestClient(create_app(configured, store, now=lambda: NOW), cookies={COOKIE: cookie})
    assert other.get("/", follow_redirects=False).status_code == 303


def test_processes_starting_together_keep_one_key(store: Engine) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: kept_secret(store, SESSION_KEY, now=NOW), range(8)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(service_secrets)).scalar() == 1
