from datetime import UTC, date, datetime

from payoutwatch.schedule import Schedule

BIWEEKLY = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0"


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)  # type: ignore[misc]


def test_six_am_toronto_is_eleven_utc_in_winter_and_ten_in_summer() -> None:
    s = Schedule(BIWEEKLY, date(2026, 3, 5), "America/Toronto")
    assert s.next_after(utc(2026, 3, 1)) == utc(2026, 3, 5, 11)
    assert s.next_after(utc(2026, 3, 5, 11)) == utc(2026, 3, 19, 10)  # strictly after; DST began 8 March


def test_fall_back_moves_the_utc_instant_an_hour_later() -> None:
    s = Schedule(BIWEEKLY, date(2026, 10, 22), "America/Toronto")
    assert s.next_after(utc(2026, 10, 23)) == utc(2026, 11, 5, 11)  # DST ended 1 November
    assert s.latest_at_or_before(utc(2026, 10, 22, 10)) == [utc(2026, 10, 22, 10)]


def test_no_cycle_exists_before_the_start() -> None:
    s = Schedule(BIWEEKLY, date(2026, 3, 5), "America/Toronto")
    assert s.latest_at_or_before(utc(2026, 3, 5, 10, 59)) == []
    assert s.previous_before(utc(2026, 3, 5, 11)) is None
    assert s.latest_at_or_before(utc(2026, 4, 6), 2) == [utc(2026, 4, 2, 10), utc(2026, 3, 19, 10)]


def test_start_as_a_naive_datetime_is_read_in_the_timezone() -> None:
    s = Schedule(BIWEEKLY, datetime(2026, 3, 5, 7, 0), "America/Toronto")
    assert s.next_after(utc(2026, 3, 1)) == utc(2026, 3, 19, 10)  # 06:00 on the 5th is before the start


def test_nearest_cycle_picks_the_closer_instant() -> None:
    s = Schedule(BIWEEKLY, date(2026, 3, 5), "America/Toronto")
    assert s.nearest(utc(2026, 3, 5, 12)) == utc(2026, 3, 5, 11)
    assert s.nearest(utc(2026, 3, 18)) == utc(2026, 3, 19, 10)
    assert s.local_date(utc(2026, 3, 5, 3)) == date(2026, 3, 4)


def test_long_horizons_are_generated_lazily() -> None:
    s = Schedule(BIWEEKLY, date(2020, 1, 2), "America/Toronto")
    assert len(list(s.between(utc(2020, 1, 1), utc(2026, 1, 1)))) == 157
