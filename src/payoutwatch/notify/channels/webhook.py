"""A generic JSON POST of the notification."""

from __future__ import annotations

import httpx

from payoutwatch.config import WebhookChannel
from payoutwatch.notify.channels.base import post_json
from payoutwatch.notify.messages import Message


class Webhook:
    def __init__(self, name: str, settings: WebhookChannel, client: httpx.Client) -> None:
        self.name = name
        self.settings = settings
        self.client = client

    def send(self, message: Message) -> None:
        headers = {k: v.get_secret_value() for k, v in self.settings.headers.items()}
        body = {**message.to_json(), "text": message.text(), "tag": message.tag}
        post_json(
            self.client,
            self.settings.url,
            body,
            "webhook",
            headers=headers,
            timeout=self.settings.timeout_seconds,
        )
