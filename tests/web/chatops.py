"""Shared by the Slack and PagerDuty webhook tests: a local Slack Web API, and requests signed and shaped
as Slack and PagerDuty send them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from payoutwatch.usecases import pagerduty_webhook, slack_actions
from tests.integration.jsonserver import JsonServer

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OLD_SLACK_SECRET = "0ld5ecret0ld5ecret0ld5ecret0ld5e"
PAGERDUTY_SECRET = "ChPy3rOKfDY2PmBB5eFyXGY1Dtzdhy2K"
CHANNEL_ID = "C0PAYOUTS"
EMAIL_USER = "U0EMAIL"


@dataclass
class SlackApiServer:
    """A stand-in for ``https://slack.com/api``: records every call, answers ``ok`` (``users.info`` with an
    e-mail for ``EMAIL_USER``)."""

    server: JsonServer
    calls: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def of(self, method: str) -> list[Any]:
        return [body for path, _, body in self.calls if path.split("?")[0] == f"/api/{method}"]


@pytest.fixture(name="slack_api")
def slack_api_fixture() -> Iterator[SlackApiServer]:
    holder: list[SlackApiServer] = []

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        holder[0].calls.append((path, headers, json.loads(body) if body else None))
        if path.startswith("/api/users.info"):
            user = path.split("user=")[1]
            email = "Carol@Example.com" if user == EMAIL_USER else None
            return 200, {"ok": True, "user": {"id": user, "name": "carol", "profile": {"email": email}}}, {}
        return 200, {"ok": True, "channel": CHANNEL_ID, "ts": "1700000000.000100"}, {}

    holder.append(SlackApiServer(JsonServer(route)))
    yield holder[0]
    holder[0].server.close()


def slack_channel(api: SlackApiServer, **extra: Any) -> dict[str, Any]:
    return {
        "type": "slack",
        "bot_token": "xoxb-test",
        "channel": CHANNEL_ID,
        "api_url": f"{api.server.url}/api/chat.postMessage",
        "signing_secrets": [OLD_SLACK_SECRET, SLACK_SECRET],
        **extra,
    }


def click_body(user: str, action: str, key: str, *, text: str = "[FIRING] an alert") -> bytes:
    """A ``block_actions`` interaction as Slack posts it: form-encoded, the JSON in ``payload``."""
    blocks = [
        {"type": "section", "block_id": "a1", "text": {"type": "mrkdwn", "text": "*[FIRING] an alert*"}},
        {"type": "actions", "block_id": "payoutwatch_actions", "elements": []},
    ]
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEAM", "domain": "studio"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0TEAM"},
        "api_app_id": "A0APP",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL_ID},
        "trigger_id": "123.456.abc",
        "channel": {"id": CHANNEL_ID, "name": "payouts"},
        "message": {"type": "message", "ts": "1700000000.000100", "text": text, "blocks": blocks},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "payoutwatch_actions",
                "value": key,
                "action_ts": "1700000001.000200",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_headers(body: bytes, at: datetime, secret: str = SLACK_SECRET) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": slack_actions.sign(body, secret, stamp),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def press(client: TestClient, user: str, action: str, key: str, at: datetime) -> int:
    body = click_body(user, action, key)
    return client.post("/webhooks/slack", content=body, headers=slack_headers(body, at)).status_code


def pagerduty_event(event_id: str, event_type: str, key: str | None, *, agent: str = "Dana Oncall") -> bytes:
    """A v3 webhook delivery in PagerDuty's documented shape (event, agent user reference, incident data)."""
    incident: dict[str, Any] = {
        "id": "Q1Z2X3C4V5B6N7",
        "type": "incident",
        "self": "https://api.pagerduty.com/incidents/Q1Z2X3C4V5B6N7",
        "html_url": "https://studio.pagerduty.com/incidents/Q1Z2X3C4V5B6N7",
        "number": 42,
        "status": event_type.split(".")[1],
        "title": "[FIRING] payout run failed",
        "service": {"id": "PSVC01", "type": "service_reference", "summary": "payoutwatch"},
        "urgency": "high",
        "created_at": "2026-03-05T11:05:00Z",
    }
    if key is not None:
        incident["incident_key"] = key
    event = {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-03-05T11:30:00.000Z",
            "agent": {
                "html_url": "https://studio.pagerduty.com/users/PUSER01",
                "id": "PUSER01",
                "self": "https://api.pagerduty.com/users/PUSER01",
                "summary": agent,
                "type": "user_reference",
            },
            "client": None,
            "data": incident,
        }
    }
    return json.dumps(event).encode()


def pagerduty_headers(body: bytes, *secrets: str) -> dict[str, str]:
    """``X-PagerDuty-Signature`` with one ``v1=`` per secret (PagerDuty sends several while rolling)."""
    signature = ",".join(pagerduty_webhook.sign(body, s) for s in (secrets or (PAGERDUTY_SECRET,)))
    return {"X-PagerDuty-Signature": signature, "Content-Type": "application/json"}
