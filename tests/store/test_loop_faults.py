"""One bad part never stops the rest (DESIGN §10): a source raising anything, a source answering
garbage and a channel raising are each recorded against that part and counted, while an unrelated
alert still fires and is delivered in the same tick; ``/readyz`` answers from the evaluation recorded
in the store; the dead-man's switch is sent after a good tick only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from payoutwatch.config import CHANNEL_TYPES, SOURCE_TYPES, ChannelSettingsBase, Settings, SourceBase
from payoutwatch.loop_errors import LOOP_ERRORS, LoopPart
from payoutwatch.notify.channels import Report
from payoutwatch.notify.messages import Message
from payoutwatch.service import Heartbeat, LoopState, tick
from payoutwatch.sources.base import Page
from payoutwatch.store.tables import alerts, notifications, report_runs
from payoutwatch.usecases.syncing import source_listing
from payoutwatch.web.app import create_app
from tests import helpers
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer
from tests.integration.servers import ChannelServer

NOW = utc(2026, 3, 5, 12)  # an hour after the failed run of the 2026-03-05 cycle


class Gremlin(Exception):
    """Not a type the sync knows about."""


class GremlinSource(SourceBase):
    type: Literal["gremlin"]


class GremlinPull:
    def __init__(self, name: str, config: GremlinSource, settings: Settings) -> None:
        self.name = name

    def secrets(self) -> list[str]:
        return []

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        raise Gremlin("chewed through the cable")


class BrokenChannel(ChannelSettingsBase):
    type: Literal["broken"]


class BrokenSend:
    def __init__(self, name: str, settings: BrokenChannel, client: httpx.Client) -> None:
        self.name = name

    def send(self, message: Message) -> None:
        raise AttributeError("'NoneType' object has no attribute 'post'")

    def send_report(self, report: Report) -> None:
        raise AttributeError("'NoneType' object has no attribute 'post'")


@pytest.fixture
def faulty_types() -> Iterator[None]:
    SOURCE_TYPES.register(GremlinSource, GremlinPull)
    CHANNEL_TYPES.register(BrokenChannel, BrokenSend)
    yield
    SOURCE_TYPES.unregister("gremlin")
    CHANNEL_TYPES.unregister("broken")


@pytest.fixture
def garbage_api() -> Iterator[str]:
    """A Stripe ``api_base`` that answers every call with a JSON body that is no Stripe object."""
    server = JsonServer(lambda method, path, headers, body: (404, {"error": "not found"}, {}))
    try:
        yield server.url
    finally:
        server.close()


def faulty_settings(pd: ChannelServer, stripe_base: str, **service: Any) -> Settings:
    return make_settings(
        sources={
            "gremlin": {"type": "gremlin", "interval_minutes": 5, "retries": 0},
            "stripe": {"type": "stripe", "api_key": "rk_test_x", "api_base": stripe_base, "retries": 0},
        },
        channels={
            "pd": {"type": "pagerduty", "routing_key": "R" * 32, "events_url": f"{pd.url}/pagerduty/enqueue"},
            "broken": {"type": "broken"},
        },
        routes=[
            {"rule": "automation_failure", "channels": ["broken", "pd"]},
            {"rule": "source_stale", "channels": ["pd"]},
        ],
        service={"evaluate_interval_seconds": 60, **service},
    )


def test_a_raising_source_a_garbage_source_and_a_raising_channel_stop_nothing(
    faulty_types: None, garbage_api: str, store: Engine
) -> None:
    before = LOOP_ERRORS.snapshot()
    with ChannelServer() as pd:
        settings = faulty_settings(pd, garbage_api)
        helpers.failed_run(store, settings, NOW)
        now = NOW
        report = tick(store, settings, LoopState(), clock=lambda: now)

        # the unrelated alert fired and reached PagerDuty in this very tick
        assert report.evaluated and report.delivered and report.sent == 1
        assert [r["body"]["dedup_key"] for r in pd.pd.of("trigger")] == ["automation_failure:payouts:2026-03-05"]
        # each failing source is recorded where people look
        listed = {s["source"]: s for s in source_listing(store, settings)}
        assert listed["gremlin"]["state"] == "failing" and "Gremlin" in listed["gremlin"]["last_error"]
        assert listed["stripe"]["state"] == "failing" and "AttributeError" in listed["stripe"]["last_error"]
        assert "rk_test_x" not in listed["stripe"]["last_error"]
        # the channel's failure is on its outbox row, which waits for a retry
        with store.connect() as conn:
            rows = {r.channel: r for r in conn.execute(select(notifications))}
        assert rows["broken"].state == "pending" and "AttributeError" in rows["broken"].last_error
        assert rows["pd"].state == "sent"
        after = LOOP_ERRORS.snapshot()
        assert after[LoopPart.SOURCE] - before[LoopPart.SOURCE] == 2
        assert after[LoopPart.CHANNEL] - before[LoopPart.CHANNEL] == 1
        scrape = TestClient(create_app(settings, store, now=lambda: now)).get("/metrics").text
        assert f'payoutwatch_loop_errors_total{{part="source"}} {float(after[LoopPart.SOURCE])}' in scrape

        # the failing sources go stale and that is raised too, while the loop keeps running
        state = LoopState()
        for minutes in (20, 40, 50):
            later = NOW + timedelta(minutes=minutes)
            tick(store, settings, state, clock=lambda at=later: at)
        with store.connect() as conn:
            stale = set(conn.execute(select(alerts.c.key).where(alerts.c.rule == "source_stale")).scalars())
        assert {"source_stale:gremlin", "source_stale:stripe"} <= stale
        assert {"source_stale:gremlin", "source_stale:stripe"} <= {r["body"]["dedup_key"] for r in pd.pd.of("trigger")}


def test_a_failing_evaluation_or_heartbeat_is_contained_and_delivery_still_runs(
    store: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(service={"heartbeat_url": "http://127.0.0.1:9/unreachable"})
    helpers.failed_run(store, settings, NOW)
    before = LOOP_ERRORS.snapshot()
    report = tick(store, settings, LoopState(), clock=lambda: NOW)
    assert report.evaluated and report.sent == 1 and not report.heartbeat_sent  # nobody listens on port 9
    assert LOOP_ERRORS.snapshot()[LoopPart.HEARTBEAT] - before[LoopPart.HEARTBEAT] == 1

    def broken_evaluation(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("integer overflow")

    monkeypatch.setattr("payoutwatch.service.evaluate", broken_evaluation)
    helpers.healthy_rerun(store, settings, NOW)
    report = tick(store, settings, LoopState(), clock=lambda: NOW + timedelta(minutes=1))
    assert not report.evaluated and report.delivered and not report.heartbeat_sent
    assert report.failed_parts == ["evaluation"]
    assert LOOP_ERRORS.snapshot()[LoopPart.EVALUATE] - before[LoopPart.EVALUATE] == 1


class HeartbeatServer:
    def __init__(self) -> None:
        self.server = JsonServer(lambda method, path, headers, body: (200, {"ok": True}, {}))

    @property
    def url(self) -> str:
        return f"{self.server.url}/ping/abc"

    def hits(self) -> int:
        return sum(1 for method, path in self.server.requests if (method, path) == ("GET", "/ping/abc"))


def test_readyz_answers_from_the_stored_evaluation_and_the_heartbeat_follows_good_ticks(store: Engine) -> None:
    beat = HeartbeatServer()
    try:
        settings = make_settings(service={"evaluate_interval_seconds": 60, "heartbeat_url": beat.url})
        now = NOW
        loop = Heartbeat(at=NOW, leader=False)  # a replica whose loop goes round but does not lead
        client = TestClient(create_app(settings, store, now=lambda: now, heartbeat=loop))
        assert client.get("/readyz").status_code == 503  # nothing evaluated yet by anyone

        report = tick(store, settings, LoopState(), clock=lambda: now)  # the leader, elsewhere
        assert report.heartbeat_sent and beat.hits() == 1
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["last_evaluation"] == "2026-03-05T12:00:00Z"

        now = NOW + timedelta(minutes=3)  # the leader stopped evaluating two intervals ago
        loop.at = now
        stale = client.get("/readyz")
        assert stale.status_code == 503 and stale.json()["status"] == "no recent evaluation"

        tick(store, settings, LoopState(), clock=lambda: now)
        assert client.get("/readyz").status_code == 200 and beat.hits() == 2
    finally:
        beat.server.close()


def test_a_report_channel_raising_is_recorded_with_the_report_and_the_tick_goes_on(
    faulty_types: None, store: Engine
) -> None:
    with ChannelServer() as pd:
        settings = make_settings(
            channels={
                "pd": {"type": "pagerduty", "routing_key": "R" * 32, "events_url": f"{pd.url}/pagerduty/enqueue"},
                "broken": {"type": "broken"},
            },
            routes=[{"rule": "automation_failure", "channels": ["pd"]}],
            reports={"weekly": {"channels": ["broken"], "schedule": "FREQ=DAILY;BYHOUR=7;BYMINUTE=0"}},
        )
        helpers.failed_run(store, settings, NOW)
        before = LOOP_ERRORS.snapshot()
        report = tick(store, settings, LoopState(), clock=lambda: NOW)
        assert report.sent == 1 and not report.weekly_sent and report.failed_parts == []
        assert [r["body"]["dedup_key"] for r in pd.pd.of("trigger")] == ["automation_failure:payouts:2026-03-05"]
        with store.connect() as conn:
            run = conn.execute(select(report_runs)).one()
        assert run.sent_at is None and "broken: unexpected error (AttributeError)" in run.error
        assert LOOP_ERRORS.snapshot()[LoopPart.REPORT] - before[LoopPart.REPORT] == 1
