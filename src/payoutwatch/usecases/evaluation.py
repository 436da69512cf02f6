"""The evaluation use case: figures -> findings -> transitions -> outbox, in one transaction.

Alert state only moves forward (DESIGN §7): every evaluation records its instant in
``evaluation_marks``; an explicit instant earlier than the latest one recorded, or more than
``FUTURE_TOLERANCE`` after the clock (unless allowed), is refused before anything is written.
The loop evaluates at the clock and is not guarded, but records its instant too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Connection, Engine, case, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.notify.outbox import DeliveryReport, deliver_due, enqueue
from payoutwatch.rules.engine import apply_findings
from payoutwatch.rules.registry import Checked, checked
from payoutwatch.store.engine import alert_writers_in_turn
from payoutwatch.store.tables import evaluation_marks
from payoutwatch.usecases.ingestion import collector_paused
from payoutwatch.vocabulary import Finding, RuleId, Transition


def evaluated_rules(when: Checked = Checked.AT_INSTANT) -> set[RuleId]:
    """The ids of the registered rules checked ``when``: their alerts are the ones an evaluation may change."""
    return {rule.id for rule in checked(when)}


def findings_at(
    conn: Connection, at: datetime, settings: Settings, when: Checked = Checked.AT_INSTANT
) -> list[Finding]:
    """Every rule's findings at ``at``, in registry order (pure: reads the store, sends nothing)."""
    return [finding for rule in checked(when) for finding in rule.findings_at(conn, at, settings)]


FUTURE_TOLERANCE = timedelta(minutes=5)
ALERTS_MARK = "alerts"


class EvaluationRefused(ValueError):
    """An explicit instant the alert state may not move to; nothing was evaluated or written."""


def latest_evaluated(conn: Connection) -> datetime | None:
    """The latest instant the rules were evaluated at (None before the first evaluation)."""
    query = select(evaluation_marks.c.latest_at).where(evaluation_marks.c.name == ALERTS_MARK)
    value: datetime | None = conn.execute(query).scalar()
    return value


def last_completed_evaluation(conn: Connection) -> datetime | None:
    """The clock when the last evaluation (by any process on the store) completed; None before the first."""
    query = select(evaluation_marks.c.recorded_at).where(evaluation_marks.c.name == ALERTS_MARK)
    value: datetime | None = conn.execute(query).scalar()
    return value


def check_instant(conn: Connection, at: datetime, *, now: datetime, allow_future: bool = False) -> None:
    """Refuse an explicit ``at`` earlier than the latest instant evaluated, or too far after the clock."""
    latest = latest_evaluated(conn)
    if latest is not None and at < latest:
        raise EvaluationRefused(
            f"alert state was already evaluated at {iso(latest)}; evaluating the earlier {iso(at)} would "
            "resolve live alerts and page them again. Nothing was changed. To look at the past, use "
            f"`payoutwatch dashboard NAME --at {iso(at)}` or `payoutwatch backtest --from A --to B`"
        )
    if not allow_future and at > now + FUTURE_TOLERANCE:
        minutes = int(FUTURE_TOLERANCE.total_seconds() // 60)
        raise EvaluationRefused(
            f"{iso(at)} is more than {minutes} minutes after the clock ({iso(now)}); nothing was changed. "
            "Give --allow-future to evaluate ahead of time (rehearsal stores and tests only)"
        )


def _record_instant(conn: Connection, at: datetime, *, now: datetime) -> None:
    """Keep the latest instant evaluated (the later of the stored one and ``at``), in one statement."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(evaluation_marks).values(name=ALERTS_MARK, latest_at=at, recorded_at=now)
    later = case(
        (evaluation_marks.c.latest_at < stmt.excluded.latest_at, stmt.excluded.latest_at),
        else_=evaluation_marks.c.latest_at,
    )
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"latest_at": later, "recorded_at": now}))


def evaluate(
    engine: Engine,
    settings: Settings,
    *,
    at: datetime,
    now: datetime,
    guarded: bool = False,
    allow_future: bool = False,
) -> list[Transition]:
    """Evaluate every rule at ``at`` and record transitions, their outbox rows and the instant atomically.

    ``guarded`` (an instant a person chose) applies ``check_instant`` first: ``EvaluationRefused``
    leaves the store as it was.
    """
    # tens of thousands of short-lived rows, findings and details at scale: no collections over the whole heap
    with collector_paused(), engine.begin() as conn:
        alert_writers_in_turn(conn)
        if guarded:
            check_instant(conn, at, now=now, allow_future=allow_future)
        findings = findings_at(conn, at, settings)
        transitions = apply_findings(conn, findings, rules=evaluated_rules(), at=at, now=now, settings=settings)
        enqueue(conn, transitions, settings, now=now)
        _record_instant(conn, at, now=now)
    return transitions


def check_channels(engine: Engine, settings: Settings, *, now: datetime) -> list[Transition]:
    """Raise (or resolve) the rules checked after delivery (channel health) and enqueue what they send."""
    when = Checked.AFTER_DELIVERY
    with engine.begin() as conn:
        alert_writers_in_turn(conn)
        findings = findings_at(conn, now, settings, when)
        transitions = apply_findings(conn, findings, rules=evaluated_rules(when), at=now, now=now, settings=settings)
        enqueue(conn, transitions, settings, now=now)
    return transitions


def deliver(
    engine: Engine,
    settings: Settings,
    *,
    now: Callable[[], datetime],
    retry_now: bool = False,
    client: httpx.Client | None = None,
) -> tuple[DeliveryReport, list[Transition]]:
    """Deliver due notifications, then check channel health and deliver what that raised."""
    report = deliver_due(engine, settings, now=now, retry_now=retry_now, client=client)
    raised = check_channels(engine, settings, now=now())
    if raised:
        report.add(deliver_due(engine, settings, now=now, client=client))
    return report, raised
