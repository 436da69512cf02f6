"""The payout schedule: an RFC 5545 RRULE read in the configured timezone.

Occurrences are generated as local wall-clock times and converted to UTC one by one, so
a 06:00 America/Toronto run is 11:00Z in winter and 10:00Z in summer. No cycle exists
before ``schedule.start``.

>>> s = Schedule("FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", date(2026, 3, 5), "America/Toronto")
>>> s.next_after(datetime(2026, 3, 5, 12, tzinfo=UTC)).isoformat()
'2026-03-19T10:00:00+00:00'
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from payoutwatch.clock import to_utc

if TYPE_CHECKING:
    from payoutwatch.config import Settings

_CHUNK = 64


class Schedule:
    def __init__(self, rule: str, start: date | datetime, timezone: str) -> None:
        self.zone = ZoneInfo(timezone)
        local_start = start.replace(tzinfo=None) if isinstance(start, datetime) else datetime.combine(start, time())
        self.start = local_start.replace(tzinfo=self.zone).astimezone(UTC)
        parsed = rrulestr(rule, dtstart=local_start)
        if not isinstance(parsed, rrule):
            raise ValueError("schedule.rrule must be a single RRULE")
        self._iter = iter(parsed)
        self._known: list[datetime] = []
        self._exhausted = False

    def _extend_past(self, instant: datetime) -> None:
        """Generate occurrences until one lies strictly after ``instant`` (or the rule ends)."""
        while not self._exhausted and (not self._known or self._known[-1] <= instant):
            for _ in range(_CHUNK):
                try:
                    local = next(self._iter)
                except StopIteration:
                    self._exhausted = True
                    break
                self._known.append(local.replace(tzinfo=self.zone).astimezone(UTC))

    def next_after(self, at: datetime) -> datetime | None:
        """The first scheduled instant strictly after ``at``."""
        at = to_utc(at)
        self._extend_past(at)
        i = bisect.bisect_right(self._known, at)
        return self._known[i] if i < len(self._known) else None

    def latest_at_or_before(self, at: datetime, count: int = 1) -> list[datetime]:
        """The ``count`` most recent scheduled instants ≤ ``at``, newest first."""
        at = to_utc(at)
        self._extend_past(at)
        i = bisect.bisect_right(self._known, at)
        return list(reversed(self._known[max(0, i - count) : i]))

    def previous_before(self, instant: datetime) -> datetime | None:
        """The scheduled instant strictly before ``instant`` (None before the start)."""
        instant = to_utc(instant)
        self._extend_past(instant)
        i = bisect.bisect_left(self._known, instant)
        return self._known[i - 1] if i > 0 else None

    def between(self, first: datetime, last: datetime) -> Iterator[datetime]:
        """Scheduled instants in ``[first, last]``."""
        first, last = to_utc(first), to_utc(last)
        self._extend_past(last)
        lo = bisect.bisect_left(self._known, first)
        hi = bisect.bisect_right(self._known, last)
        yield from self._known[lo:hi]

    def nearest(self, instant: datetime) -> datetime | None:
        """The scheduled instant nearest ``instant`` (the earlier one on a tie)."""
        before = self.latest_at_or_before(instant)
        after = self.next_after(instant)
        candidates = before + ([after] if after else [])
        if not candidates:
            return None
        return min(candidates, key=lambda c: (abs((c - instant).total_seconds()), c))

    def local_date(self, instant: datetime) -> date:
        """The calendar date of ``instant`` in the schedule's timezone (used in alert keys)."""
        return to_utc(instant).astimezone(self.zone).date()


@lru_cache(maxsize=8)
def schedule_for(rule: str, start: date | datetime, timezone: str) -> Schedule:
    return Schedule(rule, start, timezone)


def schedule_of(settings: Settings) -> Schedule:
    """The configured payout schedule (cached per rule, start and timezone)."""
    s = settings.schedule
    return schedule_for(s.rrule, s.start, settings.timezone)
