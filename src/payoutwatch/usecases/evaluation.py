"""The evaluation use case: figures -> findings -> transitions -> outbox, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.notify.outbox import DeliveryReport, deliver_due, enqueue
from payoutwatch.rules.engine import apply_findings
from payoutwatch.rules.registry import Checked, checked
from payoutwatch.vocabulary import Finding, RuleId, Transition


def evaluated_rules(when: Checked = Checked.AT_INSTANT) -> set[RuleId]:
    """The ids of the registered rules checked ``when``: their alerts are the ones an evaluation may change."""
    return {rule.id for rule in checked(when)}


def findings_at(
    conn: Connection, at: datetime, settings: Settings, when: Checked = Checked.AT_INSTANT
) -> list[Finding]:
    """Every rule's findings at ``at``, in registry order (pure: reads the store, sends nothing)."""
    return [finding for rule in checked(when) for finding in rule.findings_at(conn, at, settings)]


def evaluate(engine: Engine, settings: Settings, *, at: datetime, now: datetime) -> list[Transition]:
    """Evaluate every rule at ``at`` and record transitions and their outbox rows atomically."""
    with engine.begin() as conn:
        findings = findings_at(conn, at, settings)
        transitions = apply_findings(conn, findings, rules=evaluated_rules(), at=at, now=now, settings=settings)
        enqueue(conn, transitions, settings, now=now)
    return transitions


def check_channels(engine: Engine, settings: Settings, *, now: datetime) -> list[Transition]:
    """Raise (or resolve) the rules checked after delivery (channel health) and enqueue what they send."""
    when = Checked.AFTER_DELIVERY
    with engine.begin() as conn:
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
        extra = deliver_due(engine, settings, now=now, client=client)
        report.sent += extra.sent
        report.failed += extra.failed
        report.retrying += extra.retrying
        report.errors += extra.errors
    return report, raised
