"""PagerDuty Events API v2: ``trigger`` for firing/escalated/reminder, ``resolve`` for resolved.

``dedup_key`` is the alert key, so a retried trigger merges into the same incident.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import Report, cannot_carry_reports, post_json
from payoutwatch.notify.messages import Message
from payoutwatch.vocabulary import Event

PagerDutySeverity = Literal["critical", "error", "warning", "info"]  # the Events API v2 values
DEFAULT_SEVERITY_MAP: dict[str, PagerDutySeverity] = {
    "SEV-1": "critical",
    "SEV-2": "error",
    "SEV-3": "warning",
    "SEV-4": "info",
}


class PagerDutyChannel(ChannelSettingsBase):
    carries_reports: ClassVar[bool] = False

    type: Literal["pagerduty"]
    routing_key: SecretStr
    events_url: str = "https://events.pagerduty.com/v2/enqueue"
    severity_map: dict[str, PagerDutySeverity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    timeout_seconds: float = 10
    # v3 webhook subscriptions' signing secrets (several while rolling): POST /webhooks/pagerduty
    webhook_secrets: list[SecretStr] = Field(default_factory=list)


class PagerDuty:
    def __init__(self, name: str, settings: PagerDutyChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def body(self, message: Message) -> dict[str, Any]:
        action = "resolve" if message.event == Event.RESOLVED else "trigger"
        body: dict[str, Any] = {
            "routing_key": self.settings.routing_key.get_secret_value(),
            "event_action": action,
            "dedup_key": message.key[:255],
        }
        if action == "trigger":
            body["payload"] = {
                "summary": message.headline[:1024],
                "source": "payoutwatch",
                "severity": self.settings.severity_map.get(message.severity, "error"),
                "timestamp": message.at,
                "component": message.rule,
                "class": message.rule,
                "custom_details": {
                    "rule": message.rule,
                    "alert_key": message.key,
                    "owner": message.owner,
                    "stage": message.stage,
                    "reasons": message.reasons,
                    "summary": message.summary,
                    **{label: value for label, value in message.facts},
                },
            }
            if message.link:
                body["links"] = [{"href": message.link, "text": "payoutwatch"}]
        else:
            body["payload"] = {
                "summary": message.headline[:1024],
                "source": "payoutwatch",
                "severity": self.settings.severity_map.get(message.severity, "error"),
                "custom_details": {"rule": message.rule, "alert_key": message.key, "owner": message.owner},
            }
        return body

    def send(self, message: Message) -> None:
        post_json(
            self.client,
            self.settings.events_url,
            self.body(message),
            "PagerDuty",
            timeout=self.settings.timeout_seconds,
        )

    def send_report(self, report: Report) -> None:
        raise cannot_carry_reports(self.name)


CHANNEL_TYPES.register(PagerDutyChannel, PagerDuty)
