"""One policy for instants typed by a person: ISO 8601 with an offset, or an error naming the option."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from payoutwatch.usecases.instants import InstantError, instant_or_now, parse_instant
from tests.conftest import utc

NOW = utc(2026, 3, 10, 12)
TORONTO = ZoneInfo("America/Toronto")


def test_an_offset_is_converted_to_utc() -> None:
    assert parse_instant("2026-03-05T06:00:00-05:00", option_name="--at") == utc(2026, 3, 5, 11)
    assert parse_instant("2026-03-05T11:00:00Z", option_name="--at") == utc(2026, 3, 5, 11)


@pytest.mark.parametrize("text", ["yesterday", "", "2026-03-05T11:00:00", "2026-13-05T11:00:00Z", "2026-03-05"])
def test_a_bad_or_zoneless_value_is_an_error_naming_the_option(text: str) -> None:
    with pytest.raises(InstantError, match=r"^--from .* is not an ISO 8601 instant with an offset, e\.g\. 2026"):
        parse_instant(text, option_name="--from")


def test_a_zoneless_form_value_is_read_on_the_given_zones_wall_clock_only_when_asked() -> None:
    assert parse_instant("2026-03-05T11:00", option_name="at", naive_zone=UTC) == utc(2026, 3, 5, 11)
    assert parse_instant("2026-03-05T06:00", option_name="at", naive_zone=TORONTO) == utc(2026, 3, 5, 11)
    assert parse_instant("2026-07-05T07:00", option_name="at", naive_zone=TORONTO) == utc(2026, 7, 5, 11)
    assert parse_instant("2026-03-05T06:00-05:00", option_name="at", naive_zone=TORONTO) == utc(2026, 3, 5, 11)
    with pytest.raises(InstantError, match="^at 'soon'"):
        parse_instant("soon", option_name="at", naive_zone=TORONTO)


def test_only_an_absent_value_means_now() -> None:
    assert instant_or_now(None, option_name="--at", now=NOW) == NOW
    assert instant_or_now("2026-03-05T11:00:00Z", option_name="--at", now=NOW) == utc(2026, 3, 5, 11)
    with pytest.raises(InstantError):
        instant_or_now("now", option_name="--at", now=NOW)
