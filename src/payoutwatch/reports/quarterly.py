"""The quarterly fallback deep dive: how often, why, how much, how fast, and against last quarter.

Quarters are calendar quarters in the schedule's timezone. Manual payouts count in the month they
were detected; automated volume is the runs' CAD as the fallback dashboard computes it; automation
failures are the ``automation_failure`` alerts that fired in the quarter, by the kind of reason.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Connection, func, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics.common import percentile, ratio
from payoutwatch.metrics.fallback_activity import automated_cents
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import alert_history, manual_payouts
from payoutwatch.store.types import elapsed
from payoutwatch.vocabulary import Action, RuleId

FAILURE_KINDS = (
    ("missed", "missed deadline"),
    ("exited", "failed (exit code)"),
    ("took", "too slow"),
    ("still running", "too slow"),
    ("processed", "too few studios"),
)


def quarter_bounds(label: str, settings: Settings) -> tuple[datetime, datetime, list[tuple[str, datetime, datetime]]]:
    match = re.fullmatch(r"(\d{4})Q([1-4])", label.strip().upper())
    if not match:
        raise ValueError(f"quarter {label!r}: expected the form 2026Q1")
    year, q = int(match.group(1)), int(match.group(2))
    months = [(year, 3 * (q - 1) + i) for i in range(1, 4)]
    edges = [datetime.combine(date(y, m, 1), time(), settings.tz) for y, m in months]
    end_year, end_month = (year + 1, 1) if q == 4 else (year, 3 * q + 1)
    edges.append(datetime.combine(date(end_year, end_month, 1), time(), settings.tz))
    spans = [(f"{y}-{m:02d}", edges[i], edges[i + 1]) for i, (y, m) in enumerate(months)]
    return edges[0], edges[-1], spans


def previous(label: str) -> str:
    year, q = int(label[:4]), int(label[-1])
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def _fallback(conn: Connection, start: datetime, end: datetime, settings: Settings) -> dict[str, Any]:
    m = manual_payouts.c
    window = (m.detected_at >= start) & (m.detected_at < end)
    count, cents = conn.execute(select(func.count(), exact_sum(m.amount_cents)).where(window)).one()
    automated = automated_cents(conn, end, start, settings)
    return {
        "manual_payouts": int(count),
        "fallback_cents": cents or 0,
        "automated_cents": automated,
        "fallback_ratio": ratio(cents or 0, automated),
    }


def _change(now: float | int | None, before: float | int | None) -> float | None:
    return None if now is None or not before else round((now - before) / before * 100, 2)


class QuarterNotStarted(ValueError):
    """A quarter that begins after the instant the report is asked at: it has no data yet."""


def quarterly(conn: Connection, label: str, settings: Settings, *, now: datetime | None = None) -> dict[str, Any]:
    """The quarter's figures; with ``now``, a quarter that has not begun by then is refused
    (``QuarterNotStarted``) rather than reported as a fall to nothing against the one before."""
    start, end, months = quarter_bounds(label, settings)
    if now is not None and start > now:
        raise QuarterNotStarted(
            f"quarter {label.strip().upper()} has not started yet (it begins "
            f"{start.date().isoformat()} in {settings.timezone}); there is no data to report"
        )
    m = manual_payouts.c
    in_quarter = (m.detected_at >= start) & (m.detected_at < end)
    by_reason = [
        {"reason": reason or "unknown", "manual_payouts": int(n), "fallback_cents": c or 0}
        for reason, n, c in conn.execute(
            select(m.reason, func.count(), exact_sum(m.amount_cents))
            .where(in_quarter)
            .group_by(m.reason)
            .order_by(func.count().desc(), m.reason)
        )
    ]
    durations = sorted(
        float(d)
        for (d,) in conn.execute(
            select(elapsed(m.detected_at, m.completed_at)).where(
                in_quarter, m.completed_at.is_not(None), m.completed_at < end
            )
        )
    )
    h = alert_history.c
    failures: dict[str, int] = {}
    fired = (
        conn.execute(
            select(h.details).where(
                h.rule == RuleId.AUTOMATION_FAILURE.value, h.action == Action.FIRED.value, h.at >= start, h.at < end
            )
        )
        .scalars()
        .all()
    )
    for details in fired:
        kinds = {
            name for marker, name in FAILURE_KINDS for reason in (details or {}).get("reasons", []) if marker in reason
        }
        for kind in kinds or {"other"}:
            failures[kind] = failures.get(kind, 0) + 1
    totals = _fallback(conn, start, end, settings)
    prior_start, prior_end, _ = quarter_bounds(previous(label), settings)
    prior = _fallback(conn, prior_start, prior_end, settings)
    return {
        "report": "quarterly",
        "quarter": label.upper(),
        "from": iso(start),
        "to": iso(end),
        "months": [{"month": name, **_fallback(conn, a, b, settings)} for name, a, b in months],
        "by_reason": by_reason,
        "totals": totals,
        "max_fallback_ratio": settings.rules.fallback_volume.max_fallback_ratio,  # the limit the charts draw
        "detection_to_completion": {
            "count": len(durations),
            "median_s": percentile(durations, 0.5),
            "p90_s": percentile(durations, 0.9),
            "max_s": durations[-1] if durations else None,
            "durations_s": durations,
        },
        "automation_failures": {"alerts": len(fired), "by_reason": dict(sorted(failures.items()))},
        "previous_quarter": {"quarter": previous(label), **prior},
        "change_pct": {k: _change(totals[k], prior[k]) for k in ("manual_payouts", "fallback_cents", "fallback_ratio")},
    }
