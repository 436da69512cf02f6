"""What people look up about alerts (the CLI, the API and the pages call these), and the one JSON shape
of an alert, a silence and a notification.

- ``list_alerts``: open alerts (or resolved, or all), newest first, optionally by rule and owner.
- ``alert_detail``: an alert's latest episode with its history and its notifications.
- ``firing_by_rule``: how many alerts fire per rule (the pages' badge, ``/metrics``).
- ``list_silences`` / ``list_notifications``: the silences (active, or all) and the outbox rows.
- ``silencing``: which of some alerts an active silence mutes now, and by which silence.
- ``alerts_matching``: the firing alerts a silence's matcher would mute (the add-silence preview); matching
  is ``notify.silences.Matcher``'s, the one delivery uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from payoutwatch.clock import iso
from payoutwatch.notify import outbox, silences
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.vocabulary import AlertState


class AlertFilter(StrEnum):
    """Which alerts a listing shows."""

    FIRING = AlertState.FIRING.value
    RESOLVED = AlertState.RESOLVED.value
    ALL = "all"


@dataclass(frozen=True)
class AlertDetail:
    alert: dict[str, Any]  # alert_json of the latest episode
    history: list[Any]  # alert_history rows, oldest first
    notifications: list[Any]  # outbox rows of this episode, oldest first


def list_alerts(
    engine: Engine,
    *,
    which: AlertFilter = AlertFilter.FIRING,
    rule: str | None = None,
    owner: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts as ``alert_json``, newest first (by start, then id); ``limit`` None means every one."""
    q = select(alerts).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
    if which is not AlertFilter.ALL:
        q = q.where(alerts.c.state == which.value)
    if rule:
        q = q.where(alerts.c.rule == rule)
    if owner:
        q = q.where(alerts.c.owner == owner)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [alert_json(r) for r in conn.execute(q)]


def alert_detail(engine: Engine, key: str) -> AlertDetail | None:
    """The latest episode of ``key`` with its history and notifications; None when no alert has that key."""
    with engine.connect() as conn:
        row = conn.execute(
            select(alerts).where(alerts.c.key == key).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
        ).first()
        if row is None:
            return None
        history = conn.execute(
            select(alert_history).where(alert_history.c.alert_id == row.id).order_by(alert_history.c.id)
        ).all()
        sent = conn.execute(
            select(notifications).where(notifications.c.alert_id == row.id).order_by(notifications.c.id)
        ).all()
    return AlertDetail(alert_json(row), list(history), list(sent))


def firing_by_rule(conn: Connection) -> dict[str, int]:
    """How many alerts fire per rule; a rule with none firing is absent."""
    q = select(alerts.c.rule, func.count()).where(alerts.c.state == AlertState.FIRING.value).group_by(alerts.c.rule)
    return {rule: count for rule, count in conn.execute(q).all()}


def list_silences(engine: Engine, *, now: datetime, include_expired: bool = False) -> list[dict[str, Any]]:
    """Active silences at ``now`` (or every one) as ``silence_json``, oldest first."""
    with engine.connect() as conn:
        return [silence_json(r) for r in silences.list_silences(conn, now=now, include_expired=include_expired)]


def silencing(engine: Engine, rows: list[dict[str, Any]], *, now: datetime) -> dict[str, dict[str, Any]]:
    """For each of ``rows`` (``alert_json``) muted at ``now``, its key and the silence (``silence_json``) that
    mutes it: the one delivery would find (``ActiveSilences.covering``)."""
    with engine.connect() as conn:
        active = silences.list_silences(conn, now=now)
    by_id = {row.id: silence_json(row) for row in active}
    covering = silences.ActiveSilences(active).covering
    muted = {a["key"]: covering(rule=a["rule"], key=a["key"], owner=a["owner"], instants=[now]) for a in rows}
    return {key: by_id[silence_id] for key, silence_id in muted.items() if silence_id is not None}


def alerts_matching(engine: Engine, matcher: silences.Matcher) -> list[dict[str, Any]]:
    """The firing alerts (``alert_json``, newest first) a silence with ``matcher`` would mute; none for the
    empty matcher, which no silence may have."""
    if matcher == silences.Matcher():
        return []
    firing = list_alerts(engine, which=AlertFilter.FIRING)
    return [a for a in firing if matcher.matches(rule=a["rule"], key=a["key"], owner=a["owner"])]


def list_notifications(engine: Engine, *, failed_only: bool = False, limit: int = 200) -> list[dict[str, Any]]:
    """The most recent outbox rows (or only those that gave up) as ``notification_json``, newest first."""
    with engine.connect() as conn:
        return [notification_json(r) for r in outbox.list_notifications(conn, failed_only=failed_only, limit=limit)]


def alert_json(row: Any) -> dict[str, Any]:
    return {
        "key": row.key,
        "rule": row.rule,
        "state": row.state,
        "stage": row.stage,
        "severity": row.severity,
        "owner": row.owner,
        "summary": row.summary,
        "started_at": iso(row.started_at),
        "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by,
        "acked_by": row.acked_by,
        "acked_at": iso(row.acked_at),
        "episode": row.episode,
        "details": row.details,
    }


def silence_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "rule": row.rule,
        "key": row.key,
        "owner": row.owner,
        "starts_at": iso(row.starts_at),
        "ends_at": iso(row.ends_at),
        "author": row.author,
        "comment": row.comment,
    }


def notification_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "event": row.event,
        "rule": row.rule,
        "alert_key": row.alert_key,
        "state": row.state,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
    }
