"""One GET-JSON helper for HTTP sources: transport failures and 5xx / 429 are transient, other 4xx not."""

from __future__ import annotations

from typing import Any

import httpx

from payoutwatch.sources.base import SourceError


def get_json(client: httpx.Client, url: str, what: str, **kwargs: Any) -> Any:
    try:
        response = client.get(url, **kwargs)
    except httpx.HTTPError as exc:
        raise SourceError(f"{what} unreachable: {type(exc).__name__}") from None
    if response.status_code in (401, 403):
        raise SourceError(f"{what} refused the credentials (HTTP {response.status_code})", permanent=True)
    if not response.is_success:
        transient = response.status_code >= 500 or response.status_code in (408, 429)
        raise SourceError(f"{what} answered HTTP {response.status_code}", permanent=not transient)
    try:
        return response.json()
    except ValueError:
        raise SourceError(f"{what} answered something that is not JSON") from None
