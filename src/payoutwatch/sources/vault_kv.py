"""``vault_kv``: HashiCorp Vault KV v2 *metadata* -> credential versions. Never ``/data/``.

Lists ``/v1/<mount>/metadata/<path_prefix>`` recursively (``LIST``) and reads each secret's
metadata: the creation time of its current version is the version in force, ``custom_metadata``
holds ``kind``, ``owner`` and ``rotate-by`` (KV v2 has no expiry of its own). The token needs a
policy with ``list`` and ``read`` on ``<mount>/metadata/*`` only.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import CredentialKind
from payoutwatch.sources.base import Page, SourceError, midnight_if_date
from payoutwatch.sources.http import get_json


class VaultKvSource(SourceBase):
    type: Literal["vault_kv"]
    url: str
    token: SecretStr
    mount: str = "secret"
    path_prefix: str = ""
    namespace: str | None = None  # Vault Enterprise namespace
    owner: str | None = None


class VaultKv:
    def __init__(self, name: str, config: VaultKvSource, settings: Settings) -> None:
        self.name = name
        self.config = config

    def secrets(self) -> list[str]:
        return [self.config.token.get_secret_value()]

    def _get(self, client: httpx.Client, path: str, *, listing: bool = False) -> dict[str, Any]:
        url = f"{self.config.url.rstrip('/')}/v1/{self.config.mount.strip('/')}/metadata/{path.lstrip('/')}"
        headers = {"X-Vault-Token": self.config.token.get_secret_value()}
        if self.config.namespace:
            headers["X-Vault-Namespace"] = self.config.namespace
        what = f"Vault (metadata/{path})"
        if listing:  # an empty folder answers 404
            body = get_json(client, url, what, method="LIST", missing={}, credentials="token", headers=headers)
        else:
            body = get_json(client, url, what, credentials="token", headers=headers)
        return (body.get("data") or {}) if isinstance(body, dict) else {}

    def _paths(self, client: httpx.Client, prefix: str) -> Iterator[str]:
        for key in self._get(client, prefix, listing=True).get("keys", []):
            full = f"{prefix}{key}"
            if key.endswith("/"):
                yield from self._paths(client, full)
            else:
                yield full

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        page = Page()
        prefix = self.config.path_prefix.strip("/")
        with httpx.Client(timeout=self.config.timeout_seconds) as client:
            for path in self._paths(client, f"{prefix}/" if prefix else ""):
                page.add("credentials", self._record(path, self._get(client, path)))
        yield page

    def _record(self, path: str, meta: dict[str, Any]) -> dict[str, Any]:
        custom = meta.get("custom_metadata") or {}
        current = str(meta.get("current_version", ""))
        created = ((meta.get("versions") or {}).get(current) or {}).get("created_time") or meta.get("created_time")
        if not created:
            raise SourceError(f"Vault metadata for {path} has no creation time")
        record: dict[str, Any] = {
            "credential_id": f"{self.config.mount.strip('/')}/{path}",
            "created_at": created,
            "kind": custom.get("kind", CredentialKind.OTHER.value),
            "name": custom.get("name", path)[:200],
            "source": self.name,
        }
        owner = custom.get("owner") or self.config.owner
        if owner:
            record["owner"] = owner
        rotate_by = custom.get("rotate-by") or custom.get("renew-date")
        if rotate_by:
            record["rotate_by"] = midnight_if_date(rotate_by)
        return record


SOURCE_TYPES.register(VaultKvSource, VaultKv)
