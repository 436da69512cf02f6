"""Silences in the browser (issue 12 point 2): the demo's silenced alert is marked on the alerts page and on
its page and listed with who, why and until when; Ops previews a silence (on the page, then live as the
matcher is typed), adds it, sees the alert marked, and ends it with one click; a team role may add and end
only its team's silences; a read-only role sees them but has no form and no button, and is refused when it
posts anyway. At desktop width and at 390 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.demo import build_platform, load, silence_a_reserve_alert
from payoutwatch.notify.silences import Matcher
from payoutwatch.timefmt import local
from payoutwatch.usecases.alert_actions import add_silence
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings
from tests.web.test_browser import NOW, browser, log_in, need_chromium, served

__all__ = ["browser"]  # the module's one browser (a fixture shared from test_browser)

PHONE = 390


@dataclass(frozen=True)
class Site:
    base: str
    engine: Engine
    settings: Settings
    tokens: dict[Role, str]
    demo_key: str  # the reserve alert the demo silenced


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    need_chromium()
    from payoutwatch.store.engine import open_store

    engine = open_store(f"sqlite:///{tmp_path_factory.mktemp('silences') / 'pw.db'}")
    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
    )
    load(engine, build_platform(settings, NOW, studios=60), settings, NOW)
    demo_key = silence_a_reserve_alert(engine, evaluate(engine, settings, at=NOW, now=NOW), NOW)
    assert demo_key is not None and demo_key.startswith("reserve_breach:")
    roles = (Role.OPS, Role.ADMIN, Role.FINANCE, Role.SECURITY, Role.VIEWER)
    with engine.begin() as conn:
        tokens = {r: create_token(conn, name=f"{r.value}-person", role=r, actor="test", now=NOW)[1] for r in roles}
    with served(create_app(settings, engine, now=lambda: NOW)) as base:
        yield Site(base, engine, settings, tokens, demo_key)
    engine.dispose()


def fits(page: Any, *selectors: str) -> None:
    """Nothing scrolls sideways, and every element of ``selectors`` lies inside the viewport's width."""
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in selectors:
        boxes = [page.locator(selector).nth(i).bounding_box() for i in range(page.locator(selector).count())]
        assert boxes, selector
        for box in boxes:
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)


def row_of(page: Any, key: str) -> Any:
    return page.locator("tbody tr", has=page.locator("code", has_text=key))


def submit(page: Any, button: Any) -> None:
    """Click a form's ``button`` and wait for the page it leads to."""
    with page.expect_navigation():
        button.click()


def csrf_of(page: Any) -> str:
    value: str = page.locator("input[name=csrf]").first.get_attribute("value")
    return value


@pytest.mark.parametrize("width", [1280, PHONE])
def test_the_demo_silence_is_marked_and_listed_and_a_viewer_may_not_end_it(
    site: Site, browser: Any, width: int
) -> None:
    page = log_in(browser, site.base, site.tokens[Role.VIEWER], width=width)
    page.goto(f"{site.base}/alerts")
    row = row_of(page, site.demo_key)
    assert "silenced until" in row.locator(".tag").inner_text()
    assert row_of(page, "fallback_volume").locator(".tag").count() == 0  # only what a silence covers
    assert page.locator("button", has_text="Ack").count() == 0 and page.locator("a.button").count() == 0
    fits(page, "td.severity", "td.owner")
    row.locator("a", has_text=site.demo_key).click()
    marked = page.locator("#silenced-by").inner_text()
    assert "sso:maya.finance" in marked and "Top-up wire" in marked and "until" in marked
    page.goto(f"{site.base}/silences")
    listed = page.locator("#silences tbody tr", has=page.locator("code", has_text=site.demo_key))
    assert listed.locator("td.author").inner_text() == "sso:maya.finance"
    assert "Top-up wire" in listed.locator("td.why").inner_text()
    assert listed.locator("td.until").inner_text() == local(NOW + timedelta(days=2), site.settings.display_tz)
    assert page.locator("button", has_text="End").count() == 0 and page.locator("#silence-form").count() == 0
    fits(page, "td.author", "td.until")
    silence_id = listed.get_attribute("id").removeprefix("silence-")
    refused = page.request.post(f"{site.base}/silences/{silence_id}/end", form={"csrf": csrf_of(page)})
    assert refused.status == 403
    page.reload()
    assert page.locator("#silences tbody tr", has=page.locator("code", has_text=site.demo_key)).count() == 1
    page.context.close()


@pytest.mark.parametrize(("role", "width"), [(Role.OPS, 1280), (Role.ADMIN, PHONE)])
def test_ops_silences_an_alert_after_a_preview_and_ends_it(site: Site, browser: Any, role: Role, width: int) -> None:
    page = log_in(browser, site.base, site.tokens[role], width=width)
    page.goto(f"{site.base}/alerts")
    fits(page, "td.severity", "td.owner", "td.actions button", "td.actions a.button")
    row_of(page, "fallback_volume").locator("a.button", has_text="Silence…").click()
    page.wait_for_url("**/silences?key=fallback_volume**")
    preview = page.locator("#silence-preview")
    assert "Would mute 1 firing alert:" in preview.inner_text() and "fallback_volume" in preview.inner_text()
    form = page.locator("#silence-form")
    form.locator("input[name=key]").fill("automation_failure:*")  # the live preview follows the matcher
    form.locator("input[name=owner]").fill("")
    preview.locator("text=Would mute 2 firing alerts:").wait_for()
    assert preview.locator("code", has_text="automation_failure:payouts:").count() == 2
    form.locator("input[name=key]").fill("fallback_volume")
    submit(page, form.locator("button", has_text="Preview"))  # the preview step, without saving
    assert "Would mute 1 firing alert:" in page.locator("#silence-preview").inner_text()
    assert page.locator("#silences td.author", has_text=f"token:{role.value}-person").count() == 0
    fits(page, "#silence-form input[name=comment]", "#silence-form button")
    page.fill("#silence-form input[name=comment]", "known: the fallback SOP is running for st_0042")
    page.fill("#silence-form input[name=hours]", "4")
    submit(page, page.locator("#silence-form button", has_text="Silence"))
    ours = page.locator("#silences tbody tr", has=page.locator("td.author", has_text=f"token:{role.value}-person"))
    assert "fallback_volume" in ours.locator("td.title").inner_text()
    assert ours.locator("td.until").inner_text() == local(NOW + timedelta(hours=4), site.settings.display_tz)
    fits(page, "#silences td.actions button")
    page.goto(f"{site.base}/alerts")
    assert "silenced until" in row_of(page, "fallback_volume").locator(".tag").inner_text()
    page.goto(f"{site.base}/silences")
    submit(page, ours.locator("button", has_text="End"))
    assert ours.count() == 0
    page.goto(f"{site.base}/alerts")
    assert row_of(page, "fallback_volume").locator(".tag").count() == 0
    page.context.close()


@pytest.mark.parametrize("width", [1280, PHONE])
def test_finance_adds_and_ends_only_its_teams_silences(site: Site, browser: Any, width: int) -> None:
    theirs = add_silence(
        site.engine, Matcher(rule="fallback_volume"), comment="ops maintenance", author="token:ops-person", now=NOW
    )
    credential = add_silence(
        site.engine,
        Matcher(rule="credential_expiry", owner="security"),
        comment="rotation booked",
        author="token:security-person",
        now=NOW,
    )
    page = log_in(browser, site.base, site.tokens[Role.FINANCE], width=width)
    page.goto(f"{site.base}/silences")
    assert page.locator(f"#silence-{theirs.id} button", has_text="End").count() == 0
    assert page.locator(f"#silence-{credential.id}").count() == 0  # finance sees no credential anywhere
    assert "1 silence of credential alerts not shown" in page.locator("main").inner_text()
    assert page.locator("#silence-form select[name=owner] option").all_inner_texts() == ["finance"]
    page.fill("#silence-form input[name=key]", "reserve_breach:*")
    preview = page.locator("#silence-preview")
    preview.locator("strong", has_text="Would mute").wait_for()
    assert preview.locator("code", has_text="reserve_breach:").count() >= 1 and preview.locator(".bad").count() == 0
    page.fill("#silence-form input[name=comment]", "month-end top-ups")
    submit(page, page.locator("#silence-form button", has_text="Silence"))
    ours = page.locator("#silences tbody tr", has=page.locator("td.author", has_text="token:finance-person"))
    fits(page, "#silences td.actions button")
    submit(page, ours.locator("button", has_text="End"))
    assert ours.count() == 0
    wide = page.request.post(f"{site.base}/silences", form={"csrf": csrf_of(page), "comment": "all", "rule": "*"})
    assert wide.status == 403 and "may only silence its team" in wide.text()
    other = page.request.post(f"{site.base}/silences/{theirs.id}/end", form={"csrf": csrf_of(page)})
    assert other.status == 403
    page.context.close()
    security = log_in(browser, site.base, site.tokens[Role.SECURITY], width=width)
    security.goto(f"{site.base}/silences")
    assert security.locator(f"#silence-{credential.id} button", has_text="End").count() == 1
    assert security.locator(f"#silence-{theirs.id} button", has_text="End").count() == 0
    submit(security, security.locator(f"#silence-{credential.id} button", has_text="End"))
    assert security.locator(f"#silence-{credential.id}").count() == 0
    page = log_in(browser, site.base, site.tokens[Role.OPS], width=width)
    page.goto(f"{site.base}/silences")
    submit(page, page.locator(f"#silence-{theirs.id} button", has_text="End"))  # ops ends anyone's
    assert page.locator(f"#silence-{theirs.id}").count() == 0
    security.context.close()
    page.context.close()
