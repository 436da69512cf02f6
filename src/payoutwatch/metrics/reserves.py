"""Reserves & Balances: each account's latest snapshot ≤ at, accounts near their threshold,
payouts held by reserve caps, and the projection to the next payout run (DESIGN §5.4).

The latest snapshot per account comes from ``reserve_accounts`` (kept at ingest) when it is
not newer than ``at``, else from one index seek per account on ``(account_id, as_of)``; the
projection's regression sums from ``reserve_fits`` (kept at ingest) when they answer for ``at``,
else from the account's snapshots. Every account is read once, and the figures computed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import FromClause, Select, Subquery

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.records import PLATFORM_ACCOUNT, RESERVE_CAP
from payoutwatch.schedule import schedule_of
from payoutwatch.store.regression import (
    LIMB_NAMES,
    Instant,
    Sums,
    as_instant,
    limb_parts,
    limb_slope,
    limbs_hold,
    per_account,
    window_sums,
)
from payoutwatch.store.sums import ExactSumType, exact_sum
from payoutwatch.store.tables import reserve_accounts, reserve_fits, reserve_snapshots, scheduled_payouts
from payoutwatch.store.types import elapsed, to_micros
from payoutwatch.vocabulary import PayoutStatus


def latest_snapshots(at: Instant, dialect: str) -> Subquery:
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
        older = select(pick.c.account_id, s.as_of, s.balance_cents, s.threshold_cents).join_from(
            pick, reserve_snapshots, and_(s.account_id == pick.c.account_id, s.as_of == pick.c.as_of)
        )
    return union_all(current, older).subquery("latest")


@dataclass(frozen=True)
class Account:
    """An account's latest snapshot ≤ at and its regression sums over ``[at − lookback, at]``."""

    account_id: str
    as_of: datetime
    balance_cents: int
    threshold_cents: int
    sums: Sums
    kept: bool = False  # the sums were read from reserve_fits


def accounts_at(
    conn: Connection,
    at: datetime,
    lookback: timedelta,
    *,
    kept: bool = True,
    breaching_by: Horizon | None = None,
) -> list[Account]:
    accounts = _accounts(conn, at, lookback, kept=kept, breaching_by=breaching_by, unkept_at_most=None)
    assert accounts is not None
    return accounts


def _accounts(
    conn: Connection,
    at: datetime,
    lookback: timedelta,
    *,
    kept: bool,
    breaching_by: Horizon | None,
    unkept_at_most: int | None,
) -> list[Account] | None:
    """Every account's latest snapshot ≤ at with its regression sums over ``[at − lookback, at]``.

    The sums come from ``reserve_fits`` for each account whose kept window is exactly the snapshots of
    ``[at − lookback, at]`` (its last is the latest snapshot ≤ at, and no snapshot lies between its
    bounds and ``at − lookback``); the others are summed from their snapshots (``window_sums``), as
    every account is with ``kept=False``. Either way the sums are exact, so the figures are the same.

    With ``breaching_by`` (the projection's horizon), an account whose kept sums answer is returned
    only when the store's float estimate of its projection comes within a safe margin of its
    threshold (``may_breach``): every account that breaches is among those returned, and each is then
    decided exactly here. More than ``unkept_at_most`` accounts to sum from their snapshots: None.
    """
    since = at - lookback
    latest = latest_snapshots(at, conn.dialect.name)
    f = reserve_fits.c
    answers = and_(
        f.account_id == latest.c.account_id,
        f.last_as_of == latest.c.as_of,
        or_(f.excluded_as_of.is_(None), f.excluded_as_of < since),
        f.first_as_of >= since,
    )
    sums = (f.n, f.sx, f.sy, f.sxx, f.sxy) if kept else ()
    query = select(latest.c.account_id, latest.c.as_of, latest.c.balance_cents, latest.c.threshold_cents, *sums)
    if kept:
        query = query.join_from(latest, reserve_fits, answers, isouter=True)
        if breaching_by is not None:
            query = query.where(or_(f.account_id.is_(None), may_breach(latest, breaching_by.at)))
    rows = conn.execute(query).all()
    missing = [r.account_id for r in rows if not kept or r.n is None]
    if unkept_at_most is not None and len(missing) > unkept_at_most:
        return None
    computed: dict[str, Sums] = {}
    if missing:
        every = not kept or len(missing) > WHOLE_TABLE
        computed = window_sums(conn, since, at, None if every else missing)
    out = []
    for r in rows:
        from_fit = kept and r.n is not None
        out.append(
            Account(
                r.account_id,
                r.as_of,
                int(r.balance_cents),
                int(r.threshold_cents),
                Sums(r.n, r.sx, r.sy, r.sxx, r.sxy) if from_fit else computed.get(r.account_id, NO_SNAPSHOTS),
                kept=from_fit,
            )
        )
    return out


@dataclass(frozen=True)
class Horizon:
    at: datetime | None  # the next payout run (None: no run ahead, the projection is the balance)


SAFE_RELATIVE = 2.0**-40  # far above the few float roundings of ``balance + slope × seconds``


def may_breach(latest: Subquery, horizon: datetime | None) -> ColumnElement[bool]:
    """The store's float estimate of the projection, less a margin that covers its rounding, is below the
    threshold (an account breaches only if its exact projection rounds below it)."""
    b, t, f = latest.c.balance_cents, latest.c.threshold_cents, reserve_fits.c
    ahead = (
        elapsed(latest.c.as_of, literal(horizon, type_=reserve_snapshots.c.as_of.type))
        if horizon is not None
        else literal(0.0)
    )
    change = f.slope * ahead
    margin = (func.abs(b) + func.abs(change)) * SAFE_RELATIVE + 1
    return or_(b < t, b + change - margin < t)


NO_SNAPSHOTS = Sums()
WHOLE_TABLE = 2000  # more accounts to sum than this: one pass over every account beats lists of ids
FEW_UNKEPT = 250  # more accounts without kept sums than this (a past instant): the float-sums filter first
MICROS_PER_DAY = 86_400_000_000


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


def project(account: Account, horizon: datetime | None) -> Projection:
    """Latest balance + slope × (horizon − latest as_of), rounded to whole cents (half to even), exactly."""
    return _projected(
        account.account_id, account.as_of, account.balance_cents, account.threshold_cents, account.sums.slope(), horizon
    )


def _projected(
    account_id: str, as_of: datetime, balance: int, threshold: int, slope: tuple[int, int], horizon: datetime | None
) -> Projection:
    """``project`` of an account's latest snapshot and its slope ``(numerator, denominator)`` (``Sums.slope``)."""
    numerator, denominator = slope
    ahead = to_micros(horizon) - to_micros(as_of) if horizon is not None else 0
    whole, rest = divmod(balance * denominator + numerator * ahead, denominator)
    projected = whole + (1 if 2 * rest > denominator or (2 * rest == denominator and whole % 2) else 0)
    return Projection(
        account_id=account_id,
        as_of=as_of,
        balance_cents=balance,
        threshold_cents=threshold,
        slope_cents_per_day=numerator * MICROS_PER_DAY / denominator,
        projected_balance_cents=projected,
        projected_at=horizon,
    )


def breaches(accounts: list[Account], horizon: datetime | None) -> list[Projection]:
    return _breached(project(a, horizon) for a in accounts)


def _breached(projections: Iterable[Projection]) -> list[Projection]:
    """The projections that breach, the furthest below threshold first."""
    out = [p for p in projections if p.breached]
    out.sort(key=lambda p: (p.projected_balance_cents - p.threshold_cents, p.account_id))
    return out


def projected_breaches(conn: Connection, at: datetime, settings: Settings, *, kept: bool = True) -> list[Projection]:
    """Accounts whose latest balance, or its projection to the next run, is below threshold.

    Projection = latest balance + slope × (next run − latest as_of); slope is the least-squares
    slope of the account's snapshots in ``[at − lookback_days, at]`` (0 with fewer than two).

    Every figure is exact (``store/regression.py``). SQL first narrows the accounts down to those that
    may breach, from the kept sums (``kept``, when they answer for ``at``) or from float sums over the
    snapshots with bounds on their rounding (``latest_with_float_bounds``); those are decided here.
    """
    return _projection(conn, at, settings, kept=kept).breaches


@dataclass(frozen=True)
class _Projected:
    breaches: list[Projection]
    every_latest: list[Any] | None = None  # every account's latest snapshot ≤ at, when the float sums read them all
    seen: _Seen | None = None  # the dashboard's totals and accounts near their threshold, read in the same pass


@dataclass(frozen=True)
class _Seen:
    totals: _Totals
    near: list[tuple[str, int, int, datetime, float]]


def _projection(conn: Connection, at: datetime, settings: Settings, *, kept: bool) -> _Projected:
    lookback = settings.rules.reserve_breach.lookback()
    horizon = Horizon(schedule_of(settings).next_after(at))
    a = reserve_accounts.c
    counted = select(func.count(), func.count(case((a.last_as_of > at, 1))))  # kept sums never answer for newer
    accounts_count, newer = conn.execute(counted).one()
    if kept and newer <= FEW_UNKEPT:
        accounts = _accounts(conn, at, lookback, kept=True, breaching_by=horizon, unkept_at_most=FEW_UNKEPT)
        if accounts is not None:
            return _Projected(breaches(accounts, horizon.at), None)
    since = at - lookback
    if limbs_hold(since, at):
        warning = settings.rules.reserve_breach.buffer_warning
        try:
            breached, seen = _decided_in_one_pass(conn, at, since, horizon.at, warning)
            return _Projected(breached, seen=seen)
        except OperationalError as exc:  # SQLite's sum() past 2^63 (see window_sums): the sums in Python
            if "overflow" not in str(exc):
                raise
    every_latest = latest_with_float_bounds(conn, at, since, horizon.at)
    uncertain = [r for r in every_latest if r.uncertain]
    every = len(uncertain) * 3 > accounts_count  # a pass over every account beats many lists of ids
    sums = window_sums(conn, since, at, None if every else [r.account_id for r in uncertain])
    candidates = [
        Account(
            r.account_id, r.as_of, int(r.balance_cents), int(r.threshold_cents), sums.get(r.account_id, NO_SNAPSHOTS)
        )
        for r in uncertain
    ]
    return _Projected(breaches(candidates, horizon.at), every_latest)


UNIT_ROUNDOFF = 2.0**-53
INSTANT = reserve_snapshots.c.as_of.type


def latest_with_float_bounds(conn: Connection, at: datetime, since: datetime, horizon: datetime | None) -> list[Any]:
    """The latest snapshot ≤ at of every account, ``uncertain`` when it may breach by float sums in SQL.

    One pass reads both (at a past instant most accounts need an index seek for their latest snapshot,
    so the dashboard's totals and accounts near their threshold are taken from these rows too).
    """
    return list(conn.execute(_judged(conn.dialect.name, at, since, horizon)).all())


def _decided_in_one_pass(
    conn: Connection, at: datetime, since: datetime, horizon: datetime | None, warning: float
) -> tuple[list[Projection], _Seen]:
    """``latest_with_float_bounds`` and, in the same statement, the exact sums of the accounts that may
    breach, the dashboard's totals and its accounts near their threshold; the breaches decided here.

    The exact sums (``limb_parts``) are read only for the accounts that may breach: on PostgreSQL a
    ``LATERAL`` aggregate whose condition holds the account's ``uncertain`` flag (a one-time filter per
    account), on SQLite a join of those accounts with their windows. Only the rows the dashboard shows or
    decides come back (the accounts near their threshold, those that may breach and the platform's
    account), each with the studios' totals (read from the first row only).
    """
    params = {"at": at, "since": since, "horizon": horizon, "warning": warning}
    rows = conn.execute(_one_pass(conn.dialect.name, horizon is not None), params).all()
    balance, threshold, accounts, first_id = rows[0][:4]
    # positions of _one_pass: the studios' totals, then the shown account and its exact limb sums
    shown = [r[3:] for r in rows] if first_id is not None else []
    platform = next((r for r in shown if r[0] == PLATFORM_ACCOUNT), None)
    exact = ExactSumType()
    seen_totals = _Totals(
        exact.process_result_value(balance, conn.dialect),
        exact.process_result_value(threshold, conn.dialect),
        accounts,
        int(platform[2]) if platform is not None else None,
        int(platform[3]) if platform is not None else None,
        platform[1] if platform is not None else None,
    )
    projected = []
    for r in shown:
        if r[4]:  # uncertain: decided from its exact sums, the last columns
            slope = limb_slope(r[-len(LIMB_NAMES) :])
            projected.append(_projected(r[0], r[1], int(r[2]), int(r[3]), slope, horizon))
    return _breached(projected), _Seen(seen_totals, _near_of(shown, warning))


@cache
def _one_pass(dialect: str, has_horizon: bool) -> Select[Any]:
    """The statement of ``_decided_in_one_pass``, built once per dialect: ``at``, ``since``, ``horizon`` and
    ``warning`` are bound when it runs."""
    at, since = bindparam("at", type_=INSTANT), bindparam("since", type_=INSTANT)
    horizon = bindparam("horizon", type_=INSTANT) if has_horizon else None
    warning = bindparam("warning", type_=Float())
    judged = _judged(dialect, at, since, horizon).cte("judged").prefix_with("MATERIALIZED")
    j, s = judged.c, reserve_snapshots.c
    window = and_(s.account_id == j.account_id, s.as_of >= since, s.as_of <= at)
    sums: FromClause
    if dialect == "postgresql":
        sums = select(*limb_parts(since)).where(window, j.uncertain).lateral("exact")
        joined = judged.join(sums, true())
    else:
        sums = (
            select(j.account_id.label("exact_id"), *limb_parts(since))
            .join_from(judged, reserve_snapshots, window)
            .where(j.uncertain)
            .group_by(j.account_id)
            .subquery("exact")
        )
        joined = judged.outerjoin(sums, sums.c.exact_id == j.account_id)
    buffer = (cast(j.balance_cents, Float) - j.threshold_cents) / j.threshold_cents
    near = and_(j.account_id != PLATFORM_ACCOUNT, case((j.threshold_cents > 0, buffer < warning), else_=False))
    limbs = [sums.c[name] for name in LIMB_NAMES]
    shown = (
        select(j.account_id, j.as_of, j.balance_cents, j.threshold_cents, j.uncertain, *limbs)
        .select_from(joined)
        .where(or_(j.uncertain, near, j.account_id == PLATFORM_ACCOUNT))
        .subquery("shown")
    )
    totals = _totals_select(judged).subquery("totals")
    # on every row, the studios' totals come as they are read (only the first row's are converted)
    t = totals.c
    studios = (type_coerce(t.balance, String), type_coerce(t.threshold, String), t.accounts)
    return select(*studios, shown).select_from(totals.outerjoin(shown, true()))


def _judged(dialect: str, at: Instant, since: Instant, horizon: Instant | None) -> Select[Any]:
    """The statement of ``latest_with_float_bounds``.

    Per account the store sums x (seconds from ``since``), y (balance), x², xy and, to bound their
    rounding, finds the largest |y| (then Σ|y| ≤ n·max|y| and Σx|y| ≤ Σx·max|y|, as x ≥ 0). A float
    sum of n terms is within (n + 2)·u·Σ|terms| of the exact one (u = 2^-53); with g = 8·(n + 4)·u,
    eight times that, each sum S is within e_S = g·Σ|terms| (e_sx = g·Σx, e_sy = g·n·max|y|,
    e_sxx = g·Σx², e_sxy = g·Σx·max|y|). Carried through the slope's numerator nΣxy − ΣxΣy (the
    products' and difference's own rounding included: g·(n·Σx|y| + Σx·Σ|y|)) and denominator
    nΣx² − (Σx)², the error bounds collect into

        e_numerator = n·e_sxy + Σx·e_sy + Σ|y|·e_sx + e_sx·e_sy + g·(n·Σx|y| + Σx·Σ|y|) = g·(5 + g)·n·Σx·max|y|
        e_denominator = n·e_sxx + 2·Σx·e_sx + e_sx² + g·(nΣx² + (Σx)²) = g·(2·nΣx² + (3 + g)·(Σx)²)

    computed once per account in that closed form; ``slope_low`` is then at most the exact slope. An
    account is left out only when ``balance + slope_low × (horizon − as_of)``, less a margin for its
    own rounding, is still at or above its threshold: its exact projection then cannot round below it.
    """
    s = reserve_snapshots.c
    x = elapsed(as_instant(since), s.as_of)
    y = cast(s.balance_cents, Float)
    parts = (
        func.count().label("n"),
        func.sum(x).label("sx"),
        func.sum(y).label("sy"),
        func.sum(x * x).label("sxx"),
        func.sum(x * y).label("sxy"),
        cast(func.max(func.abs(s.balance_cents)), Float).label("y_abs"),  # the largest |y|
    )
    fit_sums = per_account(parts, since, at, dialect)
    c = fit_sums.subquery("fit").c
    g = (c.n + 4) * (8 * UNIT_ROUNDOFF)
    n_sxx, sx_sx = c.n * c.sxx, c.sx * c.sx
    numerator_low = (c.n * c.sxy - c.sx * c.sy) - g * (5 + g) * c.n * c.sx * c.y_abs
    e_denominator = g * (2 * n_sxx + (3 + g) * sx_sx)
    low, high = (n_sxx - sx_sx) - e_denominator, (n_sxx - sx_sx) + e_denominator
    bounds = select(c.account_id, c.n, low.label("low"), high.label("high"), numerator_low.label("numerator_low"))
    # SQLite would push the join into both arms of ``latest``'s UNION ALL and sum every account twice;
    # materialized, it also computes each account's bounds once instead of once per use
    fit = bounds.cte("fit").prefix_with("MATERIALIZED") if dialect == "sqlite" else bounds.subquery("bounds")
    latest = latest_snapshots(at, dialect)
    c = fit.c
    slope_low = case((c.low > 0, c.numerator_low / case((c.numerator_low >= 0, c.high), else_=c.low)))
    ahead = elapsed(latest.c.as_of, as_instant(horizon)) if horizon is not None else literal(0.0)
    b, t = latest.c.balance_cents, latest.c.threshold_cents
    change = slope_low * ahead
    projected_low = b + change - ((func.abs(b) + func.abs(change)) * SAFE_RELATIVE + 1)
    flat = or_(c.n.is_(None), c.n < 2)
    safe = and_(b >= t, or_(flat, and_(c.low > 0, projected_low >= t)))
    return select(
        latest.c.account_id,
        latest.c.as_of,
        latest.c.balance_cents,
        latest.c.threshold_cents,
        case((safe, False), else_=True).label("uncertain"),
    ).join_from(latest, fit, c.account_id == latest.c.account_id, isouter=True)


HISTORY_SHOWN = 10


def account_histories(
    conn: Connection, accounts: list[str], at: datetime, days: float
) -> dict[str, list[dict[str, Any]]]:
    """Each account's snapshots in ``[at − days, at]`` (for the projection chart), in one statement."""
    if not accounts:
        return {}
    s = reserve_snapshots.c
    rows = conn.execute(
        select(s.account_id, s.as_of, s.balance_cents)
        .where(s.account_id.in_(accounts), s.as_of >= at - timedelta(days=days), s.as_of <= at)
        .order_by(s.account_id, s.as_of)
    ).all()
    out: dict[str, list[dict[str, Any]]] = {account: [] for account in accounts}
    for r in rows:
        out[r.account_id].append({"as_of": iso(r.as_of), "balance_cents": int(r.balance_cents)})
    return out


@dataclass(frozen=True)
class _Totals:
    balance: int | None  # over the studios' accounts (None: no studio account)
    threshold: int | None
    accounts: int
    platform_balance: int | None
    platform_threshold: int | None
    platform_as_of: datetime | None


def _totals_in_sql(conn: Connection, latest: Subquery) -> _Totals:
    return _Totals(*conn.execute(_totals_select(latest)).one())


def _totals_select(latest: Any) -> Select[Any]:
    """The studios' exact total balance and threshold, their count, and the platform's latest snapshot."""
    studio = latest.c.account_id != PLATFORM_ACCOUNT
    is_platform = latest.c.account_id == PLATFORM_ACCOUNT

    def studios_only(column: Any) -> Any:
        return case((studio, column))

    def platform_only(column: Any) -> Any:
        return func.max(case((is_platform, column)))

    return select(
        exact_sum(studios_only(latest.c.balance_cents)).label("balance"),
        exact_sum(studios_only(latest.c.threshold_cents)).label("threshold"),
        func.count(studios_only(latest.c.account_id)).label("accounts"),
        platform_only(latest.c.balance_cents).label("platform_balance"),
        platform_only(latest.c.threshold_cents).label("platform_threshold"),
        platform_only(latest.c.as_of).label("platform_as_of"),
    )


def _near_in_sql(conn: Connection, latest: Subquery, warning: float) -> list[tuple[str, int, int, datetime, float]]:
    buffer = (cast(latest.c.balance_cents, Float) - latest.c.threshold_cents) / latest.c.threshold_cents
    rows = conn.execute(
        select(
            latest.c.account_id,
            latest.c.balance_cents,
            latest.c.threshold_cents,
            latest.c.as_of,
            buffer.label("buffer"),
        )
        .where(latest.c.account_id != PLATFORM_ACCOUNT, latest.c.threshold_cents > 0, buffer < warning)
        .order_by(buffer, latest.c.account_id)
    ).all()
    return [(r.account_id, int(r.balance_cents), int(r.threshold_cents), r.as_of, float(r.buffer)) for r in rows]


def _totals_of(rows: list[Any]) -> _Totals:
    """``_totals_in_sql`` over latest rows already read (exact: Python's ``int``)."""
    studios = [r for r in rows if r.account_id != PLATFORM_ACCOUNT]
    platform = next((r for r in rows if r.account_id == PLATFORM_ACCOUNT), None)
    return _Totals(
        sum(int(r.balance_cents) for r in studios) if studios else None,
        sum(int(r.threshold_cents) for r in studios) if studios else None,
        len(studios),
        int(platform.balance_cents) if platform is not None else None,
        int(platform.threshold_cents) if platform is not None else None,
        platform.as_of if platform is not None else None,
    )


def _near_of(latest: Iterable[Sequence[Any]], warning: float) -> list[tuple[str, int, int, datetime, float]]:
    """``_near_in_sql`` over latest rows already read, each starting ``(account_id, as_of, balance_cents,
    threshold_cents)`` (the same float buffer, the same order)."""
    near = []
    for r in latest:
        account_id, balance, threshold = r[0], int(r[2]), int(r[3])
        if threshold <= 0 or account_id == PLATFORM_ACCOUNT:
            continue
        buffer = (float(balance) - threshold) / threshold
        if buffer < warning:
            near.append((account_id, balance, threshold, r[1], buffer))
    near.sort(key=itemgetter(4, 0))
    return near


def dashboard(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    warning = settings.rules.reserve_breach.buffer_warning
    projected = _projection(conn, at, settings, kept=True)
    if projected.seen is not None:  # a past instant on PostgreSQL: read in the projection's statement
        totals, near = projected.seen.totals, projected.seen.near
    elif projected.every_latest is not None:  # a past instant: every latest snapshot already read once
        totals, near = _totals_of(projected.every_latest), _near_of(projected.every_latest, warning)
    else:
        latest = latest_snapshots(at, conn.dialect.name)
        totals, near = _totals_in_sql(conn, latest), _near_in_sql(conn, latest, warning)
    p = scheduled_payouts.c
    held_count, held_cents = conn.execute(
        select(func.count(), exact_sum(p.amount_cents)).where(
            p.status == PayoutStatus.HELD.value, p.hold_reason == RESERVE_CAP
        )
    ).one()
    histories = account_histories(
        conn,
        [p.account_id for p in projected.breaches[:HISTORY_SHOWN]],
        at,
        settings.rules.reserve_breach.lookback_days,
    )
    return {
        "at": iso(at),
        "accounts": int(totals.accounts),
        "aggregate_balance_cents": totals.balance,
        "aggregate_threshold_cents": totals.threshold,
        "platform": (
            {
                "balance_cents": int(totals.platform_balance),
                "threshold_cents": int(totals.platform_threshold),
                "as_of": iso(totals.platform_as_of),
            }
            if totals.platform_as_of is not None
            and totals.platform_balance is not None
            and totals.platform_threshold is not None
            else None
        ),
        "buffer_warning": warning,
        "near_threshold": [
            {
                "account_id": account_id,
                "balance_cents": balance,
                "threshold_cents": threshold,
                "buffer_pct": round(buffer * 100, 2),
                "as_of": iso(as_of),
            }
            for account_id, balance, threshold, as_of, buffer in near
        ],
        "held_payouts": {"count": int(held_count), "amount_cents": held_cents or 0},
        "projected_breaches": [
            {**p.as_json(), "history": histories[p.account_id]} if i < HISTORY_SHOWN else p.as_json()
            for i, p in enumerate(projected.breaches)
        ],
    }
