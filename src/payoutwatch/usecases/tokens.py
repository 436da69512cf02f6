"""API tokens and roles: who may see and do what (issue 4's permission table).

A token is 32 random bytes, shown once and stored as its SHA-256; every use records when.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, insert, select, update

from payoutwatch.store.tables import api_tokens

PREFIX = "pwt_"


class Role(StrEnum):
    VIEWER = "viewer"
    OPS = "ops"
    FINANCE = "finance"
    ENGINEERING = "engineering"
    SECURITY = "security"
    ADMIN = "admin"
    INGEST = "ingest"


class Permission(StrEnum):
    VIEW = "view"  # dashboards, alerts, notifications (every role but ingest)
    VIEW_CREDENTIALS = "view_credentials"  # credential details
    HANDLE_ALERTS = "handle_alerts"  # ack, resolve, silence
    WRITE_RECORDS = "write_records"  # ingest, pings


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    Role.OPS: frozenset({Permission.VIEW, Permission.HANDLE_ALERTS}),
    Role.FINANCE: frozenset({Permission.VIEW}),
    Role.ENGINEERING: frozenset({Permission.VIEW, Permission.VIEW_CREDENTIALS}),
    Role.SECURITY: frozenset({Permission.VIEW, Permission.VIEW_CREDENTIALS}),
    Role.ADMIN: frozenset(Permission),
    Role.INGEST: frozenset({Permission.WRITE_RECORDS}),
}


def allowed(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, *, name: str, role: Role, actor: str, now: datetime) -> tuple[int, str]:
    token = PREFIX + secrets.token_urlsafe(32)
    result = conn.execute(
        insert(api_tokens).values(
            name=name, role=role.value, token_hash=digest(token), created_at=now, created_by=actor
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0]), token


def revoke_token(conn: Connection, token_id: int, *, now: datetime) -> bool:
    result = conn.execute(
        update(api_tokens).where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=now)
    )
    return result.rowcount > 0


def authenticate(conn: Connection, token: str, *, now: datetime) -> Any | None:
    """The token's row if it is valid (not revoked), recording this use; None otherwise."""
    row = conn.execute(
        select(api_tokens).where(api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    if row is not None:
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
    return row


def list_tokens(conn: Connection) -> list[Any]:
    return list(conn.execute(select(api_tokens).order_by(api_tokens.c.id)))
