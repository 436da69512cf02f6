"""Writes the notification to the service log (the demo's default channel), and reports too."""

from __future__ import annotations

import logging
from typing import Literal

import httpx

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import Report
from payoutwatch.notify.messages import Message
from payoutwatch.vocabulary import Event

logger = logging.getLogger("payoutwatch.notify")
report_logger = logging.getLogger("payoutwatch.reports")


class LogChannel(ChannelSettingsBase):
    type: Literal["log"]


class Log:
    def __init__(self, name: str, settings: LogChannel | None = None, client: httpx.Client | None = None) -> None:
        self.name = name

    def send(self, message: Message) -> None:
        level = logging.INFO if message.event == Event.RESOLVED else logging.WARNING
        logger.log(
            level,
            "%s | owner=%s severity=%s | %s",
            message.headline,
            message.owner,
            message.severity,
            message.summary,
        )

    def send_report(self, report: Report) -> None:
        report_logger.warning("%s\n%s", report.title, report.markdown)


CHANNEL_TYPES.register(LogChannel, Log)
