"""``POST /webhooks/slack``: Slack's signature (checked against slack_sdk's own verifier), the presser's
role deciding what a button may do (DESIGN §10, as on the API), the same use case, and the answer sent to
Slack's Web API (a local stand-in): ``chat.update`` in its documented shape, or ``chat.postEphemeral``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, select

from payoutwatch.notify.channels.slack import Slack, SlackChannel
from payoutwatch.notify.messages import Message
from payoutwatch.store.tables import alert_history, alerts, audit_log, silences
from payoutwatch.usecases import slack_actions
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.vocabulary import Role
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import failed_run, load, snapshot
from tests.web.chatops import (  # noqa: F401 (slack_api is a fixture)
    CHANNEL_ID,
    EMAIL_USER,
    OLD_SLACK_SECRET,
    SLACK_SECRET,
    SlackApiServer,
    click_body,
    press,
    slack_api_fixture,
    slack_channel,
    slack_headers,
)

NOW = utc(2026, 3, 5, 11, 30)
FINANCE_KEY = "reserve_breach:studio-low"
USERS = {f"U0{role.value.upper()}": role for role in Role if role not in (Role.INGEST, Role.METRICS)}
MAY_HANDLE_FINANCE = {Role.OPS, Role.ADMIN, Role.FINANCE}


@dataclass
class Workspace:
    client: TestClient
    store: Engine
    api: SlackApiServer


@pytest.fixture
def workspace(sqlite_store: Engine, slack_api: SlackApiServer) -> Iterator[Workspace]:
    users = {user: {"name": role.value + "-person", "role": role.value} for user, role in USERS.items()}
    settings = make_settings(
        channels={"slack-ops": slack_channel(slack_api, users=users, emails={"carol@example.com": "finance"})}
    )
    failed_run(sqlite_store, settings, NOW)
    load(
        sqlite_store,
        settings,
        "reserve_snapshots",
        [snapshot("studio-low", NOW - timedelta(hours=1), 100, 10_000)],
        NOW,
    )
    evaluate(sqlite_store, settings, at=NOW, now=NOW)
    yield Workspace(TestClient(create_app(settings, sqlite_store, now=lambda: NOW)), sqlite_store, slack_api)


def alert_row(store: Engine, key: str) -> dict[str, object]:
    with store.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.key == key).order_by(alerts.c.id.desc())).first()
    assert row is not None
    return dict(row._mapping)


def history_actors(store: Engine, key: str) -> list[tuple[str, str | None]]:
    with store.connect() as conn:
        rows = conn.execute(select(alert_history).where(alert_history.c.key == key).order_by(alert_history.c.id))
        return [(r.action, r.actor) for r in rows]


def silence_rows(store: Engine) -> list[dict[str, object]]:
    with store.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(silences))]


def test_requests_signed_as_slack_signs_them_pass_slack_sdks_verifier() -> None:
    body = click_body("U0OPS", "ack", FINANCE_KEY)
    headers = slack_headers(body, NOW)

    class FixedClock:
        def now(self) -> float:
            return NOW.timestamp()

    verifier = SignatureVerifier(SLACK_SECRET, clock=FixedClock())  # type: ignore[arg-type]
    assert verifier.is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])
    sdk_signature = verifier.generate_signature(timestamp=headers["X-Slack-Request-Timestamp"], body=body)
    assert sdk_signature == headers["X-Slack-Signature"]
    slack_actions.verify(body, headers["X-Slack-Request-Timestamp"], sdk_signature, [SLACK_SECRET], now=NOW)


def test_a_signature_made_by_slack_sdk_is_accepted_by_the_endpoint(workspace: Workspace) -> None:
    body = click_body("U0OPS", "ack", FINANCE_KEY)
    stamp = str(int(NOW.timestamp()))
    signature = SignatureVerifier(SLACK_SECRET).generate_signature(timestamp=stamp, body=body)
    answer = workspace.client.post(
        "/webhooks/slack",
        content=body,
        headers={"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature},
    )
    assert answer.status_code == 200
    assert alert_row(workspace.store, FINANCE_KEY)["acked_by"] == "slack:ops-person"


@pytest.mark.parametrize(
    ("shift", "secret", "cause"),
    [
        (timedelta(minutes=6), SLACK_SECRET, "stale"),
        (-timedelta(minutes=6), SLACK_SECRET, "stale"),
        (timedelta(0), "not-the-signing-secret", "bad_signature"),
    ],
)
def test_a_stale_timestamp_or_a_bad_signature_is_refused_audited_and_changes_nothing(
    workspace: Workspace, shift: timedelta, secret: str, cause: str
) -> None:
    body = click_body("U0OPS", "resolve", FINANCE_KEY)
    answer = workspace.client.post("/webhooks/slack", content=body, headers=slack_headers(body, NOW - shift, secret))
    assert answer.status_code == 400 and answer.json()["detail"].startswith("refused: ")
    assert alert_row(workspace.store, FINANCE_KEY)["state"] == "firing"
    assert workspace.api.calls == []
    with workspace.store.connect() as conn:
        [row] = conn.execute(select(audit_log).where(audit_log.c.action == "slack_webhook_refused")).all()
    assert row.target == f"slack-ops:{cause}" and row.actor == "webhook:slack-ops" and row.details["count"] == 1


def test_a_rolled_secret_still_verifies_while_both_are_configured(workspace: Workspace) -> None:
    body = click_body("U0OPS", "ack", FINANCE_KEY)
    answer = workspace.client.post("/webhooks/slack", content=body, headers=slack_headers(body, NOW, OLD_SLACK_SECRET))
    assert answer.status_code == 200
    assert alert_row(workspace.store, FINANCE_KEY)["acked_by"] == "slack:ops-person"


@pytest.mark.parametrize("action", ["ack", "resolve", "silence_4h"])
@pytest.mark.parametrize("role", sorted(USERS.values()))
def test_each_button_as_each_role(workspace: Workspace, role: Role, action: str) -> None:
    user = f"U0{role.value.upper()}"
    actor = f"slack:{role.value}-person"
    assert press(workspace.client, user, action, FINANCE_KEY, NOW) == 200
    alert = alert_row(workspace.store, FINANCE_KEY)
    if role not in MAY_HANDLE_FINANCE:
        [refusal] = workspace.api.of("chat.postEphemeral")
        assert refusal["channel"] == CHANNEL_ID and refusal["user"] == user
        assert refusal["text"].startswith("Not done: the ") and role.value in refusal["text"]
        assert workspace.api.of("chat.update") == []
        assert alert["state"] == "firing" and alert["acked_by"] is None
        assert silence_rows(workspace.store) == []
        assert all(actor != who for _, who in history_actors(workspace.store, FINANCE_KEY))
        return
    assert workspace.api.of("chat.postEphemeral") == []
    [update] = workspace.api.of("chat.update")
    assert set(update) == {"channel", "ts", "text", "blocks"}
    assert update["channel"] == CHANNEL_ID and update["ts"] == "1700000000.000100"
    note = update["blocks"][-1]
    assert note["type"] == "context" and f"by {role.value}-person" in note["elements"][0]["text"]
    assert f"by {role.value}-person" in update["text"]
    buttons_left = any(b.get("block_id") == "payoutwatch_actions" for b in update["blocks"])
    if action == "ack":
        assert alert["state"] == "firing" and alert["acked_by"] == actor
        assert ("acknowledged", actor) in history_actors(workspace.store, FINANCE_KEY)
        assert note["elements"][0]["text"].startswith("Acknowledged") and buttons_left
    elif action == "resolve":
        assert alert["state"] == "resolved" and alert["resolved_by"] == actor
        assert ("resolved_by_person", actor) in history_actors(workspace.store, FINANCE_KEY)
        assert note["elements"][0]["text"].startswith("Resolved") and not buttons_left
    else:
        [silence] = silence_rows(workspace.store)
        assert silence["key"] == FINANCE_KEY and silence["owner"] == "finance" and silence["author"] == actor
        assert silence["ends_at"] - silence["starts_at"] == timedelta(hours=4)  # type: ignore[operator]
        assert alert["state"] == "firing" and note["elements"][0]["text"].startswith("Silenced for 4 h")
    with workspace.store.connect() as conn:
        audited = conn.execute(select(audit_log.c.action).where(audit_log.c.actor == actor)).scalars().all()
    assert audited == [{"ack": "ack", "resolve": "resolve", "silence_4h": "silence_add"}[action]]


def test_a_team_role_is_refused_on_another_teams_alert(workspace: Workspace) -> None:
    key = "automation_failure:payouts:2026-03-05"
    assert alert_row(workspace.store, key)["owner"] != "finance"
    for action in ("ack", "silence_4h"):
        assert press(workspace.client, "U0FINANCE", action, key, NOW) == 200
    assert len(workspace.api.of("chat.postEphemeral")) == 2 and workspace.api.of("chat.update") == []
    assert alert_row(workspace.store, key)["acked_by"] is None and silence_rows(workspace.store) == []


def test_a_user_found_by_email_through_users_info_acts_as_that_person(workspace: Workspace) -> None:
    assert press(workspace.client, EMAIL_USER, "ack", FINANCE_KEY, NOW) == 200
    [(path, headers, _)] = [c for c in workspace.api.calls if c[0].startswith("/api/users.info")]
    assert path == f"/api/users.info?user={EMAIL_USER}" and headers["Authorization"] == "Bearer xoxb-test"
    assert alert_row(workspace.store, FINANCE_KEY)["acked_by"] == "slack:carol@example.com"


def test_an_unknown_user_gets_an_ephemeral_answer_and_nothing_changes(workspace: Workspace) -> None:
    assert press(workspace.client, "U0STRANGER", "resolve", FINANCE_KEY, NOW) == 200
    [refusal] = workspace.api.of("chat.postEphemeral")
    assert "does not know your Slack user" in refusal["text"] and refusal["user"] == "U0STRANGER"
    assert alert_row(workspace.store, FINANCE_KEY)["state"] == "firing"


def test_a_button_on_an_alert_already_resolved_says_so_ephemerally(workspace: Workspace) -> None:
    assert press(workspace.client, "U0OPS", "resolve", FINANCE_KEY, NOW) == 200
    assert press(workspace.client, "U0ADMIN", "ack", FINANCE_KEY, NOW) == 200
    [refusal] = workspace.api.of("chat.postEphemeral")
    assert "no firing alert" in refusal["text"] and refusal["user"] == "U0ADMIN"


def test_interactive_channels_post_the_three_buttons_with_the_alert_key(slack_api: SlackApiServer) -> None:
    settings = SlackChannel.model_validate(slack_channel(slack_api))
    message = Message(
        rule="reserve_breach", key=FINANCE_KEY, event="firing", stage=None, severity="SEV-2", owner="finance",
        title="Reserve below threshold", summary="studio-low is under its threshold",
    )  # fmt: skip
    with httpx.Client() as client:
        [actions] = [b for b in Slack("s", settings, client).payload(message)["blocks"] if b["type"] == "actions"]
        resolved = Slack("s", settings, client).payload(Message(**{**message.__dict__, "event": "resolved"}))
    assert [(e["action_id"], e["value"], e["text"]["text"]) for e in actions["elements"]] == [
        ("ack", FINANCE_KEY, "Acknowledge"),
        ("resolve", FINANCE_KEY, "Resolve"),
        ("silence_4h", FINANCE_KEY, "Silence 4 h"),
    ]
    assert all(b["type"] != "actions" for b in resolved["blocks"])
    with httpx.Client() as client:
        runbook = Message(**{**message.__dict__, "runbook_url": "https://wiki.example.com/reserves"})
        [actions] = [b for b in Slack("s", settings, client).payload(runbook)["blocks"] if b["type"] == "actions"]
    assert actions["elements"][-1]["url"] == "https://wiki.example.com/reserves"


def test_an_address_refused_too_often_gets_429_and_its_refusals_stop_being_audited(workspace: Workspace) -> None:
    body = click_body("U0OPS", "resolve", FINANCE_KEY)
    forged = slack_headers(body, NOW, "not-the-signing-secret")
    codes = [workspace.client.post("/webhooks/slack", content=body, headers=forged).status_code for _ in range(32)]
    assert codes[:30] == [400] * 30 and codes[30:] == [429, 429]
    with workspace.store.connect() as conn:
        [row] = conn.execute(select(audit_log).where(audit_log.c.action == "slack_webhook_refused")).all()
    assert row.details["count"] == 30
    assert workspace.client.post("/webhooks/slack", content=body, headers=slack_headers(body, NOW)).status_code == 200
    assert alert_row(workspace.store, FINANCE_KEY)["state"] == "resolved"  # a genuine click still passes
