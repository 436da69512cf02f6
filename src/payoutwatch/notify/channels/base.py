"""The channel contract: ``send(message)`` delivers or raises ``DeliveryError``.

``permanent=True`` means retrying cannot help (a 4xx other than 408/429); ``retry_after``
carries a server's ``Retry-After`` in seconds.
"""

from __future__ import annotations

from typing import Protocol

import httpx

from payoutwatch.notify.messages import Message


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    name: str

    def send(self, message: Message) -> None:
        """Deliver one notification or raise ``DeliveryError``."""
        ...


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        from datetime import UTC, datetime

        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def check_response(response: httpx.Response, what: str) -> None:
    """Raise the right ``DeliveryError`` for a non-2xx answer (never echoing secrets: no URL)."""
    if response.is_success:
        return
    status = response.status_code
    body = response.text[:200].strip()
    text = f"{what} answered HTTP {status}" + (f": {body}" if body else "")
    if status == 429:
        raise DeliveryError(text, retry_after=retry_after_seconds(response))
    if status in (408, 409, 425) or status >= 500:
        raise DeliveryError(text, retry_after=retry_after_seconds(response))
    raise DeliveryError(text, permanent=True)


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
