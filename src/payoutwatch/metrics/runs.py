"""Runs as they were known at an instant, with figures derived from the ledger where missing.

A run counts at ``at`` if it started ≤ at; one whose ``finished_at`` is after ``at`` is still
running then (its counts show as last reported, its finish and exit code are hidden).
Missing ``studios_scheduled`` / ``studios_processed`` / ``cad_processed_cents`` come from the
cycle's scheduled payouts (DESIGN §3): payouts paid with the run's id, and for the latest run of
a cycle also the cycle's paid payouts that carry no run id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Row, Select, bindparam, func, literal, select

from payoutwatch.clock import iso
from payoutwatch.metrics.common import as_number, ratio, seconds
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import job_runs, scheduled_payouts
from payoutwatch.vocabulary import PayoutStatus, RunStatus


class RunFigures(NamedTuple):  # a tuple: one is built per run on every dashboard and evaluation
    run_id: str
    job: str
    scheduled_for: datetime | None
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    duration_s: float
    studios_scheduled: int | None
    studios_processed: int | None
    success_count: int | None
    error_count: int | None
    retry_count: int | None
    cad_processed_cents: int | None

    @property
    def processed_ratio(self) -> float | None:
        return ratio(self.studios_processed, self.studios_scheduled)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "job": self.job,
            "scheduled_for": iso(self.scheduled_for),
            "status": self.status.value,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "exit_code": self.exit_code,
            "duration_s": as_number(self.duration_s),
            "studios_scheduled": self.studios_scheduled,
            "studios_processed": self.studios_processed,
            "processed_ratio": self.processed_ratio,
            "success_count": self.success_count,
            "error_count": self.error_count,
            "retry_count": self.retry_count,
            "cad_processed_cents": self.cad_processed_cents,
        }


@dataclass(frozen=True)
class _Derived:
    scheduled: dict[datetime, int]
    paid: dict[tuple[datetime, str | None], tuple[int, int]]
    counted: bool


def runs_known_at(rows: Sequence[Row[Any]], conn: Connection, at: datetime, *, counts: bool = True) -> list[RunFigures]:
    """Turn stored run rows (all started ≤ at) into figures as of ``at``.

    ``counts=False`` derives only missing CAD (a sum); missing studio counts then stay unknown
    (``None``). Counting distinct studios is the expensive part, so only runs shown one by one need it.
    """
    needs = [r for r in rows if _missing(r)]
    derived = _derive(conn, {r.cycle_at for r in needs if r.cycle_at is not None}, at, counts=counts)
    latest_in_cycle = _latest_per_cycle(
        conn, {r.cycle_at for r in needs if r.cycle_at is not None}, job={r.job for r in needs}, at=at
    )
    return [_figures(r, at, derived, latest_in_cycle) for r in rows]


def _missing(row: Row[Any]) -> bool:
    return row.studios_scheduled is None or row.studios_processed is None or row.cad_processed_cents is None


def _figures(row: Row[Any], at: datetime, derived: _Derived, latest_in_cycle: dict[datetime, str]) -> RunFigures:
    finished = row.finished_at if row.finished_at is not None and row.finished_at <= at else None
    if finished is None:
        status, end = RunStatus.RUNNING, at
    else:
        status = RunStatus.SUCCEEDED if row.exit_code == 0 else RunStatus.FAILED
        end = finished
    scheduled, processed, cad = row.studios_scheduled, row.studios_processed, row.cad_processed_cents
    if (scheduled is None or processed is None or cad is None) and row.cycle_at is not None:
        own = derived.paid.get((row.cycle_at, row.run_id), (0, 0))
        unattributed = (
            derived.paid.get((row.cycle_at, None), (0, 0))
            if latest_in_cycle.get(row.cycle_at) == row.run_id
            else (0, 0)
        )
        if scheduled is None and derived.counted:
            scheduled = derived.scheduled.get(row.cycle_at, 0)
        if processed is None and derived.counted:
            processed = own[0] + unattributed[0]
        if cad is None:
            cad = own[1] + unattributed[1]
    return RunFigures(
        run_id=row.run_id,
        job=row.job,
        scheduled_for=row.cycle_at,
        status=status,
        started_at=row.started_at,
        finished_at=finished,
        exit_code=row.exit_code if finished is not None else None,
        duration_s=seconds(end - row.started_at),
        studios_scheduled=scheduled,
        studios_processed=processed,
        success_count=row.success_count,
        error_count=row.error_count,
        retry_count=row.retry_count,
        cad_processed_cents=cad,
    )


def _paid_statement(*, counts: bool) -> Select[Any]:
    p = scheduled_payouts.c
    paid_studios = func.count(p.studio_id.distinct()) if counts else literal(0)
    return (
        select(p.scheduled_for, p.run_id, paid_studios, exact_sum(p.amount_cents))
        .where(p.scheduled_for.in_(bindparam("cycles", expanding=True)))
        .where(p.status == PayoutStatus.PAID.value)
        .where(p.paid_at <= bindparam("at"))
        .group_by(p.scheduled_for, p.run_id)
    )


# Statements built once (and their SQL compiled once per dialect): only the values bound change per call.
_PAID = {counts: _paid_statement(counts=counts) for counts in (False, True)}
_SCHEDULED = (
    select(scheduled_payouts.c.scheduled_for, func.count(scheduled_payouts.c.studio_id.distinct()))
    .where(scheduled_payouts.c.scheduled_for.in_(bindparam("cycles", expanding=True)))
    .where(scheduled_payouts.c.status.not_in([PayoutStatus.HELD.value, PayoutStatus.CANCELLED.value]))
    .group_by(scheduled_payouts.c.scheduled_for)
)
_RUNS_OF_CYCLE = (
    select(job_runs.c.cycle_at, job_runs.c.run_id, job_runs.c.started_at)
    .where(
        job_runs.c.cycle_at.in_(bindparam("cycles", expanding=True)),
        job_runs.c.job.in_(bindparam("jobs", expanding=True)),
        job_runs.c.started_at <= bindparam("at"),
    )
    .order_by(job_runs.c.cycle_at, job_runs.c.started_at, job_runs.c.run_id)
)
_r = job_runs.c
RUN_COLUMNS = (
    _r.run_id,
    _r.job,
    _r.cycle_at,
    _r.started_at,
    _r.finished_at,
    _r.exit_code,
    _r.studios_scheduled,
    _r.studios_processed,
    _r.success_count,
    _r.error_count,
    _r.retry_count,
    _r.cad_processed_cents,
)
"""The columns ``runs_known_at`` reads."""
RUNS: Select[Any] = select(*RUN_COLUMNS).where(
    job_runs.c.job == bindparam("job"), job_runs.c.started_at <= bindparam("at")
)
"""Runs of ``job`` started ≤ ``at`` (bind ``job`` and ``at``)."""
_RUNS_OF_CYCLES = RUNS.where(job_runs.c.cycle_at.in_(bindparam("cycles", expanding=True))).order_by(
    job_runs.c.started_at
)


def _derive(conn: Connection, cycles: set[datetime], at: datetime, *, counts: bool) -> _Derived:
    if not cycles:
        return _Derived({}, {}, counts)
    wanted = {"cycles": sorted(cycles), "at": at}
    paid = {(c, r): (int(n), s or 0) for c, r, n, s in conn.execute(_PAID[counts], wanted)}
    scheduled: dict[datetime, int] = {}
    if counts:
        scheduled = {c: int(n) for c, n in conn.execute(_SCHEDULED, {"cycles": wanted["cycles"]})}
    return _Derived(scheduled, paid, counts)


def _latest_per_cycle(conn: Connection, cycles: set[datetime], *, job: set[str], at: datetime) -> dict[datetime, str]:
    if not cycles:
        return {}
    rows = conn.execute(_RUNS_OF_CYCLE, {"cycles": sorted(cycles), "jobs": sorted(job), "at": at})
    latest: dict[datetime, str] = {}
    for cycle, run_id, _started in rows:
        latest[cycle] = run_id
    return latest


def runs_of_cycles(
    conn: Connection, job: str, cycles: Iterable[datetime], at: datetime, *, counts: bool = True
) -> dict[datetime, list[RunFigures]]:
    """Runs of ``job`` serving each of ``cycles`` and started ≤ at, oldest first."""
    wanted = set(cycles)
    if not wanted:
        return {}
    rows = conn.execute(_RUNS_OF_CYCLES, {"job": job, "at": at, "cycles": sorted(wanted)}).all()
    return by_cycle(runs_known_at(rows, conn, at, counts=counts))


def by_cycle(figures: Iterable[RunFigures]) -> dict[datetime, list[RunFigures]]:
    """Runs grouped by the cycle they serve, in the order given (runs of no cycle left out)."""
    out: dict[datetime, list[RunFigures]] = defaultdict(list)
    for fig in figures:
        if fig.scheduled_for is not None:
            out[fig.scheduled_for].append(fig)
    return out
