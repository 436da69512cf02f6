"""SMTP e-mail with plain-text and HTML parts and ``X-Payoutwatch-*`` headers (notifications and reports)."""

from __future__ import annotations

import html
import re
import smtplib
import socket
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal

import httpx
from pydantic import ConfigDict, Field, SecretStr, field_validator

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
    # the domain of Message-IDs (default: the From address's, else this machine's FQDN)
    message_id_domain: str | None = None
    timeout_seconds: float = 10

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("message_id_domain")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is not None and not is_host_name(value):
            raise ValueError("message_id_domain must be a host name such as mail.example.com")
        return value


HOST_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_host_name(name: str) -> bool:
    """An RFC 1123 host name with at least one dot (a domain a Message-ID may name)."""
    return len(name) <= 253 and "." in name and all(HOST_LABEL.fullmatch(label) for label in name.split("."))


def message_id_domain(settings: EmailChannel) -> str:
    """The configured domain, else the From address's, else this machine's FQDN; ``localhost`` if none is one."""
    _, address = parseaddr(settings.from_)
    candidates = [settings.message_id_domain, address.rpartition("@")[2], socket.getfqdn()]
    return next((c.lower() for c in candidates if c and is_host_name(c)), "localhost")


def one_line(text: str) -> str:
    """A header value: no line breaks or other control characters from record text."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _headers(mail: EmailMessage, settings: EmailChannel, subject: str, now: datetime) -> None:
    mail["Subject"] = one_line(subject)
    mail["From"] = settings.from_
    mail["To"] = ", ".join(settings.to)
    mail["Date"] = format_datetime(now.astimezone(UTC))


def compose(message: Message, settings: EmailChannel, now: datetime) -> EmailMessage:
    mail = EmailMessage()
    _headers(mail, settings, f"{message.headline} [{message.severity}]", now)
    mail["X-Payoutwatch-Rule"] = one_line(message.rule)
    mail["X-Payoutwatch-Alert-Key"] = one_line(message.key)
    mail["X-Payoutwatch-Event"] = message.event
    local = f"{message.episode}.{message.event}.{message.stage or 'none'}"
    mail["Message-ID"] = f"<{re.sub(r'[^A-Za-z0-9.!#$%&*+/=?^_{{|}}~-]', '-', local)}@{message_id_domain(settings)}>"
    mail.set_content(message.text())
    rows = "".join(
        f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in message.facts
    )
    reasons = "".join(f"<li>{html.escape(r)}</li>" for r in message.reasons)
    links = "".join(
        f"<p><a href='{html.escape(url)}'>{text}</a></p>"
        for url, text in ((message.runbook_url, "Runbook"), (message.link, "Open in payoutwatch"))
        if url
    )
    mail.add_alternative(
        f"<html><body><h2>{html.escape(message.headline)}</h2><p>{html.escape(message.summary)}</p>"
        f"<ul>{reasons}</ul><table>{rows}</table>{links}</body></html>",
        subtype="html",
    )
    return mail


def compose_report(report: Report, settings: EmailChannel, now: datetime) -> EmailMessage:
    mail = EmailMessage()
    _headers(mail, settings, report.title, now)
    mail["X-Payoutwatch-Report"] = one_line(report.title)
    mail["Message-ID"] = make_msgid("report", domain=message_id_domain(settings))
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
        smtp_deliver(self.settings, compose(message, self.settings, datetime.now(UTC)))

    def send_report(self, report: Report) -> None:
        smtp_deliver(self.settings, compose_report(report, self.settings, datetime.now(UTC)))


CHANNEL_TYPES.register(EmailChannel, Email)
