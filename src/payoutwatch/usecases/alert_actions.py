"""People's actions on alerts (the CLI, the API and the pages call these): each one transaction, audited.

- ``act_on_alert``: acknowledge or resolve; a resolve is enqueued to the channels that heard about
  the episode, in the same transaction. Raises ``rules.engine.AlertNotFound``.
- ``add_silence`` / ``expire_silence``: one rule for a silence's window and comment (``SilenceRejected``,
  ``SilenceNotFound``); the audit row carries the matcher and the window.
- ``review_alert``: Finance's review mark on an alert's latest episode (``LookupError``).
- ``sign_off_cycle``: Finance's reconciliation sign-off of one cycle (``ValueError`` before its run finished
  or if already signed; ``cycle_run_finished`` says whether it may be signed yet).
  Its figures come from ``metrics.reconciliation``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from payoutwatch.clock import iso, to_utc
from payoutwatch.config import Settings
from payoutwatch.metrics.reconciliation import reconciliation
from payoutwatch.notify import silences
from payoutwatch.notify.outbox import enqueue
from payoutwatch.records import text_problem
from payoutwatch.rules.engine import acknowledge, resolve_by_person
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import alert_reviews, alerts, job_runs, reconciliation_signoffs
from payoutwatch.vocabulary import AlertAction

DEFAULT_SILENCE = timedelta(hours=2)
MAX_SILENCE = timedelta(days=90)
MAX_COMMENT_CHARS = 2000


class SilenceRejected(ValueError):
    """A silence that cannot be added; the message says which value is wrong and what is allowed."""


class SilenceNotFound(LookupError):
    """No active silence has that id."""


@dataclass(frozen=True)
class SilenceAdded:
    id: int
    starts_at: datetime
    ends_at: datetime


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
        act_on_alert_in(conn, settings, key, action, actor=actor, now=now, comment=comment)


def act_on_alert_in(
    conn: Connection,
    settings: Settings,
    key: str,
    action: AlertAction,
    *,
    actor: str,
    now: datetime,
    comment: str | None = None,
) -> None:
    """``act_on_alert`` in the caller's transaction (a webhook records its event id in the same one)."""
    if action is AlertAction.ACK:
        acknowledge(conn, key, actor=actor, at=now, now=now, comment=comment)
    else:
        transition = resolve_by_person(conn, key, actor=actor, at=now, now=now, comment=comment)
        enqueue(conn, [transition], settings, now=now)
    audit(conn, actor=actor, action=action.value, target=key, now=now, details={"comment": comment})


def silence_length(*, hours: float | None = None, duration: str | None = None) -> timedelta:
    """How long a silence lasts: ``duration`` such as ``90m`` or ``1h30m``, else ``hours``, else 2 hours.

    The length is checked (more than zero, at most 90 days) by ``add_silence``.
    """
    if duration is not None:
        try:
            return silences.parse_duration(duration)
        except ValueError as exc:
            raise SilenceRejected(str(exc)) from None
    if hours is None:
        return DEFAULT_SILENCE
    if not math.isfinite(hours) or hours <= 0 or hours > MAX_SILENCE / timedelta(hours=1):
        raise SilenceRejected(f"hours {hours!r}: a silence lasts more than 0 and at most {_max_hours()} hours")
    return timedelta(hours=hours)


def add_silence(
    engine: Engine,
    matcher: silences.Matcher,
    *,
    comment: str,
    author: str,
    now: datetime,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    length: timedelta = DEFAULT_SILENCE,
) -> SilenceAdded:
    """Add a silence from ``starts_at`` (default now) to ``ends_at`` (default start + ``length``), audited.

    One rule for every front-end: at least one matcher, a comment of 1-2000 characters, instants
    with an offset, and a window longer than zero and at most 90 days. Raises ``SilenceRejected``.
    """
    if matcher.rule is not None:
        _known_rule(matcher.rule)
    for name, value, limit in (("rule", matcher.rule, 60), ("key", matcher.key, 300), ("owner", matcher.owner, 200)):
        problem = None if value is None else text_problem(value, limit)
        if value is not None and problem is not None:
            raise SilenceRejected(f"the silence's {name} {value[:40]!r} {problem}")
    if "\x00" in comment:
        raise SilenceRejected("the comment contains a NUL character")
    if not comment.strip():
        raise SilenceRejected("a silence needs a comment saying why")
    if len(comment) > MAX_COMMENT_CHARS:
        raise SilenceRejected(f"the comment is {len(comment)} characters; at most {MAX_COMMENT_CHARS}")
    try:
        begins = to_utc(starts_at) if starts_at is not None else now
        ends = to_utc(ends_at) if ends_at is not None else begins + length
    except ValueError as exc:
        raise SilenceRejected(f"a silence's start and end need a UTC offset ({exc})") from None
    except OverflowError:
        raise SilenceRejected("a silence must end before the year 10000") from None
    if ends <= begins:
        raise SilenceRejected("a silence must end after it starts")
    if ends - begins > MAX_SILENCE:
        raise SilenceRejected(f"a silence lasts at most {MAX_SILENCE.days} days ({_max_hours()} hours)")
    try:
        with engine.begin() as conn:
            silence_id = silences.add_silence(
                conn, matcher, starts_at=begins, ends_at=ends, author=author, comment=comment, now=now
            )
            audit(
                conn,
                actor=author,
                action="silence_add",
                target=str(silence_id),
                now=now,
                details={
                    "rule": matcher.rule,
                    "key": matcher.key,
                    "owner": matcher.owner,
                    "starts_at": iso(begins),
                    "ends_at": iso(ends),
                },
            )
    except ValueError as exc:  # no matcher
        raise SilenceRejected(str(exc)) from None
    return SilenceAdded(silence_id, begins, ends)


def _known_rule(rule_id: str) -> None:
    """A silence whose rule (a name or a glob) matches no rule would silence nothing: refused, with the
    likely one."""
    from fnmatch import fnmatchcase

    from payoutwatch.config_checks import suggestion
    from payoutwatch.rules.registry import rules

    known = [rule.id.value for rule in rules()]
    if not any(fnmatchcase(name, rule_id) for name in known):
        raise SilenceRejected(f"unknown rule {rule_id!r}{suggestion(rule_id, known)}; rules: {', '.join(known)}")


def expire_silence(engine: Engine, silence_id: int, *, actor: str, now: datetime) -> None:
    """End an active silence now, audited; raises ``SilenceNotFound`` when none is active with that id."""
    with engine.begin() as conn:
        if not silences.expire_silence(conn, silence_id, now=now):
            raise SilenceNotFound(f"no active silence {silence_id}")
        audit(conn, actor=actor, action="silence_expire", target=str(silence_id), now=now)


def review_alert(engine: Engine, key: str, *, actor: str, now: datetime, note: str | None) -> int:
    """Mark the latest episode of ``key`` reviewed, audited; returns its alert id (``LookupError`` if none)."""
    with engine.begin() as conn:
        alert_id = _mark_reviewed(conn, key, actor=actor, now=now, note=note)
        audit(conn, actor=actor, action="review", target=key, now=now, details={"alert_id": alert_id, "note": note})
    return alert_id


def sign_off_cycle(
    engine: Engine, settings: Settings, cycle: datetime, *, actor: str, now: datetime, comment: str | None
) -> dict[str, Any]:
    """Record Finance's sign-off of ``cycle`` with the figures signed, audited; returns those figures.

    Raises ``ValueError`` when the cycle's payout run has not finished yet (nothing is written, so the
    real sign-off stays possible) or when the cycle was already signed off.
    """
    with engine.begin() as conn:
        if not cycle_run_finished(conn, settings.schedule.job, cycle, now=now):
            raise ValueError(
                f"cycle {iso(cycle)} cannot be signed off yet: no {settings.schedule.job} run of that cycle has "
                "finished. Sign off once its payout run has finished and its transfers are in"
            )
        figures = reconciliation(conn, cycle, settings)
        if figures["signed_off"] is not None:
            raise ValueError(f"cycle {iso(cycle)} was already signed off by {figures['signed_off']['by']}")
        conn.execute(
            insert(reconciliation_signoffs).values(
                cycle=cycle,
                signed_by=actor,
                signed_at=now,
                comment=comment,
                totals={"totals": figures["totals"], "difference_cents": figures["difference_cents"]},
            )
        )
        audit(
            conn,
            actor=actor,
            action="reconciliation_sign_off",
            target=iso(cycle),
            now=now,
            details={"difference_cents": figures["difference_cents"]},
        )
    return figures


def cycle_run_finished(conn: Connection, job: str, cycle: datetime, *, now: datetime) -> bool:
    """Whether a run of ``job`` serving ``cycle`` has finished (at or before now)."""
    r = job_runs.c
    finished = select(r.run_id).where(
        r.job == job, r.cycle_at == cycle, r.finished_at.is_not(None), r.finished_at <= now
    )
    return conn.execute(finished.limit(1)).first() is not None


def _mark_reviewed(conn: Connection, key: str, *, actor: str, now: datetime, note: str | None) -> int:
    """Mark the latest episode of ``key`` reviewed (again, if it already was); returns its alert id."""
    alert_id = conn.execute(
        select(alerts.c.id).where(alerts.c.key == key).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
    ).scalar()
    if alert_id is None:
        raise LookupError(f"no alert with key {key!r}")
    values = {"reviewed_by": actor, "reviewed_at": now, "note": note}
    if conn.execute(select(alert_reviews.c.alert_id).where(alert_reviews.c.alert_id == alert_id)).first():
        conn.execute(update(alert_reviews).where(alert_reviews.c.alert_id == alert_id).values(**values))
    else:
        conn.execute(insert(alert_reviews).values(alert_id=alert_id, **values))
    return int(alert_id)


def _max_hours() -> int:
    return int(MAX_SILENCE / timedelta(hours=1))
