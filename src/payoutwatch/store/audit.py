"""The audit log: who did what, to what, when."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from payoutwatch.store.tables import audit_log


def audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(insert(audit_log).values(at=now, actor=actor, action=action, target=target, details=details))


MAX_ADDRESSES_KEPT = 5


def audit_counted(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    details: dict[str, Any],
    address: str | None = None,
) -> None:
    """Audit a repeated event as one row per (actor, action, target) and minute: the first occurrence
    inserts the row (``at`` = that instant, ``details`` plus ``count`` 1), later ones in the same minute
    add to its ``count``, set ``last_at`` and the latest ``details``. Up to ``MAX_ADDRESSES_KEPT`` distinct
    source ``addresses`` are kept. Two writers racing on the first occurrence may each insert a row, so a
    minute holds at most one row per concurrent writer, never one per event."""
    minute = now.replace(second=0, microsecond=0)
    a = audit_log.c
    row = conn.execute(
        select(a.id, a.details)
        .where(
            a.actor == actor,
            a.action == action,
            a.target == target,
            a.at >= minute,
            a.at < minute + timedelta(minutes=1),
        )
        .order_by(a.id)
        .limit(1)
    ).first()
    addresses = [address] if address else []
    if row is None:
        conn.execute(
            insert(audit_log).values(
                at=now,
                actor=actor,
                action=action,
                target=target,
                details={**details, "count": 1, "last_at": now.isoformat(), "addresses": addresses},
            )
        )
        return
    old = dict(row.details or {})
    kept = list(old.get("addresses") or [])
    if address and address not in kept and len(kept) < MAX_ADDRESSES_KEPT:
        kept.append(address)
    merged = {**details, "count": int(old.get("count", 1)) + 1, "last_at": now.isoformat(), "addresses": kept}
    conn.execute(update(audit_log).where(a.id == row.id).values(details=merged))
