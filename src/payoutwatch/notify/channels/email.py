"""SMTP e-mail with plain-text and HTML parts and ``X-Payoutwatch-*`` headers (notifications and reports)."""

from __future__ import annotations

import html
import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

import httpx
from pydantic import ConfigDict, Field, SecretStr

from payoutwatch.config import CHANNEL_TYPES, ChannelSettingsBase
from payoutwatch.notify.channels.base import DeliveryError, Report
from payoutwatch.notify.messages import Message


class EmailChannel(ChannelSettingsBase):
    type: Literal["email"]
    host: str
    port: int = 25
    starttls: bool = False
    tls_ca_file: str | None = None  # a private CA to trust for STARTTLS (default: the system store)
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field("payoutwatch@localhost", alias="from")
    to: list[str]
    timeout_seconds: float = 10

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def compose(message: Message, settings: EmailChannel) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = f"{message.headline} [{message.severity}]"
    mail["From"] = settings.from_
    mail["To"] = ", ".join(settings.to)
    mail["X-Payoutwatch-Rule"] = message.rule
    mail["X-Payoutwatch-Alert-Key"] = message.key
    mail["X-Payoutwatch-Event"] = message.event
    mail["Message-ID"] = f"<{message.episode}.{message.event}.{message.stage or 'none'}@payoutwatch>"
    mail.set_content(message.text())
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in message.facts
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in message.reasons)
    link = f"<p><a href='{html.escape(message.link)}'>Open in payoutwatch</a></p>" if message.link else ""
    mail.add_alternative(
        f"<html><body><h2>{html.escape(message.headline)}</h2><p>{html.escape(message.summary)}</p>"
        f"<ul>{reasons}</ul><table>{rows}</table>{link}</body></html>",
        subtype="html",
    )
    return mail


def compose_report(report: Report, settings: EmailChannel) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = report.title, settings.from_, ", ".join(settings.to)
    mail["X-Payoutwatch-Report"] = report.title
    mail.set_content(report.markdown)
    mail.add_alternative(report.html, subtype="html")
    return mail


def smtp_deliver(s: EmailChannel, mail: EmailMessage) -> None:
    """Send one message through the channel's relay; every failure is a ``DeliveryError``."""
    try:
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
            smtp.ehlo()
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context(cafile=s.tls_ca_file))
                smtp.ehlo()
            if s.username and s.password is not None:
                smtp.login(s.username, s.password.get_secret_value())
            smtp.send_message(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"SMTP refused every recipient: {list(exc.recipients)}", permanent=True) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(f"SMTP authentication failed ({exc.smtp_code})", permanent=True) from None
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"SMTP answered {exc.smtp_code}", permanent=exc.smtp_code >= 500) from None
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"SMTP {s.host}:{s.port} certificate not trusted: {exc.verify_message}") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP {s.host}:{s.port} unreachable: {type(exc).__name__}") from None


class Email:
    def __init__(self, name: str, settings: EmailChannel, client: httpx.Client | None = None) -> None:
        self.name = name
        self.settings = settings  # SMTP: the shared HTTP client is not used

    def send(self, message: Message) -> None:
        smtp_deliver(self.settings, compose(message, self.settings))

    def send_report(self, report: Report) -> None:
        smtp_deliver(self.settings, compose_report(report, self.settings))


CHANNEL_TYPES.register(EmailChannel, Email)
