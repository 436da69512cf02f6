"""``source_stale``: silence from a source becomes an alert; a successful sync resolves it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.syncing import sync_source
from tests.certs import make_certificate, write
from tests.conftest import make_settings, utc

T0 = utc(2026, 3, 10, 9)
QUIET = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"}


def test_a_source_that_stops_syncing_fires_and_recovering_resolves(store: Engine, tmp_path: Path) -> None:
    cert, key = make_certificate("x", utc(2026, 1, 1), utc(2027, 1, 1))
    write(tmp_path / "a.pem", cert, key)
    settings = make_settings(
        schedule=QUIET,
        sources={"certs": {"type": "certificates", "interval_minutes": 15, "paths": [str(tmp_path / "*.pem")]}},
    )
    assert evaluate(store, settings, at=T0, now=T0) == []  # never attempted: not judged
    assert sync_source(store, settings, "certs", now=lambda: T0).ok
    assert evaluate(store, settings, at=T0 + timedelta(minutes=45), now=T0) == []  # exactly the limit
    (tmp_path / "a.pem").write_bytes(b"broken")
    failed = sync_source(store, settings, "certs", now=lambda: T0 + timedelta(minutes=30))
    assert not failed.ok
    [fired] = evaluate(store, settings, at=T0 + timedelta(minutes=45, seconds=1), now=T0)
    assert (fired.key, fired.rule, fired.owner) == ("source_stale:certs", "source_stale", "payments-engineering")
    assert "last error" in fired.details["reasons"][1]
    write(tmp_path / "a.pem", cert, key)
    assert sync_source(store, settings, "certs", now=lambda: T0 + timedelta(minutes=50)).ok
    [resolved] = evaluate(store, settings, at=T0 + timedelta(minutes=51), now=T0)
    assert (resolved.key, resolved.event.value if resolved.event else None) == ("source_stale:certs", "resolved")


def test_a_source_that_never_succeeded_counts_from_its_first_attempt(store: Engine) -> None:
    settings = make_settings(
        schedule=QUIET,
        sources={
            "ledger": {
                "type": "sql_ledger",
                "url": "sqlite:////nonexistent/dir/ledger.db",
                "interval_minutes": 5,
                "retries": 0,
            }
        },
    )
    assert not sync_source(store, settings, "ledger", now=lambda: T0).ok
    assert evaluate(store, settings, at=T0 + timedelta(minutes=15), now=T0) == []
    [fired] = evaluate(store, settings, at=T0 + timedelta(minutes=16), now=T0)
    assert "never synced successfully" in fired.summary
