"""What a silence mutes, as the pages show it: ``alerts_matching`` (the add-silence preview) and ``silencing``
(the "silenced until" mark) use the matcher delivery uses, over firing alerts and the instant shown."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from payoutwatch.demo import build_platform, load
from payoutwatch.notify.silences import Matcher
from payoutwatch.usecases.alert_actions import add_silence, expire_silence
from payoutwatch.usecases.alert_queries import AlertFilter, alerts_matching, list_alerts, silencing
from payoutwatch.usecases.evaluation import evaluate
from tests.conftest import make_settings, utc

NOW = utc(2026, 11, 26, 14)
HOUR = timedelta(hours=1)


def demo_store(engine: Engine) -> list[dict[str, object]]:
    settings = make_settings(
        schedule={"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2025-01-02"}
    )
    load(engine, build_platform(settings, NOW, studios=30), settings, NOW)
    evaluate(engine, settings, at=NOW, now=NOW)
    return list_alerts(engine, which=AlertFilter.FIRING)


def test_the_preview_lists_the_firing_alerts_a_matcher_matches(sqlite_store: Engine) -> None:
    firing = demo_store(sqlite_store)
    keys = {a["key"] for a in firing}
    automation = {k for k in keys if k.startswith("automation_failure:")}
    assert len(automation) == 2
    assert {a["key"] for a in alerts_matching(sqlite_store, Matcher(rule="automation_failure"))} == automation
    assert {a["key"] for a in alerts_matching(sqlite_store, Matcher(key="automation_failure:*"))} == automation
    assert [a["key"] for a in alerts_matching(sqlite_store, Matcher(key="fallback_volume"))] == ["fallback_volume"]
    assert alerts_matching(sqlite_store, Matcher(rule="automation_failure", owner="finance")) == []
    owned = {a["key"] for a in firing if a["owner"] == "finance"}
    assert {a["key"] for a in alerts_matching(sqlite_store, Matcher(owner="finance"))} == owned
    assert alerts_matching(sqlite_store, Matcher()) == []  # no silence may match everything


def test_an_alert_is_marked_silenced_only_while_a_silence_covers_it(sqlite_store: Engine) -> None:
    firing = demo_store(sqlite_store)
    later = add_silence(
        sqlite_store,
        Matcher(key="fallback_volume"),
        comment="maintenance window",
        author="ana",
        now=NOW,
        starts_at=NOW + HOUR,
        ends_at=NOW + 3 * HOUR,
    )
    assert silencing(sqlite_store, firing, now=NOW) == {}  # it has not started
    [(key, silence)] = silencing(sqlite_store, firing, now=NOW + 2 * HOUR).items()
    assert key == "fallback_volume" and (silence["id"], silence["author"]) == (later.id, "ana")
    assert silencing(sqlite_store, firing, now=NOW + 3 * HOUR) == {}  # it has ended
    ended = add_silence(sqlite_store, Matcher(rule="automation_failure"), comment="rerun", author="bo", now=NOW)
    assert set(silencing(sqlite_store, firing, now=NOW)) == {
        a["key"] for a in firing if a["rule"] == "automation_failure"
    }
    expire_silence(sqlite_store, ended.id, actor="bo", now=NOW + HOUR / 2)
    assert silencing(sqlite_store, firing, now=NOW + HOUR / 2) == {}
