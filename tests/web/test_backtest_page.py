"""The back-test page (issue 12, point 8): the form without parameters, mistakes shown on the form (styled,
in the page's own words), and overrides compared with the same window under the current configuration."""

from __future__ import annotations

import html

from sqlalchemy import Engine
from starlette.testclient import TestClient

from tests.conftest import make_settings, utc
from tests.helpers import signed_in_client
from tests.store.test_backtest import QUIET, history

NOW = utc(2026, 6, 1)
WINDOW = {"from": "2026-03-24T00:00:00Z", "to": "2026-03-27T00:00:00Z", "step": "1h"}


def client_for(store: Engine) -> TestClient:
    history(store)
    client: TestClient = signed_in_client(store, make_settings(schedule=QUIET, web={"secure_cookies": False}), NOW)
    return client


def test_without_parameters_the_page_is_the_form(store: Engine) -> None:
    page = client_for(store).get("/reports/backtest")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'id="backtest-form"' in page.text and 'name="set"' in page.text
    assert 'value="2026-05-01T20:00:00"' in page.text  # the last 30 days by default, on Toronto's wall clock
    assert "Cannot back-test" not in page.text


def test_a_bad_override_is_shown_on_the_form_without_naming_the_cli_option(store: Engine) -> None:
    client = client_for(store)
    for override, reason in (
        ("rules.fallback_volume.max_ratio=0.01", "no key &#39;rules.fallback_volume.max_ratio&#39;"),
        ("rules.fallback_volume.max_fallback_ratio=-1", "max_fallback_ratio"),
        ("max_fallback_ratio", "expected key.path=value"),
    ):
        page = client.get("/reports/backtest", params={**WINDOW, "set": override})
        assert page.status_code == 422, override
        assert 'class="error bad" role="alert"' in page.text and reason in page.text, page.text
        assert "--set" not in page.text
        assert html.escape(override, quote=False) in page.text  # kept in the form to correct
    backwards = client.get("/reports/backtest", params={**WINDOW, "from": WINDOW["to"], "to": WINDOW["from"]})
    assert backwards.status_code == 422 and "to is before from" in backwards.text and "--" not in backwards.text


def test_overrides_are_compared_with_the_current_configuration(store: Engine) -> None:
    client = client_for(store)
    page = client.get("/reports/backtest", params={**WINDOW, "set": "rules.fallback_volume.max_fallback_ratio=0.01"})
    assert page.status_code == 200
    section = html.unescape(page.text.split('id="against-current"', 1)[1].split("</section>", 1)[0])
    assert "fallback_volume would fire 2026-03-25 11:00 EDT (under the current configuration it does not fire)" in (
        section
    )
    same = client.get("/reports/backtest", params={**WINDOW, "set": "rules.fallback_volume.max_fallback_ratio=0.04"})
    assert "The same alerts fire at the same instants" in same.text
    plain = client.get("/reports/backtest", params=WINDOW)
    assert plain.status_code == 200 and 'id="against-current"' not in plain.text
