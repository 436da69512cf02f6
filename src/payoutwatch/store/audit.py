"""The audit log: who did what, to what, when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from payoutwatch.store.tables import audit_log


def audit(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str | None,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    conn.execute(insert(audit_log).values(at=now, actor=actor, action=action, target=target, details=details))
