"""Finance's weekly reserve-alert review: every ``reserve_breach`` episode open during the period,
with the figures behind it and whether someone has reviewed it (``payoutwatch review KEY``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, or_, select

from payoutwatch.clock import iso
from payoutwatch.store.tables import alert_reviews, alerts
from payoutwatch.vocabulary import RuleId


def reserve_review(conn: Connection, at: datetime, days: float = 7) -> dict[str, Any]:
    since = at - timedelta(days=days)
    a, r = alerts.c, alert_reviews.c
    rows = conn.execute(
        select(alerts, r.reviewed_by, r.reviewed_at, r.note)
        .select_from(alerts.outerjoin(alert_reviews, r.alert_id == a.id))
        .where(
            a.rule == RuleId.RESERVE_BREACH.value,
            a.started_at <= at,
            or_(a.resolved_at.is_(None), a.resolved_at > since),
        )
        .order_by(a.started_at, a.id)
    ).all()
    episodes = []
    for row in rows:
        details = row.details or {}
        episodes.append(
            {
                "key": row.key,
                "account_id": details.get("account_id"),
                "state": row.state,
                "owner": row.owner,
                "started_at": iso(row.started_at),
                "resolved_at": iso(row.resolved_at),
                "balance_cents": details.get("balance_cents"),
                "threshold_cents": details.get("threshold_cents"),
                "projected_balance_cents": details.get("projected_balance_cents"),
                "reason": (details.get("reasons") or [row.summary])[0],
                "reviewed_by": row.reviewed_by,
                "reviewed_at": iso(row.reviewed_at),
                "note": row.note,
            }
        )
    return {
        "report": "reserve_review",
        "at": iso(at),
        "days": days,
        "episodes": episodes,
        "unreviewed": sum(1 for e in episodes if e["reviewed_by"] is None),
    }
