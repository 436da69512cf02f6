"""The incident timeline for a retrospective: everything that happened between two instants, in order.

Runs starting and finishing, alert transitions with their reasons, notifications and how their
delivery went, acknowledgements, resolves and silences with who did them, manual payouts, and
configuration changes (threshold and routing adjustments) with their redacted diff. Events about an
alert carry its ``key``, a silence's carry its matcher's ``rule`` and ``key``, so a page can leave out
what a role may not see.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, or_, select

from payoutwatch.clock import iso
from payoutwatch.money import format_cents
from payoutwatch.store.tables import (
    alert_history,
    audit_log,
    config_versions,
    job_runs,
    manual_payouts,
    notifications,
    silences,
)
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import NotificationState


def _within(column: Any, start: datetime, end: datetime) -> Any:
    return (column >= start) & (column <= end)


def timeline(conn: Connection, start: datetime, end: datetime, zone: tzinfo | None = None) -> list[dict[str, Any]]:
    """The events in order; instants inside an event's text read in ``zone`` (ISO UTC without one)."""
    events: list[dict[str, Any]] = []

    def moment(instant: datetime | None) -> str | None:
        return iso(instant) if zone is None else local(instant, zone)

    def add(at: datetime, kind: str, text: str, **extra: Any) -> None:
        events.append({"at": at, "kind": kind, "text": text, **extra})

    r = job_runs.c
    for run in conn.execute(
        select(job_runs).where(or_(_within(r.started_at, start, end), _within(r.finished_at, start, end)))
    ):
        if start <= run.started_at <= end:
            add(run.started_at, "run", f"run {run.run_id} ({run.job}) started for the {moment(run.cycle_at)} cycle")
        if run.finished_at is not None and start <= run.finished_at <= end:
            outcome = "succeeded" if run.exit_code == 0 else f"failed (exit {run.exit_code})"
            add(
                run.finished_at,
                "run",
                f"run {run.run_id} {outcome}, {run.studios_processed}/{run.studios_scheduled}"
                f" studios, {run.retry_count} retries",
            )
    h = alert_history.c
    for row in conn.execute(select(alert_history).where(_within(h.at, start, end)).order_by(h.at, h.id)):
        who = f" by {row.actor}" if row.actor else ""
        reasons = "; ".join((row.details or {}).get("reasons", [])) if isinstance(row.details, dict) else ""
        text = f"{row.key}: {row.action}{who}" + (f" ({row.stage})" if row.stage else "")
        add(
            row.at,
            "alert",
            text + (f" — {reasons}" if reasons else "") + (f" — {row.comment}" if row.comment else ""),
            key=row.key,
        )
    n = notifications.c
    for row in conn.execute(select(notifications).where(_within(n.created_at, start, end)).order_by(n.id)):
        outcome = {
            NotificationState.SENT: f"delivered at {moment(row.sent_at)}",
            NotificationState.FAILED: f"FAILED: {row.last_error}",
            NotificationState.SUPPRESSED: "suppressed by a silence",
        }.get(row.state, f"pending after {row.attempts} attempt(s)")
        add(
            row.created_at,
            "notification",
            f"{row.event} of {row.alert_key} to {row.channel}: {outcome}",
            key=row.alert_key,
        )
    m = manual_payouts.c
    for row in conn.execute(
        select(manual_payouts).where(or_(_within(m.detected_at, start, end), _within(m.completed_at, start, end)))
    ):
        if start <= row.detected_at <= end:
            add(
                row.detected_at,
                "manual_payout",
                f"manual payout {row.id} for {row.studio_id} detected: "
                f"{format_cents(row.amount_cents)} ({row.reason or 'no reason'})",
            )
        if row.completed_at is not None and start <= row.completed_at <= end:
            add(row.completed_at, "manual_payout", f"manual payout {row.id} completed")
    s = silences.c
    for row in conn.execute(select(silences).where(_within(s.created_at, start, end))):
        matcher = ", ".join(f"{k}={v}" for k, v in (("rule", row.rule), ("key", row.key), ("owner", row.owner)) if v)
        add(
            row.created_at,
            "silence",
            f"silence {row.id} ({matcher}) {moment(row.starts_at)} → {moment(row.ends_at)}"
            f" by {row.author}: {row.comment}",
            rule=row.rule,
            key=row.key,
        )
    c = config_versions.c
    for row in conn.execute(select(config_versions).where(_within(c.first_seen_at, start, end))):
        add(
            row.first_seen_at, "config", f"configuration {row.fingerprint[:12]} loaded from {row.origin}", diff=row.diff
        )
    a = audit_log.c
    for row in conn.execute(
        select(audit_log).where(
            _within(a.at, start, end), a.action.in_(["ingest", "reconciliation_sign_off", "stripe_webhook_refused"])
        )
    ):
        add(row.at, "audit", f"{row.action} {row.target or ''} by {row.actor} {row.details or ''}".strip())
    events.sort(key=lambda e: (e["at"], e["kind"]))
    return [{**e, "at": iso(e["at"])} for e in events]


def incident(conn: Connection, start: datetime, end: datetime, zone: tzinfo | None = None) -> dict[str, Any]:
    """The timeline between ``start`` and ``end``; with ``zone``, instants in the events' texts read in it (for
    people: the Markdown report, the page), without, ISO UTC (JSON)."""
    return {"report": "incident", "from": iso(start), "to": iso(end), "events": timeline(conn, start, end, zone)}
