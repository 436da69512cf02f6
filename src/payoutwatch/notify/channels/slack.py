"""Slack: an incoming webhook, or ``chat.postMessage`` with a bot token and channel.

``text`` starts with the event tag (``[FIRING]`` …) and is the fallback for ``blocks``. A report
is a header block and its Markdown cut into sections within Slack's limits.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, model_validator

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import DeliveryError, Report, post_json
from payoutwatch.notify.channels.slack_interactive import SlackUser, action_block
from payoutwatch.notify.messages import Message
from payoutwatch.vocabulary import Event, Role

RETRYABLE_API_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
SECTION_LIMIT = 2900  # a section's text may hold 3000 characters
MAX_SECTIONS = 10


class SlackChannel(ChannelSettingsBase):
    type: Literal["slack"]
    webhook_url: SecretStr | None = None
    bot_token: SecretStr | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/chat.postMessage"
    timeout_seconds: float = 10
    # interactivity (bot-token channels): the Slack app's signing secrets (several while rolling) and who
    # a Slack user is: by user id, or by the e-mail users.info gives (DESIGN §10 roles)
    signing_secrets: list[SecretStr] = Field(default_factory=list)
    users: dict[str, SlackUser] = Field(default_factory=dict)
    emails: dict[str, Role] = Field(default_factory=dict)

    @property
    def interactive(self) -> bool:
        """Messages carry action buttons: a bot token posts them (so they can be updated) and clicks are signed."""
        return self.bot_token is not None and bool(self.signing_secrets)

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackChannel:
        if self.webhook_url is None and (self.bot_token is None or not self.channel):
            raise ValueError("a slack channel needs webhook_url, or bot_token and channel")
        return self


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


def report_blocks(report: Report) -> list[dict[str, Any]]:
    text = report.markdown
    sections = range(0, min(len(text), MAX_SECTIONS * SECTION_LIMIT), SECTION_LIMIT)
    return [{"type": "header", "text": {"type": "plain_text", "text": report.title[:150]}}] + [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[i : i + SECTION_LIMIT]}} for i in sections
    ]


class Slack:
    def __init__(self, name: str, settings: SlackChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def payload(self, message: Message) -> dict[str, Any]:
        text = f"{message.headline} (rule {message.rule}, alert key {message.key})"
        body_blocks = blocks(message)
        if self.settings.interactive and message.event != Event.RESOLVED:
            body_blocks.append(action_block(message.key))
        return self._addressed({"text": text, "blocks": body_blocks})

    def send(self, message: Message) -> None:
        self._post(self.payload(message))

    def send_report(self, report: Report) -> None:
        self._post(self._addressed({"text": report.title, "blocks": report_blocks(report)}))

    def _addressed(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.settings.webhook_url is None:
            body["channel"] = self.settings.channel
        return body

    def _post(self, body: dict[str, Any]) -> None:
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


CHANNEL_TYPES.register(SlackChannel, Slack)
