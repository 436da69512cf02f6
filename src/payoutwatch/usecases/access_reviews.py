"""Security's access review, recorded: who reviewed the tokens, SSO users and credentials, when, and what
they saw (the counts), in the audit log; and the latest such review as of an instant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from payoutwatch.clock import iso
from payoutwatch.store.audit import audit
from payoutwatch.store.tables import audit_log
from payoutwatch.vocabulary import PersonAction

MAX_NOTE_CHARS = 2000


def record_access_review(
    engine: Engine, figures: dict[str, Any], *, actor: str, now: datetime, note: str | None
) -> None:
    """Audit that ``actor`` reviewed the access review ``figures`` (``reports.access_review``) with ``note``.

    Raises ``ValueError`` for a note longer than 2000 characters or holding a NUL character."""
    if note is not None and (len(note) > MAX_NOTE_CHARS or "\x00" in note):
        raise ValueError(f"a note is at most {MAX_NOTE_CHARS} characters of text")
    details = {
        "note": note,
        "as_of": figures["at"],
        "active_tokens": figures["active_tokens"],
        "sso_users": len(figures["sso_users"]),
        "needing_attention": sum(1 for r in figures["tokens"] + figures["sso_users"] if r["attention"]),
        "credentials_without_owner": len(figures["credentials_without_owner"]),
    }
    with engine.begin() as conn:
        audit(conn, actor=actor, action=PersonAction.ACCESS_REVIEW.value, target=None, now=now, details=details)


def last_access_review(conn: Connection, at: datetime) -> dict[str, Any] | None:
    """The latest recorded access review at or before ``at``: who, when and what they noted."""
    a = audit_log.c
    row = conn.execute(
        select(audit_log)
        .where(a.action == PersonAction.ACCESS_REVIEW.value, a.at <= at)
        .order_by(a.at.desc(), a.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    details = row.details or {}
    return {"by": row.actor, "at": iso(row.at), "note": details.get("note"), "details": details}
