"""The background loop: sync due sources -> evaluate -> deliver -> scheduled reports, one tick at a time.

A source is due when its interval has passed since its last attempt (kept in ``source_state``, so
the schedule survives restarts and is shared by replicas); evaluation runs every
``service.evaluate_interval_seconds``; due notifications go out on every tick. ``serve`` runs
``run_loop`` in a thread next to the web app (issue 4) and stops it when the app shuts down;
``tick`` is one pass, for tests and one-shot use.

One bad part never stops the rest (DESIGN §10): each source's sync, the evaluation, the delivery
pass and the scheduled report run in their own containment; whatever one raises is logged, counted
in ``payoutwatch_loop_errors_total{part}`` and recorded against that part (a source's failure in
``source_state``, a channel's on its outbox row), and the tick goes on. An evaluation records its
instant and clock in ``evaluation_marks`` (``/readyz`` of every replica reads it); a tick that
evaluated (when due) and delivered sends the dead-man's switch, ``GET service.heartbeat_url``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, text

from payoutwatch.config import Settings
from payoutwatch.loop_errors import LOOP_ERRORS, LoopPart
from payoutwatch.reports.scheduled import run_scheduled
from payoutwatch.usecases.evaluation import deliver, evaluate
from payoutwatch.usecases.syncing import SyncResult, source_states, sync_source

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
    delivered: bool = False  # the delivery pass completed (rows may still have failed, each recorded)
    weekly_sent: bool = False
    heartbeat_sent: bool = False
    failed_parts: list[str] = field(default_factory=list)


@contextlib.contextmanager
def contained(report: TickReport, part: LoopPart, what: str) -> Iterator[None]:
    """Run one part of the tick: an exception is logged, counted and noted, and the tick goes on."""
    try:
        yield
    except Exception:
        logger.exception("%s failed; the rest of the tick goes on", what)
        LOOP_ERRORS.count(part)
        report.failed_parts.append(what)


def due_sources(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    with engine.connect() as conn:
        last = {s.source: s.last_attempt_at for s in source_states(conn)}
    return [
        name
        for name, config in settings.sources.items()
        if name not in last or now - last[name] >= timedelta(minutes=config.interval_minutes)
    ]


def _sync_due(engine: Engine, settings: Settings, report: TickReport, clock: Callable[[], datetime]) -> None:
    for name in due_sources(engine, settings, clock()):
        with contained(report, LoopPart.SOURCE, f"source {name}"):
            result = sync_source(engine, settings, name, now=clock)
            report.synced.append(result)
            if not result.ok:  # recorded in source_state by sync_source; counted here
                logger.warning("source %s failed: %s", name, result.error)
                LOOP_ERRORS.count(LoopPart.SOURCE)


def tick(
    engine: Engine,
    settings: Settings,
    state: LoopState,
    *,
    clock: Callable[[], datetime],
    client: httpx.Client | None = None,
) -> TickReport:
    report = TickReport()
    with contained(report, LoopPart.SOURCE, "choosing the due sources"):
        _sync_due(engine, settings, report, clock)
    now = clock()
    interval = timedelta(seconds=settings.service.evaluate_interval_seconds)
    due = state.last_evaluation is None or now - state.last_evaluation >= interval
    if due:
        with contained(report, LoopPart.EVALUATE, "evaluation"):
            report.transitions = len(evaluate(engine, settings, at=now, now=now))  # recorded in the store
            state.last_evaluation = now
            report.evaluated = True
    with contained(report, LoopPart.DELIVER, "delivery"):
        delivery, _raised = deliver(engine, settings, now=clock, client=client)
        report.sent = delivery.sent
        report.delivered = True
    with contained(report, LoopPart.REPORT, "the scheduled weekly report"):
        report.weekly_sent = run_scheduled(engine, settings, now=clock())
    if report.delivered and (report.evaluated or not due):
        report.heartbeat_sent = send_heartbeat(settings, client=client)
    return report


def send_heartbeat(settings: Settings, *, client: httpx.Client | None = None) -> bool:
    """``GET service.heartbeat_url`` (when set); a failure is logged and counted, never raised."""
    if settings.service.heartbeat_url is None:
        return False
    url = settings.service.heartbeat_url.get_secret_value()
    timeout = settings.service.heartbeat_timeout_seconds
    try:
        if client is None:
            response = httpx.get(url, timeout=timeout, follow_redirects=True)
        else:
            response = client.get(url, timeout=timeout, follow_redirects=True)
        response.raise_for_status()
    except Exception as exc:
        logger.warning("the heartbeat to service.heartbeat_url failed: %s", type(exc).__name__)
        LOOP_ERRORS.count(LoopPart.HEARTBEAT)
        return False
    return True


LEADER_LOCK_KEY = 0x70617977  # "payw": one leader per store


class Leadership:
    """Who runs the loop: on PostgreSQL the holder of an advisory lock (held on its own connection, so a
    killed leader releases it at once); on SQLite the only process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Any = None

    def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                return True
            except Exception:  # the store restarted: leadership is lost with the connection
                self.release()
        connection = self.engine.connect()
        held = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": LEADER_LOCK_KEY}).scalar()
        connection.commit()
        if held:
            self.connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        """Unlock explicitly: closing a pooled connection only returns it to the pool, lock and all."""
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LEADER_LOCK_KEY})
                self.connection.commit()
                self.connection.close()
            except Exception:  # a broken connection: drop it, the server already released the lock
                with contextlib.suppress(Exception):
                    self.connection.invalidate()
            self.connection = None


@dataclass
class Heartbeat:
    at: datetime | None = None
    leader: bool = False


def run_loop(
    engine: Engine,
    settings: Settings,
    *,
    clock: Callable[[], datetime],
    stop: threading.Event,
    heartbeat: Heartbeat | None = None,
) -> None:
    """Tick while leader, until ``stop`` is set; an unexpected error is logged and the loop goes on."""
    state = LoopState()
    leadership = Leadership(engine)
    beat = heartbeat or Heartbeat()
    try:
        while not stop.is_set():
            try:
                beat.leader = leadership.acquire()
                if beat.leader:
                    tick(engine, settings, state, clock=clock)
            except Exception:  # the loop must outlive any one bad tick (store restart, bug in one rule)
                logger.exception("background tick failed; retrying on the next tick")
            beat.at = clock()
            stop.wait(settings.service.tick_seconds)
    finally:
        leadership.release()


def serve(
    engine: Engine,
    settings: Settings,
    *,
    host: str,
    port: int,
    clock: Callable[[], datetime],
    on_loop_stopped: Callable[[], None] = lambda: None,
) -> None:
    """The web app at ``host:port`` and the background loop beside it, until interrupted.

    The loop is stopped (and waited for, up to a minute) when the app shuts down, or when uvicorn
    returns for any other reason; ``on_loop_stopped`` is called once it has ended.
    """
    import uvicorn

    from payoutwatch.web.app import create_app
    from payoutwatch.web.proxy import uvicorn_proxy_options

    heartbeat, stop = Heartbeat(), threading.Event()
    loop = threading.Thread(
        target=run_loop,
        args=(engine, settings),
        name="payoutwatch-loop",
        daemon=True,
        kwargs={"clock": clock, "stop": stop, "heartbeat": heartbeat},
    )
    loop.start()
    stopped: list[bool] = []

    def stop_loop() -> None:
        stop.set()
        loop.join(60)
        if not loop.is_alive() and not stopped:
            stopped.append(True)
            on_loop_stopped()

    try:
        app = create_app(settings, engine, now=clock, heartbeat=heartbeat, on_shutdown=stop_loop)
        uvicorn.run(app, host=host, port=port, log_level="info", **uvicorn_proxy_options(settings.web))
    finally:
        stop_loop()
