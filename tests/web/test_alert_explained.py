"""The alert page explains the alert (issue 12, point 7): the most serious reason first, the figures behind
it with their limits, the owner and a runbook link; the demo's runbook links lead to the sample runbooks in
docs/runbooks/ (the fallback SOP among them)."""

from __future__ import annotations

import html
from urllib.parse import quote

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from payoutwatch.config import Settings
from payoutwatch.demo import build_platform, load, with_sample_runbooks
from payoutwatch.rules.registry import rules
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.runbooks import sample_runbook, sample_runbook_names
from tests.conftest import make_settings, utc
from tests.helpers import signed_in_client

NOW = utc(2026, 11, 26, 14)


@pytest.fixture
def demo(store: Engine) -> tuple[TestClient, Settings]:
    plain = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"},
        web={"secure_cookies": False},
    )
    settings = with_sample_runbooks(plain, "http://127.0.0.1:8000/")
    load(store, build_platform(settings, NOW, studios=60), settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    client: TestClient = signed_in_client(store, settings, NOW)
    return client, settings


def test_every_built_in_rule_has_a_sample_runbook_and_the_demo_links_to_it() -> None:
    assert {rule.id.value for rule in rules()} <= set(sample_runbook_names())
    settings = with_sample_runbooks(make_settings(), "http://127.0.0.1:8000/")
    for rule in rules():
        assert settings.rules.of(rule.id.value).runbook_url == f"http://127.0.0.1:8000/runbooks/{rule.id.value}"
    assert settings.web.base_url == "http://127.0.0.1:8000"
    kept = with_sample_runbooks(
        make_settings(rules={"fallback_volume": {"runbook_url": "https://wiki.example.com/sop"}}), "http://h:1"
    )
    assert kept.rules.fallback_volume.runbook_url == "https://wiki.example.com/sop"  # a configured one wins
    assert "fallback SOP" in (sample_runbook("fallback_volume") or "")
    assert sample_runbook("../README") is None and sample_runbook("no_such_rule") is None


def test_the_alert_page_leads_with_the_exit_and_shows_figures_owner_and_runbook(
    store: Engine, demo: tuple[TestClient, Settings]
) -> None:
    client, _ = demo
    firing = alert_queries.list_alerts(store, which=alert_queries.AlertFilter.FIRING, rule=None, owner=None, limit=50)
    [failed] = [a for a in firing if " exited " in a["summary"]]
    assert (
        "needs attention: run " in failed["summary"] and failed["summary"].split(": ", 1)[1].split(" ")[2] == "exited"
    )
    page = client.get(f"/alerts/{quote(failed['key'], safe='')}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    reasons = text.split("<h2>Reasons</h2>", 1)[1]
    assert reasons.index(" exited 1") < reasons.index(" processed ")
    figures = text.split('<table id="figures">', 1)[1].split("</table>", 1)[0]
    for label, value in (("Exit code", "1"), ("Owner", "payments-ops")):
        assert f"<th>{label}</th><td>{value}</td>" in figures
    assert "(limit 30 min)" in figures and "(minimum 90.00%)" in figures
    assert '<a href="http://127.0.0.1:8000/runbooks/automation_failure"' in text
    runbook = client.get("/runbooks/automation_failure")
    assert runbook.status_code == 200 and "fallback SOP" in runbook.text
    sop = client.get("/runbooks/fallback_volume")
    assert sop.status_code == 200 and "The fallback SOP: paying one studio by hand" in sop.text
    missing = client.get("/runbooks/nothing_here")
    assert missing.status_code == 404 and "runbook_url" in html.unescape(missing.text)


def test_an_alert_of_a_rule_without_runbook_says_how_to_add_one(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False})
    load(store, build_platform(settings, NOW, studios=30), settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    client = signed_in_client(store, settings, NOW)
    page = client.get("/alerts/fallback_volume")
    assert page.status_code == 200 and "rules.fallback_volume.runbook_url" in page.text
    assert "(limit 1)" in html.unescape(page.text)
