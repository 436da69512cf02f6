"""Pages refuse an instant they cannot read instead of quietly showing now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from payoutwatch.store.tables import audit_log
from payoutwatch.store.tables import silences as silences_table
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import failed_run

NOW = utc(2026, 3, 5, 11, 30)


def logged_in(store: Engine) -> TestClient:
    settings = make_settings(web={"secure_cookies": False})
    failed_run(store, settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    with store.begin() as conn:
        token = create_token(conn, name="vera", role=Role.VIEWER, actor="t", now=NOW)[1]
    client = TestClient(create_app(settings, store, now=lambda: NOW))
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    return client


def test_a_bad_instant_is_an_error_page_naming_the_value(store: Engine) -> None:
    client = logged_in(store)
    for path in ("/", "/dashboards/payout_health", "/reports/weekly"):
        page = client.get(path, params={"at": "yesterday"})
        assert page.status_code == 400, path
        assert "&#39;yesterday&#39; is not an ISO 8601 instant" in page.text
        assert f'href="{path}"' in page.text  # one click back to now
        assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_an_empty_or_zoneless_instant_still_shows_a_page(store: Engine) -> None:
    client = logged_in(store)
    now = client.get("/dashboards/payout_health", params={"at": ""})  # a cleared form field
    assert now.status_code == 200 and "Showing a past instant." not in now.text
    past = client.get("/dashboards/payout_health", params={"at": "2026-03-01T00:00:00"})  # datetime-local: display zone
    assert past.status_code == 200 and "Showing a past instant." in past.text
    assert 'value="2026-03-01T00:00:00"' in past.text


def test_a_visitor_without_a_session_is_sent_to_log_in_before_the_instant_is_read(store: Engine) -> None:
    client = TestClient(create_app(make_settings(), store, now=lambda: NOW))
    refused = client.get("/dashboards/reserves", params={"at": "yesterday"}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login?next=/dashboards/reserves"


def test_the_silence_form_refuses_a_window_out_of_bounds_and_audits_the_one_it_adds(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False})
    with store.begin() as conn:
        token = create_token(conn, name="ana", role=Role.OPS, actor="t", now=NOW)[1]
    client = TestClient(create_app(settings, store, now=lambda: NOW))
    client.post("/login", data={"token": token})
    csrf = client.get("/alerts").text.split('name="csrf" value="')[1].split('"')[0]
    form = {"csrf": csrf, "comment": "maintenance", "rule": "reserve_breach"}
    too_long = client.post("/silences", data={**form, "hours": "5000"}, follow_redirects=False)
    assert too_long.status_code == 422 and "at most" in too_long.text  # an error, no longer clamped
    added = client.post("/silences", data={**form, "hours": "3"}, follow_redirects=False)
    assert added.status_code == 303
    with store.connect() as conn:
        silences = conn.execute(select(silences_table)).all()
        trail = conn.execute(select(audit_log).where(audit_log.c.action == "silence_add")).all()
    assert [(s.rule, s.ends_at - s.starts_at) for s in silences] == [("reserve_breach", timedelta(hours=3))]
    assert [(t.actor, t.details["rule"]) for t in trail] == [("token:ana", "reserve_breach")]


def test_the_back_test_form_names_the_field_with_a_bad_instant(store: Engine) -> None:
    client = logged_in(store)
    page = client.get("/reports/backtest", params={"from": "soon", "to": "2026-03-05T00:00"})
    assert page.status_code == 422 and "from &#39;soon&#39; is not an ISO 8601 instant" in page.text
