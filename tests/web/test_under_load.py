"""Concurrent requests on a deliberately small connection pool: no request is answered 500.

bench/load.py saw ``/metrics`` answer HTTP 500 at 32 clients on PostgreSQL: every request waiting more
than ``pool_timeout`` for one of the pool's connections raised ``sqlalchemy.exc.TimeoutError``
("QueuePool limit of size ... overflow ... reached, connection timed out"), which reached the client as
a 500 traceback. A busy store is now 503 with ``Retry-After``, counted in ``/metrics``; and concurrent
requests for the same heavy figures share one computation (``metrics/cache.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import dashboards
from payoutwatch.metrics.cache import FigureCache
from payoutwatch.store.engine import open_store
from payoutwatch.usecases.tokens import create_token
from payoutwatch.vocabulary import Role
from payoutwatch.web.metrics_export import scrape_instant
from tests.conftest import make_settings, utc
from tests.helpers import credential, load, manual
from tests.web.test_prometheus import NOW, serving

PATHS = [
    "/metrics",
    "/api/v1/dashboards/payout_health",
    "/api/v1/dashboards/fallback_activity",
    "/api/v1/dashboards/reserves",
    "/api/v1/dashboards/credentials",
]
BUSY_SERIES = "payoutwatch_store_busy_refusals_total"


@pytest.fixture
def small_pool(tmp_path: Path) -> Iterator[Engine]:
    """A store whose pool gives two connections and waits a fifth of a second for one."""
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}", pool_size=2, max_overflow=0, pool_timeout=0.2)
    yield engine
    engine.dispose()


def loaded(engine: Engine) -> tuple[Settings, str]:
    settings = make_settings()
    load(engine, settings, "manual_payouts", [manual("m1", utc(2026, 3, 6)), manual("m2", utc(2026, 3, 8))], NOW)
    load(engine, settings, "credentials", [credential("cert-1", utc(2025, 1, 1), expires_at=utc(2026, 3, 20))], NOW)
    with engine.begin() as conn:
        _, token = create_token(conn, name="load", role=Role.ADMIN, actor="test", now=NOW)
    return settings, token


def concurrently(address: str, token: str, count: int) -> list[httpx.Response]:
    def get(i: int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.get(f"http://{address}{PATHS[i % len(PATHS)]}", headers=headers, timeout=30)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(get, range(count)))


def busy_count(address: str, token: str) -> float:
    scrape = httpx.get(f"http://{address}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert scrape.status_code == 200
    line = next(line for line in scrape.text.splitlines() if line.startswith(BUSY_SERIES))
    return float(line.split()[-1])


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # concurrent transactions, as in bench/load.py
def test_forty_concurrent_requests_on_a_small_pool_get_no_500(store: Engine) -> None:
    url = store.url.render_as_string(hide_password=False)
    engine = open_store(url, migrate_schema=False, pool_size=2, max_overflow=0, pool_timeout=0.2)
    settings, token = loaded(engine)
    with serving(settings, engine) as address:
        before = busy_count(address, token)
        answers = concurrently(address, token, 40)
        statuses = [a.status_code for a in answers]
        assert set(statuses) <= {200, 503}, statuses
        refused = [a for a in answers if a.status_code == 503]
        assert all(a.headers["Retry-After"].isdigit() and "busy" in a.json()["detail"] for a in refused)
        assert busy_count(address, token) - before == len(refused)
    engine.dispose()


def test_with_every_connection_taken_requests_are_503_with_retry_after_and_counted(small_pool: Engine) -> None:
    settings, token = loaded(small_pool)
    with serving(settings, small_pool) as address:
        before = busy_count(address, token)
        held = [small_pool.connect() for _ in range(2)]  # the whole pool
        try:
            answers = concurrently(address, token, 10)
            ready = httpx.get(f"http://{address}/readyz", timeout=30)
        finally:
            for conn in held:
                conn.close()
        assert [a.status_code for a in answers] == [503] * 10
        assert all(a.headers["Retry-After"] == "5" for a in answers)
        assert ready.status_code == 503 and ready.json() == {"status": "store unreachable"}  # /readyz unchanged
        assert busy_count(address, token) - before == 10
        assert [a.status_code for a in concurrently(address, token, 10)] == [200] * 10  # the pool is back


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # SQLite runs one transaction at a time
def test_concurrent_requests_for_the_same_figures_compute_once(store: Engine) -> None:
    """Eight threads ask for the reserves at one instant; the computation waits until every one of them
    has looked in the cache and missed, so without single flight each would compute."""
    settings = make_settings()
    cache, computed, asked = CountingCache(), [], threading.Semaphore(0)
    cache.on_miss = asked.release

    def compute(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
        computed.append(at)
        for _ in range(8):
            assert asked.acquire(timeout=10), "not every request reached the cache"
        return dashboards()["reserves"](conn, at, settings)

    def ask(_: int) -> dict[str, Any]:
        with store.connect() as conn:
            return cache.figures("reserves", conn, NOW, settings, compute)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, range(8)))
    assert computed == [NOW]
    assert all(a == answers[0] for a in answers)
    assert (cache.misses, cache.hits) == (1, 7)


class CountingCache(FigureCache):
    """Calls ``on_miss`` each time a request looks for figures that are not kept (yet)."""

    on_miss: Any = None

    def _kept(self, key: Any) -> Any:
        found = super()._kept(key)
        if found is None and self.on_miss is not None:
            self.on_miss()
        return found


def test_the_scrape_instant_is_rounded_down_to_the_freshness_step() -> None:
    at = datetime(2026, 3, 10, 12, 0, 7, 654321, tzinfo=NOW.tzinfo)
    assert scrape_instant(at, 1) == datetime(2026, 3, 10, 12, 0, 7, tzinfo=NOW.tzinfo)
    assert scrape_instant(at, 5) == datetime(2026, 3, 10, 12, 0, 5, tzinfo=NOW.tzinfo)
    assert scrape_instant(at, 60) == datetime(2026, 3, 10, 12, 0, tzinfo=NOW.tzinfo)
