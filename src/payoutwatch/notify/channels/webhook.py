"""A generic JSON POST of the notification (or of a report: ``{"report": title, "markdown": text}``)."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field, SecretStr

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import Report, post_json
from payoutwatch.notify.messages import Message


class WebhookChannel(ChannelSettingsBase):
    type: Literal["webhook"]
    url: SecretStr  # often carries a token in its path or query
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    timeout_seconds: float = 10


class Webhook:
    def __init__(self, name: str, settings: WebhookChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def send(self, message: Message) -> None:
        self._post({**message.to_json(), "text": message.text(), "tag": message.tag})

    def send_report(self, report: Report) -> None:
        self._post({"report": report.title, "markdown": report.markdown})

    def _post(self, body: dict[str, object]) -> None:
        post_json(
            self.client,
            self.settings.url.get_secret_value(),
            body,
            "webhook",
            headers={k: v.get_secret_value() for k, v in self.settings.headers.items()},
            timeout=self.settings.timeout_seconds,
        )


CHANNEL_TYPES.register(WebhookChannel, Webhook)
