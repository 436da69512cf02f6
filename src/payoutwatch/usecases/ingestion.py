"""The ingest use case shared by the CLI and the HTTP API: validate a whole batch, then upsert it
in one transaction. A batch with any bad record is refused whole and nothing is written."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.metrics.common import schedule_of
from payoutwatch.records import parse_batch
from payoutwatch.store.audit import audit
from payoutwatch.store.ingest import IngestResult, ingest_records


def ingest_text(
    engine: Engine, kind: str, text: str, settings: Settings, *, now: datetime, actor: str = "cli"
) -> IngestResult:
    """Parse ``text`` (JSON Lines or a JSON array) as ``kind`` records and store them.

    Raises ``records.BatchRejected`` (every bad record listed) or ``ValueError`` (unknown kind).
    """
    records = parse_batch(kind, text, currency=settings.currency)
    with engine.begin() as conn:
        result = ingest_records(conn, kind, records, schedule=schedule_of(settings), now=now)
        audit(conn, actor=actor, action="ingest", target=kind, now=now, details={"stored": result.stored})
    return result
