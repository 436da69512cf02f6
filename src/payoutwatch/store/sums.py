"""``exact_sum``: SQL ``sum()`` of integer cents that stays exact beyond 64 bits on both stores.

Accepted cents are bounded (|x| ≤ 10^15, DESIGN §3) but their sum over many rows is not: SQLite's
``sum()`` raises "integer overflow" past 2^63 and its ``total()`` is a float. On SQLite each value
is split into a high part (``x >> 24``, arithmetic shift) and a low part (``x & 0xFFFFFF``, always
0 … 2^24 − 1); each part sums well inside 64 bits for any realistic row count, and the result type
recombines them in Python as ``high · 2^24 + low``. PostgreSQL's ``sum(bigint)`` is ``numeric``,
exact already; the result type turns it into an ``int``.

The value comes back as a Python ``int`` (``None`` over no rows, like ``sum``), so a query reads

    select(func.coalesce(exact_sum(t.c.amount_cents), 0))   # NOT this: the parts are text on SQLite
    select(exact_sum(t.c.amount_cents))                       # this; ``or 0`` in Python for "over nothing"

It is an aggregate to read, not to compute with inside SQL (on SQLite it is a text pair).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String, TypeDecorator

LOW_BITS = 24
LOW_MASK = (1 << LOW_BITS) - 1


class ExactSumType(TypeDecorator[int]):
    """The result of ``exact_sum``: ``'high low'`` text (SQLite) or numeric (PostgreSQL) → ``int``."""

    impl = String
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, str):
            high, low = value.split()
            return (int(high) << LOW_BITS) + int(low)
        assert isinstance(value, int | Decimal), value  # sum(bigint) is numeric on PostgreSQL
        return int(value)


class exact_sum(FunctionElement[int]):
    """``exact_sum(column)``: the exact sum of an integer column (``None`` over no rows)."""

    type = ExactSumType()
    inherit_cache = True
    name = "exact_sum"


@compiles(exact_sum, "sqlite")
def _exact_sum_sqlite(element: exact_sum, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    x = compiler.process(value, **kw)
    return f"(sum(({x}) >> {LOW_BITS}) || ' ' || sum(({x}) & {LOW_MASK}))"


@compiles(exact_sum)
def _exact_sum_default(element: exact_sum, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"sum({compiler.process(value, **kw)})"
