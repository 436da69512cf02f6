"""Fallback Activity: manual payouts in the rolling window, their CAD against automated volume,
and how long detection took to become a completed manual transfer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.common import as_number, percentile, ratio, window_start
from payoutwatch.metrics.runs import runs_known_at, select_runs
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import job_runs, manual_payouts
from payoutwatch.store.types import elapsed


def automated_cents(conn: Connection, at: datetime, since: datetime, settings: Settings) -> int:
    """CAD processed by runs started in ``(since, at]`` (derived from payouts where not reported)."""
    r = job_runs.c
    base = select_runs(settings.schedule.job, at).where(r.started_at > since)
    reported = conn.execute(
        select(exact_sum(r.cad_processed_cents)).where(
            r.job == settings.schedule.job, r.started_at <= at, r.started_at > since
        )
    ).scalar_one()
    unreported = conn.execute(base.where(r.cad_processed_cents.is_(None))).all()
    derived = sum(f.cad_processed_cents or 0 for f in runs_known_at(unreported, conn, at, counts=False))
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
    m = manual_payouts.c
    in_window = (m.detected_at > since) & (m.detected_at <= at)
    count, total = conn.execute(select(func.count(), exact_sum(m.amount_cents)).where(in_window)).one()
    automated = automated_cents(conn, at, since, settings)
    fallback = total or 0
    return FallbackFigures(as_number(days), since, int(count), fallback, automated, ratio(fallback, automated))


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    figures = fallback_figures(conn, at, settings)
    since = figures.since
    m = manual_payouts.c
    in_window = (m.detected_at > since) & (m.detected_at <= at)
    completed = m.completed_at.is_not(None) & (m.completed_at <= at)
    durations = sorted(
        float(d) for (d,) in conn.execute(select(elapsed(m.detected_at, m.completed_at)).where(in_window, completed))
    )
    open_count, oldest_open = conn.execute(
        select(func.count(), func.min(m.detected_at)).where(in_window, ~completed)
    ).one()
    open_rows = conn.execute(
        select(m.id, m.studio_id, m.amount_cents, m.detected_at, m.reason)
        .where(in_window, ~completed)
        .order_by(m.detected_at)
        .limit(OPEN_SHOWN)
    ).all()
    return {
        "at": iso(at),
        "window_days": figures.window_days,
        "window_start": iso(since),
        "manual_payout_count": figures.manual_payout_count,
        "fallback_cents": figures.fallback_cents,
        "automated_cents": figures.automated_cents,
        "fallback_ratio": figures.fallback_ratio,
        "detection_to_completion": {
            "count": len(durations),
            "median_s": _rounded(percentile(durations, 0.5)),
            "p90_s": _rounded(percentile(durations, 0.9)),
            "max_s": _rounded(durations[-1] if durations else None),
            "open_count": int(open_count),
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
            for r in open_rows
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
