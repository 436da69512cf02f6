"""Writes the notification to the service log (the demo's default channel)."""

from __future__ import annotations

import logging

from payoutwatch.notify.messages import Message

logger = logging.getLogger("payoutwatch.notify")


class Log:
    def __init__(self, name: str) -> None:
        self.name = name

    def send(self, message: Message) -> None:
        level = logging.INFO if message.event == "resolved" else logging.WARNING
        logger.log(
            level,
            "%s | owner=%s severity=%s | %s",
            message.headline,
            message.owner,
            message.severity,
            message.summary,
        )
