"""Every channel message checked against the services' own rules (issue 11, DESIGN §6):

Slack through slack_sdk's Block Kit models, PagerDuty against the Events v2 body schema, Jira API 3
bodies against Atlassian's ADF schema (both under tests/schemas, see its README), e-mail parsed with
``email.policy.strict``, for every rule and event, 25 reasons and hostile record text.
"""

from __future__ import annotations

import email
import json
import re
from dataclasses import replace
from email.message import EmailMessage
from email.policy import strict
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from slack_sdk.models.blocks import Block

from payoutwatch.config import ConfigError, Settings, parse_settings
from payoutwatch.notify.channels import Report, build_channel
from payoutwatch.notify.channels.email import Email, compose, compose_report, is_host_name
from payoutwatch.notify.channels.jira import Jira
from payoutwatch.notify.channels.pagerduty import PagerDuty
from payoutwatch.notify.channels.slack import Slack
from payoutwatch.notify.messages import Message, render
from payoutwatch.vocabulary import Action, Event, Transition
from tests.conftest import utc

SCHEMAS = Path(__file__).parent.parent / "schemas"
AT = utc(2026, 3, 5, 11, 33)
HOSTILE = "<!channel> <https://evil.example|Rotate the key here> & 57% < 90% </td><script>x()</script>"
RULE_KEYS = {
    "automation_failure": "automation_failure:payouts:2026-03-05",
    "fallback_volume": "fallback_volume",
    "credential_expiry": f"credential_expiry:cert {HOSTILE}",
    "reserve_breach": "reserve_breach:acct|a b",
    "source_stale": "source_stale:stripe",
    "notification_failing": "notification_failing:slack-ops",
}
EVENTS = [(Event.FIRING, None), (Event.REMINDER, "14d"), (Event.ESCALATED, "3d"), (Event.RESOLVED, None)]
REASONS = {
    "one": ["run r1 exited 1"],
    "25 short": [f"re-run r{i} of the cycle exited 1 after {i} retries ({HOSTILE})" for i in range(25)],
    "25 long": [f"reason {i}: " + "x&<>" * 400 for i in range(25)],
    "one huge": ["y" * 10_000 + HOSTILE],
}


def settings_for(rule: str, **channels: Any) -> Settings:
    return parse_settings(
        {
            "web": {"base_url": "https://pw.example.com/pw/"},
            "rules": {rule: {"runbook_url": f"https://wiki.example.com/runbooks/{rule}?section=a&b=1"}},
            "channels": channels,
        }
    )


def transition(rule: str, event: Event, stage: str | None, reasons: list[str]) -> Transition:
    return Transition(
        alert_id=1,
        history_id=1,
        key=RULE_KEYS[rule],
        rule=rule,
        action=Action.FIRED,
        event=event,
        stage=stage,
        severity="SEV-2",
        owner=f"owner {HOSTILE}",
        summary=f"{rule} summary: processed 57% < 90% {HOSTILE} " + "z" * 3000,
        details={"reasons": reasons, "channel": HOSTILE, "cycle": HOSTILE * 30, "due_at": HOSTILE},
        episode="pw-0123456789abcdef",
        at=AT,
        started_at=AT,
        actor=HOSTILE if event == Event.RESOLVED else None,
    )


CASES = [
    pytest.param(rule, event, stage, reasons, id=f"{rule}-{event.value}-{name}")
    for rule in RULE_KEYS
    for event, stage in EVENTS
    for name, reasons in REASONS.items()
]


def message(rule: str, event: Event, stage: str | None, reasons: list[str]) -> tuple[Message, Settings]:
    settings = settings_for(rule)
    return render(transition(rule, event, stage, reasons), settings), settings


SLACK_WEBHOOK = {"type": "slack", "webhook_url": "http://slack.test/x"}
SLACK_BOT = {"type": "slack", "bot_token": "xoxb-1", "channel": "#ops", "signing_secrets": ["s"]}  # with buttons


def slack_payload(msg: Message, config: dict[str, Any] = SLACK_WEBHOOK) -> dict[str, Any]:
    settings = parse_settings({"channels": {"s": config}})
    channel = build_channel("s", settings.channel("s"), httpx.Client())
    assert isinstance(channel, Slack)
    return channel.payload(msg)


def slack_texts(block: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, text) of every text object in a block: section text, field, context element, header."""
    out = []
    if "text" in block:
        out.append(("header" if block["type"] == "header" else "text", block["text"]["text"]))
    out += [("field", f["text"]) for f in block.get("fields", [])]
    out += [("element", e["text"]) for e in block.get("elements", []) if "text" in e]
    return out


@pytest.mark.parametrize("rule,event,stage,reasons", CASES)
def test_slack_messages_pass_block_kit_and_are_inert(
    rule: str, event: Event, stage: str | None, reasons: list[str]
) -> None:
    body = slack_payload(message(rule, event, stage, reasons)[0])
    assert 1 <= len(body["blocks"]) <= 50 and len(body["text"]) <= 40_000
    for raw in body["blocks"]:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]  # SlackObjectFormationError on a limit
        for kind, text in slack_texts(raw):
            assert len(text) <= {"header": 150, "field": 2000}.get(kind, 3000), (kind, len(text))
    flat = json.dumps(body)
    for inert in ("<!channel>", "<https://evil.example", "< 90%", "<script>"):
        assert inert not in flat
    assert "&lt;!channel&gt;" in flat and "57% &lt; 90%" in flat
    links = re.findall(r"<(https?://[^|>]+)\|", flat)
    assert f"https://wiki.example.com/runbooks/{rule}?section=a&amp;b=1" in links
    assert any(link.startswith("https://pw.example.com/pw/alerts/") for link in links)
    assert all(" " not in link for link in links)


def test_slack_long_reason_lists_end_with_and_n_more() -> None:
    body = slack_payload(message("automation_failure", Event.FIRING, None, REASONS["25 long"])[0])
    reasons = body["blocks"][1]["text"]["text"]
    shown = reasons.count("• reason ")
    assert 0 < shown < 25 and reasons.endswith(f"… and {25 - shown} more (the alert page has the rest)")
    short = slack_payload(message("automation_failure", Event.FIRING, None, ["a", "b"])[0])
    assert short["blocks"][1]["text"]["text"] == "• a\n• b"


def test_the_alert_link_percent_encodes_the_key() -> None:
    msg = message("reserve_breach", Event.FIRING, None, ["r"])[0]
    assert msg.link == "https://pw.example.com/pw/alerts/reserve_breach:acct%7Ca%20b"
    hostile = message("credential_expiry", Event.FIRING, None, ["r"])[0]
    assert hostile.link is not None and not set(hostile.link) & set(" <>|&\"'")


def url_format(value: object) -> bool:
    """``format: url``: an absolute http(s) URL of RFC 3986 characters only (no space, ``|``, ``<`` …)."""
    return isinstance(value, str) and bool(
        re.fullmatch(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]+", re.sub(r"%[0-9A-Fa-f]{2}", "", value))
    )


PD_FORMATS = jsonschema.FormatChecker()
PD_FORMATS.checks("url")(url_format)
PD_OPENAPI = json.loads((SCHEMAS / "pagerduty-events-v2.openapi.json").read_text())
# The request body of POST /v2/enqueue, with the document's components beside it so that its
# ``#/components/schemas/...`` references resolve unchanged.
PD_EVENT = jsonschema.Draft7Validator(
    {
        **PD_OPENAPI["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"],
        "components": PD_OPENAPI["components"],
    },
    format_checker=PD_FORMATS,
)


def check_pagerduty_event(body: dict[str, Any]) -> None:
    """The official OpenAPI body schema, then the limits PagerDuty documents outside it
    (developer-docs events-API-v2; reference/interfaces.md §7): dedup_key ≤ 255, summary 1-1,024, < 512 KB."""
    errors = sorted(PD_EVENT.iter_errors(body), key=str)
    assert not errors, errors[0].message
    assert len(body.get("dedup_key", "")) <= 255
    if "payload" in body:
        assert 1 <= len(body["payload"]["summary"]) <= 1024
    assert len(json.dumps(body).encode()) < 512 * 1024


@pytest.mark.parametrize("rule,event,stage,reasons", CASES)
def test_pagerduty_events_pass_the_events_v2_schema(
    rule: str, event: Event, stage: str | None, reasons: list[str]
) -> None:
    msg, _ = message(rule, event, stage, reasons)
    settings = parse_settings({"channels": {"p": {"type": "pagerduty", "routing_key": "k" * 32}}})
    channel = build_channel("p", settings.channel("p"), httpx.Client())
    assert isinstance(channel, PagerDuty)
    body = channel.body(msg)
    check_pagerduty_event(body)
    if event != Event.RESOLVED:
        assert [link["text"] for link in body["links"]] == ["Alert in payoutwatch", "Runbook"]
        assert body["links"][1]["href"] == f"https://wiki.example.com/runbooks/{rule}?section=a&b=1"


def test_the_official_schema_refuses_what_pagerduty_refuses() -> None:
    good = {
        "routing_key": "k" * 32,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "payoutwatch", "severity": "critical"},
    }
    check_pagerduty_event(good)
    bad_bodies = [
        {**good, "payload": {**good["payload"], "severity": "high"}},
        {**good, "event_action": "fire"},
        {k: v for k, v in good.items() if k != "routing_key"},
        {**good, "payload": {"summary": "s", "severity": "info"}},
        {**good, "links": [{"href": "https://pw.example.com/alerts/a b"}]},
    ]
    for bad in bad_bodies:
        assert list(PD_EVENT.iter_errors(bad)), bad


def test_the_url_format_check_refuses_what_pagerduty_refused() -> None:
    assert not url_format("https://pw.example.com/alerts/reserve_breach:acct|a b")
    assert url_format("https://pw.example.com/alerts/reserve_breach:acct%7Ca%20b")


ADF = jsonschema.Draft4Validator(json.loads((SCHEMAS / "adf-full-v1.json").read_text()))


def jira(version: int | None, base_url: str = "https://jira.example.com") -> tuple[Jira, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"issues": [{"id": "1", "key": "PAY-7"}]})
        return httpx.Response(201, json={"id": "1", "key": "PAY-7"})

    config: dict[str, Any] = {"type": "jira", "base_url": base_url, "project": "PAY", "bearer_token": "t"}
    if version is not None:
        config["api_version"] = version
    settings = parse_settings({"channels": {"j": config}})
    channel = build_channel("j", settings.channel("j"), httpx.Client(transport=httpx.MockTransport(handler)))
    assert isinstance(channel, Jira)
    return channel, seen


@pytest.mark.parametrize("rule,event,stage,reasons", CASES)
def test_jira_v3_bodies_pass_the_adf_schema_and_summaries_fit(
    rule: str, event: Event, stage: str | None, reasons: list[str]
) -> None:
    msg, _ = message(rule, event, stage, reasons)
    channel, seen = jira(3)
    channel.create_ticket(msg)
    channel.comment("PAY-7", msg)
    create, comment = (json.loads(r.content) for r in seen)
    summary = create["fields"]["summary"]
    assert 1 <= len(summary) <= 255 and "\n" not in summary and "\r" not in summary
    for doc in (create["fields"]["description"], comment["body"]):
        errors = sorted(ADF.iter_errors(doc), key=str)
        assert not errors, errors[0].message
    marks = [m["attrs"]["href"] for p in comment["body"]["content"] for t in p["content"] for m in t.get("marks", [])]
    assert marks == [f"https://wiki.example.com/runbooks/{rule}?section=a&b=1", msg.link]


def test_jira_api_version_and_search_endpoints() -> None:
    msg, _ = message("fallback_volume", Event.FIRING, None, ["r"])
    for version, base_url, path in (
        (None, "https://acme.atlassian.net", "/rest/api/3/search/jql"),
        (None, "https://jira.acme.example", "/rest/api/2/search"),
        (2, "https://acme.atlassian.net", "/rest/api/2/search"),
        (3, "https://jira.acme.example", "/rest/api/3/search/jql"),
    ):
        channel, seen = jira(version, base_url)
        assert channel.send(msg) == "PAY-7"
        (search,) = seen
        assert search.method == "GET" and search.url.path == path
        assert 'labels = "pw-0123456789abcdef"' in search.url.params["jql"]
    v2, seen = jira(2)
    v2.comment("PAY-7", msg)
    assert isinstance(json.loads(seen[0].content)["body"], str)
    assert "Runbook: https://wiki.example.com/runbooks/fallback_volume" in json.loads(seen[0].content)["body"]


def test_jira_comments_on_the_stored_ticket_without_searching() -> None:
    msg, _ = message("fallback_volume", Event.RESOLVED, None, ["r"])
    channel, seen = jira(3)
    assert channel.send(replace(msg, remote_ref="PAY-3")) == "PAY-3"
    (comment,) = seen
    assert comment.method == "POST" and comment.url.path == "/rest/api/3/issue/PAY-3/comment"


def email_settings(**extra: Any) -> Any:
    config = {"type": "email", "host": "mail.test", "to": ["fin@example.com"], "from": "pw@alerts.example.com"}
    return parse_settings({"channels": {"m": {**config, **extra}}}).channel("m")


@pytest.mark.parametrize("rule,event,stage,reasons", CASES)
def test_every_email_parses_strictly_with_date_message_id_and_links(
    rule: str, event: Event, stage: str | None, reasons: list[str]
) -> None:
    msg, _ = message(rule, event, stage, reasons)
    mail = compose(msg, email_settings(), AT)
    parsed = email.message_from_bytes(mail.as_bytes(), policy=strict)
    assert isinstance(parsed, EmailMessage) and not parsed.defects
    assert parsed["Date"].datetime == AT
    message_id = str(parsed["Message-ID"])
    assert re.fullmatch(r"<[^@<>\s]+@alerts\.example\.com>", message_id)
    assert parsed["X-Payoutwatch-Event"] == event.value and parsed["X-Payoutwatch-Rule"] == rule
    text, html = (parsed.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    runbook = f"https://wiki.example.com/runbooks/{rule}?section=a&b=1"
    assert runbook in text.get_content() and str(msg.link) in text.get_content()
    body = html.get_content()
    assert runbook.replace("&", "&amp;") in body and str(msg.link) in body
    assert "<script>" not in body and "<!channel>" not in body and "57% &lt; 90%" in body


def test_message_id_domain_is_a_host_name() -> None:
    msg, _ = message("reserve_breach", Event.FIRING, None, ["r"])
    configured = compose(msg, email_settings(message_id_domain="mx.example.org"), AT)
    assert str(configured["Message-ID"]).endswith("@mx.example.org>")
    local = compose(msg, email_settings(**{"from": "payoutwatch@localhost"}), AT)
    domain = str(local["Message-ID"]).rstrip(">").rpartition("@")[2]
    assert domain == "localhost" or is_host_name(domain)
    with pytest.raises(ConfigError, match="host name"):
        email_settings(message_id_domain="payoutwatch")
    assert isinstance(build_channel("m", email_settings(), httpx.Client()), Email)


def test_report_emails_parse_strictly_too() -> None:
    report = Report(title=f"Weekly report\n{HOSTILE}", markdown="# Weekly\n" + HOSTILE, html=f"<p>{HOSTILE}</p>")
    parsed = email.message_from_bytes(compose_report(report, email_settings(), AT).as_bytes(), policy=strict)
    assert parsed["Date"].datetime == AT and str(parsed["Message-ID"]).endswith("@alerts.example.com>")
    assert "\n" not in str(parsed["Subject"])


def test_runbook_url_must_be_a_web_address() -> None:
    with pytest.raises(ConfigError, match="runbook_url"):
        parse_settings({"rules": {"reserve_breach": {"runbook_url": "https://wiki/a page"}}})
    for rule in RULE_KEYS:
        assert parse_settings({}).rules.of(rule).runbook_url is None
