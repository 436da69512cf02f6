"""Issue 13's "done when": in the demo, an alert is acknowledged from a (simulated) Slack button and resolved
from a (simulated) PagerDuty webhook, both in the alert's history with the person.

Everything is real but Slack and PagerDuty themselves: the demo's alerts are delivered to a local Slack Web
API and a local PagerDuty Events API; the button pressed is the one in the posted message, and the
incident key PagerDuty sends back is the ``dedup_key`` payoutwatch triggered with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from payoutwatch.demo import run_demo
from payoutwatch.usecases import alert_queries
from payoutwatch.usecases.evaluation import deliver
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer
from tests.web.chatops import (  # noqa: F401 (slack_api is a fixture)
    SlackApiServer,
    click_body,
    pagerduty_event,
    pagerduty_headers,
    slack_api_fixture,
    slack_channel,
    slack_headers,
)

NOW = utc(2026, 11, 26, 14)  # the demo has failed payout runs then


@pytest.fixture
def pagerduty_events() -> Iterator[tuple[JsonServer, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    def route(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
        received.append(json.loads(body))
        return 202, {"status": "success", "message": "Event processed", "dedup_key": received[-1]["dedup_key"]}, {}

    server = JsonServer(route)
    yield server, received
    server.close()


def test_a_demo_alert_acknowledged_in_slack_and_resolved_in_pagerduty(
    store: Engine, slack_api: SlackApiServer, pagerduty_events: tuple[JsonServer, list[dict[str, Any]]]
) -> None:
    events_server, pagerduty_received = pagerduty_events
    settings = make_settings(
        channels={
            "slack-ops": slack_channel(slack_api, users={"U0ALICE": {"name": "alice", "role": "ops"}}),
            "pagerduty": {
                "type": "pagerduty",
                "routing_key": "R" * 32,
                "events_url": f"{events_server.url}/v2/enqueue",
                "webhook_secrets": ["ChPy3rOKfDY2PmBB5eFyXGY1Dtzdhy2K"],
            },
        },
        routes=[{"rule": "automation_failure", "channels": ["slack-ops", "pagerduty"]}],
    )
    run_demo(store, settings, now=NOW, studios=20)
    posted = next(m for m in slack_api.of("chat.postMessage") if m["text"].startswith("[FIRING]"))
    [buttons] = [b for b in posted["blocks"] if b["type"] == "actions"]
    ack = next(e for e in buttons["elements"] if e["action_id"] == "ack")
    key = ack["value"]
    assert key.startswith("automation_failure:")
    [trigger] = [e for e in pagerduty_received if e["dedup_key"] == key]
    assert trigger["event_action"] == "trigger"

    web = TestClient(create_app(settings, store, now=lambda: NOW))
    body = click_body("U0ALICE", ack["action_id"], key, text=posted["text"])
    assert web.post("/webhooks/slack", content=body, headers=slack_headers(body, NOW)).status_code == 200
    [update] = slack_api.of("chat.update")
    assert "Acknowledged by alice" in update["text"]

    delivery = pagerduty_event("01DEMORESOLVE", "incident.resolved", trigger["dedup_key"], agent="Bob Oncall")
    answer = web.post("/webhooks/pagerduty", content=delivery, headers=pagerduty_headers(delivery))
    assert answer.status_code == 200 and answer.json()["outcome"] == "applied"

    detail = alert_queries.alert_detail(store, key)
    assert detail is not None and detail.alert["state"] == "resolved"
    history = [(h.action, h.actor) for h in detail.history]
    assert ("acknowledged", "slack:alice") in history
    assert ("resolved_by_person", "pagerduty:Bob Oncall") in history
    with store.begin() as conn:
        token = create_token(conn, name="viewer", role=Role.VIEWER, actor="test", now=NOW)[1]
    page = web.get(f"/alerts/{quote(key, safe='')}", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "slack:alice" in page.text and "pagerduty:Bob Oncall" in page.text
    deliver(store, settings, now=lambda: NOW)  # the person's resolve goes to the channels that heard
    assert [e["event_action"] for e in pagerduty_received if e["dedup_key"] == key] == ["trigger", "resolve"]
    assert any(m["text"].startswith("[RESOLVED]") and key in m["text"] for m in slack_api.of("chat.postMessage"))
