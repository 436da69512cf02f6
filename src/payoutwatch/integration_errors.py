"""One error base for calls to outside services (channels and sources), and one HTTP status classifier.

``permanent=True`` means retrying cannot help (bad credentials, a 4xx other than the ones below);
``retry_after`` carries a server's ``Retry-After`` in seconds. 408, 409, 425, 429 and 5xx are
transient: the caller retries with backoff, honouring ``retry_after`` when it is given.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

TRANSIENT_STATUSES = frozenset({408, 409, 425, 429})


class IntegrationError(Exception):
    """A call to an outside service failed; the message never carries a secret."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


E = TypeVar("E", bound=IntegrationError)


def is_transient_status(status: int) -> bool:
    return status in TRANSIENT_STATUSES or status >= 500


def retry_after_seconds(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (a number, or an HTTP date counted from now); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


def http_error(response: httpx.Response, text: str, error: Callable[..., E]) -> E:
    """The error for a non-2xx answer: transient (with its ``Retry-After``) or permanent, by status."""
    if is_transient_status(response.status_code):
        return error(text, retry_after=retry_after_seconds(response))
    return error(text, permanent=True)
