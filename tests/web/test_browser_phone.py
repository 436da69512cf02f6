"""The pages on a phone (issue 12 point 5): at 390 px wide, and at desktop width, no page scrolls sideways and
what matters is inside the viewport: on the alerts page and an alert's page the severity, the owner and the
Ack / Resolve / Silence controls, the alert's title wrapped; on credentials the days left and the stage;
report pages have a viewport and a link back to the app when the web app serves them (none in a file); the
teams' pages (reconciliation, reserve and access review, incident timeline, credential history) keep their
key columns on screen.
"""

from __future__ import annotations

from typing import Any

import pytest

from payoutwatch.reports.render import render
from payoutwatch.reports.weekly import weekly
from payoutwatch.vocabulary import DASHBOARDS, Role
from tests.web.test_browser import NOW, browser, log_in
from tests.web.test_browser_silences import PHONE, Site, fits, site

__all__ = ["browser", "site"]  # the module's one browser and one served demo store (fixtures shared)

WIDTHS = [1280, PHONE]


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(request: pytest.FixtureRequest, site: Site, browser: Any) -> Any:
    """An Ops person's page at each width, reused by the module's tests."""
    logged_in = log_in(browser, site.base, site.tokens[Role.OPS], width=request.param)
    yield logged_in
    logged_in.context.close()


def test_every_dashboard_fits(site: Site, page: Any) -> None:
    for path in ["/", *(f"/dashboards/{d.name}" for d in DASHBOARDS)]:
        page.goto(f"{site.base}{path}")
        fits(page, "main h1, main .card", "header a", "header button")


def test_the_alerts_page_shows_severity_owner_and_actions(site: Site, page: Any) -> None:
    page.goto(f"{site.base}/alerts")
    rows = page.locator("tbody tr")
    assert rows.count() >= 5
    fits(page, "td.title", "td.title code", "td.severity", "td.owner", "td.actions button", "td.actions a.button")
    for i in range(rows.count()):  # each row's controls are shown, none clipped by a scrolling box
        assert rows.nth(i).locator("td.severity").is_visible() and rows.nth(i).locator("td.owner").is_visible()
    assert page.locator("td.actions button", has_text="Resolve").count() == rows.count()


def test_an_alert_page_wraps_its_title_and_shows_its_actions(site: Site, page: Any) -> None:
    page.goto(f"{site.base}/alerts")
    longest = max(page.locator("td.title code").all_inner_texts(), key=len)
    page.goto(f"{site.base}/alerts/{longest}")
    controls = (".actions button", ".actions input[name=comment]", ".actions a.button")
    fits(page, "h1.title", ".severity", ".owner", *controls)
    page.goto(f"{site.base}/alerts/{site.demo_key}")
    fits(page, "#silenced-by", ".severity", ".owner")


def test_credentials_show_days_left_and_stage(site: Site, page: Any) -> None:
    page.goto(f"{site.base}/dashboards/credentials")
    fits(page, "td.title", "td.days-left", "td.stage", "td.owner")
    assert page.locator("td.days-left").first.is_visible() and page.locator("td.stage").first.is_visible()


def test_report_pages_fit_and_lead_back_to_the_app(site: Site, page: Any) -> None:
    page.goto(f"{site.base}/reports")
    fits(page, "h1", "main form button")
    for path in ("/reports/weekly", "/reports/quarterly?quarter=2026Q4"):
        page.goto(f"{site.base}{path}")
        assert page.locator("meta[name=viewport]").count() == 1
        fits(page, "h1", "a[href='/reports']", "img" if "quarterly" in path else "td.severity")
    fits(page, "img")
    page.goto(f"{site.base}/reports/weekly")
    fits(page, "td.severity", "td.owner", "td.days-left", "td.stage")
    with page.expect_navigation():
        page.locator("a[href='/reports']").click()
    assert page.url == f"{site.base}/reports"
    override = "rules.automation_failure.max_duration_minutes%3D45"  # the comparison names it in a long code
    query = f"from=2026-11-01T00:00:00Z&to=2026-11-26T00:00:00Z&step=12h&set={override}"
    page.goto(f"{site.base}/reports/backtest?{query}")
    fits(page, "h1")


TEAM_PAGES = {  # the teams' pages and what must stay on screen there
    "/reconciliation": ("h1", "#exceptions td.title", "#exceptions td[data-label=payout]", "#totals td.title"),
    "/reserve-review": ("h1", "main button"),
    "/access-review": ("h1", "#tokens td.title", "#rotation td.days-left", "#rotation td.stage", "#rotation td.owner"),
    "/incident": ("h1", "#timeline td.title", "#timeline td[data-label=time]"),
    "/credentials/rk_live_payouts/history": ("h1", "#versions td.title", "#versions td[data-label=due]"),
}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_teams_pages_fit(site: Site, browser: Any, width: int) -> None:
    admin = log_in(browser, site.base, site.tokens[Role.ADMIN], width=width)
    for path, selectors in TEAM_PAGES.items():
        assert admin.goto(f"{site.base}{path}").status == 200, path
        fits(admin, *selectors)
    admin.context.close()


def test_a_report_written_to_a_file_has_no_link_into_the_app(site: Site) -> None:
    with site.engine.connect() as conn:
        figures = weekly(conn, NOW, site.settings, with_credentials=True)
    written = render("weekly", figures, "html", zone=site.settings.display_tz)
    assert 'name="viewport"' in written and 'href="/reports"' not in written
    assert 'href="/reports"' in render("weekly", figures, "html", zone=site.settings.display_tz, back="/reports")
