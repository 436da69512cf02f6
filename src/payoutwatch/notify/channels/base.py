"""The channel contract: ``send(message)`` delivers a notification, ``send_report(report)`` a
rendered report; both raise ``DeliveryError`` (an ``IntegrationError``: ``permanent`` when
retrying cannot help, ``retry_after`` from the server)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from payoutwatch.integration_errors import IntegrationError, http_error
from payoutwatch.notify.messages import Message


class DeliveryError(IntegrationError):
    """A notification or report was not delivered."""


@dataclass(frozen=True)
class Report:
    """A rendered report: its title, its Markdown text and its HTML."""

    title: str
    markdown: str
    html: str


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> str | None:
        """Deliver one notification or raise ``DeliveryError``. A channel may return a reference to what
        it made (Jira: the ticket key); the outbox stores it and hands it to the episode's later messages
        on this channel as ``message.remote_ref``."""
        ...

    def send_report(self, report: Report) -> None:
        """Deliver one report or raise ``DeliveryError`` (permanent where the channel carries none)."""
        ...


# (name, its settings model instance, the shared HTTP client) -> the channel; registered in CHANNEL_TYPES.
ChannelFactory = Callable[[str, Any, httpx.Client], Channel]


def cannot_carry_reports(name: str) -> DeliveryError:
    return DeliveryError(f"channel {name!r} cannot carry reports", permanent=True)


def check_response(response: httpx.Response, what: str) -> None:
    """Raise the right ``DeliveryError`` for a non-2xx answer (never echoing secrets: no URL)."""
    if response.is_success:
        return
    body = response.text[:200].strip()
    text = f"{what} answered HTTP {response.status_code}" + (f": {body}" if body else "")
    raise http_error(response, text, DeliveryError)


def post_json(client: httpx.Client, url: str, body: object, what: str, **kwargs: object) -> httpx.Response:
    """POST JSON; transport errors are transient ``DeliveryError``s."""
    try:
        response = client.post(url, json=body, **kwargs)  # type: ignore[arg-type]
    except httpx.TimeoutException:
        raise DeliveryError(f"{what} timed out") from None
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what} unreachable: {type(exc).__name__}") from None
    check_response(response, what)
    return response
