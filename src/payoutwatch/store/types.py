"""Column types: instants are stored as UTC and always come back timezone-aware.

PostgreSQL stores ``timestamptz``. SQLite stores integer microseconds since the Unix epoch: exact,
compact, compared and subtracted as integers (no text parsing in range scans or regressions).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import String, TypeDecorator, TypeEngine

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Exact integer microseconds since the epoch for an aware instant."""
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + timedelta(microseconds=value)


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; instants are UTC-aware")
        return to_micros(value) if dialect.name == "sqlite" else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Any:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        def from_sqlite(value: Any) -> datetime | None:  # integer microseconds, read without the generic path
            return (
                EPOCH + timedelta(microseconds=value)
                if type(value) is int
                else self.process_result_value(value, dialect)
            )

        return from_sqlite

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, int | float):
            return from_micros(int(value))
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class seconds_between(FunctionElement[float]):
    """``seconds_between(a, b)``: b − a in seconds, as a float, on any supported dialect."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


def _difference(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    """``b - a`` of ``f(a, b)``: integer microseconds on SQLite, an interval on PostgreSQL."""
    a, b = list(element.clauses)
    return f"{compiler.process(b, **kw)} - {compiler.process(a, **kw)}"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    return f"(({_difference(element, compiler, **kw)}) / 1000000.0)"


@compiles(seconds_between, "postgresql")
def _seconds_between_pg(element: FunctionElement[Any], compiler: Any, **kw: Any) -> str:
    # date_part gives float8 directly; EXTRACT returns numeric since PostgreSQL 14 (much slower per row)
    return f"date_part('epoch', {_difference(element, compiler, **kw)})"


def elapsed(start: ColumnElement[Any], end: ColumnElement[Any]) -> seconds_between:
    return seconds_between(start, end)


class micros_between(FunctionElement[int]):
    """``micros_between(a, b)``: b − a in whole microseconds, as an integer, on any supported dialect.

    Exact: SQLite subtracts its integer microseconds; PostgreSQL's ``date_part('epoch', interval)`` is
    a float8 of seconds whose error stays far below half a microsecond for any span between
    1970 and 2199, so rounding it back to microseconds gives the exact difference.
    """

    type = BigInteger()
    inherit_cache = True
    name = "micros_between"


@compiles(micros_between, "sqlite")
def _micros_between_sqlite(element: micros_between, compiler: Any, **kw: Any) -> str:
    return f"({_difference(element, compiler, **kw)})"


@compiles(micros_between, "postgresql")
def _micros_between_pg(element: micros_between, compiler: Any, **kw: Any) -> str:
    return f"CAST(round({_seconds_between_pg(element, compiler, **kw)} * 1000000) AS BIGINT)"


class ExactInteger(TypeDecorator[int]):
    """An integer of any size, stored as decimal text (regression sums outgrow 64 bits)."""

    impl = String(80)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Dialect) -> str | None:
        return None if value is None else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)
