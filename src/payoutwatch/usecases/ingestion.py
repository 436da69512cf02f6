"""Storing records: validate a whole batch, then upsert it on the caller's transaction.

``store_records`` is the one validate-then-store step behind every way records arrive: ``ingest``
(CLI and API), pings, source syncs and the Stripe webhook. A batch with any bad record raises
``records.BatchRejected`` listing every problem, and nothing of it is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.records import RECORD_TYPES, RecordError, split_batch, unknown_kind_message, validate_objects
from payoutwatch.schedule import schedule_of
from payoutwatch.store.audit import audit
from payoutwatch.store.ingest import ingest_records


@dataclass(frozen=True)
class StoredBatch:
    kind: str
    valid: int  # records that passed validation (a key repeated in the batch counts each time)
    stored: int  # rows upserted (within one batch the last record for a key wins)


def store_records(
    conn: Connection,
    settings: Settings,
    kind: str,
    objects: Sequence[tuple[int, Any]],
    *,
    now: datetime,
    unit: str = "record",
    errors: Sequence[RecordError] = (),
) -> StoredBatch:
    """Validate ``objects`` (each paired with its line or record number) as ``kind`` and upsert them on ``conn``.

    ``errors`` are problems already found while decoding (a line that is not JSON); any problem
    raises ``BatchRejected`` before anything is written. Raises ``ValueError`` for an unknown kind.
    """
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    records = validate_objects(kind, list(objects), currency=settings.currency, errors=list(errors), unit=unit)
    result = ingest_records(conn, kind, records, schedule=schedule_of(settings), now=now)
    return StoredBatch(kind=kind, valid=len(records), stored=result.stored)


def ingest_text(
    engine: Engine, kind: str, text: str | bytes, settings: Settings, *, now: datetime, actor: str = "cli"
) -> StoredBatch:
    """Parse ``text`` (JSON Lines or a JSON array; bytes decoded per line) as ``kind`` records, store them, audited.

    Raises ``records.BatchRejected`` (every bad record listed) or ``ValueError`` (unknown kind).
    """
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    objects, errors, unit = split_batch(text)
    with engine.begin() as conn:
        result = store_records(conn, settings, kind, objects, now=now, unit=unit, errors=errors)
        audit(conn, actor=actor, action="ingest", target=kind, now=now, details={"stored": result.stored})
    return result
