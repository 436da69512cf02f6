"""Sessions, SSO through a trusted proxy, and CSRF on every form."""

from __future__ import annotations

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from payoutwatch.reports.access_review import access_review
from payoutwatch.store.tables import sso_users
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token, revoke_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import failed_run

NOW = utc(2026, 3, 5, 11, 30)
SSO = {"sso": {"trusted_proxies": ["10.1.2.3/32"], "group_roles": {"pay-ops": "ops", "everyone": "viewer"}}}


def app_for(store: Engine, **web: object) -> object:
    settings = make_settings(web={"secure_cookies": False, **web})
    failed_run(store, settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    return create_app(settings, store, now=lambda: NOW)


def test_sso_headers_count_only_from_a_trusted_proxy(store: Engine) -> None:
    app = app_for(store, **SSO)
    proxied = TestClient(app, client=("10.1.2.3", 4000))  # type: ignore[arg-type]
    page = proxied.get("/", headers={"X-Forwarded-User": "olga", "X-Forwarded-Groups": "everyone, pay-ops"})
    assert page.status_code == 200 and "sso:olga (ops)" in page.text  # the most powerful role wins
    viewer = proxied.get("/alerts", headers={"X-Forwarded-User": "vic", "X-Forwarded-Groups": "everyone"})
    assert "sso:vic (viewer)" in viewer.text and ">Ack<" not in viewer.text
    unknown_group = proxied.get(
        "/", headers={"X-Forwarded-User": "x", "X-Forwarded-Groups": "contractors"}, follow_redirects=False
    )
    assert unknown_group.status_code == 303
    with store.connect() as conn:
        seen = {r.name: r.role for r in conn.execute(select(sso_users))}
    assert seen == {"sso:olga": "ops", "sso:vic": "viewer"}  # kept for the access review
    with store.connect() as conn:
        review = access_review(conn, NOW, make_settings())
    assert [u["name"] for u in review["sso_users"]] == ["sso:olga", "sso:vic"]
    spoofed = TestClient(app, client=("10.9.9.9", 4000))  # type: ignore[arg-type]
    assert (
        spoofed.get(
            "/", headers={"X-Forwarded-User": "olga", "X-Forwarded-Groups": "pay-ops"}, follow_redirects=False
        ).status_code
        == 303
    )


def test_forms_need_the_sessions_csrf_token_and_revocation_ends_sessions(store: Engine) -> None:
    app = app_for(store)
    with store.begin() as conn:
        token_id, token = create_token(conn, name="ana", role=Role.OPS, actor="t", now=NOW)
    browser = TestClient(app)  # type: ignore[arg-type]
    assert browser.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    key = "automation_failure:payouts:2026-03-05"
    forged = browser.post(f"/alerts/{key}/ack", data={"csrf": "guess"}, follow_redirects=False)
    assert forged.status_code == 403
    page = browser.get("/alerts").text
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    done = browser.post(f"/alerts/{key}/ack", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert "acknowledged by token:ana" in browser.get(done.headers["location"]).text
    with store.begin() as conn:
        revoke_token(conn, token_id, now=NOW)
    assert browser.get("/", follow_redirects=False).status_code == 303  # straight back to the login page
