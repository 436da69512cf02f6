"""Silences: matchers on rule / key / owner (shell-style globs) over a time window.

A silence suppresses delivery, never recording. It covers a notification when either the
evaluated instant or the wall-clock time of enqueueing falls in ``[starts_at, ends_at)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Connection, insert, select, update

from payoutwatch.store.tables import silences

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``4h``, ``2d``, ``1w`` (or several, as ``1h30m``) as a positive timedelta."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != re.sub(r"\s+", "", text.strip().lower()):
        raise ValueError(f"duration {text!r} is not like 90m, 4h, 2d or 1h30m")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be more than zero")
    return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Matcher:
    rule: str | None = None
    key: str | None = None
    owner: str | None = None

    def matches(self, *, rule: str, key: str, owner: str) -> bool:
        return all(
            pattern is None or fnmatchcase(value, pattern)
            for pattern, value in ((self.rule, rule), (self.key, key), (self.owner, owner))
        )


def add_silence(
    conn: Connection,
    matcher: Matcher,
    *,
    starts_at: datetime,
    ends_at: datetime,
    author: str,
    comment: str,
    now: datetime,
) -> int:
    if matcher == Matcher():
        raise ValueError("a silence needs at least one matcher (--rule, --key or --owner)")
    if ends_at <= starts_at:
        raise ValueError("a silence must end after it starts")
    result = conn.execute(
        insert(silences).values(
            rule=matcher.rule,
            key=matcher.key,
            owner=matcher.owner,
            starts_at=starts_at,
            ends_at=ends_at,
            author=author,
            comment=comment,
            created_at=now,
        )
    )
    pk = result.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def expire_silence(conn: Connection, silence_id: int, *, now: datetime) -> bool:
    result = conn.execute(
        update(silences).where(silences.c.id == silence_id, silences.c.ends_at > now).values(ends_at=now)
    )
    return result.rowcount > 0


def list_silences(conn: Connection, *, now: datetime, include_expired: bool = False) -> list[Any]:
    q = select(silences).order_by(silences.c.id)
    if not include_expired:
        q = q.where(silences.c.ends_at > now)
    return list(conn.execute(q))


@dataclass(frozen=True)
class ActiveSilences:
    """Every stored silence, loaded once per enqueue."""

    rows: list[Any]

    @classmethod
    def load(cls, conn: Connection) -> ActiveSilences:
        return cls(list(conn.execute(select(silences))))

    def covering(self, *, rule: str, key: str, owner: str, instants: list[datetime]) -> int | None:
        """The id of a silence that covers this notification, if any."""
        for row in self.rows:
            if not Matcher(row.rule, row.key, row.owner).matches(rule=rule, key=key, owner=owner):
                continue
            if any(row.starts_at <= t < row.ends_at for t in instants):
                return int(row.id)
        return None
