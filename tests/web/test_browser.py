"""Browser tests: Debian's Chromium driven by Playwright against a served demo platform.

Logs in, opens every dashboard, changes the as-of instant, acknowledges an alert and sees it
acknowledged, and is refused a page its role may not see. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from payoutwatch.demo import build_platform, load
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.web.test_serve import free_port

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NOW = utc(2026, 11, 26, 14)
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_chromium() -> None:
    """Skip without Debian's Chromium, except in CI where it must be there."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    need_chromium()
    from payoutwatch.store.engine import open_store

    engine: Engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('browser') / 'pw.db'}")
    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
    )
    load(engine, build_platform(settings, NOW, studios=60), settings, NOW)
    evaluate(engine, settings, at=NOW, now=NOW)
    with engine.begin() as conn:
        tokens = {
            role: create_token(conn, name=f"{role}-person", role=Role(role), actor="test", now=NOW)[1]
            for role in ("ops", "security", "finance")
        }
    with served(create_app(settings, engine, now=lambda: NOW)) as base:
        yield base, tokens
    engine.dispose()


@contextlib.contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a loopback port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def log_in(browser: Any, base: str, token: str, *, width: int = 1280) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(f"{base}/")
    assert "/login" in page.url
    page.fill("input[name=token]", token)
    page.click("button")
    page.wait_for_url(f"{base}/")
    return page


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_dashboard_and_a_past_instant(site: tuple[str, dict[str, str]], browser: Any) -> None:
    base, tokens = site
    page = log_in(browser, base, tokens["security"])
    assert page.locator("text=Next run in").is_visible()
    shoot(page, "overview")
    for name, heading in (
        ("payout_health", "Payout Health"),
        ("fallback_activity", "Fallback Activity"),
        ("reserves", "Reserves & Balances"),
        ("credentials", "Credential Expiry"),
    ):
        page.goto(f"{base}/dashboards/{name}")
        assert page.locator("h1").inner_text() == heading
        shoot(page, name)
    page.goto(f"{base}/dashboards/payout_health")
    page.fill("input[name=at]", "2026-10-01T00:00:00")
    page.click("text=Show")
    page.wait_for_url("**at=2026-10-01**")
    assert page.locator("text=Showing a past instant.").is_visible()
    assert "2026-10-08 06:00 EDT" in page.locator("main").inner_text()  # the next run as seen then (typed: Toronto)


def test_ops_acknowledges_an_alert_and_sees_it_acknowledged(site: tuple[str, dict[str, str]], browser: Any) -> None:
    base, tokens = site
    page = log_in(browser, base, tokens["ops"])
    page.goto(f"{base}/alerts")
    row = page.locator("tr", has=page.locator("code", has_text="fallback_volume"))
    row.locator("button", has_text="Ack").click()
    page.wait_for_url("**/alerts/fallback_volume")
    assert "acknowledged by token:ops-person" in page.locator("main").inner_text()
    shoot(page, "alert")
    page.goto(f"{base}/alerts")
    assert (
        page.locator("tr", has=page.locator("code", has_text="fallback_volume")).locator("td.acked").inner_text()
        == "token:ops-person"
    )
    shoot(page, "alerts")


def test_a_role_is_refused_what_it_may_not_see(site: tuple[str, dict[str, str]], browser: Any) -> None:
    base, tokens = site
    page = log_in(browser, base, tokens["finance"])
    response = page.goto(f"{base}/dashboards/credentials")
    assert response.status == 403 and "may not see this page" in page.content()
    assert (
        page.locator("header a", has_text="Credential Expiry").count() == 0 if page.locator("header").count() else True
    )
    page.goto(f"{base}/alerts")
    rows = page.locator("tbody tr")
    for i in range(rows.count()):  # finance handles the alerts finance owns (DESIGN §10), and no others
        row = rows.nth(i)
        owned = row.locator("td").nth(3).inner_text().strip() == "finance"
        assert (row.locator("button", has_text="Ack").count() > 0) == owned


def test_the_overview_fits_a_phone(site: tuple[str, dict[str, str]], browser: Any) -> None:
    base, tokens = site
    page = log_in(browser, base, tokens["security"], width=390)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    shoot(page, "overview-phone")


def test_a_wrong_token_is_refused(site: tuple[str, dict[str, str]], browser: Any) -> None:
    base, _ = site
    page = browser.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=token]", "pwt_wrong")
    page.click("button")
    assert "unknown or revoked" in page.content()
    shutil.rmtree(SHOTS / "tmp", ignore_errors=True)
