"""People read instants in the display zone with its abbreviation, across daylight-saving changes; a past
page counts down from its own instant (America/Toronto: EDT until 2026-11-01 06:00 UTC, EDT again from
2026-03-08 07:00 UTC)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Engine
from starlette.testclient import TestClient

from payoutwatch.config import Settings
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import load, run

BEFORE_CHANGE = utc(2026, 11, 1, 5, 30)  # 01:30 EDT
AFTER_CHANGE = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the same wall-clock time an hour later
CYCLE = utc(2026, 10, 29, 10)  # Thursday 06:00 EDT
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|\+00:00)")


def visible(html: str) -> str:
    """The text a person reads: tags (and so attribute values) removed."""
    return re.sub(r"<[^>]+>", " ", html)


def signed_in(store: Engine, settings: Settings, now: datetime) -> TestClient:
    with store.begin() as conn:
        token = create_token(conn, name="ana", role=Role.OPS, actor="t", now=now)[1]
    client = TestClient(create_app(settings, store, now=lambda: now))
    assert client.post("/login", data={"token": token}, follow_redirects=False).status_code == 303
    return client


def alert_across_the_change(store: Engine, settings: Settings) -> None:
    """A run of the 2026-10-29 cycle that exited 1 fires before the change; a healthy rerun resolves it after."""
    failed = run("r1", CYCLE, scheduled_for=CYCLE, finished_at=CYCLE.replace(minute=5), exit_code=1)
    load(store, settings, "job_runs", [failed], BEFORE_CHANGE)
    evaluate(store, settings, at=BEFORE_CHANGE, now=BEFORE_CHANGE)
    rerun = run("r2", CYCLE.replace(hour=20), scheduled_for=CYCLE, finished_at=CYCLE.replace(hour=20, minute=5))
    load(store, settings, "job_runs", [{**rerun, "exit_code": 0}], AFTER_CHANGE)
    evaluate(store, settings, at=AFTER_CHANGE, now=AFTER_CHANGE)


def test_the_alert_history_reads_the_same_wall_clock_hour_twice_with_its_abbreviation(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False})
    alert_across_the_change(store, settings)
    client = signed_in(store, settings, AFTER_CHANGE)
    page = client.get("/alerts/automation_failure:payouts:2026-10-29")
    assert page.status_code == 200
    text = visible(page.text)
    assert "since 2026-11-01 01:30:00 EDT" in text
    assert "2026-11-01 01:30:00 EST" in text  # the resolve, an hour later
    assert not ISO_UTC.search(text) and not re.search(r":\d\d\.\d{3}", text)


def test_the_next_run_is_shown_in_the_zone_of_its_own_date_and_counted_from_the_pages_instant(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False})
    client = signed_in(store, settings, utc(2026, 11, 30, 12))
    autumn = client.get("/dashboards/payout_health", params={"at": "2026-10-30T12:00:00Z"})
    assert autumn.status_code == 200
    assert "2026-11-12 06:00 EST" in autumn.text  # next cycle after the change: 11:00 UTC
    assert "12d 23h 0m" in autumn.text  # from the page's instant, not from the clock
    assert "data-countdown" not in autumn.text  # a past page does not tick against the browser's clock
    assert "As of (America/Toronto)" in autumn.text and 'value="2026-10-30T08:00:00"' in autumn.text
    spring = client.get("/", params={"at": "2026-03-06T12:00:00Z"})
    assert "2026-03-19 06:00 EDT" in spring.text  # after the March change: 10:00 UTC
    live = client.get("/dashboards/payout_health")
    assert 'data-countdown="' in live.text  # the live page ticks from the seconds the server computed


def test_a_zoneless_page_instant_is_read_on_the_display_zones_wall_clock(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False}, display={"timezone": "Europe/Paris"})
    client = signed_in(store, settings, utc(2026, 11, 30, 12))
    page = client.get("/dashboards/payout_health", params={"at": "2026-10-30T13:00:00"})
    assert "As of (Europe/Paris)" in page.text and 'value="2026-10-30T13:00:00"' in page.text
    assert "2026-11-12 12:00 CET" in page.text  # the Toronto schedule's 06:00 EST, shown in Paris
    assert "12d 23h 0m" in page.text  # 13:00 CET is 12:00 UTC


def test_a_bad_instant_is_an_error_on_the_page_not_the_live_view(store: Engine) -> None:
    client = signed_in(store, make_settings(web={"secure_cookies": False}), utc(2026, 11, 30, 12))
    for path in ("/", "/dashboards/credentials"):
        page = client.get(path, params={"at": "yesterday"})
        assert page.status_code == 400 and "&#39;yesterday&#39; is not an ISO 8601 instant" in page.text


def test_the_back_test_form_is_filled_and_read_in_the_display_zone(store: Engine) -> None:
    client = signed_in(store, make_settings(web={"secure_cookies": False}), AFTER_CHANGE)
    form = client.get("/reports").text
    assert 'From (America/Toronto) <input name="from" value="2026-10-02T02:30:00"' in form  # 06:30 UTC: 02:30 EDT
    assert 'value="2026-11-01T01:30:00"' in form  # now: 06:30 UTC, 01:30 EST
    page = client.get(
        "/reports/backtest", params={"from": "2026-10-31T20:00:00", "to": "2026-11-01T03:00", "step": "1h"}
    )
    assert page.status_code == 200
    assert "Back-test 2026-10-31 20:00:00 EDT → 2026-11-01 03:00:00 EST" in page.text
