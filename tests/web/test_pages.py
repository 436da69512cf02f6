"""Pages refuse an instant they cannot read instead of quietly showing now."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.testclient import TestClient

from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import Role, create_token
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
    past = client.get("/dashboards/payout_health", params={"at": "2026-03-01T00:00:00"})  # datetime-local: UTC
    assert past.status_code == 200 and "Showing a past instant." in past.text
    assert 'value="2026-03-01T00:00:00"' in past.text


def test_a_visitor_without_a_session_is_sent_to_log_in_before_the_instant_is_read(store: Engine) -> None:
    client = TestClient(create_app(make_settings(), store, now=lambda: NOW))
    refused = client.get("/dashboards/reserves", params={"at": "yesterday"}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login?next=/dashboards/reserves"
