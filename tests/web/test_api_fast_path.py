"""The API's hot path: dashboards answered from encoded bytes kept per (figures' key, form), gzip for a
client that accepts it, a token checked against the store at most every few seconds (never a revoked
one for longer), and a request that waits for another's computation holds no pooled connection."""

from __future__ import annotations

import gzip
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import compute, dashboards
from payoutwatch.metrics.cache import CACHE, FigureCache
from payoutwatch.store.engine import open_store, reading
from payoutwatch.usecases.tokens import create_token, revoke
from payoutwatch.vocabulary import Role
from payoutwatch.web.api import dashboards as dashboards_api
from payoutwatch.web.api.dashboards import accepts_gzip, json_body
from payoutwatch.web.app import create_app
from tests.conftest import utc
from tests.helpers import load, snapshot

AT = utc(2026, 3, 20)
NOW = utc(2026, 4, 1)
RESERVES = f"/api/v1/dashboards/reserves?at={AT.isoformat().replace('+00:00', 'Z')}"


def client_of(store: Engine, settings: Settings) -> tuple[TestClient, dict[str, str]]:
    with store.begin() as conn:
        _, token = create_token(conn, name="fast", role=Role.ADMIN, actor="test", now=NOW)
    app = create_app(settings, store, now=lambda: NOW)
    return TestClient(app), {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}


def test_a_dashboard_is_the_figures_as_json_kept_encoded_until_a_write(store: Engine, settings: Settings) -> None:
    CACHE.clear()
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1000, 900)], NOW)
    client, headers = client_of(store, settings)
    first = client.get(RESERVES, headers=headers)
    with store.connect() as conn:
        assert first.content == json_body(compute("reserves", conn, AT, settings))  # what FastAPI wrote before
    assert first.headers["content-type"] == "application/json" and first.headers["vary"] == "Accept-Encoding"
    misses = CACHE.misses
    assert client.get(RESERVES, headers=headers).content == first.content
    assert CACHE.misses == misses  # served from the kept bytes
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 10), 500, 900)], NOW)
    assert client.get(RESERVES, headers=headers).json()["aggregate_balance_cents"] == 500


def test_a_client_that_accepts_gzip_gets_the_same_json_gzipped(
    store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboards_api, "GZIP_FROM_BYTES", 1)
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1000, 900)], NOW)
    client, headers = client_of(store, settings)
    plain = client.get(RESERVES, headers=headers)
    assert "content-encoding" not in plain.headers
    zipped = client.get(RESERVES, headers={**headers, "Accept-Encoding": "br;q=1, gzip;q=0.5"})
    assert zipped.headers["content-encoding"] == "gzip" and zipped.content == plain.content  # httpx decodes it
    with client.stream("GET", RESERVES, headers={**headers, "Accept-Encoding": "gzip"}) as raw:
        assert gzip.decompress(b"".join(raw.iter_raw())) == plain.content


def test_accept_encoding_is_read_as_rfc_9110_says() -> None:
    assert accepts_gzip("gzip") and accepts_gzip("deflate, GZIP;q=0.8") and accepts_gzip("*")
    assert not accepts_gzip("") and not accepts_gzip("identity") and not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("br, gzip; q=0.0")


def test_a_revoked_token_is_refused_once_its_check_is_a_few_seconds_old(store: Engine, settings: Settings) -> None:
    with store.begin() as conn:
        token_id, token = create_token(conn, name="soon-gone", role=Role.VIEWER, actor="test", now=NOW)
    app = create_app(settings, store, now=lambda: NOW)
    seconds = [100.0]
    app.state.web.tokens.clock = lambda: seconds[0]
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/dashboards/fallback_activity", headers=headers).status_code == 200
    revoke(store, token_id, actor="test", now=NOW)  # by the CLI: another process
    seconds[0] += app.state.web.tokens.ttl - 0.01
    assert client.get("/api/v1/dashboards/fallback_activity", headers=headers).status_code == 200  # still kept
    seconds[0] += 0.02
    refused = client.get("/api/v1/dashboards/fallback_activity", headers=headers)
    assert refused.status_code == 401 and refused.json()["detail"] == "unknown or revoked token"
    unknown = client.get("/api/v1/dashboards/fallback_activity", headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401


def test_two_sqlite_readers_proceed_while_a_write_transaction_is_open(tmp_path: Path, settings: Settings) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    load(engine, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1000, 900)], NOW)
    done: list[int] = []
    try:
        with engine.begin() as writer:  # BEGIN IMMEDIATE: holds the write lock until the block ends
            changed = writer.exec_driver_sql("UPDATE reserve_snapshots SET balance_cents = 7")
            assert changed.rowcount == 1

            def read(_: int) -> int:
                with reading(engine).connect() as conn:
                    value = int(conn.exec_driver_sql("SELECT balance_cents FROM reserve_snapshots").scalar_one())
                    done.append(value)
                    return value

            with ThreadPoolExecutor(2) as pool:
                readers = [pool.submit(read, i) for i in range(2)]
                answers = [r.result(timeout=10) for r in readers]  # BEGIN IMMEDIATE would wait 30 s per try
            assert answers == [1000, 1000]  # the last committed state
        with reading(engine).connect() as conn:
            assert conn.exec_driver_sql("SELECT balance_cents FROM reserve_snapshots").scalar_one() == 7
    finally:
        engine.dispose()


class WatchedCache(FigureCache):
    """Counts the requests that looked for an encoded answer and missed."""

    def __init__(self) -> None:
        super().__init__()
        self.missed = threading.Semaphore(0)

    def _kept_encoded(self, key: Any) -> bytes | None:
        found = super()._kept_encoded(key)
        if found is None:
            self.missed.release()
        return found


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # concurrent transactions
def test_requests_waiting_for_a_shared_computation_hold_no_connection(store: Engine, settings: Settings) -> None:
    url = store.url.render_as_string(hide_password=False)
    engine = open_store(url, migrate_schema=False, pool_size=2, max_overflow=0, pool_timeout=1)
    cache, computing, release, computed = WatchedCache(), threading.Event(), threading.Event(), []

    def slow(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
        computed.append(at)
        computing.set()
        assert release.wait(timeout=10)
        return dashboards()["reserves"](conn, at, settings)

    def ask(_: int) -> bytes:
        return cache.encoded("reserves", engine, AT, settings, slow, form="json", encode=json_body)

    try:
        with ThreadPoolExecutor(4) as pool:
            first = pool.submit(ask, 0)
            assert computing.wait(timeout=10)  # holds one of the two connections while it computes
            waiters = [pool.submit(ask, i) for i in range(1, 4)]
            for _ in range(5):  # the first request's two looks, then each waiter's first
                assert cache.missed.acquire(timeout=10)
            with engine.connect() as conn:  # the pool's other connection is free: the waiters hold none
                assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
            release.set()
            answers = [first.result(timeout=10), *(w.result(timeout=10) for w in waiters)]
        assert computed == [AT] and len(set(answers)) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_a_new_scrape_step_is_served_the_previous_steps_figures_while_they_are_computed(
    store: Engine, settings: Settings
) -> None:
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 1), 1000, 900)], NOW)
    cache, computed, release = FigureCache(), [], threading.Event()
    release.set()

    def reserves(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
        assert release.wait(timeout=10)
        computed.append(at)
        return {**dashboards()["reserves"](conn, at, settings), "at": at}

    step, within = timedelta(seconds=15), timedelta(seconds=60)
    assert cache.recent("reserves", store, AT, settings, reserves, within=within)["at"] == AT  # nothing earlier
    release.clear()  # the next computation waits until released: the scrape must not
    assert cache.recent("reserves", store, AT + step, settings, reserves, within=within)["at"] == AT
    release.set()
    for _ in range(200):  # the background computation lands
        if (
            computed == [AT, AT + step]
            and cache.recent("reserves", store, AT + step, settings, reserves, within=within)["at"] == AT + step
        ):
            break
        time.sleep(0.05)
    assert computed == [AT, AT + step]
    assert (
        cache.recent("reserves", store, AT + 6 * step, settings, reserves, within=within)["at"] == AT + 6 * step
    )  # too old
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 10), 500, 900)], NOW)
    fresh = cache.recent("reserves", store, AT + 7 * step, settings, reserves, within=within)
    assert fresh["aggregate_balance_cents"] == 500  # another records version: never the earlier figures
