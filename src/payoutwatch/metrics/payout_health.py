"""Payout Health: next run, last run, per-cycle CAD and retries, this cycle vs the one before."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, literal, select, union_all

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.common import pct
from payoutwatch.metrics.runs import RUN_COLUMNS, RunFigures, by_cycle, runs_known_at, runs_of_cycles
from payoutwatch.schedule import schedule_of
from payoutwatch.store.tables import job_runs

CYCLES_SHOWN = 26  # a year of biweekly cycles


_r = job_runs.c
_RECENT_CYCLES = (
    select(_r.cycle_at)
    .where(_r.job == bindparam("job"), _r.started_at <= bindparam("at"), _r.cycle_at.is_not(None))
    .group_by(_r.cycle_at)
    .order_by(_r.cycle_at.desc())
    .limit(CYCLES_SHOWN + 1)  # one more: the cycle before the newest is usually the one after the shown
)
_LAST_RUN: Select[Any] = (
    select(*RUN_COLUMNS, literal(True).label("is_last"))
    .where(_r.job == bindparam("job"), _r.started_at <= bindparam("at"))
    .order_by(_r.started_at.desc(), _r.run_id.desc())
    .limit(1)
)
# One round trip: the last run, and every run of the job's most recent cycles (started ≤ at).
_HEALTH_RUNS = union_all(
    select(*RUN_COLUMNS, literal(False).label("is_last")).where(
        _r.job == bindparam("job"), _r.started_at <= bindparam("at"), _r.cycle_at.in_(_RECENT_CYCLES.scalar_subquery())
    ),
    select(_LAST_RUN.subquery()),
)


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
    job = settings.schedule.job
    fetched_runs = conn.execute(_HEALTH_RUNS, {"job": job, "at": at}).all()
    last_row = next((row for row in fetched_runs if row.is_last), None)
    cycle_runs = sorted((row for row in fetched_runs if not row.is_last), key=lambda row: row.started_at)
    fetched = sorted({row.cycle_at for row in cycle_runs}, reverse=True)
    cycles = fetched[:CYCLES_SHOWN]
    prior_cycle = schedule.previous_before(cycles[0]) if cycles else None
    wanted = set(cycles) | ({prior_cycle} if prior_cycle else set())
    last = runs_known_at([last_row], conn, at)[0] if last_row is not None else None
    if prior_cycle is not None and len(fetched) > CYCLES_SHOWN and prior_cycle < fetched[-1]:
        # runs of cycles off the schedule in between: the prior cycle's runs were not fetched
        runs_by_cycle = runs_of_cycles(conn, job, wanted, at, counts=False)
    else:
        runs_by_cycle = by_cycle(runs_known_at([r for r in cycle_runs if r.cycle_at in wanted], conn, at, counts=False))
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
