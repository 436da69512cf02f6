"""``notification_failing``: a channel whose last ``after_failures`` delivery attempts all failed."""

from __future__ import annotations

from typing import Any

from payoutwatch.clock import iso
from payoutwatch.config import NotificationFailingSettings
from payoutwatch.rules.findings import Finding, RuleId


def findings(health: list[Any], rule: NotificationFailingSettings) -> list[Finding]:
    out = []
    for row in health:
        if row.consecutive_failures < rule.after_failures:
            continue
        out.append(
            Finding(
                rule=RuleId.NOTIFICATION_FAILING,
                key=f"notification_failing:{row.channel}",
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
