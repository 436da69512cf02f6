"""Slack: an incoming webhook, or ``chat.postMessage`` with a bot token and channel.

``text`` starts with the event tag (``[FIRING]`` …) and is the fallback for ``blocks``.
"""

from __future__ import annotations

from typing import Any

import httpx

from payoutwatch.config import SlackChannel
from payoutwatch.notify.channels.base import DeliveryError, post_json
from payoutwatch.notify.messages import Message

RETRYABLE_API_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}


def blocks(message: Message) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.headline}*\n{message.summary}"}},
    ]
    if message.reasons:
        out.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "\n".join(f"• {r}" for r in message.reasons)},
            }
        )
    fields = [{"type": "mrkdwn", "text": f"*{label}*\n{value}"} for label, value in message.facts[:10]]
    if fields:
        out.append({"type": "section", "fields": fields})
    context = f"rule `{message.rule}` · alert key `{message.key}` · owner {message.owner}"
    if message.link:
        context += f" · <{message.link}|open in payoutwatch>"
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return out


class Slack:
    def __init__(self, name: str, settings: SlackChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def payload(self, message: Message) -> dict[str, Any]:
        text = f"{message.headline} (rule {message.rule}, alert key {message.key})"
        body: dict[str, Any] = {"text": text, "blocks": blocks(message)}
        if self.settings.webhook_url is None:
            body["channel"] = self.settings.channel
        return body

    def send(self, message: Message) -> None:
        body = self.payload(message)
        if self.settings.webhook_url is not None:
            post_json(
                self.client,
                self.settings.webhook_url.get_secret_value(),
                body,
                "Slack webhook",
                timeout=self.settings.timeout_seconds,
            )
            return
        assert self.settings.bot_token is not None
        response = post_json(
            self.client,
            self.settings.api_url,
            body,
            "Slack chat.postMessage",
            headers={"Authorization": f"Bearer {self.settings.bot_token.get_secret_value()}"},
            timeout=self.settings.timeout_seconds,
        )
        answer = response.json()
        if not answer.get("ok", False):
            error = str(answer.get("error", "unknown_error"))
            raise DeliveryError(f"Slack chat.postMessage said {error}", permanent=error not in RETRYABLE_API_ERRORS)
