"""Record text is escaped in every HTML output: pages, HTML reports (served and e-mailed), the e-mail
channel's HTML part and error pages that echo input. The browser test (test_browser_hostile) shows that
nothing runs; this one reads the HTML itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import httpx
from sqlalchemy import Engine
from starlette.testclient import TestClient

from payoutwatch.notify.channels import build_channel
from payoutwatch.notify.messages import Message
from payoutwatch.reports.quarterly import quarterly
from payoutwatch.reports.render import render
from payoutwatch.reports.scheduled import send_weekly
from payoutwatch.reports.weekly import weekly
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.integration.test_channels_live import SMTPCapture
from tests.web.hostile import ATTRIBUTE, SCRIPT, SOURCES, hostile, pages, plant_everywhere

NOW = utc(2026, 11, 26, 14)
RAW = ("<script>window.__pwned", "<img src=x")
# planted but shown on no page (kept in the store only): payouts, hold reasons, a few source fields
NOT_SHOWN = ("payout-", "hold-reason", "manual-run", "cred-source", "run-source")


def assert_escaped(html: str, where: str) -> None:
    for raw in RAW:
        assert raw not in html, f"{where} has unescaped {raw!r}"


def assert_no_inline_code(html: str, csp: str, where: str) -> None:
    """The CSP allows no inline script and only nonced inline styles; the page needs nothing else. A chart's
    data block (``<script type="application/json">``) is never executed, and must parse as JSON."""
    assert "unsafe-inline" not in csp and "script-src 'self';" in csp, csp
    nonce = re.search(r"'nonce-([^']+)'", csp)
    assert nonce is not None, csp
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.DOTALL)
    for attributes, body in inline:
        assert attributes == ' type="application/json" class="pw-chart-data"', f"{where} has an inline script"
        json.loads(body)
    assert all(f'nonce="{nonce[1]}"' in tag for tag in re.findall(r"<style[^>]*>", html)), where
    assert " style=" not in html, f"{where} has a style attribute"


def test_every_page_and_html_report_escapes_record_text(store: Engine) -> None:
    settings = make_settings(web={"secure_cookies": False}, sources=SOURCES)
    tags = plant_everywhere(store, settings, NOW)
    with store.begin() as conn:
        token = create_token(conn, name="ada", role=Role.ADMIN, actor="t", now=NOW)[1]
    client = TestClient(create_app(settings, store, now=lambda: NOW))
    client.post("/login", data={"token": token})
    shown = ""
    for path in pages(store, "2026Q4"):
        response = client.get(path)
        assert response.status_code in (200, 400, 404, 422), path
        assert response.headers["content-type"].startswith("text/html"), path
        assert_escaped(response.text, path)
        assert_no_inline_code(response.text, response.headers["content-security-policy"], path)
        shown += response.text
    escaped_script = "&lt;script&gt;window.__pwned=1&lt;/script&gt;"
    for tag in tags:
        if not tag.startswith(NOT_SHOWN):
            assert escaped_script + tag in shown or f"&lt;img src=x onerror=window.__pwned=1&gt;{tag}" in shown, tag
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in client.get(f"/reports/quarterly?quarter={SCRIPT}").text
    for asset in ("/static/payoutwatch.js", "/static/payoutwatch.css"):
        assert client.get(asset).status_code == 200


def test_html_reports_and_mail_escape_while_markdown_stays_text(store: Engine) -> None:
    with SMTPCapture() as smtp:
        mail = {"type": "email", "host": "127.0.0.1", "port": smtp.port, "to": ["finance@pw.example"]}
        settings = make_settings(channels={"mail": mail}, reports={"weekly": {"channels": ["mail"]}}, sources=SOURCES)
        plant_everywhere(store, settings, NOW)
        with store.connect() as conn:
            week, quarter = weekly(conn, NOW, settings), quarterly(conn, "2026Q4", settings)
        for name, figures in (("weekly", week), ("quarterly", quarter)):
            assert_escaped(render(name, figures, "html", zone=settings.display_tz), f"{name}.html")
            assert SCRIPT in render(
                name, figures, "md", zone=settings.display_tz
            )  # Markdown is text, not HTML: nothing to escape there
        assert send_weekly(store, settings, at=NOW) == []
        message = Message(
            rule="credential_expiry",
            key=hostile("key"),
            event="firing",
            stage="3d",
            severity="critical",
            owner=hostile("owner", ATTRIBUTE),
            title=hostile("title"),
            summary=hostile("summary", ATTRIBUTE),
            facts=[(hostile("label"), hostile("value", ATTRIBUTE))],
            reasons=[hostile("reason")],
            link="https://pw.example/alerts/x?a=1&b=" + ATTRIBUTE,
        )
        with httpx.Client() as client:
            build_channel("mail", settings.channel("mail"), client).send(message)
    (_, weekly_mail), (_, alert_mail) = smtp.messages
    for sent in (weekly_mail, alert_mail):
        html_part = sent.get_body(preferencelist=("html",))
        assert_escaped(html_part.get_content(), f"the HTML part of {sent['Subject']!r}")
    assert "cred-name-0" in weekly_mail.get_body(preferencelist=("html",)).get_content()
