"""Payout Health: next run, last run, per-cycle CAD and retries, this cycle vs the one before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.common import pct
from payoutwatch.metrics.runs import RunFigures, runs_known_at, runs_of_cycles, select_runs
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import job_runs

CYCLES_SHOWN = 26  # a year of biweekly cycles


def last_run(conn: Connection, at: datetime, settings: Settings) -> RunFigures | None:
    r = job_runs.c
    row = conn.execute(
        select_runs(settings.schedule.job, at).order_by(r.started_at.desc(), r.run_id.desc()).limit(1)
    ).first()
    return runs_known_at([row], conn, at)[0] if row is not None else None


def recent_cycles(conn: Connection, at: datetime, settings: Settings, limit: int = CYCLES_SHOWN) -> list[datetime]:
    """Cycles with a run started ≤ at, newest first."""
    r = job_runs.c
    q = (
        select(r.cycle_at)
        .where(r.job == settings.schedule.job, r.started_at <= at, r.cycle_at.is_not(None))
        .group_by(r.cycle_at)
        .order_by(r.cycle_at.desc())
        .limit(limit)
    )
    return [c for (c,) in conn.execute(q)]


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def cycle_rows(runs_by_cycle: dict[datetime, list[RunFigures]], cycles: list[datetime]) -> list[dict[str, Any]]:
    out = []
    for cycle in cycles:
        runs = runs_by_cycle.get(cycle, [])
        out.append(
            {
                "scheduled_for": iso(cycle),
                "cad_processed_cents": _sum([r.cad_processed_cents for r in runs]) or 0,
                "runs": len(runs),
                "retry_count": _sum([r.retry_count for r in runs]),
                "error_count": _sum([r.error_count for r in runs]),
                "success_count": _sum([r.success_count for r in runs]),
                "longest_run_s": max((r.duration_s for r in runs), default=None),
                "processed_ratio": runs[-1].processed_ratio if runs else None,  # the cycle's latest run
            }
        )
    return out


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    schedule = schedule_of(settings)
    last = last_run(conn, at, settings)
    cycles = recent_cycles(conn, at, settings)
    prior_cycle = schedule.previous_before(cycles[0]) if cycles else None
    wanted = set(cycles) | ({prior_cycle} if prior_cycle else set())
    runs_by_cycle = runs_of_cycles(conn, settings.schedule.job, wanted, at, counts=False)
    rows = cycle_rows(runs_by_cycle, cycles)
    current = rows[0]["cad_processed_cents"] if rows else None
    prior: int | None = None
    if cycles and prior_cycle is not None:
        prior = cycle_rows(runs_by_cycle, [prior_cycle])[0]["cad_processed_cents"]
    change = pct((current - prior) / prior) if current is not None and prior else None
    next_run = schedule.next_after(at)
    return {
        "at": iso(at),
        "job": settings.schedule.job,
        "next_run_at": iso(next_run),
        "seconds_to_next_run": (next_run - at).total_seconds() if next_run else None,
        "last_run": last.as_json() if last else None,
        "cycles": rows,
        "current_cycle_scheduled_for": iso(cycles[0]) if cycles else None,
        "current_cycle_cad_cents": current,
        "prior_cycle_scheduled_for": iso(prior_cycle),
        "prior_cycle_cad_cents": prior,
        "cycle_change_pct": change,
    }
