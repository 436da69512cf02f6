"""``POST /webhooks/pagerduty``: PagerDuty v3 webhooks, signed as PagerDuty signs them, acknowledge and resolve
the alert whose key is the incident's ``incident_key``, once per event id, as ``pagerduty:<agent>``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from payoutwatch.store.tables import alert_history, alerts, audit_log, webhook_events
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.web.app import create_app
from tests.conftest import make_settings, utc
from tests.helpers import failed_run
from tests.web.chatops import PAGERDUTY_SECRET, pagerduty_event, pagerduty_headers

NOW = utc(2026, 3, 5, 11, 30)
KEY = "automation_failure:payouts:2026-03-05"
OLD_SECRET = "0ldPagerDutySecret0ldPagerDutySe"


@dataclass
class Service:
    client: TestClient
    store: Engine

    def deliver(self, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
        answer = self.client.post("/webhooks/pagerduty", content=body, headers=headers or pagerduty_headers(body))
        return answer.status_code, answer.json()

    def alert(self) -> dict[str, object]:
        with self.store.connect() as conn:
            row = conn.execute(select(alerts).where(alerts.c.key == KEY)).one()
        return dict(row._mapping)

    def history(self) -> list[tuple[str, str | None]]:
        with self.store.connect() as conn:
            return [(r.action, r.actor) for r in conn.execute(select(alert_history).order_by(alert_history.c.id))]

    def audited(self, action: str) -> list[tuple[str, int]]:
        with self.store.connect() as conn:
            rows = conn.execute(select(audit_log).where(audit_log.c.action == action)).all()
        return [(r.target, r.details["count"]) for r in rows]


@pytest.fixture
def service(store: Engine) -> Iterator[Service]:
    channel = {"type": "pagerduty", "routing_key": "R" * 32, "webhook_secrets": [OLD_SECRET, PAGERDUTY_SECRET]}
    settings = make_settings(channels={"pagerduty": channel})
    failed_run(store, settings, NOW)
    evaluate(store, settings, at=NOW, now=NOW)
    yield Service(TestClient(create_app(settings, store, now=lambda: NOW)), store)


def test_incident_acknowledged_acknowledges_the_alert_as_the_pagerduty_user(service: Service) -> None:
    status, answer = service.deliver(pagerduty_event("01ACK", "incident.acknowledged", KEY))
    assert status == 200 and answer["outcome"] == "applied" and answer["key"] == KEY
    alert = service.alert()
    assert alert["state"] == "firing" and alert["acked_by"] == "pagerduty:Dana Oncall"
    assert ("acknowledged", "pagerduty:Dana Oncall") in service.history()


def test_incident_resolved_resolves_the_alert_and_a_redelivery_does_nothing(service: Service) -> None:
    body = pagerduty_event("01RES", "incident.resolved", KEY, agent="Eli Responder")
    assert service.deliver(body)[1]["outcome"] == "applied"
    assert service.deliver(body)[1]["outcome"] == "redelivery"
    alert = service.alert()
    assert alert["state"] == "resolved" and alert["resolved_by"] == "pagerduty:Eli Responder"
    assert service.history().count(("resolved_by_person", "pagerduty:Eli Responder")) == 1
    with service.store.connect() as conn:
        assert conn.execute(select(webhook_events.c.event_id, webhook_events.c.source)).all() == [
            ("01RES", "pagerduty")
        ]


def test_a_redelivered_acknowledgement_is_applied_once(service: Service) -> None:
    body = pagerduty_event("01ACKTWICE", "incident.acknowledged", KEY)
    outcomes = [service.deliver(body)[1]["outcome"] for _ in range(3)]
    assert outcomes == ["applied", "redelivery", "redelivery"]
    assert service.history().count(("acknowledged", "pagerduty:Dana Oncall")) == 1
    with service.store.connect() as conn:
        assert conn.execute(select(audit_log.c.target).where(audit_log.c.action == "ack")).scalars().all() == [KEY]


def test_events_for_unknown_keys_are_ignored_and_counted(service: Service) -> None:
    for n in range(3):
        status, answer = service.deliver(
            pagerduty_event(f"01UNK{n}", "incident.acknowledged", "some-other-service-key")
        )
        assert status == 200 and answer["outcome"] == "unknown_key"
    status, answer = service.deliver(pagerduty_event("01NOKEY", "incident.resolved", None))
    assert answer["outcome"] == "no_incident_key"
    assert service.alert()["acked_by"] is None and service.alert()["state"] == "firing"
    assert sorted(service.audited("pagerduty_webhook_ignored")) == [
        ("pagerduty:no_incident_key", 1),
        ("pagerduty:unknown_key", 3),
    ]


def test_the_echo_of_a_resolve_payoutwatch_sent_is_ignored_as_not_firing(service: Service) -> None:
    service.deliver(pagerduty_event("01R1", "incident.resolved", KEY))
    assert service.deliver(pagerduty_event("01R2", "incident.resolved", KEY))[1]["outcome"] == "not_firing"
    assert service.audited("pagerduty_webhook_ignored") == [("pagerduty:not_firing", 1)]


def test_other_event_types_are_answered_and_ignored(service: Service) -> None:
    assert service.deliver(pagerduty_event("01TRIG", "incident.triggered", KEY))[1]["outcome"] == "not_handled"
    assert service.alert()["acked_by"] is None


def test_several_signatures_and_a_rolled_secret_verify(service: Service) -> None:
    body = pagerduty_event("01ROLL", "incident.acknowledged", KEY)
    headers = pagerduty_headers(body, "some-newer-secret-not-configured", OLD_SECRET)
    assert service.deliver(body, headers)[1]["outcome"] == "applied"


@pytest.mark.parametrize(
    ("header", "cause"),
    [("v1=" + "0" * 64, "bad_signature"), ("", "malformed_header"), ("v0=abc", "malformed_header")],
)
def test_a_bad_signature_is_refused_audited_and_changes_nothing(service: Service, header: str, cause: str) -> None:
    body = pagerduty_event("01FORGED", "incident.resolved", KEY)
    status, answer = service.deliver(body, {"X-PagerDuty-Signature": header})
    assert status == 400 and str(answer["detail"]).startswith("refused: ")
    assert service.alert()["state"] == "firing"
    assert service.audited("pagerduty_webhook_refused") == [(f"pagerduty:{cause}", 1)]
    with service.store.connect() as conn:
        assert conn.execute(select(webhook_events)).all() == []
