"""Job pings (healthchecks-style push): ``start``, ``success`` or ``fail`` for a job's run.

Each ping is a ``job_runs`` record written through the same validated upsert as ``ingest``.
A finish without a known run id closes the job's latest unfinished run, or records a run of
zero duration when none is open (a job that only reports its end).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.metrics.common import schedule_of
from payoutwatch.records import validate_objects
from payoutwatch.store.ingest import ingest_records
from payoutwatch.store.tables import job_runs

REPORTABLE = (
    "scheduled_for",
    "studios_scheduled",
    "studios_processed",
    "success_count",
    "error_count",
    "retry_count",
    "cad_processed_cents",
)


class PingEvent(StrEnum):
    START = "start"
    SUCCESS = "success"
    FAIL = "fail"


def record_ping(
    engine: Engine,
    settings: Settings,
    job: str,
    event: PingEvent,
    *,
    now: datetime,
    run_id: str | None = None,
    exit_code: int | None = None,
    figures: dict[str, Any] | None = None,
) -> str:
    """Record one ping and return the run id it applies to (raises BatchRejected for bad figures)."""
    figures = dict(figures or {})
    unknown = set(figures) - set(REPORTABLE)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}; a ping may report {', '.join(REPORTABLE)}")
    with engine.begin() as conn:
        current: dict[str, Any] = {}
        if event is not PingEvent.START:
            q = select(job_runs).where(job_runs.c.job == job)
            q = q.where(job_runs.c.run_id == run_id) if run_id else q.where(job_runs.c.finished_at.is_(None))
            row = conn.execute(q.order_by(job_runs.c.started_at.desc()).limit(1)).mappings().first()
            if row is not None:
                current = {k: v for k, v in row.items() if k in ("run_id", "started_at", "scheduled_for", *REPORTABLE)}
        record: dict[str, Any] = {
            "run_id": run_id or current.get("run_id") or _new_run_id(job, now),
            "job": job,
            "started_at": current.get("started_at", now),
            "source": "ping",
        }
        record.update({k: v for k, v in current.items() if k in REPORTABLE and v is not None})
        record.update(figures)
        if event is not PingEvent.START:
            record["finished_at"] = now
            record["exit_code"] = exit_code if exit_code is not None else (0 if event is PingEvent.SUCCESS else 1)
        serialisable = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}
        [run] = validate_objects("job_runs", [(1, serialisable)], currency=settings.currency, unit="ping")
        ingest_records(conn, "job_runs", [run], schedule=schedule_of(settings), now=now)
    return str(record["run_id"])


def _new_run_id(job: str, now: datetime) -> str:
    return f"{job}-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
