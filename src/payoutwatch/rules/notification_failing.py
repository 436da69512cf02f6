"""``notification_failing``: a channel whose last ``after_failures`` delivery attempts all failed."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from payoutwatch.clock import iso
from payoutwatch.config import NotificationFailingSettings, Settings
from payoutwatch.rules.registry import Checked, RuleBase, register
from payoutwatch.store.tables import channel_health
from payoutwatch.vocabulary import Finding, RuleId, Transition


def findings(health: list[Any], rule: NotificationFailingSettings) -> list[Finding]:
    out = []
    for row in health:
        if row.consecutive_failures < rule.after_failures:
            continue
        out.append(
            Finding(
                rule=RuleId.NOTIFICATION_FAILING,
                key=f"{RuleId.NOTIFICATION_FAILING}:{row.channel}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Channel {row.channel} failed {row.consecutive_failures} deliveries in a row",
                details={
                    "channel": row.channel,
                    "consecutive_failures": row.consecutive_failures,
                    "last_error": row.last_error,
                    "last_success_at": iso(row.last_success_at),
                    "reasons": [f"last error: {row.last_error}"],
                },
            )
        )
    return out


class NotificationFailing(RuleBase):
    """Checked after deliveries; goes to the fallback channels too, never to the failing channel."""

    id = RuleId.NOTIFICATION_FAILING
    settings_model = NotificationFailingSettings
    checked = Checked.AFTER_DELIVERY
    fact_labels: Mapping[str, str] = {
        "channel": "Channel",
        "last_success_at": "Last successful sync",
        "consecutive_failures": "Consecutive failures",
        "last_error": "Last error",
    }

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        health = list(conn.execute(select(channel_health)))
        return findings(health, settings.rules.notification_failing)

    def targets(self, transition: Transition, routed: list[str], settings: Settings) -> list[str]:
        failing = transition.details.get("channel")
        kept = [c for c in routed + settings.notifications.fallback_channels if c != failing]
        return list(dict.fromkeys(kept)) or ["log"]


RULE = register(NotificationFailing())
