"""Channel request shapes and error classification, through httpx.MockTransport."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from payoutwatch.config import parse_settings
from payoutwatch.integration_errors import IntegrationError
from payoutwatch.notify.channels import DeliveryError, Report, build_channel
from payoutwatch.notify.channels.base import post_json
from payoutwatch.notify.messages import Message, render
from payoutwatch.sources.base import SourceError
from payoutwatch.sources.http import get_json
from payoutwatch.vocabulary import Action, Event, Transition

AT = datetime(2026, 3, 5, 11, 33, tzinfo=UTC)
RULES = (
    "automation_failure",
    "fallback_volume",
    "credential_expiry",
    "reserve_breach",
    "source_stale",
    "notification_failing",
)


def transition(rule: str, key: str, event: Event, stage: str | None = None, **details: Any) -> Transition:
    return Transition(
        alert_id=1,
        history_id=1,
        key=key,
        rule=rule,
        action=Action.FIRED,
        event=event,
        stage=stage,
        severity="SEV-2",
        owner="payments-ops",
        summary=f"summary of {key}",
        details={"reasons": ["why"], **details},
        episode="pw-0123456789abcdef",
        at=AT,
        started_at=AT,
    )


def message(event: Event = Event.FIRING, stage: str | None = None) -> Message:
    settings = parse_settings({"web": {"base_url": "https://pw.example.com/"}})
    return render(
        transition(
            "credential_expiry", "credential_expiry:cert", event, stage, days_left=2, due_at="2026-03-07T00:00:00Z"
        ),
        settings,
    )


def channel(config: dict[str, Any], handler: Any) -> Any:
    settings = parse_settings({"channels": {"c": config}})
    return build_channel("c", settings.channels["c"], httpx.Client(transport=httpx.MockTransport(handler)))


@pytest.mark.parametrize(
    "rule,key,details",
    [
        ("automation_failure", "automation_failure:payouts:2026-03-05", {"cycle": "2026-03-05T11:00:00Z"}),
        ("fallback_volume", "fallback_volume", {"fallback_cents": 500000, "fallback_ratio": 0.07}),
        ("reserve_breach", "reserve_breach:st_a", {"balance_cents": 1, "threshold_cents": 2}),
        ("notification_failing", "notification_failing:pagerduty", {"channel": "pagerduty"}),
    ],
)
def test_a_message_names_its_own_rule_and_key_and_no_other_rule(rule: str, key: str, details: dict[str, Any]) -> None:
    text = json.dumps(render(transition(rule, key, Event.FIRING, **details), parse_settings({})).to_json())
    assert rule in text and key in text
    assert [r for r in RULES if r in text] == [rule]


def test_tags_for_every_event() -> None:
    assert message().tag == "[FIRING]"
    assert message(Event.REMINDER, "14d").tag == "[REMINDER 14d]"
    assert message(Event.ESCALATED, "3d").tag == "[ESCALATED]"
    assert message(Event.RESOLVED).tag == "[RESOLVED]"
    assert message().link == "https://pw.example.com/alerts/credential_expiry:cert"


def test_slack_bot_token_posts_to_chat_post_message_and_classifies_errors() -> None:
    seen: list[httpx.Request] = []
    answers = iter([{"ok": True}, {"ok": False, "error": "ratelimited"}, {"ok": False, "error": "channel_not_found"}])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=next(answers))

    slack = channel({"type": "slack", "bot_token": "xoxb-1", "channel": "#ops"}, handler)
    slack.send(message(Event.REMINDER, "7d"))
    body = json.loads(seen[0].content)
    assert seen[0].headers["Authorization"] == "Bearer xoxb-1"
    assert body["channel"] == "#ops" and body["text"].startswith("[REMINDER 7d]")
    assert body["blocks"][-1]["type"] == "context" and "credential_expiry:cert" in json.dumps(body["blocks"])
    with pytest.raises(DeliveryError) as transient:
        slack.send(message())
    assert not transient.value.permanent
    with pytest.raises(DeliveryError) as permanent:
        slack.send(message())
    assert permanent.value.permanent


def test_webhook_posts_the_whole_notification_with_its_headers() -> None:
    seen: list[httpx.Request] = []
    hook = channel(
        {"type": "webhook", "url": "http://hooks.test/pw", "headers": {"X-Token": "t0k"}},
        lambda r: seen.append(r) or httpx.Response(204),
    )
    hook.send(message(Event.ESCALATED, "3d"))
    body = json.loads(seen[0].content)
    assert seen[0].headers["X-Token"] == "t0k"
    assert (body["rule"], body["key"], body["event"], body["stage"], body["tag"]) == (
        "credential_expiry",
        "credential_expiry:cert",
        "escalated",
        "3d",
        "[ESCALATED]",
    )


def test_http_errors_are_classified() -> None:
    def answer(status: int, headers: dict[str, str] | None = None) -> Any:
        return channel(
            {"type": "pagerduty", "routing_key": "k", "events_url": "http://pd.test/"},
            lambda r: httpx.Response(status, headers=headers or {}),
        )

    with pytest.raises(DeliveryError) as e429:
        answer(429, {"Retry-After": "7"}).send(message())
    assert (e429.value.permanent, e429.value.retry_after) == (False, 7.0)
    for status, permanent in ((400, True), (403, True), (404, True), (408, False), (500, False), (503, False)):
        with pytest.raises(DeliveryError) as err:
            answer(status).send(message())
        assert err.value.permanent is permanent, status


def test_errors_never_show_the_url_or_its_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    slack = channel({"type": "slack", "webhook_url": "http://hooks.test/services/T0/B0/SECRET"}, refuse)
    with pytest.raises(DeliveryError) as err:
        slack.send(message())
    assert "SECRET" not in str(err.value) and "unreachable" in str(err.value)


def test_jira_cloud_uses_adf_and_the_jql_search() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"issues": []})
        return httpx.Response(201, json={"id": "1", "key": "PAY-1"})

    jira = channel(
        {
            "type": "jira",
            "base_url": "https://x.atlassian.net",
            "project": "PAY",
            "api_version": 3,
            "bearer_token": "pat",
        },
        handler,
    )
    jira.send(message(Event.ESCALATED, "3d"))
    search, create = seen
    assert search.url.path == "/rest/api/3/search/jql"
    assert 'labels = "pw-0123456789abcdef"' in search.url.params["jql"]
    fields = json.loads(create.content)["fields"]
    assert create.url.path == "/rest/api/3/issue" and fields["description"]["type"] == "doc"
    assert fields["labels"] == ["payoutwatch", "credential_expiry", "pw-0123456789abcdef"]
    assert create.headers["Authorization"] == "Bearer pat"


@pytest.mark.parametrize(
    "status,permanent", [(400, True), (404, True), (408, False), (409, False), (429, False), (500, False)]
)
def test_sources_classify_http_statuses_like_channels(status: int, permanent: bool) -> None:
    headers = {"Retry-After": "7"}
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(status, headers=headers)))
    with pytest.raises(SourceError) as from_source:
        get_json(client, "http://source.test/", "the source")
    with pytest.raises(DeliveryError) as from_channel:
        post_json(client, "http://channel.test/", {}, "the channel")
    for err in (from_source.value, from_channel.value):
        assert isinstance(err, IntegrationError)
        assert (err.permanent, err.retry_after) == (permanent, None if permanent else 7.0)


def test_reports_go_through_the_slack_and_webhook_channels() -> None:
    seen: list[tuple[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, json.loads(request.content)))
        return httpx.Response(200, json={"ok": True})

    report = Report(title="weekly", markdown="x" * 2999 + "<", html="<p>x</p>")  # 3,003 once escaped
    channel({"type": "slack", "bot_token": "xoxb-1", "channel": "#pay"}, record).send_report(report)
    channel({"type": "webhook", "url": "http://hook.test/"}, record).send_report(report)
    (_, slack), (_, hook) = seen
    assert slack["text"] == "weekly" and slack["channel"] == "#pay"
    assert [b["type"] for b in slack["blocks"]] == ["header", "section", "section"]
    assert "".join(b["text"]["text"] for b in slack["blocks"][1:]) == "x" * 2999 + "&lt;"
    assert hook == {"report": "weekly", "markdown": "x" * 2999 + "<"}
    with pytest.raises(DeliveryError, match="cannot carry reports") as refused:
        channel({"type": "pagerduty", "routing_key": "k"}, record).send_report(report)
    assert refused.value.permanent
