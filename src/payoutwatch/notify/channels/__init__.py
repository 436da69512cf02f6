"""Channel types: one module and one class each, built from ``channels.<name>`` settings."""

from __future__ import annotations

import httpx

from payoutwatch.config import (
    ChannelSettings,
    EmailChannel,
    JiraChannel,
    LogChannel,
    PagerDutyChannel,
    SlackChannel,
    WebhookChannel,
)
from payoutwatch.notify.channels.base import Channel, DeliveryError


def build_channel(name: str, settings: ChannelSettings, client: httpx.Client) -> Channel:
    from payoutwatch.notify.channels import email, jira, log, pagerduty, slack, webhook

    if isinstance(settings, PagerDutyChannel):
        return pagerduty.PagerDuty(name, settings, client)
    if isinstance(settings, SlackChannel):
        return slack.Slack(name, settings, client)
    if isinstance(settings, JiraChannel):
        return jira.Jira(name, settings, client)
    if isinstance(settings, EmailChannel):
        return email.Email(name, settings)
    if isinstance(settings, WebhookChannel):
        return webhook.Webhook(name, settings, client)
    if isinstance(settings, LogChannel):
        return log.Log(name)
    raise TypeError(f"unknown channel settings {type(settings).__name__}")


__all__ = ["Channel", "DeliveryError", "build_channel"]
