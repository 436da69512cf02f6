"""Idempotent upserts of validated records: one batch, one transaction.

Ingesting the same batch twice leaves the store as ingesting it once. Reserve
snapshots also keep ``reserve_accounts`` (each account's latest snapshot) current.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, Row, Table, select

from payoutwatch.records import Record
from payoutwatch.schedule import Schedule
from payoutwatch.store import data_version, reserve_fits
from payoutwatch.store.tables import RECORD_TABLES, reserve_accounts
from payoutwatch.store.types import UtcDateTime, to_micros

CHUNK = 10_000  # records held at a time while a stream is read (ingest_lines)


@dataclass(frozen=True)
class IngestResult:
    kind: str
    stored: int


def upsert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, new_keys_likely: bool = False
) -> None:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` for every row (all rows have the same fields, no
    two the same key).

    PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT … SELECT … ON CONFLICT``;
    with ``new_keys_likely`` first a plain ``COPY`` into the table inside a savepoint, which stores the
    same rows when no key is stored yet (the staging path runs only on a unique violation).
    SQLite: one prepared statement run by the driver's ``executemany`` over plain tuples.
    """
    if not rows:
        return
    columns = list(rows[0])
    values = _parameters(conn.dialect.name, table, columns, rows)
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    keys = [c.name for c in table.primary_key.columns]
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
    conflict = f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) " + (
        f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    )
    if conn.dialect.name == "postgresql":
        if not (new_keys_likely and _copy_new(conn, quote(table.name), names, values)):
            _copy_upsert(conn, quote(table.name), names, conflict, values)
    elif conn.dialect.name == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks}) {conflict}", values)
    else:
        raise NotImplementedError(f"upserts on {conn.dialect.name} are not supported")


def _copy_new(conn: Connection, table: str, names: str, values: list[tuple[Any, ...]]) -> bool:
    """``COPY`` the rows straight into ``table`` inside a savepoint; False (and nothing written) when a
    key is already stored."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), driver
    if driver.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
        return False  # a savepoint needs the caller's transaction begun (else psycopg would commit its own)
    try:
        with driver.transaction(), driver.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    except psycopg.errors.UniqueViolation:
        return False
    return True


def _copy_upsert(conn: Connection, table: str, names: str, conflict: str, values: list[tuple[Any, ...]]) -> None:
    stage = f"pw_stage_{table.strip(chr(34))}"
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection), driver
    with driver.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {stage} (LIKE {table}) ON COMMIT DROP")
        with cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
        cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}")
        cursor.execute(f"DROP TABLE {stage}")


def _parameters(
    dialect: str, table: Table, columns: list[str], rows: Sequence[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as the driver's parameter tuples, built a column at a time (instants as integer
    microseconds on SQLite; every other value, enum members included, as the driver takes it)."""
    if dialect != "sqlite" or not any(isinstance(table.c[c].type, UtcDateTime) for c in columns):
        return list(map(itemgetter(*columns), rows)) if len(columns) > 1 else [(row[columns[0]],) for row in rows]
    micros: dict[datetime | None, int | None] = {None: None}  # rows often share instants
    by_column = []
    for column in columns:
        values = [row[column] for row in rows]
        if isinstance(table.c[column].type, UtcDateTime):
            values = [micros[v] if v in micros else micros.setdefault(v, to_micros(v)) for v in values]
        by_column.append(values)
    return list(zip(*by_column, strict=True))


def record_row(record: Record, *, schedule: Schedule, now: datetime) -> dict[str, Any]:
    return finished_row(record.record_kind, record.model_dump(), schedule=schedule, now=now)


def finished_row(kind: str, row: dict[str, Any], *, schedule: Schedule, now: datetime) -> dict[str, Any]:
    """A validated record's fields (``model_dump()``) as the table's row: currency in capitals, the
    cycle a run serves, when it was ingested."""
    if "currency" in row:
        row["currency"] = row["currency"].upper()
    if kind == "job_runs":
        row["cycle_at"] = row["scheduled_for"] or schedule.nearest(row["started_at"])
    if kind != "reserve_snapshots":
        row["ingested_at"] = now
    return row


def ingest_records(
    conn: Connection,
    kind: str,
    records: Sequence[Record],
    *,
    schedule: Schedule,
    now: datetime,
    reserve_lookback: timedelta = reserve_fits.DEFAULT_LOOKBACK,
) -> IngestResult:
    """Upsert already-validated records of one kind on ``conn`` (the caller owns the transaction)."""
    rows = [r.model_dump() for r in records]
    return ingest_rows(conn, kind, rows, schedule=schedule, now=now, reserve_lookback=reserve_lookback)


def ingest_rows(
    conn: Connection,
    kind: str,
    rows: Sequence[dict[str, Any]],
    *,
    schedule: Schedule,
    now: datetime,
    reserve_lookback: timedelta = reserve_fits.DEFAULT_LOOKBACK,
) -> IngestResult:
    """Upsert validated records given as rows (``model_dump()`` of each, e.g. from
    ``record_fastpath.validated_rows``) on ``conn``; the caller owns the transaction.

    Every call gives the records a new version (``data_version``); reserve snapshots also keep
    ``reserve_accounts`` and ``reserve_fits`` (the projection's sums over ``reserve_lookback``) current."""
    table = RECORD_TABLES[kind]
    stored = _dedupe(table, [finished_row(kind, row, schedule=schedule, now=now) for row in rows])
    data_version.bump(conn)
    fits = reserve_fits.before_upsert(conn, stored) if kind == "reserve_snapshots" else {}
    upsert_rows(conn, table, stored, new_keys_likely=True)
    if kind == "reserve_snapshots":
        new = _refresh_accounts(conn, stored)
        reserve_fits.keep_current(conn, stored, fits, reserve_lookback, new)
    return IngestResult(kind=kind, stored=len(stored))


def _dedupe(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Within one batch the last record for a key wins (ON CONFLICT cannot see the same key twice)."""
    keys = list(map(itemgetter(*[c.name for c in table.primary_key.columns]), rows))
    latest = dict(zip(keys, rows, strict=True))
    return rows if len(latest) == len(rows) else list(latest.values())


def _refresh_accounts(conn: Connection, rows: Iterable[dict[str, Any]]) -> set[str]:
    """Keep each account's latest snapshot in ``reserve_accounts``; the accounts it did not hold before."""
    newest: dict[str, dict[str, Any]] = {}
    oldest: dict[str, datetime] = {}
    for row in rows:
        account = row["account_id"]
        if account not in newest or row["as_of"] >= newest[account]["as_of"]:
            newest[account] = row
        if account not in oldest or row["as_of"] < oldest[account]:
            oldest[account] = row["as_of"]
    ids = list(newest)
    existing: dict[str, Row[Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        for stored in conn.execute(select(reserve_accounts).where(reserve_accounts.c.account_id.in_(chunk))):
            existing[stored.account_id] = stored
    merged = []
    for account, row in newest.items():
        old = existing.get(account)
        latest = {"as_of": row["as_of"], "balance": row["balance_cents"], "threshold": row["threshold_cents"]}
        if old is not None and old.last_as_of > row["as_of"]:
            latest = {"as_of": old.last_as_of, "balance": old.last_balance_cents, "threshold": old.last_threshold_cents}
        merged.append(
            {
                "account_id": account,
                "first_as_of": min(oldest[account], old.first_as_of) if old is not None else oldest[account],
                "last_as_of": latest["as_of"],
                "last_balance_cents": latest["balance"],
                "last_threshold_cents": latest["threshold"],
            }
        )
    upsert_rows(conn, reserve_accounts, merged)
    return set(newest).difference(existing)
