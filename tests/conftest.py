"""Shared fixtures: fixed instants, settings, and stores on SQLite and a throwaway PostgreSQL.

PostgreSQL: ``PAYOUTWATCH_TEST_POSTGRES_URL`` if set, else a cluster started here with the
installed ``initdb`` / ``pg_ctl`` (as the ``postgres`` user when running as root). When CI is
set and no PostgreSQL can be had, the PostgreSQL tests fail instead of skipping.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from payoutwatch.config import Settings, parse_settings
from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import metadata
from tests.pgcluster import ThrowawayPostgres

IN_CI = bool(os.environ.get("CI"))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "timezone": "America/Toronto",
        "schedule": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2026-03-05"},
    }
    for key, value in overrides.items():
        base[key] = value
    return parse_settings(base)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL admin URL for the whole session."""
    given = os.environ.get("PAYOUTWATCH_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    server = ThrowawayPostgres()
    try:
        url = server.start()
    except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
        server.stop()
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and could not start: {exc}")
        pytest.skip(f"no PostgreSQL available: {exc}")
    try:
        yield url
    finally:
        server.stop()


_counter = iter(range(1, 10_000))


def fresh_postgres_database(admin_url: str) -> str:
    name = f"pw_test_{os.getpid()}_{next(_counter)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def postgres_template(postgres_server: str) -> str:
    """A migrated database the per-test stores are truncated from."""
    url = fresh_postgres_database(postgres_server)
    open_store(url).dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty store: every storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        url = request.getfixturevalue("postgres_template")
        engine = open_store(url)
        with engine.begin() as conn:
            names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
