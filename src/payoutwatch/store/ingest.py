"""Idempotent upserts of validated records: one batch, one transaction.

Ingesting the same batch twice leaves the store as ingesting it once. Reserve
snapshots also keep ``reserve_accounts`` (each account's latest snapshot) current.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from payoutwatch.records import JobRun, Record, ReserveSnapshot
from payoutwatch.schedule import Schedule
from payoutwatch.store.tables import RECORD_TABLES, reserve_accounts

CHUNK = 2000


@dataclass(frozen=True)
class IngestResult:
    kind: str
    stored: int


def _insert(conn: Connection, table: Table) -> Any:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upserts on {dialect} are not supported")


def upsert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` for every row, in chunks."""
    if not rows:
        return
    keys = [c.name for c in table.primary_key.columns]
    stmt = _insert(conn, table)
    updates = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
    stmt = (
        stmt.on_conflict_do_update(index_elements=keys, set_=updates)
        if updates
        else (stmt.on_conflict_do_nothing(index_elements=keys))
    )
    for start in range(0, len(rows), CHUNK):
        conn.execute(stmt, list(rows[start : start + CHUNK]))


def record_row(record: Record, *, schedule: Schedule, now: datetime) -> dict[str, Any]:
    row = record.model_dump()
    if "currency" in row:
        row["currency"] = row["currency"].upper()
    if isinstance(record, JobRun):
        row["cycle_at"] = record.scheduled_for or schedule.nearest(record.started_at)
    if not isinstance(record, ReserveSnapshot):
        row["ingested_at"] = now
    return row


def ingest_records(
    conn: Connection, kind: str, records: Sequence[Record], *, schedule: Schedule, now: datetime
) -> IngestResult:
    """Upsert already-validated records of one kind on ``conn`` (the caller owns the transaction)."""
    table = RECORD_TABLES[kind]
    rows = _dedupe(table, [record_row(r, schedule=schedule, now=now) for r in records])
    upsert_rows(conn, table, rows)
    if kind == "reserve_snapshots":
        _refresh_accounts(conn, rows)
    return IngestResult(kind=kind, stored=len(rows))


def _dedupe(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Within one batch the last record for a key wins (ON CONFLICT cannot see the same key twice)."""
    keys = [c.name for c in table.primary_key.columns]
    latest: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        latest[tuple(row[k] for k in keys)] = row
    return list(latest.values())


def _refresh_accounts(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
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
