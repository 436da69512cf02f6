"""Instants as people read them: in the display timezone, with its abbreviation, to the second or the minute.

Everything a person reads — pages, terminal tables, reports, channel messages — goes through ``local``;
JSON, the API, CSV and exports keep ISO 8601 UTC (``clock.iso``). A value may be a datetime or the ISO
text the figures carry, so templates and tables format what they are given.

>>> from zoneinfo import ZoneInfo
>>> toronto = ZoneInfo("America/Toronto")
>>> local("2026-11-01T05:30:00Z", toronto)  # before the change back: daylight time
'2026-11-01 01:30:00 EDT'
>>> local("2026-11-01T06:30:00.250Z", toronto)  # the same wall-clock hour again, now standard time
'2026-11-01 01:30:00 EST'
>>> local("2026-12-03T11:00:00Z", toronto, minutes=True)
'2026-12-03 06:00 EST'
>>> local(None, toronto)
'n/a'
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from payoutwatch.clock import parse_instant, to_utc

MISSING = "n/a"


def local(instant: datetime | str | None, zone: tzinfo, *, minutes: bool = False) -> str:
    """``instant`` in ``zone`` as ``YYYY-MM-DD HH:MM[:SS] ABBR`` (no microseconds); ``n/a`` when absent.

    A text that is not an instant is returned as it is (a figure may carry a date, or a word)."""
    if instant is None or instant == "":
        return MISSING
    if isinstance(instant, str):
        try:
            moment = parse_instant(instant).astimezone(zone)
        except ValueError:
            return instant
    else:
        moment = to_utc(instant).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M" if minutes else "%Y-%m-%d %H:%M:%S") + f" {moment.tzname()}"


def wall_clock(instant: datetime, zone: tzinfo) -> str:
    """``instant`` as the zone's wall-clock time without zone, the value of an HTML ``datetime-local`` input.

    >>> from zoneinfo import ZoneInfo
    >>> wall_clock(parse_instant("2026-03-08T07:30:00Z"), ZoneInfo("America/Toronto"))
    '2026-03-08T03:30:00'
    """
    return to_utc(instant).astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def zone_name(zone: tzinfo) -> str:
    """The zone's IANA name (``America/Toronto``), for labels such as "As of (America/Toronto)"."""
    return str(getattr(zone, "key", None) or zone)
