"""PagerDuty webhooks v3 (mounted at ``/webhooks/pagerduty``): an incident acknowledged or resolved in
PagerDuty is acknowledged or resolved in payoutwatch, through the same use case as the web app.

Verification: ``X-PagerDuty-Signature`` holds one or more comma-separated ``v1=<hex>``, each the
HMAC-SHA256 of the raw body under one of the subscription's secrets (several during a roll); any match
under any configured secret (``channels.<name>.webhook_secrets``) passes. Refusals are audited like the
Stripe webhook's (``pagerduty_webhook_refused``, aggregated per cause and minute).

The payload (PagerDuty's documented v3 shape, developer-docs webhooks/01-Overview.md) is
``{"event": {"id", "event_type", "resource_type": "incident", "occurred_at", "agent": {"id", "summary",
"type": "user_reference", …}, "data": {"id", "type": "incident", "incident_key", "status", "title", …}}}``.
The alert key is ``event.data.incident_key``: the incident's de-duplication key, which is the
``dedup_key`` payoutwatch sent with the Events API v2 trigger (the alert key). The action is audited and
recorded in the alert's history as ``pagerduty:<event.agent.summary>`` (the PagerDuty user's name).

An event is applied once: its id is stored in ``webhook_events`` in the same transaction as the action,
so a redelivery does nothing. An event whose key names no firing alert (an unknown key, or an alert
already closed, e.g. the echo of payoutwatch's own resolve) is ignored and counted in the audit log
(``pagerduty_webhook_ignored``, target ``<channel>:unknown_key`` or ``<channel>:not_firing``, one row per
minute with a ``count``). Other event types are answered and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from payoutwatch.config import Settings
from payoutwatch.notify.channels.pagerduty import PagerDutyChannel
from payoutwatch.rules.engine import AlertNotFound
from payoutwatch.store.audit import audit_counted
from payoutwatch.store.tables import alerts, webhook_events
from payoutwatch.usecases.alert_actions import act_on_alert_in
from payoutwatch.usecases.webhook_signatures import SignatureError, hmac_hex, record_refusal, signed_by_any
from payoutwatch.vocabulary import AlertAction

HANDLED = {"incident.acknowledged": AlertAction.ACK, "incident.resolved": AlertAction.RESOLVE}


@dataclass(frozen=True)
class PagerDutyOutcome:
    event_id: str
    event_type: str
    key: str | None
    outcome: str  # "applied", "redelivery", "unknown_key", "not_firing", "no_incident_key" or "not_handled"


def sign(payload: bytes, secret: str) -> str:
    """The ``v1=`` signature PagerDuty sends for ``payload``."""
    return "v1=" + hmac_hex(secret, payload)


def verify(payload: bytes, header: str | None, secrets: list[str]) -> dict[str, Any]:
    """The event of a genuine delivery; raises ``SignatureError`` naming the failed check."""
    if not secrets:
        raise SignatureError("no webhook signing secret is configured for this channel", cause="no_secret")
    signatures = [part.strip()[3:] for part in (header or "").split(",") if part.strip().startswith("v1=")]
    if not signatures:
        raise SignatureError("the X-PagerDuty-Signature header has no v1 signature", cause="malformed_header")
    if not signed_by_any(payload, secrets, signatures):
        raise SignatureError("no v1 signature matches the signing secret", cause="bad_signature")
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SignatureError("the body is not JSON", cause="not_json") from None
    event = body.get("event") if isinstance(body, dict) else None
    if not isinstance(event, dict) or not event.get("id") or not event.get("event_type"):
        raise SignatureError("the body is not a PagerDuty v3 webhook event", cause="not_an_event")
    return event


def actor_of(event: dict[str, Any]) -> str:
    """``pagerduty:<agent summary>``: who acted in PagerDuty (a user's name; a service when it auto-resolved)."""
    agent = event.get("agent") or {}
    summary = str(agent.get("summary") or agent.get("id") or "unknown")
    return f"pagerduty:{summary}"[:100]  # the audit and history actor columns hold 100 characters


def handle(
    engine: Engine,
    settings: Settings,
    channel: str,
    payload: bytes,
    header: str | None,
    *,
    now: datetime,
    peer: str | None = None,
    audit_refusal: bool = True,
) -> PagerDutyOutcome:
    """Verify and apply one delivery; raises ``SignatureError`` (audited unless ``audit_refusal`` is false)."""
    config = settings.channels[channel]
    if not isinstance(config, PagerDutyChannel):
        raise ValueError(f"channel {channel!r} is not a pagerduty channel")
    try:
        event = verify(payload, header, [s.get_secret_value() for s in config.webhook_secrets])
    except SignatureError as exc:
        if audit_refusal:
            record_refusal(engine, "pagerduty", channel, exc, now=now, peer=peer, size=len(payload))
        raise
    event_id, event_type = str(event["id"]), str(event["event_type"])
    data = event.get("data") or {}
    key = data.get("incident_key") if isinstance(data, dict) else None
    action = HANDLED.get(event_type)
    if action is None:
        return PagerDutyOutcome(event_id, event_type, None, "not_handled")
    try:
        with engine.begin() as conn:
            if conn.execute(select(webhook_events.c.event_id).where(webhook_events.c.event_id == event_id)).first():
                return PagerDutyOutcome(event_id, event_type, key, "redelivery")
            outcome = _apply(conn, settings, channel, event, action, key if isinstance(key, str) else None, now=now)
            conn.execute(
                insert(webhook_events).values(
                    event_id=event_id,
                    source=channel,
                    type=event_type,
                    received_at=now,
                    records=int(outcome == "applied"),
                )
            )
    except IntegrityError:  # the same event delivered twice at once: the other delivery applied it
        return PagerDutyOutcome(event_id, event_type, key, "redelivery")
    return PagerDutyOutcome(event_id, event_type, key, outcome)


def _apply(
    conn: Connection,
    settings: Settings,
    channel: str,
    event: dict[str, Any],
    action: AlertAction,
    key: str | None,
    *,
    now: datetime,
) -> str:
    """Act on the alert ``key`` names; or count why not."""
    if key:
        try:
            act_on_alert_in(conn, settings, key, action, actor=actor_of(event), now=now, comment="from PagerDuty")
            return "applied"
        except AlertNotFound:
            known = conn.execute(select(alerts.c.id).where(alerts.c.key == key).limit(1)).first() is not None
            why = "not_firing" if known else "unknown_key"
    else:
        why = "no_incident_key"
    audit_counted(
        conn,
        actor=f"webhook:{channel}",
        action="pagerduty_webhook_ignored",
        target=f"{channel}:{why}",
        now=now,
        details={"event_type": str(event["event_type"]), "incident_key": (key or "")[:255]},
    )
    return why
