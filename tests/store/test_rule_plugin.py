"""A rule defined here, not in payoutwatch, is evaluated, staged, routed, rendered and exported once registered.

This is the proof that rules are plug-ins: nothing in ``src/`` names ``large_manual_payout``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
import pytest
from pydantic import Field
from sqlalchemy import Connection, Engine, select

from payoutwatch.config import ConfigError, RuleSettings, Settings
from payoutwatch.notify.messages import Message
from payoutwatch.rules.registry import PrometheusAlert, RuleBase, Stage, register, unregister
from payoutwatch.store.tables import manual_payouts, notifications
from payoutwatch.usecases.evaluation import deliver, evaluate
from payoutwatch.usecases.exports import prometheus_rules
from payoutwatch.vocabulary import Event, Finding, RuleId
from tests.conftest import make_settings, utc
from tests.helpers import load, manual

NOW = utc(2026, 11, 1)
LARGE = RuleId("large_manual_payout")
NO_CYCLES = {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=6;BYMINUTE=0", "start": "2030-01-03"}


class LargeManualPayoutSettings(RuleSettings):
    owner: str = "treasury"
    severity: str = "SEV-4"
    limit_cents: int = Field(100_000, gt=0)


class LargeManualPayout(RuleBase):
    """One alert per manual payout at or above the limit; ten times the limit escalates."""

    id = LARGE
    settings_model = LargeManualPayoutSettings
    fact_labels: Mapping[str, str] = {"manual_payout_id": "Manual payout", "amount_cents": "Amount"}

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        rule = settings.rules.of(self.id)
        assert isinstance(rule, LargeManualPayoutSettings)
        m = manual_payouts.c
        rows = conn.execute(
            select(m.id, m.amount_cents).where(m.detected_at <= at, m.amount_cents >= rule.limit_cents).order_by(m.id)
        )
        return [
            Finding(
                rule=self.id,
                key=f"{self.id}:{row.id}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Manual payout {row.id} is large",
                stage="huge" if row.amount_cents >= 10 * rule.limit_cents else "large",
                details={"manual_payout_id": row.id, "amount_cents": int(row.amount_cents), "reasons": ["too big"]},
            )
            for row in rows
        ]

    def stages(self, settings: Settings) -> Sequence[Stage]:
        return [Stage("large", Event.FIRING), Stage("huge", Event.ESCALATED)]

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        rule = settings.rules.of(self.id)
        return [PrometheusAlert("PayoutLargeManual", "payoutwatch_manual_payouts_window > 0", "SEV-4", rule.owner, "")]


@pytest.fixture
def large_rule() -> Iterator[None]:
    register(LargeManualPayout())
    yield
    unregister(LARGE)


CHANNELS = {
    "pd": {"type": "pagerduty", "routing_key": "rk", "events_url": "http://pd.test/v2/enqueue"},
    "ops": {"type": "slack", "webhook_url": "http://slack.test/ops"},
}
ROUTES = [
    {"rule": "large_manual_payout", "channels": ["ops"]},
    {"rule": "large_manual_payout", "stages": ["huge"], "channels": ["pd"]},
]


def plugin_settings() -> Settings:
    return make_settings(
        schedule=NO_CYCLES,
        channels=CHANNELS,
        routes=ROUTES,
        rules={"large_manual_payout": {"limit_cents": 50_000, "owner": "treasury-ops"}},
    )


def test_a_registered_rule_gets_settings_and_a_default_route(large_rule: None) -> None:
    defaults = make_settings()
    assert isinstance(defaults.rules.of(LARGE), LargeManualPayoutSettings)
    assert [(r.rule, r.channels) for r in defaults.routes][-1] == ("large_manual_payout", ["log"])
    assert plugin_settings().rules.of(LARGE).owner == "treasury-ops"
    with pytest.raises(ConfigError, match="rules.large_manual_payout.limit_cents: should be greater than 0"):
        make_settings(rules={"large_manual_payout": {"limit_cents": 0}})


def test_an_unregistered_rule_id_in_the_config_is_an_error() -> None:
    with pytest.raises(ConfigError, match="rules.large_manual_payout: unknown rule 'large_manual_payout'"):
        make_settings(rules={"large_manual_payout": {"limit_cents": 1}})


def test_a_rule_defined_in_a_test_is_evaluated_routed_rendered_and_exported(store: Engine, large_rule: None) -> None:
    settings = plugin_settings()
    rows = [
        manual("a", utc(2026, 3, 6), 60_000),
        manual("b", utc(2026, 3, 6), 1_000),
        manual("c", utc(2026, 3, 7), 600_000),
    ]
    load(store, settings, "manual_payouts", rows, NOW)

    transitions = evaluate(store, settings, at=utc(2026, 3, 8), now=NOW)
    mine = [(t.key, t.stage, t.event) for t in transitions if t.rule is LARGE]
    assert mine == [
        ("large_manual_payout:a", "large", Event.FIRING),
        ("large_manual_payout:c", "huge", Event.ESCALATED),
    ]

    sent: list[tuple[str, dict[str, Any]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.host, json.loads(request.content)))
        return httpx.Response(202 if request.url.host == "pd.test" else 200, text="ok")

    deliver(store, settings, now=lambda: NOW, client=httpx.Client(transport=httpx.MockTransport(answer)))
    assert [(host, body.get("event_action") or body["text"].split("]")[0] + "]") for host, body in sent] == [
        ("slack.test", "[FIRING]"),
        ("slack.test", "[ESCALATED]"),
        ("pd.test", "trigger"),
    ]
    with store.connect() as conn:
        messages = [
            Message.from_json(row.message)
            for row in conn.execute(select(notifications).where(notifications.c.rule == LARGE.value))
        ]
    text = messages[0].text()
    assert "large_manual_payout firing: large_manual_payout:a" in text
    assert "Manual payout: a" in text and "Amount: " in text and "Owner: treasury-ops" in text

    [group] = prometheus_rules(settings)["groups"]
    [exported] = [r for r in group["rules"] if r["labels"]["payoutwatch_rule"] == "large_manual_payout"]
    assert exported["alert"] == "PayoutLargeManual" and exported["labels"]["owner"] == "treasury-ops"
