"""Where "now" comes from, and instants in and out of text.

Code that needs the time takes ``now`` (a callable) or ``at`` (an instant) as a parameter; only the
CLI and ``serve`` read the system clock, so tests and ``--at`` simply pass a fixed instant.
"""

from __future__ import annotations

from datetime import UTC, datetime


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def to_utc(instant: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused (it has no meaning here)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{instant.isoformat()} has no UTC offset")
    return instant.astimezone(UTC)


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 with an offset or ``Z`` into aware UTC.

    >>> parse_instant("2026-03-05T06:00:00-05:00").isoformat()
    '2026-03-05T11:00:00+00:00'
    """
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return to_utc(value)


def iso(instant: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, seconds precision unless there are microseconds."""
    if instant is None:
        return None
    utc = to_utc(instant)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")
