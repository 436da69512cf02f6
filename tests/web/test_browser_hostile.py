"""Hostile record text never runs in a browser: Debian's Chromium (Playwright) opens every page, HTML
report and echoing error page as every role that can sign in, with a hostile string planted in every
record text field those pages show.

After each load ``window.__pwned`` is still undefined, and no CSP violation was reported either: escaping
stops the payload, the CSP is never needed for it. For the admin, who sees everything, each planted
value is on some page as visible text. One browser and one page for the whole module.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payoutwatch.store.engine import open_store
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.web.hostile import PAYLOADS, SOURCES, pages, plant_everywhere
from tests.web.test_browser import ARGS, CHROMIUM, served
from tests.web.test_escaping import NOT_SHOWN

NOW = utc(2026, 11, 26, 14)
ROLES = [r for r in Role if r is not Role.INGEST]  # ingest tokens cannot open pages
# Playwright's init scripts run whatever the CSP says: they record any violation the page reports
WATCH_CSP = (
    "window.__csp = []; document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture(scope="module")
def hostile_site(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[Role, str], list[str], list[str]]]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is required in CI (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'pw.db'}")
    settings = make_settings(web={"secure_cookies": False}, sources=SOURCES)
    tags = plant_everywhere(engine, settings, NOW)
    with engine.begin() as conn:
        tokens = {role: create_token(conn, name=f"{role}-x", role=role, actor="t", now=NOW)[1] for role in ROLES}
    with served(create_app(settings, engine, now=lambda: NOW)) as base:
        yield base, tokens, pages(engine, "2026Q4"), [t for t in tags if not t.startswith(NOT_SHOWN)]
    engine.dispose()


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = chromium.new_context()
        context.add_init_script(WATCH_CSP)
        yield context.new_page()
        chromium.close()


def test_hostile_record_text_never_runs_on_any_page_for_any_role(
    hostile_site: tuple[str, dict[Role, str], list[str], list[str]], page: Any
) -> None:
    base, tokens, paths, shown_tags = hostile_site
    seen_by_admin = ""
    for role in ROLES:
        page.context.clear_cookies()
        page.goto(f"{base}/login")
        page.fill("input[name=token]", tokens[role])
        page.click("button")
        page.wait_for_url(f"{base}/")
        for path in paths:
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status in (200, 400, 403, 404, 422), (role, path)
            pwned, violations = page.evaluate("[window.__pwned, window.__csp]")
            assert pwned is None, f"a planted script ran on {path} as {role}"
            assert violations == [], f"{path} as {role}: the CSP had to block {violations}"
            if role is Role.ADMIN:
                seen_by_admin += page.inner_text("body")
    assert page.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    missing = [t for t in shown_tags if not any(p + t in seen_by_admin for p in PAYLOADS)]
    assert missing == [], f"planted but not shown as text: {missing}"
