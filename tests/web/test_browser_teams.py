"""Browser tests for Finance's and Security's pages (Debian's Chromium driven by Playwright): Finance signs
off a reconciliation and marks a reserve episode reviewed, Security reviews access and reads a credential's
versions, Ops reads the incident timeline; a role that may not use a page has no link to it and gets 403;
every page's main controls lie inside a 390 px wide viewport.

The platform is the demo's, half an hour into the 2026-12-03 cycle: that cycle's run is still going (no
sign-off yet), the 2026-11-19 cycle has three reconciliation exceptions, the 2026-11-05 one a failed run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from payoutwatch.demo import build_platform, load
from payoutwatch.notify.silences import Matcher
from payoutwatch.store.tables import sso_users
from payoutwatch.usecases.alert_actions import add_silence
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.web import test_browser
from tests.web.test_browser import need_chromium, served

NOW = utc(2026, 12, 3, 11, 30)
BIWEEKLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0"
PHONE = 390
Site = tuple[str, dict[Role, str]]
browser = test_browser.browser  # the same module-scoped fixture: one Chromium for this module


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need_chromium()
    from payoutwatch.store.engine import open_store

    engine: Engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('teams') / 'pw.db'}")
    settings = make_settings(schedule={"rrule": BIWEEKLY, "start": "2025-01-02"})
    load(engine, build_platform(settings, NOW, studios=60), settings, NOW)
    evaluate(engine, settings, at=NOW, now=NOW)
    add_silence(engine, Matcher(rule="fallback_volume"), comment="vendor maintenance", author="ops-lead", now=NOW)
    with engine.begin() as conn:
        conn.execute(insert(sso_users).values(name="sso:alice", role="ops", first_seen_at=utc(2026, 1, 5),
                                              last_seen_at=utc(2026, 7, 1)))  # fmt: skip
        tokens = {
            role: create_token(conn, name=f"{role.value}-person", role=role, actor="test", now=NOW)[1]
            for role in (Role.OPS, Role.SECURITY, Role.FINANCE, Role.VIEWER)
        }
    with served(create_app(settings, engine, now=lambda: NOW)) as base:
        yield base, tokens
    engine.dispose()


class Pages(dict[tuple[Role, int], Any]):
    """A logged-in page per role and width, opened when first asked for and reused by every test."""

    def __init__(self, base: str, tokens: dict[Role, str], browser: Any) -> None:
        super().__init__()
        self.base, self.tokens, self.browser = base, tokens, browser

    def __missing__(self, which: tuple[Role, int]) -> Any:
        role, width = which
        page = self.browser.new_context(viewport={"width": width, "height": 900}, accept_downloads=True).new_page()
        page.goto(f"{self.base}/login")
        page.fill("input[name=token]", self.tokens[role])
        page.click("button")
        page.wait_for_url(f"{self.base}/")
        self[which] = page
        return page


@pytest.fixture(scope="module")
def pages(site: Site, browser: Any) -> Iterator[Pages]:
    opened = Pages(*site, browser)
    yield opened
    for page in opened.values():
        page.context.close()


def nav(page: Any, label: str) -> Any:
    return page.locator("header a", has_text=label)


def follow(pages: Pages, role: Role, label: str, url: str) -> Any:
    """``role``'s desktop page, from the overview through the navigation link ``label`` to ``url``."""
    page = pages[(role, 1280)]
    page.goto(f"{pages.base}/")
    nav(page, label).click()
    page.wait_for_url(url)
    return page


def test_finance_signs_off_a_reconciliation(site: Site, pages: Pages) -> None:
    base, _ = site
    page = follow(pages, Role.FINANCE, "Reconciliation", "**/reconciliation/2026-12-03")
    sign_off = page.locator("#sign-off")
    assert "opens once this cycle's payout run has finished" in sign_off.inner_text()
    assert sign_off.locator("button").count() == 0
    page.select_option("select[name=cycle]", "2026-11-19")
    page.click("#cycle-picker button")
    page.wait_for_url("**/reconciliation/2026-11-19")
    categories = page.locator("#exceptions tbody td:first-child").all_inner_texts()
    assert sorted(categories) == ["amount_mismatch", "missing_transfer", "reversed"]
    assert page.locator("#exceptions").bounding_box()["y"] < page.locator("#totals").bounding_box()["y"]
    with page.expect_download() as download:
        page.click("#csv")
    rows = Path(download.value.path()).read_text().splitlines()
    assert rows[0].startswith("cycle,category,payout_id") and any(",missing_transfer," in r for r in rows)
    page.fill("#sign-off input[name=comment]", "missing transfer chased with the PSP")
    page.click("#sign-off button")
    page.wait_for_url("**/reconciliation/2026-11-19")
    signed = page.locator("#sign-off").inner_text()
    assert "Signed off by token:finance-person" in signed and "missing transfer chased with the PSP" in signed
    assert page.locator("#sign-off button").count() == 0  # once per cycle


def test_ops_reads_a_reconciliation_but_finance_signs(site: Site, pages: Pages) -> None:
    base, _ = site
    page = pages[(Role.OPS, 1280)]
    page.goto(f"{base}/reconciliation/2026-11-05")
    assert "failed" in page.locator("#unpaid").inner_text()  # the failed run's payouts
    assert "Finance signs off" in page.locator("#sign-off").inner_text()
    assert page.locator("#sign-off button").count() == 0


def test_finance_marks_a_reserve_episode_reviewed(site: Site, pages: Pages) -> None:
    base, _ = site
    page = follow(pages, Role.FINANCE, "Reserve review", "**/reserve-review")
    episode = page.locator(".episode").first
    key = episode.locator("h2 code").inner_text()
    episode.locator("input[name=note]").fill("top-up wired")
    episode.locator("button", has_text="Mark reviewed").click()
    page.wait_for_url("**/reserve-review")
    reviewed = page.locator(".episode", has=page.locator("code", has_text=key)).locator(".review").inner_text()
    assert "Reviewed by token:finance-person" in reviewed and "top-up wired" in reviewed
    viewer = pages[(Role.VIEWER, 1280)]
    viewer.goto(f"{base}/reserve-review")
    assert viewer.locator(".episode").count() > 0 and viewer.locator("button", has_text="Mark reviewed").count() == 0


def test_security_reviews_access(site: Site, pages: Pages) -> None:
    base, _ = site
    page = follow(pages, Role.SECURITY, "Access review", "**/access-review")
    assert "finance-person" in page.locator("#tokens").inner_text()
    assert "sso:alice" in page.locator("#people").inner_text()
    assert "unused for 90 days" in page.locator("#people").inner_text()
    page.fill("#reviewed input[name=note]", "alice's access to be removed")
    page.click("#reviewed button")
    page.wait_for_url("**/access-review")
    assert "Last reviewed by token:security-person" in page.locator("#reviewed").inner_text()
    page.click("#rotation a:has-text('finance reporting')")
    page.wait_for_url("**/credentials/rk_live_reporting/history")
    rows = page.locator("#versions tbody tr")
    assert rows.count() == 2 and "in force" in rows.first.inner_text()


def test_finance_has_no_access_review(site: Site, pages: Pages) -> None:
    base, _ = site
    page = pages[(Role.FINANCE, 1280)]
    page.goto(f"{base}/")
    assert nav(page, "Access review").count() == 0 and nav(page, "Reconciliation").count() == 1
    for path in ("/access-review", "/credentials/rk_live_reporting/history"):
        response = page.goto(f"{base}{path}")
        assert response.status == 403 and "may not see this page" in page.content()


def test_ops_reads_the_incident_timeline(site: Site, pages: Pages) -> None:
    base, _ = site
    page = follow(pages, Role.OPS, "Timeline", "**/incident")
    recent = {
        c.split("-", 1)[1] for c in page.locator("#timeline tbody tr").evaluate_all("rs => rs.map(r => r.className)")
    }
    assert {"run", "alert", "silence"} <= recent
    page.fill("input[name=from]", "2026-11-05T00:00:00")
    page.fill("input[name=to]", "2026-11-06T12:00:00")
    page.click("#window button")
    page.wait_for_url("**/incident?from=2026-11-05T00*")
    text = page.locator("#timeline").inner_text()
    assert "failed (exit 1)" in text and "manual payout" in text
    finance = pages[(Role.FINANCE, 1280)]
    finance.goto(f"{base}/incident")
    assert "credential_expiry" not in finance.locator("#timeline").inner_text()


PHONE_CONTROLS = [  # (role, page, its main controls)
    (
        Role.FINANCE,
        "/reconciliation/2026-11-05",
        ["select[name=cycle]", "#csv", "#sign-off input[name=comment]", "#sign-off button"],
    ),
    (Role.FINANCE, "/reserve-review", ["input[name=days]", ".episode input[name=note]", ".episode button"]),
    (Role.SECURITY, "/access-review", ["#reviewed input[name=note]", "#reviewed button", "#tokens td"]),
    (Role.SECURITY, "/credentials/rk_live_reporting/history", ["h1", "#versions td"]),
    (Role.OPS, "/incident", ["input[name=from]", "input[name=to]", "#window button", "#timeline td"]),
]


@pytest.mark.parametrize(("role", "path", "controls"), PHONE_CONTROLS, ids=[p for _, p, _ in PHONE_CONTROLS])
def test_each_page_fits_a_phone(site: Site, pages: Pages, role: Role, path: str, controls: list[str]) -> None:
    base, _ = site
    page = pages[(role, PHONE)]
    assert page.goto(f"{base}{path}").status == 200
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
    for selector in controls:
        box = page.locator(selector).first.bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE, (selector, box)
