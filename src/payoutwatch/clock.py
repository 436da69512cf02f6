"""Where "now" comes from, instants in and out of text, and durations as people read them.

Code that needs the time takes ``now`` (a callable) or ``at`` (an instant) as a parameter; only the
CLI and ``serve`` read the system clock, so tests and ``--at`` simply pass a fixed instant.
"""

from __future__ import annotations

import functools
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
    if type(instant) is datetime and instant.tzinfo is UTC:  # as the store returns them (no folds in UTC)
        return _iso_of_utc(instant)  # thousands of figures share a few instants
    return _iso(instant)


def _iso(instant: datetime) -> str:
    utc = instant if instant.tzinfo is UTC else to_utc(instant)  # instants read from the store are UTC
    # isoformat's default shows microseconds only when there are some; "+00:00" (every UTC offset) -> "Z"
    return utc.isoformat()[:-6] + "Z"


_iso_of_utc = functools.lru_cache(maxsize=4096)(_iso)


def format_duration(seconds: float | None) -> str:
    """``3725`` -> ``1h 2m``; days, hours and minutes, or minutes and seconds under an hour."""
    if seconds is None:
        return "n/a"
    total = int(round(seconds))
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours}h {minutes}m"
    if hours:
        return f"{sign}{hours}h {minutes}m"
    return f"{sign}{minutes}m {secs}s"
