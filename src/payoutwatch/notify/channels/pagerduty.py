"""PagerDuty Events API v2: ``trigger`` for firing/escalated/reminder, ``resolve`` for resolved.

``dedup_key`` is the alert key, so a retried trigger merges into the same incident.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import Field, SecretStr

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import Report, cannot_carry_reports, post_json
from payoutwatch.notify.messages import Message, clip, fit_lines
from payoutwatch.vocabulary import Event

PagerDutySeverity = Literal["critical", "error", "warning", "info"]  # the Events API v2 values
DEFAULT_SEVERITY_MAP: dict[str, PagerDutySeverity] = {
    "SEV-1": "critical",
    "SEV-2": "error",
    "SEV-3": "warning",
    "SEV-4": "info",
}
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
REASONS_LIMIT = 100_000  # bytes of reasons, well inside the 512 KB event limit; the alert page has the rest


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
            "dedup_key": message.key[:DEDUP_KEY_LIMIT],
        }
        details: dict[str, Any] = {"rule": message.rule, "alert_key": message.key, "owner": message.owner}
        payload: dict[str, Any] = {
            "summary": clip(f"{message.headline} — {message.summary}", SUMMARY_LIMIT),  # the page says why
            "source": "payoutwatch",
            "severity": self.settings.severity_map.get(message.severity, "error"),
            "custom_details": details,
        }
        if action == "trigger":
            payload.update({"timestamp": message.at, "component": message.rule, "class": message.rule})
            details.update(
                {
                    "stage": message.stage,
                    "reasons": fit_lines(message.reasons, REASONS_LIMIT, measure=lambda t: len(t.encode())),
                    "summary": clip(message.summary, 4000),
                    **{label: clip(value, 1000) for label, value in message.facts},
                }
            )
            links = [
                {"href": url, "text": text}
                for url, text in ((message.link, "Alert in payoutwatch"), (message.runbook_url, "Runbook"))
                if url
            ]
            if links:
                body["links"] = links
        body["payload"] = payload
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
