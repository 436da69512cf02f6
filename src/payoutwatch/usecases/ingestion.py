"""Storing records: validate a whole batch, then upsert it on the caller's transaction.

``store_records`` is the one validate-then-store step behind every way records arrive: ``ingest``
(CLI and API), pings, source syncs and the Stripe webhook. A batch with any bad record raises
``records.BatchRejected`` listing every problem, and nothing of it is written.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.record_fastpath import BLOCK, rows_or_problems, validated_rows
from payoutwatch.records import (
    RECORD_TYPES,
    BatchRejected,
    RecordError,
    decode_lines,
    split_batch,
    unknown_kind_message,
)
from payoutwatch.schedule import schedule_of
from payoutwatch.store.audit import audit
from payoutwatch.store.ingest import CHUNK, ingest_rows

MAX_LISTED = 1000  # problems listed one by one when a long stream is refused; the rest are counted


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
    rows = validated_rows(kind, objects, currency=settings.currency, errors=errors, unit=unit)
    lookback = settings.rules.reserve_breach.lookback()
    result = ingest_rows(conn, kind, rows, schedule=schedule_of(settings), now=now, reserve_lookback=lookback)
    return StoredBatch(kind=kind, valid=len(rows), stored=result.stored)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a batch is read and stored.

    A batch allocates a few objects per record that all live until the batch is stored, and none is
    part of a cycle: the collector would scan them again and again for nothing (a third of the time of
    a large batch). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def ingest_text(
    engine: Engine, kind: str, text: str | bytes, settings: Settings, *, now: datetime, actor: str = "cli"
) -> StoredBatch:
    """Parse ``text`` (JSON Lines or a JSON array; bytes decoded per line) as ``kind`` records, store them, audited.

    Raises ``records.BatchRejected`` (every bad record listed) or ``ValueError`` (unknown kind).
    """
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    with collector_paused():
        objects, errors, unit = split_batch(text)
        with engine.begin() as conn:
            result = store_records(conn, settings, kind, objects, now=now, unit=unit, errors=errors)
            audit(conn, actor=actor, action="ingest", target=kind, now=now, details={"stored": result.stored})
    return result


def _blocks(decoded: Iterable[tuple[int, Any]]) -> Iterator[list[tuple[int, Any]]]:
    """Decoded lines ``BLOCK`` at a time (validated column-wise together)."""
    numbered = iter(decoded)
    while block := list(islice(numbered, BLOCK)):
        yield block


def ingest_lines(
    engine: Engine,
    kind: str,
    lines: Iterable[bytes],
    settings: Settings,
    *,
    now: datetime,
    actor: str = "cli",
    chunk: int = CHUNK,
) -> StoredBatch:
    """Store JSON Lines as they are read, so memory stays flat whatever the size of the input.

    One transaction holds the whole batch: records are upserted a chunk at a time while every line
    is valid; after the first problem nothing more is written, the rest is still read so that every
    problem is listed (the first ``MAX_LISTED``, then a count), and ``BatchRejected`` rolls back what
    was written. Same refusals and messages as ``ingest_text``; within a batch the last record for a
    key wins.
    """
    if kind not in RECORD_TYPES:
        raise ValueError(unknown_kind_message(kind))
    schedule, lookback = schedule_of(settings), settings.rules.reserve_breach.lookback()
    errors: list[RecordError] = []
    unlisted = last_line = valid = stored = 0
    pending: list[dict[str, Any]] = []
    seen: dict[str, datetime] = {}  # instants already parsed
    with collector_paused(), engine.begin() as conn:
        for block in _blocks(decode_lines(lines)):
            last_line = block[-1][0]
            objects = [(number, decoded) for number, decoded in block if not isinstance(decoded, RecordError)]
            rows, problems = rows_or_problems(kind, objects, currency=settings.currency, unit="line", seen=seen)
            if len(objects) < len(block):  # lines that are not JSON, in line order with the records' problems
                refused = [decoded for _, decoded in block if isinstance(decoded, RecordError)]
                problems = sorted([*refused, *problems], key=lambda e: e.line)
            room = max(0, MAX_LISTED - len(errors))
            errors.extend(problems[:room])
            unlisted += len(problems) - len(problems[:room])
            valid += len(rows)
            if not errors:
                pending.extend(rows)
            if len(pending) >= chunk:
                stored += ingest_rows(conn, kind, pending, schedule=schedule, now=now, reserve_lookback=lookback).stored
                pending, seen = [], {}
                gc.collect()  # the collector is paused: collect what cycles the chunk left, once per chunk
        if errors:
            if unlisted:
                errors.append(RecordError(last_line, "(batch)", f"{unlisted} more problem(s) not listed"))
            raise BatchRejected(kind, errors)
        stored += ingest_rows(conn, kind, pending, schedule=schedule, now=now, reserve_lookback=lookback).stored
        audit(conn, actor=actor, action="ingest", target=kind, now=now, details={"stored": stored})
    return StoredBatch(kind=kind, valid=valid, stored=stored)
