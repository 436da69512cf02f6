"""The one policy for an instant a person types (CLI options, API query values, page forms).

A value is ISO 8601 with an offset or ``Z``; anything else is an error naming the option, never a
silent fallback to now. Only an absent value means now.

>>> parse_instant("2026-03-05T06:00:00-05:00", option_name="--at").isoformat()
'2026-03-05T11:00:00+00:00'
>>> try:
...     parse_instant("yesterday", option_name="--at")
... except InstantError as exc:
...     print(exc)
--at 'yesterday' is not an ISO 8601 instant with an offset, e.g. 2026-03-05T11:00:00Z
"""

from __future__ import annotations

import re
from datetime import datetime, tzinfo

from payoutwatch import clock
from payoutwatch.records import EARLIEST, LATEST

EXAMPLE = "2026-03-05T11:00:00Z"
_HAS_OFFSET = re.compile(r"(?:[zZ]|[+-]\d\d(?::?\d\d)?)$")


class InstantError(ValueError):
    """A value that is not an instant; the message names the option and shows a valid example."""


def parse_instant(
    text: str, *, option_name: str, naive_zone: tzinfo | None = None, within_records: bool = False
) -> datetime:
    """``text`` as an aware UTC instant, or ``InstantError``.

    ``naive_zone`` reads a date and time without an offset as that zone's wall clock: an HTML
    ``datetime-local`` input carries no zone and the pages speak the display zone. Everywhere else a
    missing offset is an error.
    ``within_records`` refuses an instant outside the records' bounds (1970-01-01 … 2199-12-31 UTC,
    DESIGN §3): a view of the records at year 1 or 9999 shows nothing and cannot be computed. An
    instant that cannot be moved to UTC at all (year 1 at +05:00) is always refused.
    """
    value = text.strip()
    if naive_zone is not None and "T" in value and not _HAS_OFFSET.search(value):
        value = _with_offset(value, naive_zone)
    shown = text if len(text) <= 60 else text[:60] + "…"
    try:
        instant = clock.parse_instant(value)
    except OverflowError:  # year 1 or 9999 moved out of range by its offset
        instant = None
    except ValueError:
        raise InstantError(
            f"{option_name} {shown!r} is not an ISO 8601 instant with an offset, e.g. {EXAMPLE}"
        ) from None
    if instant is None or (within_records and not EARLIEST <= instant <= LATEST):
        raise InstantError(f"{option_name} {shown!r} is outside 1970-01-01 … 2199-12-31 (UTC)")
    return instant


def instant_or_now(
    text: str | None,
    *,
    option_name: str,
    now: datetime,
    naive_zone: tzinfo | None = None,
    within_records: bool = False,
) -> datetime:
    """``now`` when no value was given, else ``parse_instant`` (a bad value is an error, not now)."""
    if text is None:
        return now
    return parse_instant(text, option_name=option_name, naive_zone=naive_zone, within_records=within_records)


def _with_offset(value: str, zone: tzinfo) -> str:
    """A zoneless date and time read on ``zone``'s wall clock, with that offset added (unchanged when it is
    not a date and time, for the parser to refuse)."""
    try:
        wall = datetime.fromisoformat(value)
    except ValueError:
        return value
    return wall.replace(tzinfo=zone).isoformat()
