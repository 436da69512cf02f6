"""One JSON-over-HTTP helper for HTTP sources: transport failures are transient, an HTTP status is
classified by ``integration_errors.http_error`` (401/403 name the refused credentials); a 404 can
stand for "nothing there" where the caller says so."""

from __future__ import annotations

from typing import Any

import httpx

from payoutwatch.integration_errors import http_error
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
        raise http_error(response, f"{what} answered HTTP {response.status_code}", SourceError)
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"{what} answered something that is not JSON") from None
