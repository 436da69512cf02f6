"""Fallback Activity: manual payouts in the rolling window, their CAD against automated volume,
and how long detection took to become a completed manual transfer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, true

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.common import as_number, percentile, ratio, window_start
from payoutwatch.metrics.runs import RUNS, runs_known_at
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import job_runs, manual_payouts
from payoutwatch.store.types import elapsed

_r = job_runs.c
_m = manual_payouts.c
# Statements built once: only the values bound (job, since, at) change per call.
_RUNS_IN_WINDOW = (
    (_r.job == bindparam("job")) & (_r.started_at > bindparam("since")) & (_r.started_at <= bindparam("at"))
)
_AUTOMATED = select(
    exact_sum(_r.cad_processed_cents).label("reported"),
    func.count(case((_r.cad_processed_cents.is_(None), 1))).label("unreported"),
).where(_RUNS_IN_WINDOW)
_UNREPORTED = RUNS.where(_r.started_at > bindparam("since"), _r.cad_processed_cents.is_(None))
_IN_WINDOW = (_m.detected_at > bindparam("since")) & (_m.detected_at <= bindparam("at"))
_MANUAL = select(func.count().label("count"), exact_sum(_m.amount_cents).label("total")).where(_IN_WINDOW)
_manual, _automated = _MANUAL.subquery(), _AUTOMATED.subquery()
_FIGURES = select(_manual.c.count, _manual.c.total, _automated.c.reported, _automated.c.unreported).select_from(
    _manual.join(_automated, true())  # two one-row aggregates side by side: one round trip
)
_COMPLETED = _m.completed_at.is_not(None) & (_m.completed_at <= bindparam("at"))
_WINDOW_PAYOUTS = (
    select(
        _m.id,
        _m.studio_id,
        _m.amount_cents,
        _m.detected_at,
        _m.reason,
        case((_COMPLETED, elapsed(_m.detected_at, _m.completed_at))).label("took_s"),
    )
    .where(_IN_WINDOW)
    .order_by(_m.detected_at)
)


def automated_cents(conn: Connection, at: datetime, since: datetime, settings: Settings) -> int:
    """CAD processed by runs started in ``(since, at]`` (derived from payouts where not reported)."""
    window = {"job": settings.schedule.job, "since": since, "at": at}
    reported, unreported = conn.execute(_AUTOMATED, window).one()
    return _automated_total(conn, window, reported, unreported)


def _automated_total(conn: Connection, window: dict[str, Any], reported: int | None, unreported: int) -> int:
    derived = 0
    if unreported:
        rows = conn.execute(_UNREPORTED, window).all()
        figures = runs_known_at(rows, conn, window["at"], counts=False)
        derived = sum(f.cad_processed_cents or 0 for f in figures)
    return (reported or 0) + derived


@dataclass(frozen=True)
class FallbackFigures:
    """The window's fallback volume against automated volume: what ``fallback_volume`` judges."""

    window_days: int | float
    since: datetime
    manual_payout_count: int
    fallback_cents: int
    automated_cents: int
    fallback_ratio: float | None


def fallback_figures(conn: Connection, at: datetime, settings: Settings) -> FallbackFigures:
    days = settings.rules.fallback_volume.window_days
    since = window_start(at, days)
    window = {"job": settings.schedule.job, "since": since, "at": at}
    count, total, reported, unreported = conn.execute(_FIGURES, window).one()
    automated = _automated_total(conn, window, reported, unreported)
    fallback = total or 0
    return FallbackFigures(as_number(days), since, int(count), fallback, automated, ratio(fallback, automated))


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    days = settings.rules.fallback_volume.window_days
    since = window_start(at, days)
    payouts = conn.execute(_WINDOW_PAYOUTS, {"since": since, "at": at}).all()
    fallback = sum(int(p.amount_cents) for p in payouts)
    automated = automated_cents(conn, at, since, settings)
    durations = sorted(float(p.took_s) for p in payouts if p.took_s is not None)
    still_open = [p for p in payouts if p.took_s is None]  # oldest first
    oldest_open = still_open[0].detected_at if still_open else None
    return {
        "at": iso(at),
        "window_days": as_number(days),
        "window_start": iso(since),
        "manual_payout_count": len(payouts),
        "fallback_cents": fallback,
        "automated_cents": automated,
        "fallback_ratio": ratio(fallback, automated),
        "detection_to_completion": {
            "count": len(durations),
            "median_s": _rounded(percentile(durations, 0.5)),
            "p90_s": _rounded(percentile(durations, 0.9)),
            "max_s": _rounded(durations[-1] if durations else None),
            "open_count": len(still_open),
            "oldest_open_s": _rounded((at - oldest_open).total_seconds()) if oldest_open else None,
            "histogram_hours": histogram(durations),
        },
        "open_payouts": [
            {
                "id": r.id,
                "studio_id": r.studio_id,
                "amount_cents": int(r.amount_cents),
                "detected_at": iso(r.detected_at),
                "open_s": _rounded((at - r.detected_at).total_seconds()),
                "reason": r.reason,
            }
            for r in still_open[:OPEN_SHOWN]
        ],
    }


OPEN_SHOWN = 50
BUCKETS_HOURS = (1, 4, 12, 24, 48, 96)


def histogram(durations: list[float]) -> list[dict[str, Any]]:
    """Completed fallbacks by time to completion: ≤1 h, ≤4 h, ≤12 h, ≤24 h, ≤48 h, ≤96 h, longer."""
    edges = [h * 3600 for h in BUCKETS_HOURS]
    counts = [0] * (len(edges) + 1)
    for d in durations:
        counts[next((i for i, e in enumerate(edges) if d <= e), len(edges))] += 1
    labels = [f"≤{h}h" for h in BUCKETS_HOURS] + [f">{BUCKETS_HOURS[-1]}h"]
    return [{"bucket": label, "count": n} for label, n in zip(labels, counts, strict=True)]


def _rounded(value: float | None) -> float | int | None:
    """Durations come back from SQL as floats (julianday arithmetic): round to the millisecond."""
    return None if value is None else as_number(round(value, 3))
