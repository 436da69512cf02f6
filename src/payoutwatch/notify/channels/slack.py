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
from payoutwatch.notify.messages import Message, clip, fit_lines
from payoutwatch.vocabulary import Event, Role

RETRYABLE_API_ERRORS = {
    "ratelimited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
}
# Block Kit's documented limits (a longer text is refused with invalid_blocks)
SECTION_TEXT_LIMIT = 3000
FIELD_TEXT_LIMIT = 2000
MAX_FIELDS = 10
HEADER_LIMIT = 150
MAX_BLOCKS = 50
CONTEXT_TEXT_LIMIT = 3000
TEXT_LIMIT = 40000  # the top-level fallback text
MAX_REPORT_SECTIONS = 10


def mrkdwn_escape(text: str) -> str:
    """Slack's three control characters as entities: record text can neither mention nor link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escaped_length(text: str) -> int:
    return len(mrkdwn_escape(text))


def safe(text: str, limit: int) -> str:
    """``text`` escaped for mrkdwn and cut to ``limit`` characters after escaping."""
    return mrkdwn_escape(clip(text, limit, escaped_length))


def slack_link(url: str, label: str) -> str:
    """``<url|label>`` with the URL's own ``|``, ``<``, ``>`` percent-encoded and ``&`` escaped."""
    target = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{mrkdwn_escape(target)}|{mrkdwn_escape(label)}>"


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
    head = mrkdwn_escape(clip(message.headline, 600, escaped_length))
    summary = clip(message.summary, SECTION_TEXT_LIMIT - len(head) - 10, escaped_length)
    out: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{head}*\n{mrkdwn_escape(summary)}"}},
    ]
    if message.reasons:
        bullets = fit_lines([f"• {r}" for r in message.reasons], SECTION_TEXT_LIMIT, measure=escaped_length)
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_escape("\n".join(bullets))}})
    fields = [
        {"type": "mrkdwn", "text": f"*{safe(label, 100)}*\n{safe(value, FIELD_TEXT_LIMIT - 110)}"}
        for label, value in message.facts[:MAX_FIELDS]
    ]
    if fields:
        out.append({"type": "section", "fields": fields})
    context = (
        f"rule `{safe(message.rule, 100)}` · alert key `{safe(message.key, 600)}` · owner {safe(message.owner, 200)}"
    )
    links = [
        slack_link(url, label)
        for url, label in ((message.runbook_url, "runbook"), (message.link, "open in payoutwatch"))
        if url
    ]
    elements = [context, *(link for link in links if len(link) <= CONTEXT_TEXT_LIMIT)]
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": text} for text in elements]})
    return out


def report_blocks(report: Report) -> list[dict[str, Any]]:
    sections: list[str] = []
    rest = report.markdown
    while rest and len(sections) < MAX_REPORT_SECTIONS:
        part = clip(rest, SECTION_TEXT_LIMIT, escaped_length)
        if part.endswith("…") and len(sections) < MAX_REPORT_SECTIONS - 1:
            part = part[:-1]  # continued in the next section
        sections.append(part)
        rest = rest[len(part) :]
    return [{"type": "header", "text": {"type": "plain_text", "text": clip(report.title, HEADER_LIMIT)}}] + [
        {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_escape(part)}} for part in sections
    ]


class Slack:
    def __init__(self, name: str, settings: SlackChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def payload(self, message: Message) -> dict[str, Any]:
        text = clip(f"{message.headline} (rule {message.rule}, alert key {message.key})", TEXT_LIMIT, escaped_length)
        body_blocks = blocks(message)
        if self.settings.interactive and message.event != Event.RESOLVED:
            body_blocks.append(action_block(message.key, message.runbook_url))
        return self._addressed({"text": mrkdwn_escape(text), "blocks": body_blocks})

    def send(self, message: Message) -> None:
        self._post(self.payload(message))

    def send_report(self, report: Report) -> None:
        self._post(self._addressed({"text": safe(report.title, TEXT_LIMIT), "blocks": report_blocks(report)}))

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
