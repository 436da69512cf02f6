"""The version of the records: replaced in the same transaction as every write of them.

Figures computed from the records are cached per (store, name, instant, version, settings)
(``metrics/cache.py``); any write of records (ingest, sync, webhook, the demo's reset) replaces the
version before it commits, so a cached figure is never served after a write. A version is a random
62-bit number rather than a counter: a store emptied and filled again (the demo, a test) can never
come back to a version a process still holds figures for.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Connection, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from payoutwatch.store.tables import data_versions

RECORDS = "records"


def bump(conn: Connection) -> int:
    """Give the records a new version (call in the transaction that writes them)."""
    version = secrets.randbits(62)
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(data_versions).values(name=RECORDS, version=version)
    conn.execute(stmt.on_conflict_do_update(index_elements=["name"], set_={"version": version}))
    return version


def current(conn: Connection) -> int:
    """The records' version as ``conn`` sees it (0 before the first write)."""
    value = conn.execute(select(data_versions.c.version).where(data_versions.c.name == RECORDS)).scalar()
    return int(value) if value is not None else 0
