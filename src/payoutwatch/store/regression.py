"""Exact least-squares sums of reserve snapshots: x = ``as_of`` in microseconds, y = balance in cents.

Both are integers, so the sums (count, Σx, Σy, Σx², Σxy) are exact Python ``int`` values whatever
their size, and so is the slope ``(nΣxy − ΣxΣy) / (nΣx² − (Σx)²)`` as a fraction: the same snapshots
give the same slope to the last bit whether the sums were kept at ingest (``reserve_fits``) or
computed from the snapshots now, and whatever origin x was measured from.

``window_sums`` computes them in SQL per account. Σx² and Σxy outgrow 64 bits, so each row's x
(from the window's start, at most the lookback) and y are split into limbs whose products and sums
stay inside 64 bits, and Python recombines them; a window too long for that, or an account with so
many snapshots that SQLite's ``sum()`` overflows, is summed row by row in Python instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Select,
    func,
    literal,
    literal_column,
    select,
    true,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.selectable import Join

from payoutwatch.store.tables import reserve_accounts, reserve_snapshots
from payoutwatch.store.types import micros_between, to_micros

Instant = datetime | BindParameter[datetime]  # a value, or a parameter bound when a cached statement runs

X_BITS = 20  # x = xh · 2^20 + xl
Y_BITS = 24  # y = yh · 2^24 + yl (arithmetic shift: yh carries the sign, 0 ≤ yl < 2^24)
LIMB_WINDOW_MICROS = 1 << 42  # ≈ 50 days: xh < 2^22, every product < 2^48, sums exact up to 2^15 rows
IN_CHUNK = 500


@dataclass(frozen=True)
class Sums:
    """Regression sums over a set of snapshots (x in microseconds since the epoch)."""

    n: int = 0
    sx: int = 0
    sy: int = 0
    sxx: int = 0
    sxy: int = 0

    @classmethod
    def of(cls, points: Iterable[tuple[datetime, int]]) -> Sums:
        n = sx = sy = sxx = sxy = 0
        for as_of, balance in points:
            x = to_micros(as_of)
            n, sx, sy, sxx, sxy = n + 1, sx + x, sy + balance, sxx + x * x, sxy + x * balance
        return cls(n, sx, sy, sxx, sxy)

    def __add__(self, other: Sums) -> Sums:
        return Sums(
            self.n + other.n, self.sx + other.sx, self.sy + other.sy, self.sxx + other.sxx, self.sxy + other.sxy
        )

    def __sub__(self, other: Sums) -> Sums:
        return Sums(
            self.n - other.n, self.sx - other.sx, self.sy - other.sy, self.sxx - other.sxx, self.sxy - other.sxy
        )

    def shifted(self, origin: int) -> Sums:
        """The sums of x + origin (sums measured from ``origin`` brought back to the epoch)."""
        n, sx = self.n, self.sx
        return Sums(
            n, sx + n * origin, self.sy, self.sxx + 2 * origin * sx + n * origin * origin, self.sxy + origin * self.sy
        )

    def slope(self) -> tuple[int, int]:
        """The least-squares slope in cents per microsecond as ``(numerator, denominator > 0)``;
        ``(0, 1)`` with fewer than two snapshots (distinct instants make the denominator positive)."""
        denominator = self.n * self.sxx - self.sx * self.sx
        if self.n < 2 or denominator <= 0:
            return 0, 1
        return self.n * self.sxy - self.sx * self.sy, denominator

    def slope_per_second(self) -> float:
        """The slope in cents per second, correctly rounded to a float."""
        numerator, denominator = self.slope()
        return numerator * 1_000_000 / denominator


def window_sums(
    conn: Connection, since: datetime, at: datetime, accounts: Sequence[str] | None = None
) -> dict[str, Sums]:
    """Each account's sums over its snapshots in ``[since, at]`` (only ``accounts`` when given)."""
    if not limbs_hold(since, at):
        return _summed_in_python(conn, since, at, accounts)
    try:
        return _summed_in_sql(conn, since, at, accounts)
    except OperationalError as exc:  # SQLite's sum() past 2^63: more rows in a window than the limbs allow
        if "overflow" not in str(exc):
            raise
        return _summed_in_python(conn, since, at, accounts)


def limbs_hold(since: datetime, at: datetime) -> bool:
    """The window ``[since, at]`` is short enough for ``limb_parts`` to stay inside 64 bits."""
    return to_micros(at) - to_micros(since) < LIMB_WINDOW_MICROS


def _chunks(accounts: Sequence[str] | None) -> Iterable[Sequence[str] | None]:
    if accounts is None:
        yield None
        return
    for start in range(0, len(accounts), IN_CHUNK):
        yield accounts[start : start + IN_CHUNK]


def per_account(parts: Sequence[ColumnElement[Any]], since: Instant, at: Instant, dialect: str) -> Select[Any]:
    """``account_id`` and the aggregates ``parts`` over each account's snapshots in ``[since, at]``.

    Each account reads its own index range: a ``LATERAL`` aggregate on PostgreSQL (its planner would
    otherwise scan the whole table), a ``CROSS JOIN`` from ``reserve_accounts`` on SQLite (with statistics its
    planner would rather skip-scan the snapshots and look each row's account up: twice the time).
    """
    s, a = reserve_snapshots.c, reserve_accounts.c
    if dialect == "postgresql":
        window = select(*parts).where(s.account_id == a.account_id, s.as_of >= since, s.as_of <= at).lateral("w")
        return (
            select(a.account_id, *window.c)
            .select_from(reserve_accounts.join(window, true()))
            .where(a.first_as_of <= at, a.last_as_of >= since)
        )
    return (
        select(a.account_id, *parts)
        .select_from(CrossJoin(reserve_accounts, reserve_snapshots, s.account_id == a.account_id))
        .where(s.as_of >= since, s.as_of <= at)
        .group_by(a.account_id)
    )


class CrossJoin(Join):
    """An inner join whose left side SQLite's planner must keep as the outer loop (``CROSS JOIN``)."""

    inherit_cache = True


@compiles(CrossJoin, "sqlite")
def _cross_join(element: CrossJoin, compiler: Any, **kw: Any) -> str:
    kw["asfrom"] = True
    left, right = compiler.process(element.left, **kw), compiler.process(element.right, **kw)
    return f"{left} CROSS JOIN {right} ON {compiler.process(element.onclause, **kw)}"


def _constant(value: int) -> ColumnElement[int]:
    """An integer written into the statement (PostgreSQL has ``bigint >> integer``, not ``>> bigint``)."""
    return literal_column(str(value), Integer)


def as_instant(value: Instant) -> ColumnElement[datetime]:
    """An instant in a statement: the parameter itself, or the value bound as the store holds instants."""
    return value if isinstance(value, BindParameter) else literal(value, type_=reserve_snapshots.c.as_of.type)


def limb_parts(since: Instant) -> tuple[ColumnElement[Any], ...]:
    """The aggregates over snapshots (x from ``since``) that ``limb_sums`` recombines into exact sums:
    every product and sum stays inside 64 bits (a window shorter than ``LIMB_WINDOW_MICROS``)."""
    s = reserve_snapshots.c
    x = micros_between(as_instant(since), s.as_of)
    xh, xl = x.bitwise_rshift(_constant(X_BITS)), x.bitwise_and(_constant((1 << X_BITS) - 1))
    y = s.balance_cents
    yh, yl = y.bitwise_rshift(_constant(Y_BITS)), y.bitwise_and(_constant((1 << Y_BITS) - 1))
    return (
        func.count().label("n"),
        func.sum(x).label("sx"),
        func.sum(yh).label("yh"),
        func.sum(yl).label("yl"),
        func.sum(xh * xh).label("hh"),
        func.sum(xh * xl).label("hl"),
        func.sum(xl * xl).label("ll"),
        func.sum(xh * yh).label("xh_yh"),
        func.sum(xh * yl).label("xh_yl"),
        func.sum(xl * yh).label("xl_yh"),
        func.sum(xl * yl).label("xl_yl"),
    )


LIMB_NAMES = ("n", "sx", "yh", "yl", "hh", "hl", "ll", "xh_yh", "xh_yl", "xl_yh", "xl_yl")  # limb_parts' labels


def limb_sums(r: Any, since: datetime) -> Sums | None:
    """The exact sums (x from the epoch) of a row holding ``limb_parts``; None over no snapshots."""
    sums = _from_limbs(*(getattr(r, name) for name in LIMB_NAMES))
    return sums.shifted(to_micros(since)) if sums is not None else None


def limb_slope(limbs: Sequence[Any]) -> tuple[int, int]:
    """``Sums.slope()`` of ``limb_parts``' values (in ``LIMB_NAMES`` order), from the sums with x measured
    from the window's start: the slope's numerator and denominator are the same integers whatever origin
    x is measured from."""
    sums = _from_limbs(*limbs)
    return sums.slope() if sums is not None else Sums().slope()


def _from_limbs(
    n: Any, sx: Any, yh: Any, yl: Any, hh: Any, hl: Any, ll: Any, xh_yh: Any, xh_yl: Any, xl_yh: Any, xl_yl: Any
) -> Sums | None:
    """The exact sums, x from the window's start, of ``limb_parts``' values (None over no snapshots)."""
    if not n:
        return None
    sy = (int(yh) << Y_BITS) + int(yl)
    sxx = (int(hh) << (2 * X_BITS)) + (int(hl) << (X_BITS + 1)) + int(ll)
    sxy = (int(xh_yh) << (X_BITS + Y_BITS)) + (int(xh_yl) << X_BITS) + (int(xl_yh) << Y_BITS) + int(xl_yl)
    return Sums(int(n), int(sx), sy, sxx, sxy)


def _summed_in_sql(conn: Connection, since: datetime, at: datetime, accounts: Sequence[str] | None) -> dict[str, Sums]:
    parts = limb_parts(since)
    out: dict[str, Sums] = {}
    for chunk in _chunks(accounts):
        query = per_account(parts, since, at, conn.dialect.name)
        if chunk is not None:
            query = query.where(reserve_accounts.c.account_id.in_(chunk))
        for r in conn.execute(query):
            sums = limb_sums(r, since)
            if sums is not None:
                out[r.account_id] = sums
    return out


def _summed_in_python(
    conn: Connection, since: datetime, at: datetime, accounts: Sequence[str] | None
) -> dict[str, Sums]:
    s = reserve_snapshots.c
    points: dict[str, list[tuple[datetime, int]]] = {}
    for chunk in _chunks(accounts):
        query = select(s.account_id, s.as_of, s.balance_cents).where(s.as_of >= since, s.as_of <= at)
        if chunk is not None:
            query = query.where(s.account_id.in_(chunk))
        for r in conn.execute(query):
            points.setdefault(r.account_id, []).append((r.as_of, int(r.balance_cents)))
    return {account: Sums.of(p) for account, p in points.items()}
