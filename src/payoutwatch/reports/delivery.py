"""Sending a rendered report to Slack, e-mail, a webhook or the log (never paging anyone)."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import httpx

from payoutwatch.config import EmailChannel, LogChannel, Settings, SlackChannel, WebhookChannel
from payoutwatch.notify.channels.base import DeliveryError, post_json
from payoutwatch.notify.channels.email import smtp_deliver

logger = logging.getLogger("payoutwatch.reports")
SLACK_SECTION_LIMIT = 2900


def send_report(
    settings: Settings, channel: str, *, title: str, markdown: str, html: str, client: httpx.Client
) -> None:
    config = settings.channel(channel)
    if isinstance(config, SlackChannel):
        body: dict[str, object] = {
            "text": title,
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
            + [
                {"type": "section", "text": {"type": "mrkdwn", "text": markdown[i : i + SLACK_SECTION_LIMIT]}}
                for i in range(0, min(len(markdown), 10 * SLACK_SECTION_LIMIT), SLACK_SECTION_LIMIT)
            ],
        }
        if config.webhook_url is not None:
            post_json(client, config.webhook_url.get_secret_value(), body, "Slack webhook")
        else:
            assert config.bot_token is not None
            post_json(
                client,
                config.api_url,
                {**body, "channel": config.channel},
                "Slack chat.postMessage",
                headers={"Authorization": f"Bearer {config.bot_token.get_secret_value()}"},
            )
    elif isinstance(config, EmailChannel):
        mail = EmailMessage()
        mail["Subject"], mail["From"], mail["To"] = title, config.from_, ", ".join(config.to)
        mail["X-Payoutwatch-Report"] = title
        mail.set_content(markdown)
        mail.add_alternative(html, subtype="html")
        smtp_deliver(config, mail)
    elif isinstance(config, WebhookChannel):
        post_json(
            client,
            config.url,
            {"report": title, "markdown": markdown},
            "webhook",
            headers={k: v.get_secret_value() for k, v in config.headers.items()},
        )
    elif isinstance(config, LogChannel):
        logger.warning("%s\n%s", title, markdown)
    else:
        raise DeliveryError(f"channel {channel!r} cannot carry reports", permanent=True)
