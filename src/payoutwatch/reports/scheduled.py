"""Sending the weekly snapshot: on demand (``report weekly --send``) or on its schedule (the loop).

A scheduled occurrence is sent once: each attempt is recorded in ``report_runs``; a failed send is
tried again on the next tick, for up to a day after the occurrence.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, insert, select, update

from payoutwatch.config import Settings
from payoutwatch.loop_errors import LOOP_ERRORS, LoopPart
from payoutwatch.notify.channels import DeliveryError, Report, build_channel
from payoutwatch.reports.render import render
from payoutwatch.reports.weekly import weekly
from payoutwatch.schedule import schedule_for
from payoutwatch.store.tables import report_runs
from payoutwatch.timefmt import local

LATE_LIMIT = timedelta(days=1)
logger = logging.getLogger("payoutwatch.reports")


def send_weekly(engine: Engine, settings: Settings, *, at: datetime, client: httpx.Client | None = None) -> list[str]:
    """Render the snapshot at ``at`` and send it through every configured channel; returns the errors."""
    with engine.connect() as conn:
        figures = weekly(conn, at, settings)
    report = Report(
        title=f"payoutwatch weekly snapshot {local(at, settings.display_tz, minutes=True)}",
        markdown=render("weekly", figures, "md", zone=settings.display_tz),
        html=render("weekly", figures, "html", zone=settings.display_tz),
    )
    errors = []
    http = client or httpx.Client(timeout=30)
    try:
        for channel in settings.reports.weekly.channels:
            try:
                build_channel(channel, settings.channel(channel), http).send_report(report)
            except DeliveryError as exc:
                errors.append(f"{channel}: {exc}")
            except Exception as exc:  # one channel's bug is that channel's failure, recorded with the run
                logger.exception("channel %s raised an unexpected error sending the weekly report", channel)
                LOOP_ERRORS.count(LoopPart.REPORT)
                errors.append(f"{channel}: unexpected error ({type(exc).__name__}): {exc}")
    finally:
        if client is None:
            http.close()
    return errors


def due_occurrence(engine: Engine, settings: Settings, now: datetime) -> datetime | None:
    plan = settings.reports.weekly
    if not plan.schedule or not plan.channels:
        return None
    occurrences = schedule_for(plan.schedule, plan.start, settings.timezone).latest_at_or_before(now)
    latest = occurrences[0] if occurrences else None
    if latest is None or now - latest > LATE_LIMIT:
        return None
    with engine.connect() as conn:
        sent = conn.execute(
            select(report_runs.c.sent_at).where(report_runs.c.report == "weekly", report_runs.c.occurrence == latest)
        ).scalar()
    return None if sent is not None else latest


def run_scheduled(engine: Engine, settings: Settings, *, now: datetime, client: httpx.Client | None = None) -> bool:
    """Send the weekly snapshot if an occurrence is due; True when one was sent."""
    occurrence = due_occurrence(engine, settings, now)
    if occurrence is None:
        return False
    try:
        errors = send_weekly(engine, settings, at=now, client=client)
    except Exception as exc:  # the report itself failed: recorded as this occurrence's error, tried next tick
        logger.exception("the weekly report failed")
        LOOP_ERRORS.count(LoopPart.REPORT)
        errors = [f"the report failed ({type(exc).__name__}): {exc}"]
    with engine.begin() as conn:
        known = conn.execute(
            select(report_runs.c.attempts).where(
                report_runs.c.report == "weekly", report_runs.c.occurrence == occurrence
            )
        ).scalar()
        values = {"sent_at": None if errors else now, "error": "; ".join(errors) or None}
        if known is None:
            conn.execute(insert(report_runs).values(report="weekly", occurrence=occurrence, attempts=1, **values))
        else:
            conn.execute(
                update(report_runs)
                .where(report_runs.c.report == "weekly", report_runs.c.occurrence == occurrence)
                .values(attempts=known + 1, **values)
            )
    return not errors
