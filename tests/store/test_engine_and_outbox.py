"""The engine and the outbox on both stores, with channels answered by httpx.MockTransport."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from payoutwatch.config import Settings
from payoutwatch.notify.outbox import backoff_seconds
from payoutwatch.notify.silences import Matcher, add_silence
from payoutwatch.rules.engine import AlertNotFound, acknowledge, resolve_by_person
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.usecases.evaluation import deliver, evaluate
from tests import helpers
from tests.conftest import make_settings, utc
from tests.helpers import credential, load, manual

NOW = utc(2026, 11, 1)
CHANNELS = {
    "pd": {"type": "pagerduty", "routing_key": "rk", "events_url": "http://pd.test/v2/enqueue"},
    "ops": {"type": "slack", "webhook_url": "http://slack.test/ops"},
    "sec": {"type": "slack", "webhook_url": "http://slack.test/sec"},
}
ROUTES = [
    {"rule": "automation_failure", "channels": ["pd"]},
    {"rule": "fallback_volume", "channels": ["ops"]},
    {"rule": "credential_expiry", "channels": ["sec"]},
    {"rule": "credential_expiry", "stages": ["3d", "expired"], "channels": ["pd"]},
    {"rule": "notification_failing", "channels": ["ops"]},
]


NO_CYCLES = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"}


def routed_settings(**extra: Any) -> Settings:
    return make_settings(channels=CHANNELS, routes=ROUTES, **extra)


class Recorder:
    """Answers channel requests from a script of status codes (default 200/202) and records them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.script: dict[str, list[httpx.Response]] = {}

    def fail(self, host: str, *responses: httpx.Response) -> None:
        self.script.setdefault(host, []).extend(responses)

    def handler(self, request: httpx.Request) -> httpx.Response:
        queue = self.script.get(request.url.host) or []
        if queue:
            return queue.pop(0)
        self.sent.append((request.url.host, json.loads(request.content)))
        return httpx.Response(202 if request.url.host == "pd.test" else 200, text="ok")

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))

    def events(self) -> list[tuple[str, str]]:
        out = []
        for host, body in self.sent:
            out.append((host, body.get("event_action") or body["text"].split("]")[0].lstrip("[")))
        return out


def clock(start: datetime = NOW) -> Callable[[], datetime]:
    return lambda: start


def failed_run(store: Engine, settings: Settings) -> None:
    helpers.failed_run(store, settings, NOW)


def outbox_rows(store: Engine) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(notifications).order_by(notifications.c.id)))


def test_evaluating_the_same_instant_twice_sends_nothing_new(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    rec = Recorder()
    at = utc(2026, 3, 5, 11, 6)
    first = evaluate(store, settings, at=at, now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    second = evaluate(store, settings, at=at, now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    assert [t.key for t in first] == ["automation_failure:payouts:2026-03-05"] and second == []
    assert rec.events() == [("pd.test", "trigger")]
    body = rec.sent[0][1]
    assert body["dedup_key"] == "automation_failure:payouts:2026-03-05"
    assert body["payload"]["severity"] == "error" and body["payload"]["source"] == "payoutwatch"
    assert body["payload"]["custom_details"]["rule"] == "automation_failure"


def test_credential_walks_stages_and_rotation_resolves_everywhere_it_was_sent(store: Engine) -> None:
    settings = routed_settings(schedule=NO_CYCLES)
    rec = Recorder()
    due = utc(2026, 5, 1)
    load(
        store,
        settings,
        "credentials",
        [credential("cert", utc(2024, 4, 1), "apple_pay_certificate", expires_at=due)],
        NOW,
    )
    for days in (10, 9, 5, 2):  # first seen inside 14 days: one reminder, not three
        evaluate(store, settings, at=due - timedelta(days=days), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    texts = [b.get("text", b.get("event_action")) for _, b in rec.sent]
    assert [t.split(" ")[0] for t in texts] == ["[REMINDER", "[REMINDER", "[ESCALATED]", "trigger"]
    assert "[REMINDER 14d]" in texts[0] and "[REMINDER 7d]" in texts[1]
    load(
        store,
        settings,
        "credentials",
        [credential("cert", due - timedelta(days=1), "apple_pay_certificate", expires_at=due + timedelta(days=700))],
        NOW,
    )
    rec.sent.clear()
    evaluate(store, settings, at=due - timedelta(hours=12), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    assert sorted(rec.events()) == [("pd.test", "resolve"), ("slack.test", "RESOLVED")]


def test_a_persons_resolve_holds_until_the_finding_clears(store: Engine) -> None:
    settings = routed_settings(schedule=NO_CYCLES)
    load(store, settings, "manual_payouts", [manual("a", utc(2026, 3, 6)), manual("b", utc(2026, 3, 7))], NOW)
    evaluate(store, settings, at=utc(2026, 3, 8), now=NOW)
    with store.begin() as conn:
        acknowledge(conn, "fallback_volume", actor="ana", at=NOW, now=NOW)
        transition = resolve_by_person(conn, "fallback_volume", actor="ana", at=NOW, now=NOW, comment="known")
        with pytest.raises(AlertNotFound):
            acknowledge(conn, "fallback_volume", actor="ana", at=NOW, now=NOW)
    assert transition.actor == "ana"
    assert evaluate(store, settings, at=utc(2026, 3, 9), now=NOW) == []
    assert evaluate(store, settings, at=utc(2026, 5, 1), now=NOW) == []  # cleared: nothing open to resolve
    load(store, settings, "manual_payouts", [manual("c", utc(2026, 5, 2)), manual("d", utc(2026, 5, 3))], NOW)
    [again] = evaluate(store, settings, at=utc(2026, 5, 4), now=NOW)
    assert again.action.value == "fired"
    with store.connect() as conn:
        actions = [r.action for r in conn.execute(select(alert_history).order_by(alert_history.c.id))]
        acked = conn.execute(select(alerts.c.acked_by).order_by(alerts.c.id)).scalars().all()
    assert actions == ["fired", "acknowledged", "resolved_by_person", "finding_cleared", "fired"]
    assert acked == ["ana", None]


def test_only_one_firing_alert_per_key(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar() == 1


def test_retry_after_is_honoured_and_the_message_goes_once(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    rec = Recorder()
    rec.fail("pd.test", httpx.Response(429, headers={"Retry-After": "120"}))
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    report, _ = deliver(store, settings, now=clock(), client=rec.client())
    assert (report.sent, report.retrying) == (0, 1)
    [row] = outbox_rows(store)
    assert row.next_attempt_at == NOW + timedelta(seconds=120) and row.state == "pending"
    deliver(store, settings, now=clock(NOW + timedelta(seconds=119)), client=rec.client())
    assert rec.sent == []
    deliver(store, settings, now=clock(NOW + timedelta(seconds=120)), client=rec.client())
    assert rec.events() == [("pd.test", "trigger")]
    assert outbox_rows(store)[0].state == "sent"


def test_a_permanent_error_fails_at_once_and_is_visible(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    rec = Recorder()
    rec.fail("pd.test", httpx.Response(400, json={"status": "invalid event"}))
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    report, _ = deliver(store, settings, now=clock(), client=rec.client())
    [row] = outbox_rows(store)
    assert report.failed == 1 and row.state == "failed" and row.attempts == 1
    assert "HTTP 400" in row.last_error


def test_transient_errors_back_off_then_give_up_after_max_attempts(store: Engine) -> None:
    settings = routed_settings(notifications={"max_attempts": 3, "backoff_base_seconds": 10})
    failed_run(store, settings)
    rec = Recorder()
    rec.fail("pd.test", *(httpx.Response(503) for _ in range(3)))
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    for _ in range(3):
        deliver(store, settings, now=clock(), retry_now=True, client=rec.client())
    [row] = [r for r in outbox_rows(store) if r.rule == "automation_failure"]
    assert (row.state, row.attempts) == ("failed", 3)


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    settings = make_settings(notifications={"backoff_base_seconds": 30, "backoff_max_seconds": 600})
    assert backoff_seconds(1, settings, rng=lambda: 0.0) == 15
    assert backoff_seconds(3, settings, rng=lambda: 0.999999) == pytest.approx(120, rel=1e-5)
    assert backoff_seconds(10, settings, rng=lambda: 0.0) == 300


def test_a_resolve_waits_for_its_trigger_on_the_same_channel(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    rec = Recorder()
    rec.fail("pd.test", httpx.Response(500))
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    helpers.healthy_rerun(store, settings, NOW)
    evaluate(store, settings, at=utc(2026, 3, 5, 12, 6), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    assert rec.sent == []  # the resolve did not overtake the trigger waiting for its backoff
    deliver(store, settings, now=clock(), retry_now=True, client=rec.client())
    assert rec.events() == [("pd.test", "trigger"), ("pd.test", "resolve")]


def test_a_process_killed_before_sending_delivers_after_restart_once(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)  # rows written; the process dies here
    rec = Recorder()
    deliver(store, settings, now=clock(), client=rec.client())
    deliver(store, settings, now=clock(), client=rec.client())
    assert rec.events() == [("pd.test", "trigger")]


def test_silenced_notifications_are_recorded_not_sent_and_their_resolve_is_not_sent(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    with store.begin() as conn:
        add_silence(
            conn,
            Matcher(rule="automation_*"),
            starts_at=utc(2026, 3, 5),
            ends_at=utc(2026, 3, 6),
            author="ana",
            comment="maintenance",
            now=NOW,
        )
    rec = Recorder()
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    assert [r.state for r in outbox_rows(store)] == ["suppressed"]
    helpers.healthy_rerun(store, settings, NOW)
    [resolved] = evaluate(store, settings, at=utc(2026, 3, 5, 12, 6), now=NOW)
    deliver(store, settings, now=clock(), client=rec.client())
    assert resolved.event is not None and rec.sent == []


def test_a_channel_that_keeps_failing_raises_notification_failing(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    rec = Recorder()
    rec.fail("pd.test", *(httpx.Response(502) for _ in range(3)))
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    raised: list[Any] = []
    for _ in range(3):
        raised += deliver(store, settings, now=clock(), retry_now=True, client=rec.client())[1]
    assert [t.key for t in raised] == ["notification_failing:pd"]
    assert rec.events() == [("slack.test", "FIRING")]
    assert "notification_failing" in rec.sent[0][1]["text"] and "automation_failure" not in json.dumps(rec.sent[0])
    deliver(store, settings, now=clock(), retry_now=True, client=rec.client())
    assert rec.events()[1:] == [("pd.test", "trigger"), ("slack.test", "RESOLVED")]


def test_unknown_channel_rows_fail_permanently(store: Engine) -> None:
    settings = routed_settings()
    failed_run(store, settings)
    evaluate(store, settings, at=utc(2026, 3, 5, 11, 6), now=NOW)
    with store.begin() as conn:
        conn.execute(update(notifications).values(channel="gone"))
    deliver(store, settings, now=clock(), client=Recorder().client())
    [row] = outbox_rows(store)
    assert row.state == "failed" and "no channel named 'gone'" in row.last_error
