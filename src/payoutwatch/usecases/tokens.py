"""API tokens and roles: who may see and do what (issue 4's permission table).

A token is 32 random bytes, shown once and stored as its SHA-256; its last use is recorded (to the minute).
The use cases ``create``, ``revoke`` (each audited, one transaction) and ``listing`` serve the
CLI; ``create_token``, ``revoke_token`` and ``authenticate`` are their steps on a connection.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from payoutwatch.clock import iso
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import api_tokens
from payoutwatch.vocabulary import Permission, Role

PREFIX = "pwt_"
USE_RECORDED_EVERY = timedelta(minutes=1)  # a token's last use is kept to this precision


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.VIEW}),
    # DESIGN §10: only viewer and finance may not see credentials; ops handles every alert, so sees them all
    Role.OPS: frozenset({Permission.VIEW, Permission.VIEW_CREDENTIALS, Permission.HANDLE_ALERTS}),
    Role.FINANCE: frozenset({Permission.VIEW, Permission.SIGN_OFF}),
    Role.ENGINEERING: frozenset({Permission.VIEW, Permission.VIEW_CREDENTIALS}),
    Role.SECURITY: frozenset({Permission.VIEW, Permission.VIEW_CREDENTIALS, Permission.REVIEW_ACCESS}),
    Role.ADMIN: frozenset(Permission),
    Role.INGEST: frozenset({Permission.WRITE_RECORDS}),
    # Prometheus alerts on the credential series, so a scraper's token sees them (on /metrics only)
    Role.METRICS: frozenset({Permission.SCRAPE_METRICS, Permission.VIEW_CREDENTIALS}),
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
    """The token's row if it is valid (not revoked), recording this use to the minute; None otherwise.

    The use is written only when the recorded one is a minute old (or absent, or in the future): a busy
    client would otherwise turn every request into a write, and every concurrent request with the same
    token would queue on that token's row (bench/load.py).
    """
    row = conn.execute(
        select(api_tokens).where(api_tokens.c.token_hash == digest(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    if row is not None and (
        row.last_used_at is None or not timedelta(0) <= now - row.last_used_at < USE_RECORDED_EVERY
    ):
        conn.execute(update(api_tokens).where(api_tokens.c.id == row.id).values(last_used_at=now))
    return row


def list_tokens(conn: Connection) -> list[Any]:
    return list(conn.execute(select(api_tokens).order_by(api_tokens.c.id)))


class TokenNotFound(LookupError):
    """No active token has that id."""


@dataclass(frozen=True)
class CreatedToken:
    id: int
    name: str
    role: Role
    token: str  # shown once; only its digest is stored


def create(engine: Engine, *, name: str, role: Role, actor: str, now: datetime) -> CreatedToken:
    """Create a token for ``name`` with ``role``, audited."""
    with engine.begin() as conn:
        token_id, token = create_token(conn, name=name, role=role, actor=actor, now=now)
        audit(
            conn,
            actor=actor,
            action="token_create",
            target=str(token_id),
            now=now,
            details={"name": name, "role": role.value},
        )
    return CreatedToken(token_id, name, role, token)


def revoke(engine: Engine, token_id: int, *, actor: str, now: datetime) -> None:
    """Revoke a token at once, audited; raises ``TokenNotFound`` when no active token has that id."""
    with engine.begin() as conn:
        if not revoke_token(conn, token_id, now=now):
            raise TokenNotFound(f"no active token {token_id}")
        audit(conn, actor=actor, action="token_revoke", target=str(token_id), now=now)


def listing(engine: Engine, *, now: datetime) -> list[dict[str, Any]]:
    """Every token with role, age, last use and whether revoked (never the token or its digest)."""
    with engine.connect() as conn:
        return [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_at": iso(t.created_at),
                "created_by": t.created_by,
                "age_days": (now - t.created_at).days,
                "last_used_at": iso(t.last_used_at),
                "revoked_at": iso(t.revoked_at),
            }
            for t in list_tokens(conn)
        ]
