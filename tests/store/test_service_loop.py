"""The background loop: sources on their intervals, evaluation on its own, delivery every tick."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from payoutwatch.service import LoopState, run_loop, tick
from payoutwatch.usecases.syncing import source_states
from tests.certs import make_certificate, write
from tests.conftest import make_settings, utc

T0 = utc(2026, 11, 26, 9)


def test_sources_sync_on_their_intervals_and_evaluation_on_its_own(store: Engine, tmp_path: Path) -> None:
    cert, key = make_certificate("Apple Pay Payment Processing:merchant.x", utc(2024, 11, 1), T0 + timedelta(days=10))
    write(tmp_path / "apple_pay.cer", cert, key)
    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"},
        sources={
            "certs": {"type": "certificates", "interval_minutes": 15, "paths": [str(tmp_path / "*.cer")]},
            "hourly": {"type": "certificates", "interval_minutes": 60, "paths": [str(tmp_path / "*.cer")]},
        },
        service={"evaluate_interval_seconds": 600},
    )
    state = LoopState()
    now = T0

    def clock() -> object:
        return now

    first = tick(store, settings, state, clock=clock)  # type: ignore[arg-type]
    assert sorted(r.source for r in first.synced) == ["certs", "hourly"]
    assert first.evaluated and first.transitions == 1 and first.sent == 1  # the 14d reminder, to the log
    now = T0 + timedelta(minutes=5)
    second = tick(store, settings, state, clock=clock)  # type: ignore[arg-type]
    assert (second.synced, second.evaluated) == ([], False)
    now = T0 + timedelta(minutes=15)
    third = tick(store, settings, state, clock=clock)  # type: ignore[arg-type]
    assert [r.source for r in third.synced] == ["certs"] and third.evaluated and third.transitions == 0
    with store.connect() as conn:
        attempts = {s.source: s.last_attempt_at for s in source_states(conn)}
    assert attempts == {"certs": T0 + timedelta(minutes=15), "hourly": T0}


def test_run_loop_stops_when_asked(store: Engine) -> None:
    settings = make_settings(service={"tick_seconds": 0.05})
    stop = threading.Event()
    thread = threading.Thread(target=run_loop, args=(store, settings), kwargs={"clock": lambda: T0, "stop": stop})
    thread.start()
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
