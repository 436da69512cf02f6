"""Secrets payoutwatch generates for itself, once per store, so every process on the store shares them."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from payoutwatch.store.tables import service_secrets

SESSION_KEY = "session_key"


def kept_secret(engine: Engine, name: str, *, now: datetime) -> str:
    """The secret called ``name``: the one in the store, or a new random one stored first. Processes
    starting together agree: whoever inserts second hits the primary key and reads the first one's."""
    query = select(service_secrets.c.value).where(service_secrets.c.name == name)
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    if value is not None:
        return str(value)
    try:
        with engine.begin() as conn:
            conn.execute(insert(service_secrets).values(name=name, value=secrets.token_hex(32), created_at=now))
    except IntegrityError:
        pass  # another process stored it first
    with engine.connect() as conn:
        return str(conn.execute(query).scalar_one())
