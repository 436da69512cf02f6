"""Reconciliation figures of one cycle: the ledger's paid payouts against the PSP's transfers.

A payout and a transfer match on the transfer's ``payout_id`` (its metadata) or the payout's
``transfer_id``. Every paid payout is ``matched``, ``missing_transfer``, ``amount_mismatch`` or
``reversed`` (its transfer reversed in full, or in part: ``reversed_cents`` says how much); a payout
that was not paid yet has a live transfer is ``unexpected_transfer``; a transfer created during the
cycle that belongs to no payout is an ``orphan_transfer``. Payouts the ledger did not pay are counted
by status under ``unpaid`` (a failed run's failed payouts, those held by a reserve cap), so the figures
say why the ledger's paid total is short of what was scheduled.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, literal, or_, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.schedule import schedule_of
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import reconciliation_signoffs, scheduled_payouts, transfers
from payoutwatch.vocabulary import PayoutStatus

CATEGORIES = ("matched", "missing_transfer", "amount_mismatch", "reversed", "unexpected_transfer", "orphan_transfer")
DETAIL_LIMIT = 1000


def cycle_on(day: date, settings: Settings) -> datetime:
    """The scheduled instant on a calendar date of the schedule's timezone."""
    start = datetime.combine(day, time(), settings.tz)
    try:
        found = list(schedule_of(settings).between(start, start + timedelta(days=1) - timedelta(microseconds=1)))
    except OverflowError:  # the last day of year 9999: no cycle can be scheduled after it
        found = []
    if not found:
        raise ValueError(f"no payout cycle is scheduled on {day.isoformat()} ({settings.timezone})")
    return found[0]


def cycle_named(text: str, settings: Settings) -> datetime:
    """The cycle scheduled on the date ``text`` (``YYYY-MM-DD``, the schedule's timezone); ``ValueError``
    saying why there is none."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text[:40]!r} is not a date (YYYY-MM-DD)") from None
    return cycle_on(day, settings)


def _classified(cycle: datetime) -> Any:
    p, t = scheduled_payouts.c, transfers.c
    link = or_(t.payout_id == p.payout_id, t.transfer_id == p.transfer_id)
    paid = p.status == PayoutStatus.PAID.value
    category = case(
        (and_(paid, t.transfer_id.is_(None)), literal("missing_transfer")),
        (and_(paid, or_(t.reversed.is_(True), t.amount_reversed_cents > 0)), literal("reversed")),
        (and_(paid, t.amount_cents != p.amount_cents), literal("amount_mismatch")),
        (paid, literal("matched")),
        (and_(t.transfer_id.is_not(None), t.reversed.is_(False)), literal("unexpected_transfer")),
        else_=literal("not_paid"),
    )
    return (
        select(
            p.payout_id,
            p.studio_id,
            p.status,
            p.amount_cents.label("ledger_cents"),
            t.transfer_id,
            t.amount_cents.label("psp_cents"),
            t.reversed,
            t.amount_reversed_cents.label("reversed_cents"),
            category.label("category"),
        )
        .select_from(scheduled_payouts.outerjoin(transfers, link))
        .where(p.scheduled_for == cycle)
        .subquery("classified")
    )


def _orphans(cycle: datetime, settings: Settings) -> Any:
    p, t = scheduled_payouts.c, transfers.c
    nxt = schedule_of(settings).next_after(cycle) or cycle + timedelta(days=14)
    linked = exists().where(or_(p.payout_id == t.payout_id, p.transfer_id == t.transfer_id))
    return select(t.transfer_id, t.amount_cents, t.payout_id, t.created_at).where(
        t.created_at >= cycle, t.created_at < nxt, ~linked
    )


def _unpaid(conn: Connection, cycle: datetime) -> dict[str, dict[str, int]]:
    """The cycle's payouts the ledger did not pay, by status: count and amount."""
    p = scheduled_payouts.c
    rows = conn.execute(
        select(p.status, func.count().label("n"), exact_sum(p.amount_cents).label("cents"))
        .where(p.scheduled_for == cycle, p.status != PayoutStatus.PAID.value)
        .group_by(p.status)
        .order_by(p.status)
    )
    return {row.status: {"count": int(row.n), "ledger_cents": row.cents or 0} for row in rows}


def reconciliation(conn: Connection, cycle: datetime, settings: Settings) -> dict[str, Any]:
    c = _classified(cycle)
    totals = {
        row.category: {"count": int(row.n), "ledger_cents": row.ledger or 0, "psp_cents": row.psp or 0}
        for row in conn.execute(
            select(
                c.c.category,
                func.count().label("n"),
                exact_sum(c.c.ledger_cents).label("ledger"),
                exact_sum(c.c.psp_cents).label("psp"),
            ).group_by(c.c.category)
        )
    }
    details = [
        dict(r._mapping)
        for r in conn.execute(
            select(c)
            .where(c.c.category.not_in(["matched", "not_paid"]))
            .order_by(c.c.category, c.c.payout_id)
            .limit(DETAIL_LIMIT)
        )
    ]
    orphans = [dict(r._mapping) for r in conn.execute(_orphans(cycle, settings).limit(DETAIL_LIMIT))]
    orphaned = _orphans(cycle, settings).subquery()
    orphan_count, orphan_cents = conn.execute(select(func.count(), exact_sum(orphaned.c.amount_cents))).one()
    totals["orphan_transfer"] = {"count": int(orphan_count), "ledger_cents": 0, "psp_cents": orphan_cents or 0}
    signed = conn.execute(select(reconciliation_signoffs).where(reconciliation_signoffs.c.cycle == cycle)).first()
    paid_ledger = sum(
        v["ledger_cents"]
        for k, v in totals.items()
        if k in ("matched", "missing_transfer", "amount_mismatch", "reversed")
    )
    settled = sum(v["psp_cents"] for k, v in totals.items() if k in ("matched", "amount_mismatch"))
    return {
        "report": "reconciliation",
        "cycle": iso(cycle),
        "totals": {k: totals.get(k, {"count": 0, "ledger_cents": 0, "psp_cents": 0}) for k in CATEGORIES},
        "ledger_paid_cents": paid_ledger,
        "psp_settled_cents": settled,
        "difference_cents": paid_ledger - settled,
        "unpaid": _unpaid(conn, cycle),
        "exceptions": [{**d, "reversed": bool(d["reversed"]) if d["reversed"] is not None else None} for d in details],
        "orphans": [{**o, "created_at": iso(o["created_at"])} for o in orphans],
        "signed_off": {"by": signed.signed_by, "at": iso(signed.signed_at), "comment": signed.comment}
        if signed
        else None,
    }
