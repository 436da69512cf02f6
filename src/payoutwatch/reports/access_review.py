"""Security's access review: API tokens with role, age and last use; credentials with their rotation
schedule and owners (the credentials dashboard's own figures)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from payoutwatch.auth import list_tokens
from payoutwatch.clock import iso
from payoutwatch.config import Settings
from payoutwatch.metrics import compute

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
    credentials = compute("credentials", conn, at, settings)["credentials"]
    return {
        "report": "access_review",
        "at": iso(at),
        "tokens": tokens,
        "active_tokens": sum(1 for t in tokens if t["revoked_at"] is None),
        "credentials": credentials,
        "credentials_without_owner": [c["credential_id"] for c in credentials if not c["owner"]],
    }
