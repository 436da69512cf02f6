"""People's actions on an alert (CLI, API and pages share this): acknowledge or resolve, audited.

A resolve is enqueued to the channels that heard about the episode, in the same transaction.
Raises ``rules.engine.AlertNotFound`` when no alert with that key is firing.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.notify.outbox import enqueue
from payoutwatch.rules.engine import acknowledge, resolve_by_person
from payoutwatch.store.audit import audit


class AlertAction(StrEnum):
    ACK = "ack"
    RESOLVE = "resolve"


def act_on_alert(
    engine: Engine,
    settings: Settings,
    key: str,
    action: AlertAction,
    *,
    actor: str,
    now: datetime,
    comment: str | None = None,
) -> None:
    with engine.begin() as conn:
        if action is AlertAction.ACK:
            acknowledge(conn, key, actor=actor, at=now, now=now, comment=comment)
        else:
            transition = resolve_by_person(conn, key, actor=actor, at=now, now=now, comment=comment)
            enqueue(conn, [transition], settings, now=now)
        audit(conn, actor=actor, action=action.value, target=key, now=now, details={"comment": comment})
