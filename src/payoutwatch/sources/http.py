"""One JSON-over-HTTP helper for HTTP sources: transport failures, 5xx, 408 and 429 are transient,
401/403 and other 4xx are not; a 404 can stand for "nothing there" where the caller says so."""

from __future__ import annotations

from typing import Any

import httpx

from payoutwatch.sources.base import SourceError

_RAISE = object()


def get_json(
    client: httpx.Client,
    url: str,
    what: str,
    *,
    method: str = "GET",
    missing: Any = _RAISE,
    credentials: str = "credentials",
    **kwargs: Any,
) -> Any:
    """The decoded JSON body; ``missing`` (when given) is returned for a 404 instead of failing."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise SourceError(f"{what} unreachable: {type(exc).__name__}") from None
    if response.status_code == 404 and missing is not _RAISE:
        return missing
    if response.status_code in (401, 403):
        raise SourceError(f"{what} refused the {credentials} (HTTP {response.status_code})", permanent=True)
    if not response.is_success:
        transient = response.status_code >= 500 or response.status_code in (408, 429)
        raise SourceError(f"{what} answered HTTP {response.status_code}", permanent=not transient)
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"{what} answered something that is not JSON") from None
