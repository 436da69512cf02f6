"""Engines: nothing happens at import time; ``open_store`` connects and migrates.

SQLite runs in WAL mode with a busy timeout so CLI calls and ``serve`` can share a file: every
transaction starts with ``BEGIN IMMEDIATE``, so a writer takes the write lock up front and waits for
it (busy timeout, then a few bounded retries) instead of failing later with "database is locked"
when a read transaction turns into a write. Connections of ``reading(engine)`` only read: theirs
begin DEFERRED and take no write lock, so dashboard requests run beside each other and beside a
writer (WAL readers see the last committed state). PostgreSQL URLs are normalised to the psycopg 3 driver.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD_REVISION = "0016"
MIGRATION_LOCK_KEY = 0x70776D67  # "pwmg"
ALERTS_LOCK_KEY = 0x7077616C  # "pwal": one writer of alert state at a time
BUSY_TIMEOUT_SECONDS = 30
LOCK_RETRIES = 4  # after the busy timeout: BEGIN IMMEDIATE waits at most (1 + LOCK_RETRIES) x 30 s
READS_ONLY = "payoutwatch_reads_only"  # execution option of ``reading(engine)``

logger = logging.getLogger("payoutwatch.store")


def normalise_url(url: str) -> str:
    parsed = make_url(_encoded_userinfo(url))
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _encoded_userinfo(url: str) -> str:
    """A password with an unencoded ``@`` (``postgresql://u:p@ss@host/db``) percent-encoded: the user-info
    ends at the LAST ``@``, where a URL parser would stop at the first and take ``ss@host`` as the host."""
    from urllib.parse import quote, unquote

    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0 or "@" not in rest[:at]:
        return url
    user, colon, password = rest[:at].partition(":")
    userinfo = quote(unquote(user), safe="") + (f":{quote(unquote(password), safe='')}" if colon else "")
    return f"{scheme}://{userinfo}@{rest[at + 1 :]}"


def make_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        file = _sqlite_file(url)
        if read_only and file is not None:
            return _sqlite_reader(file, **kwargs)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_SECONDS}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # let SQLAlchemy emit BEGIN itself so transactions really are transactions
        event.listen(engine, "begin", _begin)
        return engine
    # JIT compilation costs more than it saves on dashboard-sized queries
    return create_engine(url, pool_pre_ping=True, connect_args={"options": "-c jit=off"}, **kwargs)


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_reader(file: Path, **kwargs: Any) -> Engine:
    """A connection that can only read ``file``: SQLite opened ``mode=ro``, so nothing is ever written
    (not even by root); where the folder cannot take WAL's shared-memory file, ``immutable=1`` reads
    the file as it is."""
    import sqlite3

    target = file.resolve().as_uri()
    writable_folder = os.access(file.resolve().parent, os.W_OK) and os.access(file, os.W_OK)
    uri = f"{target}?mode=ro" if writable_folder else f"{target}?mode=ro&immutable=1"

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    return create_engine("sqlite://", creator=connect, **kwargs)


def reading(engine: Engine) -> Engine:
    """``engine`` for transactions that only read: on SQLite they begin DEFERRED (no write lock), so
    readers never wait for each other or for a writer. A write on such a connection may fail at once
    with "database is locked" instead of waiting: write through ``engine`` itself."""
    return engine.execution_options(**{READS_ONLY: True})


def _begin(conn: Connection) -> None:
    if conn.get_execution_options().get(READS_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        begin_immediate(conn)


def begin_immediate(conn: Connection, *, retries: int = LOCK_RETRIES) -> None:
    """Start a SQLite transaction holding the write lock, waiting for it instead of failing."""
    for attempt in range(retries + 1):
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            if "database is locked" not in str(exc) or attempt == retries:
                raise
            logger.warning("the SQLite store stayed locked for %s s; waiting again", BUSY_TIMEOUT_SECONDS)
            time.sleep(0.05 * (attempt + 1))


def alert_writers_in_turn(conn: Connection) -> None:
    """Wait until no other transaction changes alert state (PostgreSQL: an advisory lock held until this
    transaction ends). Two evaluations at once would both open the same alert and one would fail on the
    one-firing-alert-per-key index; SQLite's ``BEGIN IMMEDIATE`` already runs writers one at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ALERTS_LOCK_KEY})


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" listener starts transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the head revision (Alembic), only importing Alembic when needed."""
    if current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # replicas starting together: one migrates, the others wait here and then find the head
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class StoreNotReady(Exception):
    """A store opened for reading only whose schema is not (yet) the one this version needs."""


def open_reader(url: str, **kwargs: Any) -> Engine:
    """An engine that only reads (the read-only commands): nothing is written, not even a migration,
    so it works on a read-only file or with a role that may only SELECT. A SQLite file that does not
    exist yet, or a store whose schema is behind, is opened (and migrated) like any other."""
    engine = make_engine(url, read_only=True, **kwargs)
    file = _sqlite_file(normalise_url(url)) if url.startswith("sqlite") else None
    if (file is not None and not file.exists()) or current_revision(engine) != HEAD_REVISION:
        engine.dispose()
        try:
            return open_store(url, **kwargs)
        except Exception as exc:
            raise StoreNotReady(
                f"the store's schema is not at revision {HEAD_REVISION} and cannot be migrated from here "
                f"({type(exc).__name__}); run `payoutwatch evaluate` once with write access"
            ) from None
    return engine


def open_store(url: str, *, migrate_schema: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the schema at head."""
    engine = make_engine(url, **kwargs)
    if migrate_schema:
        migrate(engine)
    return engine
