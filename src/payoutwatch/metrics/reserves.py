"""Reserves & Balances: each account's latest snapshot ≤ at, accounts near their threshold,
payouts held by reserve caps, and the projection to the next payout run (DESIGN §5.4).

The latest snapshot per account comes from ``reserve_accounts`` (kept at ingest) when it is
not newer than ``at``, else from one index seek per account on ``(account_id, as_of)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Float, and_, case, cast, func, literal, select, true, union_all
from sqlalchemy.sql import Subquery

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.records import PLATFORM_ACCOUNT, RESERVE_CAP
from payoutwatch.schedule import schedule_of
from payoutwatch.store.sums import exact_sum
from payoutwatch.store.tables import reserve_accounts, reserve_snapshots, scheduled_payouts
from payoutwatch.store.types import elapsed
from payoutwatch.vocabulary import PayoutStatus


def latest_snapshots(at: datetime, dialect: str) -> Subquery:
    """``(account_id, as_of, balance_cents, threshold_cents)`` of each account's latest snapshot ≤ at.

    Accounts whose newest snapshot is not after ``at`` (every account, when ``at`` is now) are read
    straight from ``reserve_accounts``; the others take one index seek each on ``(account_id, as_of)``:
    a ``LATERAL … ORDER BY as_of DESC LIMIT 1`` on PostgreSQL, a correlated ``max(as_of)`` on SQLite.
    """
    a, s = reserve_accounts.c, reserve_snapshots.c
    current = select(
        a.account_id,
        a.last_as_of.label("as_of"),
        a.last_balance_cents.label("balance_cents"),
        a.last_threshold_cents.label("threshold_cents"),
    ).where(a.last_as_of <= at)
    older_accounts = and_(a.last_as_of > at, a.first_as_of <= at)
    if dialect == "postgresql":
        newest = (
            select(s.as_of, s.balance_cents, s.threshold_cents)
            .where(s.account_id == a.account_id, s.as_of <= at)
            .order_by(s.as_of.desc())
            .limit(1)
            .lateral("newest")
        )
        older = (
            select(a.account_id, newest.c.as_of, newest.c.balance_cents, newest.c.threshold_cents)
            .select_from(reserve_accounts.join(newest, true()))
            .where(older_accounts)
        )
    else:
        seek = select(func.max(s.as_of)).where(s.account_id == a.account_id, s.as_of <= at).scalar_subquery()
        pick = select(a.account_id, seek.label("as_of")).where(older_accounts).subquery("pick")
        older = select(pick.c.account_id, pick.c.as_of, s.balance_cents, s.threshold_cents).join_from(
            pick, reserve_snapshots, and_(s.account_id == pick.c.account_id, s.as_of == pick.c.as_of)
        )
    return union_all(current, older).subquery("latest")


def regression_sums(at: datetime, since: datetime, dialect: str) -> Subquery:
    """Per account: n, Σx, Σy, Σx², Σxy over snapshots in ``[since, at]`` (x = seconds before ``at``).

    Each account reads its own index range: a ``LATERAL`` aggregate on PostgreSQL (its planner would
    otherwise scan the whole table), a nested-loop join from ``reserve_accounts`` on SQLite.
    """
    s = reserve_snapshots.c
    x = elapsed(literal(at, type_=s.as_of.type), s.as_of)
    y = cast(s.balance_cents, Float)
    sums = (
        func.count().label("n"),
        func.sum(x).label("sx"),
        func.sum(y).label("sy"),
        func.sum(x * x).label("sxx"),
        func.sum(x * y).label("sxy"),
    )
    a = reserve_accounts.c
    if dialect == "postgresql":
        per_account = (
            select(*sums).where(s.account_id == a.account_id, s.as_of >= since, s.as_of <= at).lateral("window")
        )
        return (
            select(a.account_id, *per_account.c)
            .select_from(reserve_accounts.join(per_account, true()))
            .where(a.first_as_of <= at, a.last_as_of >= since)
            .subquery("fit")
        )
    return (
        select(s.account_id, *sums)
        .join_from(reserve_accounts, reserve_snapshots, s.account_id == a.account_id)
        .where(s.as_of >= since, s.as_of <= at)
        .group_by(s.account_id)
        .subquery("fit")
    )


@dataclass(frozen=True)
class Projection:
    account_id: str
    as_of: datetime
    balance_cents: int
    threshold_cents: int
    slope_cents_per_day: float
    projected_balance_cents: int
    projected_at: datetime | None

    @property
    def breached(self) -> bool:
        return self.balance_cents < self.threshold_cents or self.projected_balance_cents < self.threshold_cents

    def as_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "as_of": iso(self.as_of),
            "balance_cents": self.balance_cents,
            "threshold_cents": self.threshold_cents,
            "slope_cents_per_day": round(self.slope_cents_per_day, 2),
            "projected_balance_cents": self.projected_balance_cents,
            "projected_at": iso(self.projected_at),
        }


def projected_breaches(conn: Connection, at: datetime, settings: Settings) -> list[Projection]:
    """Accounts whose latest balance, or its projection to the next run, is below threshold.

    Projection = latest balance + slope × (next run − latest as_of); slope is the least-squares
    slope of the account's snapshots in ``[at − lookback_days, at]`` (0 with fewer than two).
    """
    horizon = schedule_of(settings).next_after(at)
    since = at - timedelta(days=settings.rules.reserve_breach.lookback_days)
    latest = latest_snapshots(at, conn.dialect.name)
    sums = regression_sums(at, since, conn.dialect.name)
    denominator = sums.c.n * sums.c.sxx - sums.c.sx * sums.c.sx
    slope = case(
        (
            and_(sums.c.n >= 2, denominator != 0),
            (sums.c.n * sums.c.sxy - sums.c.sx * sums.c.sy) / denominator,
        ),
        else_=0.0,
    )
    to_horizon = (
        elapsed(latest.c.as_of, literal(horizon, type_=reserve_snapshots.c.as_of.type))
        if horizon is not None
        else literal(0.0)
    )
    projected = latest.c.balance_cents + func.coalesce(slope, 0.0) * to_horizon
    q = (
        select(
            latest.c.account_id,
            latest.c.as_of,
            latest.c.balance_cents,
            latest.c.threshold_cents,
            func.coalesce(slope, 0.0).label("slope"),
            projected.label("projected"),
        )
        .join_from(latest, sums, sums.c.account_id == latest.c.account_id, isouter=True)
        .where((latest.c.balance_cents < latest.c.threshold_cents) | (projected < latest.c.threshold_cents))
    )
    out = []
    for row in conn.execute(q):
        proj = Projection(
            account_id=row.account_id,
            as_of=row.as_of,
            balance_cents=int(row.balance_cents),
            threshold_cents=int(row.threshold_cents),
            slope_cents_per_day=float(row.slope) * 86400.0,
            projected_balance_cents=round(float(row.projected)),
            projected_at=horizon,
        )
        if proj.breached:  # the SQL filter works in floats; decide on whole cents
            out.append(proj)
    out.sort(key=lambda p: (p.projected_balance_cents - p.threshold_cents, p.account_id))
    return out


HISTORY_SHOWN = 10


def account_history(conn: Connection, account: str, at: datetime, days: float) -> list[dict[str, Any]]:
    """The account's snapshots in ``[at − days, at]`` (for the projection chart)."""
    s = reserve_snapshots.c
    rows = conn.execute(
        select(s.as_of, s.balance_cents)
        .where(s.account_id == account, s.as_of >= at - timedelta(days=days), s.as_of <= at)
        .order_by(s.as_of)
    ).all()
    return [{"as_of": iso(r.as_of), "balance_cents": int(r.balance_cents)} for r in rows]


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    latest = latest_snapshots(at, conn.dialect.name)
    studio = latest.c.account_id != PLATFORM_ACCOUNT
    is_platform = latest.c.account_id == PLATFORM_ACCOUNT

    def studios_only(column: Any) -> Any:
        return case((studio, column))

    def platform_only(column: Any) -> Any:
        return func.max(case((is_platform, column)))

    totals = conn.execute(
        select(
            exact_sum(studios_only(latest.c.balance_cents)).label("balance"),
            exact_sum(studios_only(latest.c.threshold_cents)).label("threshold"),
            func.count(studios_only(latest.c.account_id)).label("accounts"),
            platform_only(latest.c.balance_cents).label("platform_balance"),
            platform_only(latest.c.threshold_cents).label("platform_threshold"),
            platform_only(latest.c.as_of).label("platform_as_of"),
        )
    ).one()
    balance, threshold, accounts = totals.balance, totals.threshold, totals.accounts
    warning = settings.rules.reserve_breach.buffer_warning
    buffer = (cast(latest.c.balance_cents, Float) - latest.c.threshold_cents) / latest.c.threshold_cents
    near = conn.execute(
        select(
            latest.c.account_id,
            latest.c.balance_cents,
            latest.c.threshold_cents,
            latest.c.as_of,
            buffer.label("buffer"),
        )
        .where(studio, latest.c.threshold_cents > 0, buffer < warning)
        .order_by(buffer, latest.c.account_id)
    ).all()
    p = scheduled_payouts.c
    held_count, held_cents = conn.execute(
        select(func.count(), exact_sum(p.amount_cents)).where(
            p.status == PayoutStatus.HELD.value, p.hold_reason == RESERVE_CAP
        )
    ).one()
    return {
        "at": iso(at),
        "accounts": int(accounts),
        "aggregate_balance_cents": balance,
        "aggregate_threshold_cents": threshold,
        "platform": (
            {
                "balance_cents": int(totals.platform_balance),
                "threshold_cents": int(totals.platform_threshold),
                "as_of": iso(totals.platform_as_of),
            }
            if totals.platform_as_of is not None
            else None
        ),
        "buffer_warning": warning,
        "near_threshold": [
            {
                "account_id": r.account_id,
                "balance_cents": int(r.balance_cents),
                "threshold_cents": int(r.threshold_cents),
                "buffer_pct": round(float(r.buffer) * 100, 2),
                "as_of": iso(r.as_of),
            }
            for r in near
        ],
        "held_payouts": {"count": int(held_count), "amount_cents": held_cents or 0},
        "projected_breaches": [
            {
                **p.as_json(),
                "history": account_history(conn, p.account_id, at, settings.rules.reserve_breach.lookback_days),
            }
            if i < HISTORY_SHOWN
            else p.as_json()
            for i, p in enumerate(projected_breaches(conn, at, settings))
        ],
    }
