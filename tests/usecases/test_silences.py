"""Adding and expiring a silence: one rule for the window and the comment, always audited with details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from payoutwatch.notify.silences import Matcher
from payoutwatch.store.tables import audit_log, silences
from payoutwatch.usecases.alert_actions import (
    SilenceNotFound,
    SilenceRejected,
    add_silence,
    expire_silence,
    silence_length,
)
from tests.conftest import utc

NOW = utc(2026, 3, 10, 12)


def audit_rows(engine: Engine) -> list[tuple[str, str, str | None, object]]:
    with engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id)).all()
    return [(r.actor, r.action, r.target, r.details) for r in rows]


def test_a_silence_defaults_to_two_hours_from_now_and_is_audited_with_its_matcher_and_window(
    sqlite_store: Engine,
) -> None:
    added = add_silence(sqlite_store, Matcher(rule="reserve_breach"), comment="top-up", author="ana", now=NOW)
    assert (added.starts_at, added.ends_at) == (NOW, NOW + timedelta(hours=2))
    with sqlite_store.connect() as conn:
        [row] = conn.execute(select(silences)).all()
    assert (row.id, row.rule, row.author, row.comment) == (added.id, "reserve_breach", "ana", "top-up")
    assert audit_rows(sqlite_store) == [
        (
            "ana",
            "silence_add",
            str(added.id),
            {
                "rule": "reserve_breach",
                "key": None,
                "owner": None,
                "starts_at": "2026-03-10T12:00:00Z",
                "ends_at": "2026-03-10T14:00:00Z",
            },
        )
    ]


def test_an_explicit_window_up_to_ninety_days_is_kept(sqlite_store: Engine) -> None:
    start = utc(2026, 3, 1)
    added = add_silence(
        sqlite_store,
        Matcher(key="x:*"),
        comment="c",
        author="a",
        now=NOW,
        starts_at=start,
        ends_at=start + timedelta(days=90),
    )
    assert added.ends_at - added.starts_at == timedelta(days=90)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"length": timedelta(days=90, seconds=1)}, "at most 90 days"),
        ({"ends_at": NOW}, "must end after it starts"),
        ({"starts_at": NOW, "ends_at": NOW - timedelta(hours=1)}, "must end after it starts"),
        ({"ends_at": NOW.replace(tzinfo=None) + timedelta(hours=1)}, "UTC offset"),
    ],
)
def test_a_window_out_of_bounds_is_refused_and_nothing_is_written(
    sqlite_store: Engine, window: dict[str, object], message: str
) -> None:
    with pytest.raises(SilenceRejected, match=message):
        add_silence(sqlite_store, Matcher(rule="reserve_breach"), comment="c", author="a", now=NOW, **window)  # type: ignore[arg-type]
    assert audit_rows(sqlite_store) == []


@pytest.mark.parametrize(
    ("matcher", "comment", "message"),
    [
        (Matcher(), "c", "at least one matcher"),
        (Matcher(rule="reserve_breach"), "  ", "needs a comment"),
        (Matcher(rule="reserve_breach"), "x" * 2001, "at most 2000"),
    ],
)
def test_a_silence_needs_a_matcher_and_a_comment(
    sqlite_store: Engine, matcher: Matcher, comment: str, message: str
) -> None:
    with pytest.raises(SilenceRejected, match=message):
        add_silence(sqlite_store, matcher, comment=comment, author="a", now=NOW)
    assert audit_rows(sqlite_store) == []


def test_a_length_comes_from_a_duration_or_bounded_hours() -> None:
    assert silence_length() == timedelta(hours=2)
    assert silence_length(hours=0.5) == timedelta(minutes=30)
    assert silence_length(hours=6, duration="1h30m") == timedelta(minutes=90)
    assert silence_length(hours=2160) == timedelta(days=90)
    for hours in (0.0, -1.0, 2160.5, float("nan"), float("inf")):
        with pytest.raises(SilenceRejected, match="more than 0 and at most 2160 hours"):
            silence_length(hours=hours)
    with pytest.raises(SilenceRejected, match="not like 90m"):
        silence_length(duration="soon")


def test_expiring_ends_the_silence_now_once_and_is_audited(sqlite_store: Engine) -> None:
    added = add_silence(sqlite_store, Matcher(rule="reserve_breach"), comment="c", author="ana", now=NOW)
    later = NOW + timedelta(minutes=10)
    expire_silence(sqlite_store, added.id, actor="bo", now=later)
    with sqlite_store.connect() as conn:
        assert conn.execute(select(silences.c.ends_at)).scalar_one().replace(tzinfo=later.tzinfo) == later
    with pytest.raises(SilenceNotFound, match=f"no active silence {added.id}"):
        expire_silence(sqlite_store, added.id, actor="bo", now=later + timedelta(minutes=1))
    assert audit_rows(sqlite_store)[-1] == ("bo", "silence_expire", str(added.id), None)
