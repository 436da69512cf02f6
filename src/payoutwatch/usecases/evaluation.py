"""The evaluation use case: figures -> findings -> transitions -> outbox, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import httpx
from sqlalchemy import Connection, Engine, select

from payoutwatch.config import Settings
from payoutwatch.metrics import fallback_activity
from payoutwatch.metrics.credentials import in_force
from payoutwatch.metrics.reserves import projected_breaches
from payoutwatch.metrics.runs import runs_of_cycles
from payoutwatch.notify.outbox import DeliveryReport, deliver_due, enqueue
from payoutwatch.rules import (
    automation_failure,
    credential_expiry,
    fallback_volume,
    notification_failing,
    reserve_breach,
    source_stale,
)
from payoutwatch.rules.engine import Transition, apply_findings
from payoutwatch.rules.findings import Finding, RuleId
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import channel_health
from payoutwatch.usecases.syncing import source_states

EVALUATED_RULES = {
    RuleId.AUTOMATION_FAILURE.value,
    RuleId.FALLBACK_VOLUME.value,
    RuleId.CREDENTIAL_EXPIRY.value,
    RuleId.RESERVE_BREACH.value,
    RuleId.SOURCE_STALE.value,
}


def findings_at(conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
    """Every rule's findings at ``at`` (pure: reads the store, sends nothing)."""
    rules = settings.rules
    schedule = schedule_of(settings)
    cycles = schedule.latest_at_or_before(at, 2)
    runs = runs_of_cycles(conn, settings.schedule.job, cycles, at)
    local = {c: schedule.local_date(c).isoformat() for c in cycles}
    out = automation_failure.findings(settings.schedule.job, cycles, runs, local, at, rules.automation_failure)
    out += fallback_volume.findings(fallback_activity.dashboard(conn, at, settings), rules.fallback_volume)
    out += credential_expiry.findings(in_force(conn, at, settings), rules.credential_expiry)
    out += reserve_breach.findings(projected_breaches(conn, at, settings), rules.reserve_breach)
    out += source_stale.findings(source_states(conn), settings.sources, at, rules.source_stale)
    return out


def evaluate(engine: Engine, settings: Settings, *, at: datetime, now: datetime) -> list[Transition]:
    """Evaluate every rule at ``at`` and record transitions and their outbox rows atomically."""
    with engine.begin() as conn:
        findings = findings_at(conn, at, settings)
        transitions = apply_findings(conn, findings, rules=EVALUATED_RULES, at=at, now=now, settings=settings)
        enqueue(conn, transitions, settings, now=now)
    return transitions


def check_channels(engine: Engine, settings: Settings, *, now: datetime) -> list[Transition]:
    """Raise (or resolve) ``notification_failing`` from the channels' recent delivery results."""
    with engine.begin() as conn:
        health = list(conn.execute(select(channel_health)))
        findings = notification_failing.findings(health, settings.rules.notification_failing)
        transitions = apply_findings(
            conn, findings, rules={RuleId.NOTIFICATION_FAILING.value}, at=now, now=now, settings=settings
        )
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
