"""``sql_ledger``: the ledger's views for scheduled payouts, reserves, manual payouts (and runs).

Reads relations named like the record kinds, with columns named like the record fields, unless
``relations`` / ``columns`` map a team's own schema. Connections are read-only (PostgreSQL:
``default_transaction_read_only``; SQLite: ``mode=ro``). With ``cursor_column`` (an updated_at-style
column) each sync reads only what changed, in pages that never split rows sharing a cursor value.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr
from sqlalchemy import Engine, MetaData, Table, create_engine, inspect, select, type_coerce
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.types import NullType

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import RECORD_TYPES
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.store.engine import normalise_url

KINDS = ("scheduled_payouts", "reserve_snapshots", "manual_payouts", "job_runs")
OPTIONAL = {"job_runs"}


class SqlLedgerSource(SourceBase):
    type: Literal["sql_ledger"]
    url: SecretStr
    relations: dict[str, str] = Field(default_factory=dict)  # kind -> relation (table or view)
    columns: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> {field: their column}
    cursor_column: str | None = None  # an updated_at-style column present in every relation read
    naive_timezone: str = "UTC"  # how to read timestamps stored without an offset
    page_size: int = Field(5000, ge=1)


def read_only_engine(url: str, timeout: float) -> Engine:
    parsed = make_url(normalise_url(url))
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        return create_engine(f"sqlite:///file:{database}?mode=ro&uri=true", connect_args={"timeout": timeout})
    if parsed.drivername.startswith("postgresql"):
        return create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": int(timeout), "options": "-c default_transaction_read_only=on"},
        )
    return create_engine(parsed, pool_pre_ping=True)  # grant the role SELECT only (docs/ledger-views.sql)


class SqlLedger:
    def __init__(self, name: str, config: SqlLedgerSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.zone = ZoneInfo(config.naive_timezone)

    def secrets(self) -> list[str]:
        url = self.config.url.get_secret_value()
        password = make_url(url).password
        return [url] + ([str(password)] if password else [])

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        engine = read_only_engine(self.config.url.get_secret_value(), self.config.timeout_seconds)
        try:
            state = dict(cursor or {})
            for kind in KINDS:
                table = self._relation(engine, kind)
                if table is not None:
                    yield from self._read(engine, kind, table, state)
        except SQLAlchemyError as exc:
            cause = _cause(exc)
            raise SourceError(f"ledger query failed: {type(cause).__name__}: {str(cause).splitlines()[0]}") from None
        finally:
            engine.dispose()

    def _relation(self, engine: Engine, kind: str) -> Table | None:
        name = self.config.relations.get(kind, kind)
        try:
            names = set(inspect(engine).get_table_names()) | set(inspect(engine).get_view_names())
        except SQLAlchemyError as exc:
            cause = _cause(exc)
            raise SourceError(
                f"cannot reach the ledger: {type(cause).__name__}: {str(cause).splitlines()[0]}"
            ) from None
        if name not in names:
            if kind in OPTIONAL and kind not in self.config.relations:
                return None
            raise SourceError(f"relation {name!r} (for {kind}) not found in the ledger", permanent=True)
        try:
            return Table(name, MetaData(), autoload_with=engine)
        except NoSuchTableError:
            raise SourceError(f"relation {name!r} not found", permanent=True) from None

    def _fields(self, kind: str, table: Table) -> dict[str, str]:
        """record field -> the relation's column, for the fields the relation has."""
        mapping = self.config.columns.get(kind, {})
        fields = RECORD_TYPES[kind].model_fields
        unknown = set(mapping) - set(fields)
        if unknown:
            raise SourceError(f"columns.{kind}: {sorted(unknown)} are not fields of {kind}", permanent=True)
        return {field: mapping.get(field, field) for field in fields if mapping.get(field, field) in table.c}

    def _read(self, engine: Engine, kind: str, table: Table, state: dict[str, Any]) -> Iterator[Page]:
        fields = self._fields(kind, table)
        column = self.config.cursor_column
        selected = [table.c[col].label(field) for field, col in fields.items()]
        if column is None:
            yield from self._full(engine, kind, select(*selected))
            return
        if column not in table.c:
            raise SourceError(f"cursor column {column!r} is not in {table.name}", permanent=True)
        # the cursor travels in the ledger's own representation (read and bound untyped), so a
        # SQLite text timestamp compares equal to itself on the next page
        position = type_coerce(table.c[column], NullType())
        last = _load_cursor(state.get(kind))
        size = self.config.page_size
        while True:
            q = select(*selected, position.label("__cursor")).order_by(position)
            if last is not None:
                q = q.where(position > last)
            with engine.connect() as conn:
                rows = conn.execute(q.limit(size + 1)).mappings().all()
                if len(rows) > size and rows[size]["__cursor"] == rows[size - 1]["__cursor"]:
                    # rows sharing the boundary value must land in the same page
                    tail = (
                        conn.execute(
                            select(*selected, position.label("__cursor")).where(position == rows[size - 1]["__cursor"])
                        )
                        .mappings()
                        .all()
                    )
                    rows = [r for r in rows[:size] if r["__cursor"] != rows[size - 1]["__cursor"]] + list(tail)
                else:
                    rows = rows[:size]
            if not rows:
                return
            last = rows[-1]["__cursor"]
            state[kind] = _dump_cursor(last)
            yield Page(records={kind: [self._record(r) for r in rows]}, cursor=dict(state))

    def _full(self, engine: Engine, kind: str, q: Any) -> Iterator[Page]:
        with engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=self.config.page_size).execute(q)
            for chunk in result.mappings().partitions():
                yield Page(records={kind: [self._record(r) for r in chunk]})

    def _record(self, row: Any) -> dict[str, Any]:
        return {k: self._value(v) for k, v in row.items() if k != "__cursor" and v is not None}

    def _value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            aware = value if value.tzinfo is not None else value.replace(tzinfo=self.zone)
            return aware.isoformat()
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=self.zone).isoformat()
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        return value


def _cause(exc: SQLAlchemyError) -> BaseException:
    """The driver's own error (its message names the problem without SQLAlchemy's statement dump)."""
    return getattr(exc, "orig", None) or exc


def _dump_cursor(value: Any) -> dict[str, Any]:
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return {"number": str(value)}
    return {"value": value}


def _load_cursor(stored: dict[str, Any] | None) -> Any:
    if not stored:
        return None
    if "datetime" in stored:
        return datetime.fromisoformat(stored["datetime"])
    if "number" in stored:
        return Decimal(stored["number"])
    return stored.get("value")


SOURCE_TYPES.register(SqlLedgerSource, SqlLedger)
