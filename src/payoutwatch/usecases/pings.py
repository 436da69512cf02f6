"""Job pings (healthchecks-style push): ``start``, ``success`` or ``fail`` for a job's run.

Each ping is a ``job_runs`` record written through the same validated upsert as ``ingest``.
A finish without a known run id closes the job's latest unfinished run started at or before now
(a run whose start is in the future never captures pings), or records a run of zero duration when
none is open (a job that only reports its end). ``run_monitored`` wraps a
command: a start ping, the command, then a success or fail ping with the figures it reported.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine, select

from payoutwatch.config import Settings
from payoutwatch.records import ID_CHARS, RUN_FIGURES, text_problem
from payoutwatch.store.tables import job_runs
from payoutwatch.usecases.ingestion import store_records

REPORT_VARIABLE = "PAYOUTWATCH_RUN_REPORT"


class PingEvent(StrEnum):
    START = "start"
    SUCCESS = "success"
    FAIL = "fail"


class UnknownEvent(ValueError):
    """A word that is not a ping event; the message names the nearest one."""


def ping_event(word: str) -> PingEvent:
    """``word`` as a ping event, or ``UnknownEvent`` suggesting the nearest (``finish`` → ``fail``)."""
    events = [e.value for e in PingEvent]
    if word in events:
        return PingEvent(word)
    [nearest] = difflib.get_close_matches(word, events, n=1, cutoff=0)
    raise UnknownEvent(f"{word!r} is not a ping event (did you mean {nearest!r}?); events: {', '.join(events)}")


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
    for name, value in (("job", job), ("run_id", run_id)):
        problem = None if value is None else text_problem(value, ID_CHARS)
        if value is not None and problem is not None:
            raise ValueError(f"{name} {value[:40]!r}: {problem}")
    if figures is not None and not isinstance(figures, dict):
        raise ValueError(f'figures must be a JSON object such as {{"studios_processed": 120}}, not {figures!r:.60}')
    figures = dict(figures or {})
    unknown = set(figures) - set(RUN_FIGURES)
    if unknown:
        raise ValueError(f"unknown figures {sorted(unknown)}; a ping may report {', '.join(RUN_FIGURES)}")
    with engine.begin() as conn:
        current: dict[str, Any] = {}
        if event is not PingEvent.START:
            q = select(job_runs).where(job_runs.c.job == job)
            if run_id:
                q = q.where(job_runs.c.run_id == run_id)
            else:  # a run ingested with a future start never captures today's pings
                q = q.where(job_runs.c.finished_at.is_(None), job_runs.c.started_at <= now)
            row = conn.execute(q.order_by(job_runs.c.started_at.desc()).limit(1)).mappings().first()
            if row is not None:
                current = {k: v for k, v in row.items() if k in ("run_id", "started_at", "scheduled_for", *RUN_FIGURES)}
        record: dict[str, Any] = {
            "run_id": run_id or current.get("run_id") or _new_run_id(job, now),
            "job": job,
            "started_at": current.get("started_at", now),
            "source": "ping",
        }
        record.update({k: v for k, v in current.items() if k in RUN_FIGURES and v is not None})
        record.update(figures)
        if event is not PingEvent.START:
            record["finished_at"] = now
            record["exit_code"] = exit_code if exit_code is not None else (0 if event is PingEvent.SUCCESS else 1)
        serialisable = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.items()}
        store_records(conn, settings, "job_runs", [(1, serialisable)], now=now, unit="ping")
    return str(record["run_id"])


def _new_run_id(job: str, now: datetime) -> str:
    return f"{job}-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


class PingRecorder(Protocol):
    """Records one ping and returns its run id, or None when it could not be recorded (never raises)."""

    def __call__(
        self,
        event: PingEvent,
        *,
        run_id: str | None,
        exit_code: int | None = None,
        figures: dict[str, Any] | None = None,
    ) -> str | None: ...


def run_monitored(command: list[str], *, run_id: str | None, ping: PingRecorder, warn: Callable[[str], None]) -> int:
    """Run ``command`` between a start and a finish ping; return its exit code (127 if it cannot start).

    The command may write a JSON object of ``RUN_FIGURES`` to the file named by
    ``$PAYOUTWATCH_RUN_REPORT``; those figures go with the finish ping. A ping that cannot be
    recorded never stops the command: ``ping`` reports it and returns None.
    """
    run = ping(PingEvent.START, run_id=run_id) or run_id
    with tempfile.TemporaryDirectory(prefix="payoutwatch-") as folder:
        report = Path(folder) / "report.json"
        env = {**os.environ, REPORT_VARIABLE: str(report)}
        try:
            code = subprocess.run(command, env=env, check=False).returncode
        except OSError as exc:
            warn(f"payoutwatch: cannot run {command[0]}: {exc.strerror}")
            code = 127
        reported = _reported_figures(report, warn) if report.exists() else {}
    event = PingEvent.SUCCESS if code == 0 else PingEvent.FAIL
    ping(event, run_id=run, exit_code=code, figures=reported)
    return code


def _reported_figures(report: Path, warn: Callable[[str], None]) -> dict[str, Any]:
    try:
        loaded = json.loads(report.read_text())
    except (OSError, json.JSONDecodeError):
        warn(f"payoutwatch: ${REPORT_VARIABLE} is not a JSON object; ignored")
        return {}
    return {k: v for k, v in loaded.items() if k in RUN_FIGURES} if isinstance(loaded, dict) else {}
