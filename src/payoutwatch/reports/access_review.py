"""Security's access review: API tokens and single-sign-on users with role, age and last use;
credentials with their rotation schedule and owners (the credentials dashboard's own figures)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.store.tables import sso_users
from payoutwatch.usecases.tokens import list_tokens

UNUSED_AFTER = timedelta(days=90)


def access_review(conn: Connection, at: datetime, settings: Settings) -> dict[str, Any]:
    tokens = []
    for t in list_tokens(conn):
        if t.created_at > at:
            continue
        idle = at - (t.last_used_at or t.created_at)
        tokens.append(
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_by": t.created_by,
                "created_at": iso(t.created_at),
                "age_days": (at - t.created_at).days,
                "last_used_at": iso(t.last_used_at),
                "revoked_at": iso(t.revoked_at),
                "attention": None
                if t.revoked_at
                else (
                    "never used"
                    if t.last_used_at is None and idle > UNUSED_AFTER
                    else "unused for 90 days"
                    if idle > UNUSED_AFTER
                    else "admin"
                    if t.role == "admin"
                    else None
                ),
            }
        )
    people = [
        {
            "name": u.name,
            "role": u.role,
            "first_seen_at": iso(u.first_seen_at),
            "last_seen_at": iso(u.last_seen_at),
            "age_days": (at - u.first_seen_at).days,
            "attention": "unused for 90 days" if at - u.last_seen_at > UNUSED_AFTER else None,
        }
        for u in conn.execute(select(sso_users).where(sso_users.c.first_seen_at <= at).order_by(sso_users.c.name))
    ]
    credentials = compute("credentials", conn, at, settings)["credentials"]
    return {
        "report": "access_review",
        "at": iso(at),
        "sso_users": people,
        "tokens": tokens,
        "active_tokens": sum(1 for t in tokens if t["revoked_at"] is None),
        "credentials": credentials,
        "credentials_without_owner": [c["credential_id"] for c in credentials if not c["owner"]],
    }
