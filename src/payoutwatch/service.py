"""The background loop: sync due sources -> evaluate -> deliver -> scheduled reports, one tick at a time.

A source is due when its interval has passed since its last attempt (kept in ``source_state``, so
the schedule survives restarts and is shared by replicas); evaluation runs every
``service.evaluate_interval_seconds``; due notifications go out on every tick. ``serve`` runs
``run_loop`` next to the web app (issue 4); ``tick`` is one pass, for tests and one-shot use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.evaluation import deliver, evaluate
from payoutwatch.reports.scheduled import run_scheduled
from payoutwatch.syncing import SyncResult, source_states, sync_source

logger = logging.getLogger("payoutwatch.service")


@dataclass
class LoopState:
    last_evaluation: datetime | None = None


@dataclass
class TickReport:
    synced: list[SyncResult] = field(default_factory=list)
    evaluated: bool = False
    transitions: int = 0
    sent: int = 0
    weekly_sent: bool = False


def due_sources(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    with engine.connect() as conn:
        last = {s.source: s.last_attempt_at for s in source_states(conn)}
    return [
        name
        for name, config in settings.sources.items()
        if name not in last or now - last[name] >= timedelta(minutes=config.interval_minutes)
    ]


def tick(engine: Engine, settings: Settings, state: LoopState, *, clock: Callable[[], datetime]) -> TickReport:
    report = TickReport()
    for name in due_sources(engine, settings, clock()):
        result = sync_source(engine, settings, name, now=clock)
        report.synced.append(result)
        if not result.ok:
            logger.warning("source %s failed: %s", name, result.error)
    now = clock()
    interval = timedelta(seconds=settings.service.evaluate_interval_seconds)
    if state.last_evaluation is None or now - state.last_evaluation >= interval:
        report.transitions = len(evaluate(engine, settings, at=now, now=now))
        state.last_evaluation = now
        report.evaluated = True
    delivery, _raised = deliver(engine, settings, now=clock)
    report.sent = delivery.sent
    report.weekly_sent = run_scheduled(engine, settings, now=clock())
    return report


def run_loop(engine: Engine, settings: Settings, *, clock: Callable[[], datetime], stop: threading.Event) -> None:
    """Tick until ``stop`` is set; an unexpected error is logged and the loop goes on."""
    state = LoopState()
    while not stop.is_set():
        try:
            tick(engine, settings, state, clock=clock)
        except Exception:  # the loop must outlive any one bad tick (store restart, bug in one rule)
            logger.exception("background tick failed; retrying on the next tick")
        stop.wait(settings.service.tick_seconds)
