"""The persistent outbox: a notification is a row before it is a request.

``enqueue`` writes one row per (transition, channel) in the caller's transaction. ``deliver_due``
sends due rows one at a time, in order per alert and channel, with exponential backoff and jitter,
honouring ``Retry-After``; permanent errors fail at once; ``max_attempts`` / ``max_age`` bound the
retries.

A row is claimed before it is sent, as healthchecks does: a conditional update sets ``claimed_by`` /
``claimed_until`` only while the row is still pending and unclaimed (or its claim expired), and is
committed before the send (the candidate is picked ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
writers are serialised by ``BEGIN IMMEDIATE``). So two deliverers on one store never send the same
row; the result is recorded in a second transaction, which releases the claim. A process killed
between send and record leaves a claim that expires after ``CLAIM_SECONDS``; the row is then sent
again, which PagerDuty (dedup key) and Jira (label search) absorb.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import aliased

from payoutwatch.clock import parse_instant
from payoutwatch.config import Settings
from payoutwatch.loop_errors import LOOP_ERRORS, LoopPart
from payoutwatch.notify.channels import Channel, DeliveryError, build_channel
from payoutwatch.notify.messages import Message, render
from payoutwatch.notify.routing import channels_for
from payoutwatch.notify.silences import ActiveSilences
from payoutwatch.redaction import scrub, secret_values
from payoutwatch.rules.registry import rule_named
from payoutwatch.store.tables import channel_health, notifications
from payoutwatch.vocabulary import Event, NotificationState, Transition

logger = logging.getLogger("payoutwatch.outbox")
CLAIM_SECONDS = 300  # longer than any one send (each channel's requests time out well before)


def _resolved_channels(conn: Connection, alert_id: int) -> list[str]:
    """A ``resolved`` goes where the episode's earlier notifications went (not where they were silenced)."""
    n = notifications.c
    rows = conn.execute(
        select(n.channel)
        .where(
            n.alert_id == alert_id,
            n.event != Event.RESOLVED.value,
            n.state != NotificationState.SUPPRESSED.value,
        )
        .group_by(n.channel)
        .order_by(func.min(n.id))
    )
    return [c for (c,) in rows]


def targets(conn: Connection, transition: Transition, settings: Settings) -> list[str]:
    if transition.event is None:
        return []
    if transition.event == Event.RESOLVED:
        return _resolved_channels(conn, transition.alert_id)
    routed = channels_for(
        settings,
        rule=transition.rule,
        stage=transition.stage,
        key=transition.key,
        owner=transition.owner,
        severity=transition.severity,
    )
    rule = rule_named(transition.rule)
    return routed if rule is None else rule.targets(transition, routed, settings)


def enqueue(conn: Connection, transitions: list[Transition], settings: Settings, *, now: datetime) -> int:
    """Write the outbox rows of these transitions; returns how many are to be sent."""
    rows: list[dict[str, Any]] = []
    active = ActiveSilences.load(conn)
    for transition in transitions:
        channels = targets(conn, transition, settings)
        if not channels:
            continue
        message = render(transition, settings).to_json()
        silence = active.covering(
            rule=transition.rule, key=transition.key, owner=transition.owner, instants=[transition.at, now]
        )
        state = NotificationState.SUPPRESSED if silence is not None else NotificationState.PENDING
        rows += [
            {
                "alert_id": transition.alert_id,
                "history_id": transition.history_id,
                "channel": channel,
                "event": transition.event.value if transition.event else "",
                "rule": transition.rule,
                "alert_key": transition.key,
                "state": state.value,
                "attempts": 0,
                "next_attempt_at": now,
                "message": message,
                "created_at": now,
                "silence_id": silence,
            }
            for channel in channels
        ]
    if rows:
        conn.execute(insert(notifications), rows)
    return sum(r["state"] == NotificationState.PENDING.value for r in rows)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    retrying: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)
    gave_up: list[str] = field(default_factory=list)  # rows that failed for good in this call

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.retrying += other.retrying
        self.suppressed += other.suppressed
        self.errors += other.errors
        self.gave_up += other.gave_up


def backoff_seconds(attempts: int, settings: Settings, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with jitter: base × 2^(attempts−1), capped, scaled by [0.5, 1.0)."""
    n = settings.notifications
    raw = min(n.backoff_max_seconds, n.backoff_base_seconds * 2 ** max(0, attempts - 1))
    return float(raw * (0.5 + rng() / 2))


def _next_due(conn: Connection, *, now: datetime, retry_now: bool, skip: set[int]) -> Any:
    n = notifications.c
    earlier = aliased(notifications)
    blocked_by_earlier = exists().where(
        and_(
            earlier.c.alert_id == n.alert_id,
            earlier.c.channel == n.channel,
            earlier.c.state == NotificationState.PENDING.value,
            earlier.c.id < n.id,
        )
    )
    q = select(notifications).where(n.state == NotificationState.PENDING.value, _unclaimed(now), ~blocked_by_earlier)
    if not retry_now:
        q = q.where(n.next_attempt_at <= now)
    if skip:
        q = q.where(n.id.not_in(skip))
    q = q.order_by(n.id).limit(1)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=True, of=notifications)
    return conn.execute(q).first()


def _unclaimed(now: datetime) -> Any:
    n = notifications.c
    return or_(n.claimed_until.is_(None), n.claimed_until < now)


def deliverer_id() -> str:
    """Who holds a claim: host, process and thread (several deliverers may share a process in tests)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:200]


def claim_next(
    engine: Engine, *, now: datetime, retry_now: bool, skip: set[int], claimant: str, report: DeliveryReport
) -> Any:
    """The next due row, claimed for ``claimant`` and committed; ``None`` when nothing is due.

    The claim is a conditional update (still pending, no live claim): a row another deliverer claimed
    between the pick and the update is skipped, never sent twice. A row a silence now covers is
    suppressed instead (DESIGN §6: silences are checked again before each send)."""
    n = notifications.c
    while True:
        with engine.begin() as conn:
            row = _next_due(conn, now=now, retry_now=retry_now, skip=skip)
            if row is None:
                return None
            silence = _silenced_now(conn, row, now=now)
            if silence is not None:  # a silence that started while the row waited
                suppressed = conn.execute(
                    update(notifications)
                    .where(n.id == row.id, n.state == NotificationState.PENDING.value, _unclaimed(now))
                    .values(state=NotificationState.SUPPRESSED.value, silence_id=silence)
                ).rowcount
                report.suppressed += suppressed
                skip.add(row.id)
                continue
            claimed = conn.execute(
                update(notifications)
                .where(n.id == row.id, n.state == NotificationState.PENDING.value, _unclaimed(now))
                .values(claimed_by=claimant, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
            ).rowcount
        if claimed == 1:
            return row
        skip.add(row.id)


def deliver_due(
    engine: Engine,
    settings: Settings,
    *,
    now: Callable[[], datetime],
    retry_now: bool = False,
    client: httpx.Client | None = None,
    limit: int = 1000,
) -> DeliveryReport:
    """Send every due pending notification once; rows that fail transiently wait for their backoff."""
    report = DeliveryReport()
    attempted: set[int] = set()
    own_client = client is None
    http = client or httpx.Client(follow_redirects=False)
    channels: dict[str, Channel] = {}
    claimant = deliverer_id()
    try:
        for _ in range(limit):
            row = claim_next(engine, now=now(), retry_now=retry_now, skip=attempted, claimant=claimant, report=report)
            if row is None:
                break
            attempted.add(row.id)
            error, made = _send(row, settings, channels, http, earlier_ref=_earlier_ref(engine, row))
            with engine.begin() as conn:
                _record_attempt(conn, row, error, settings, now=now(), report=report, made=made)
    finally:
        if own_client:
            http.close()
    return report


def _send(
    row: Any, settings: Settings, channels: dict[str, Channel], http: httpx.Client, *, earlier_ref: str | None
) -> tuple[DeliveryError | None, str | None]:
    """Send one claimed row (outside any transaction): the error to record (``None`` once sent) and what
    the channel made (Jira: the ticket key), handed to the episode's later messages as ``remote_ref``.

    Whatever a channel raises is that row's failure: it is recorded on the row (and counts toward
    ``notification_failing``) and the other rows are still delivered."""
    try:
        if row.channel not in channels:
            channels[row.channel] = build_channel(row.channel, settings.channel(row.channel), http)
        made = channels[row.channel].send(replace(Message.from_json(row.message), remote_ref=earlier_ref))
    except KeyError:
        return DeliveryError(f"no channel named {row.channel!r} in the config", permanent=True), None
    except DeliveryError as exc:
        return exc, None
    except Exception as exc:
        logger.exception("channel %s raised an unexpected error sending notification %s", row.channel, row.id)
        LOOP_ERRORS.count(LoopPart.CHANNEL)
        return DeliveryError(f"unexpected error in the channel ({type(exc).__name__}): {exc}"), None
    return None, made if isinstance(made, str) else None


def _earlier_ref(engine: Engine, row: Any) -> str | None:
    """What this channel made for an earlier message of the episode (Jira: its ticket key), if anything."""
    n = notifications.c
    with engine.connect() as conn:
        return conn.execute(
            select(n.remote_ref)
            .where(n.alert_id == row.alert_id, n.channel == row.channel, n.id < row.id, n.remote_ref.is_not(None))
            .order_by(n.id.desc())
            .limit(1)
        ).scalar()


def _record_attempt(
    conn: Connection,
    row: Any,
    error: DeliveryError | None,
    settings: Settings,
    *,
    now: datetime,
    report: DeliveryReport,
    made: str | None = None,
) -> None:
    """Record the outcome of one send (with what the channel made) and release the row's claim."""
    n = notifications.c
    attempts = row.attempts + 1
    released = {"claimed_by": None, "claimed_until": None}
    if error is None:
        conn.execute(
            update(notifications)
            .where(n.id == row.id)
            .values(
                state=NotificationState.SENT.value,
                attempts=attempts,
                sent_at=now,
                last_error=None,
                remote_ref=made,
                **released,
            )
        )
        _channel_result(conn, row.channel, now=now, error=None)
        report.sent += 1
        return
    too_old = now - row.created_at > timedelta(hours=settings.notifications.max_age_hours)
    give_up = error.permanent or attempts >= settings.notifications.max_attempts or too_old
    shown = scrub(str(error), secret_values(settings))  # a remote answer may echo a token it was sent
    values: dict[str, Any] = {"attempts": attempts, "last_error": shown[:1000], **released}
    if give_up:
        values["state"] = NotificationState.FAILED.value
        report.failed += 1
        report.gave_up.append(f"notification {row.id} ({row.event} {row.alert_key}) to {row.channel}: {shown}")
    else:
        wait = error.retry_after if error.retry_after is not None else backoff_seconds(attempts, settings)
        values["next_attempt_at"] = now + timedelta(seconds=wait)
        report.retrying += 1
    conn.execute(update(notifications).where(n.id == row.id).values(**values))
    _channel_result(conn, row.channel, now=now, error=shown)
    report.errors.append(f"notification {row.id} to {row.channel}: {shown}")


def _silenced_now(conn: Connection, row: Any, *, now: datetime) -> int | None:
    """The silence covering this row at its evaluated instant or now, as at enqueueing (None if none)."""
    message = Message.from_json(row.message)
    instants = [now] + ([parse_instant(message.at)] if message.at else [])
    return ActiveSilences.load(conn).covering(rule=row.rule, key=row.alert_key, owner=message.owner, instants=instants)


def _channel_result(conn: Connection, channel: str, *, now: datetime, error: str | None) -> None:
    h = channel_health.c
    first = (postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert)(channel_health)
    # deliverers recording the same channel's first result at once: the second finds the row
    conn.execute(first.values(channel=channel, consecutive_failures=0).on_conflict_do_nothing())
    current = conn.execute(select(channel_health).where(h.channel == channel).with_for_update()).one()
    failures = current.consecutive_failures
    if error is None:
        values: dict[str, Any] = {"consecutive_failures": 0, "last_attempt_at": now, "last_success_at": now}
    else:
        values = {"consecutive_failures": failures + 1, "last_attempt_at": now, "last_error": error[:1000]}
    conn.execute(update(channel_health).where(h.channel == channel).values(**values))


def list_notifications(conn: Connection, *, failed_only: bool = False, limit: int = 200) -> list[Any]:
    n = notifications.c
    q = select(notifications).order_by(n.id.desc()).limit(limit)
    if failed_only:
        q = q.where(n.state == NotificationState.FAILED.value)
    return list(conn.execute(q))
