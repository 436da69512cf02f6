"""The Reports section: the weekly snapshot, the quarterly report with its charts, the back-test form."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import Engine
from starlette.testclient import TestClient

from payoutwatch.demo import build_platform, load
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc

NOW = utc(2026, 11, 26, 14)


def test_reports_for_a_viewer(store: Engine) -> None:
    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"},
        web={"secure_cookies": False},
    )
    load(store, build_platform(settings, NOW, studios=30), settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    with store.begin() as conn:
        token = create_token(conn, name="vera", role=Role.VIEWER, actor="t", now=NOW)[1]
    client = TestClient(create_app(settings, store, now=lambda: NOW))
    assert client.get("/reports", follow_redirects=False).status_code == 303
    client.post("/login", data={"token": token})
    index = client.get("/reports").text
    assert "2026Q4" in index and "Back-test a threshold" in index
    weekly = client.get("/reports/weekly").text
    assert weekly.startswith("<!doctype html>") and "payoutwatch weekly snapshot" in weekly
    quarterly = client.get("/reports/quarterly?quarter=2026Q4").text
    assert quarterly.count('src="data:image/png;base64,') == 3
    assert client.get("/reports/quarterly?quarter=soon").status_code == 422
    query = urlencode(
        {
            "from": "2026-11-01T00:00",
            "to": "2026-11-26T12:00",
            "step": "12h",
            "set": "rules.fallback_volume.max_manual_payouts=10",
        }
    )
    result = client.get(f"/reports/backtest?{query}")
    assert result.status_code == 200 and "only in reality" in result.text
    assert "automation_failure:payouts:2026-11-05" in result.text
    tiny = urlencode({"from": "2026-01-01T00:00", "to": "2026-11-26T00:00", "step": "1m"})
    assert client.get(f"/reports/backtest?{tiny}").status_code == 422  # too many steps for a page
