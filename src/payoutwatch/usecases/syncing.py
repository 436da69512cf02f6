"""The sync use case: pull each source, validate like ``ingest``, write, then advance its cursor.

A pull that times out or fails transiently is retried with backoff inside the sync; a page with
an invalid record is refused whole (nothing of it written, cursor unchanged); the outcome —
success with counts, or the error with secrets scrubbed — is stored in ``source_state`` and
drives the ``source_stale`` rule. Any other exception a source raises (a bug, or a remote answering
garbage the client code did not expect) is a failed sync of that source too, recorded the same way:
one source can never stop the others, nor the evaluation that follows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.records import BatchRejected
from payoutwatch.redaction import scrub
from payoutwatch.sources.base import Page, Source, SourceError
from payoutwatch.sources.registry import build_source
from payoutwatch.store.tables import source_state
from payoutwatch.usecases.ingestion import store_records

MAX_REPORTED_PROBLEMS = 5

logger = logging.getLogger("payoutwatch.sync")


class SyncState(StrEnum):
    OK = "ok"
    FAILING = "failing"


@dataclass
class SyncResult:
    source: str
    counts: dict[str, int] = field(default_factory=dict)
    facts: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # problems of single items; the sync still succeeded
    error: str | None = None
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def sync_all(
    engine: Engine,
    settings: Settings,
    *,
    now: Callable[[], datetime],
    only: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[SyncResult]:
    names = [only] if only else list(settings.sources)
    return [sync_source(engine, settings, name, now=now, sleep=sleep) for name in names]


def sync_source(
    engine: Engine,
    settings: Settings,
    name: str,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None] = time.sleep,
) -> SyncResult:
    started = time.monotonic()
    result = SyncResult(name)
    source: Source | None = None
    try:
        source = build_source(name, settings)
        _pull(engine, settings, name, source, result, now=now, sleep=sleep)
    except (SourceError, BatchRejected, OSError, ValueError) as exc:
        result.error = scrub(_describe(exc), _secrets(source))
    except Exception as exc:  # whatever else a source raises is that source's failure, recorded like the rest
        logger.exception("source %s raised an unexpected error", name)
        result.error = scrub(f"unexpected error ({type(exc).__name__}): {_describe(exc)}", _secrets(source))
    result.duration_s = round(time.monotonic() - started, 3)
    _record(engine, name, result, now())
    return result


def _secrets(source: Source | None) -> list[str]:
    try:
        return source.secrets() if source else []
    except Exception:  # a source broken enough to fail here still has its failure recorded
        return []


def _pull(
    engine: Engine,
    settings: Settings,
    name: str,
    source: Source,
    result: SyncResult,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> None:
    """Write every page; a transient failure restarts from the last committed cursor after a backoff
    (1 s, 2 s, 4 s …), up to the source's ``retries``."""
    attempt = 0
    while True:
        try:
            for page in source.pages(_cursor(engine, name), now=now()):
                _write(engine, settings, name, page, now(), result)
            return
        except SourceError as exc:
            if exc.permanent or attempt >= settings.sources[name].retries:
                raise
            sleep(min(30.0, 2.0**attempt))
            attempt += 1


def _describe(exc: Exception) -> str:
    if isinstance(exc, BatchRejected):
        shown = "; ".join(str(e) for e in exc.errors[:MAX_REPORTED_PROBLEMS])
        more = len(exc.errors) - MAX_REPORTED_PROBLEMS
        tail = f"; and {more} more" if more > 0 else ""
        return f"invalid {exc.kind} from the source ({shown}{tail}); nothing of that page was written"
    return str(exc) or type(exc).__name__


def _write(engine: Engine, settings: Settings, name: str, page: Page, now: datetime, result: SyncResult) -> None:
    """One page in one transaction: its records, then its cursor; counted once it is committed."""
    with engine.begin() as conn:
        stored = [
            store_records(conn, settings, kind, list(enumerate(rows, start=1)), now=now)
            for kind, rows in page.records.items()
        ]
        if page.cursor is not None:
            _save(conn, name, now, cursor=page.cursor)
    for batch in stored:
        result.counts[batch.kind] = result.counts.get(batch.kind, 0) + batch.valid
    result.facts.update(page.facts)
    result.warnings += page.warnings


def _cursor(engine: Engine, name: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(source_state.c.cursor).where(source_state.c.source == name)).first()
    return row[0] if row else None


def _save(conn: Connection, name: str, now: datetime, **values: Any) -> None:
    exists = conn.execute(select(source_state.c.source).where(source_state.c.source == name)).first()
    if exists is None:
        first = {
            "source": name,
            "state": SyncState.OK.value,
            "first_attempt_at": now,
            "last_attempt_at": now,
            "consecutive_failures": 0,
        }
        conn.execute(insert(source_state).values({**first, **values}))
    else:
        conn.execute(update(source_state).where(source_state.c.source == name).values(**values))


def _record(engine: Engine, name: str, result: SyncResult, now: datetime) -> None:
    with engine.begin() as conn:
        if result.ok:
            _save(
                conn,
                name,
                now,
                state=SyncState.OK.value,
                last_attempt_at=now,
                last_success_at=now,
                last_error=None,
                consecutive_failures=0,
                last_counts={
                    **result.counts,
                    **({"facts": result.facts} if result.facts else {}),
                    **({"warnings": result.warnings} if result.warnings else {}),
                },
                last_duration_s=result.duration_s,
            )
            return
        failures = conn.execute(
            select(source_state.c.consecutive_failures).where(source_state.c.source == name)
        ).scalar()
        _save(
            conn,
            name,
            now,
            state=SyncState.FAILING.value,
            last_attempt_at=now,
            last_error=result.error,
            consecutive_failures=(failures or 0) + 1,
            last_duration_s=result.duration_s,
        )


def source_states(conn: Connection) -> list[Any]:
    return list(conn.execute(select(source_state).order_by(source_state.c.source)))


def source_listing(engine: Engine, settings: Settings) -> list[dict[str, Any]]:
    """Each configured source with its sync state (``never_synced`` before its first attempt)."""
    with engine.connect() as conn:
        known = {s.source: s for s in source_states(conn)}
    rows = []
    for name, config in settings.sources.items():
        s = known.get(name)
        rows.append(
            {
                "source": name,
                "type": config.type,
                "state": s.state if s else "never_synced",
                "last_success_at": iso(s.last_success_at) if s else None,
                "last_attempt_at": iso(s.last_attempt_at) if s else None,
                "last_error": s.last_error if s else None,
                "consecutive_failures": s.consecutive_failures if s else 0,
                "last_counts": s.last_counts if s else None,
                "warnings": ((s.last_counts or {}).get("warnings") or []) if s and s.state == SyncState.OK else [],
                "last_duration_s": s.last_duration_s if s else None,
                "interval_minutes": config.interval_minutes,
                "max_staleness_minutes": config.staleness_minutes,
            }
        )
    return rows
