"""Charts in the browser: every dashboard chart is drawn by the vendored uPlot under the pages' CSP, with
axis titles and ticks in their unit, the thresholds as series, local dates and exact values on hover.

One demo platform, one browser, one page per role reused (see tests/web/test_browser.py for the site)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.test_browser import SHOTS, browser, log_in, site  # noqa: F401  (the module's fixtures)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

AXES_AND_SERIES = """el => ({
  axes: el.uplot.axes.map(a => a.label),
  ticks: el.uplot.axes.map(a => (a._values || []).filter(v => v)),
  series: el.uplot.series.map(s => s.label),
  canvas: el.querySelectorAll("canvas").length,
})"""


@pytest.fixture(scope="module")
def page(site: tuple[str, dict[str, str]], browser: Any) -> Any:  # noqa: F811
    base, tokens = site
    page = log_in(browser, base, tokens["security"])
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    return page


def charts_on(page: Any, base: str, dashboard: str) -> list[dict[str, Any]]:
    page.errors.clear()
    page.goto(f"{base}/dashboards/{dashboard}")
    page.wait_for_function("[...document.querySelectorAll('figure.pw-chart')].every(f => f.uplot)")
    assert page.errors == []  # no CSP refusal, no script error
    return [f.evaluate(AXES_AND_SERIES) for f in page.locator("figure.pw-chart").all()]


def test_payout_health_charts_have_units_and_limits(site: tuple[str, dict[str, str]], page: Any) -> None:  # noqa: F811
    charts = charts_on(page, site[0], "payout_health")
    assert len(charts) == 5 and all(c["canvas"] >= 1 for c in charts)
    cad, duration, processed, retries, errors = charts
    assert cad["axes"] == ["cycle", "CAD"] and all("$" in t for t in cad["ticks"][1])
    assert duration["axes"][1] == "minutes" and "limit 30 min" in duration["series"]
    assert processed["axes"][1] == "% of studios" and "minimum 90%" in processed["series"]
    assert all(t.endswith("%") for t in processed["ticks"][1])
    assert re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", cad["ticks"][0][0])  # a local date, not an epoch


def test_hover_shows_the_exact_value_and_local_time(site: tuple[str, dict[str, str]], page: Any) -> None:  # noqa: F811
    charts_on(page, site[0], "payout_health")
    duration = page.locator("figure.pw-chart").nth(1)
    legend = duration.locator(".u-legend")
    before = legend.inner_text()
    index = hover_latest(page, duration)
    expected = duration.evaluate("(el, i) => el.uplot.data[1][i]", index)
    after = legend.inner_text()
    assert after != before
    assert f"longest run{f'{expected:,.2f}'.rstrip('0').rstrip('.')} min" in after  # the value with its unit
    assert re.search(r"\d\d:\d\d E[SD]T", after)  # the instant in the configured zone, with its abbreviation


def hover_latest(page: Any, chart: Any) -> int:
    """Move the mouse onto the chart's latest x with a value; returns that x's index."""
    index: int = chart.evaluate("el => el.uplot.data[1].findLastIndex(v => v != null)")
    x, y = chart.evaluate(
        """(el, i) => { const u = el.uplot, r = u.over.getBoundingClientRect();
           return [r.left + u.valToPos(u.data[0][i], 'x'), r.top + r.height / 2]; }""",
        index,
    )
    page.mouse.move(x, y)
    return index


def test_reserves_draw_each_threshold_and_the_projection(site: tuple[str, dict[str, str]], page: Any) -> None:  # noqa: F811
    charts = charts_on(page, site[0], "reserves")
    assert charts, "the demo has accounts near or projected below their threshold"
    projections = [c for c in charts if "trend" in c["series"]]
    assert projections and all(
        c["series"][1:] == ["balance", "trend", "threshold", "at the next run"] and c["axes"][1] == "CAD"
        for c in projections
    )
    near = [c for c in charts if c["axes"][0] == "account"]
    assert len(near) == 1 and near[0]["series"][1:] == ["balance", "threshold"]


def test_fallback_and_credential_charts(site: tuple[str, dict[str, str]], page: Any) -> None:  # noqa: F811
    share, histogram = charts_on(page, site[0], "fallback_activity")
    assert share["axes"][1] == "% of automated CAD" and "limit 5%" in share["series"]
    assert histogram["axes"] == ["hours from detection to completed transfer", "payouts"]
    assert histogram["ticks"][0][0] == "≤1h"
    (credentials,) = charts_on(page, site[0], "credentials")
    assert credentials["axes"][1] == "days left" and "3 d escalation" in credentials["series"]


def test_charts_fit_a_phone_with_readable_labels(site: tuple[str, dict[str, str]], browser: Any) -> None:  # noqa: F811
    base, tokens = site
    phone = log_in(browser, base, tokens["security"], width=390)
    for dashboard in ("payout_health", "reserves", "fallback_activity", "credentials"):
        phone.goto(f"{base}/dashboards/{dashboard}")
        phone.wait_for_function("[...document.querySelectorAll('figure.pw-chart')].every(f => f.uplot)")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, dashboard
        for chart in phone.locator("figure.pw-chart").all():
            box = chart.locator("canvas").first.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, dashboard
            sizes = chart.evaluate("el => el.uplot.axes.flatMap(a => [a.font[2], a.labelFont[2]])")  # CSS px
            assert min(sizes) >= 11, (dashboard, sizes)
            assert float(chart.locator(".u-legend").evaluate("el => parseFloat(getComputedStyle(el).fontSize)")) >= 11
        if dashboard == "payout_health":  # the README shows the charts as a phone sees them
            phone.locator("h2", has_text="CAD per cycle").evaluate("el => el.scrollIntoView({block: 'start'})")
            hover_latest(phone, phone.locator("figure.pw-chart").nth(1))  # the legend shows the exact values
            SHOTS.mkdir(parents=True, exist_ok=True)
            phone.screenshot(path=str(SHOTS / "payout_health-phone.png"))
    phone.close()
