"""``gcp_secret_manager``: Secret Manager metadata -> credential versions. Never ``:access``.

Lists ``projects/<project>/secrets`` and each secret's enabled versions (metadata only; the role
``roles/secretmanager.viewer`` is enough, ``secretAccessor`` is not needed): the newest enabled
version is the version in force; ``expireTime`` is the expiry, ``rotation.nextRotationTime`` (or the
label ``payoutwatch-rotate-by``) the rotation date; labels ``payoutwatch-kind`` / ``payoutwatch-owner``
give kind and owner. Tokens come from a service-account key file or Application Default Credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import CredentialKind
from payoutwatch.sources.base import Page, SourceError, midnight_if_date
from payoutwatch.sources.http import get_json

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


class GcpSecretManagerSource(SourceBase):
    type: Literal["gcp_secret_manager"]
    project: str
    credentials_file: str | None = None  # a service-account JSON key; default: Application Default Credentials
    api_base: str = "https://secretmanager.googleapis.com"
    filter: str | None = None  # Secret Manager list filter, e.g. "labels.team=payments"
    owner: str | None = None


class GcpSecretManager:
    def __init__(self, name: str, config: GcpSecretManagerSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.token: str | None = None

    def secrets(self) -> list[str]:
        return [self.token] if self.token else []

    def _token(self) -> str:
        import google.auth
        import google.auth.exceptions
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account

        try:
            if self.config.credentials_file:
                creds: Any = service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call]
                    self.config.credentials_file, scopes=SCOPES
                )
            else:
                creds, _project = google.auth.default(scopes=SCOPES)
            creds.refresh(Request())
        except (OSError, ValueError) as exc:
            raise SourceError(f"GCP credentials unusable: {type(exc).__name__}", permanent=True) from None
        except google.auth.exceptions.RefreshError as exc:
            raise SourceError(f"GCP refused the credentials: {str(exc).split(':')[0]}", permanent=True) from None
        except google.auth.exceptions.TransportError:
            raise SourceError("GCP token endpoint unreachable") from None
        self.token = str(creds.token)
        return self.token

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        base = f"{self.config.api_base.rstrip('/')}/v1/projects/{quote(self.config.project, safe='')}/secrets"
        page = Page()
        headers = {"Authorization": f"Bearer {self._token()}"}
        with httpx.Client(timeout=self.config.timeout_seconds, headers=headers) as client:
            token: str | None = None
            while True:
                params: dict[str, Any] = {"pageSize": 250}
                if token:
                    params["pageToken"] = token
                if self.config.filter:
                    params["filter"] = self.config.filter
                listing = get_json(client, base, "GCP Secret Manager", params=params)
                for secret in listing.get("secrets") or []:
                    page.add("credentials", self._record(client, secret))
                token = listing.get("nextPageToken")
                if not token:
                    break
        yield page

    def _record(self, client: httpx.Client, secret: dict[str, Any]) -> dict[str, Any]:
        short = secret["name"].rsplit("/", 1)[-1]
        versions = (
            get_json(
                client,
                f"{self.config.api_base.rstrip('/')}/v1/{secret['name']}/versions",
                "GCP Secret Manager",
                params={"filter": "state:ENABLED"},
            ).get("versions")
            or []
        )
        created = max((v["createTime"] for v in versions if v.get("createTime")), default=secret["createTime"])
        labels = secret.get("labels") or {}
        record: dict[str, Any] = {
            "credential_id": f"gcp:{self.config.project}/{short}",
            "created_at": created,
            "kind": labels.get("payoutwatch-kind", CredentialKind.OTHER.value),
            "name": (secret.get("annotations") or {}).get("payoutwatch-name", short)[:200],
            "source": self.name,
        }
        owner = labels.get("payoutwatch-owner") or self.config.owner
        if owner:
            record["owner"] = owner
        if secret.get("expireTime"):
            record["expires_at"] = secret["expireTime"]
        rotate_by = (secret.get("rotation") or {}).get("nextRotationTime") or labels.get("payoutwatch-rotate-by")
        if rotate_by:
            record["rotate_by"] = midnight_if_date(rotate_by)
        return record


SOURCE_TYPES.register(GcpSecretManagerSource, GcpSecretManager)
