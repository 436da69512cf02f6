"""``aws_secrets_manager``: secret metadata -> credential versions. Never the secret's value.

Calls ``ListSecrets``, ``DescribeSecret`` and ``ListSecretVersionIds`` only (IAM:
``secretsmanager:ListSecrets``, ``DescribeSecret``, ``ListSecretVersionIds``); a guard on the client
refuses ``GetSecretValue`` / ``BatchGetSecretValue`` should any code path ever try. Kind, owner and
due date come from the tags ``payoutwatch:kind``, ``payoutwatch:owner``, ``payoutwatch:rotate-by``
(or ``kinds: {glob: kind}``); ``NextRotationDate`` is the rotation date; the creation date of the
``AWSCURRENT`` version is when the version in force was created.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import Field

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.records import CredentialKind
from payoutwatch.sources.base import Page, SourceError, midnight_if_date

FORBIDDEN = ("GetSecretValue", "BatchGetSecretValue")
PERMANENT_CODES = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ResourceNotFoundException",
    "ValidationException",
}


class AwsSecretsManagerSource(SourceBase):
    type: Literal["aws_secrets_manager"]
    region: str
    endpoint_url: str | None = None
    name_prefix: str | None = None
    kinds: dict[str, str] = Field(default_factory=dict)  # name glob -> credential kind (tags win)
    owner: str | None = None


class AwsSecretsManager:
    def __init__(self, name: str, config: AwsSecretsManagerSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.operations: list[str] = []  # every API operation this source made (audit and tests)

    def secrets(self) -> list[str]:
        return []

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "secretsmanager",
            region_name=self.config.region,
            endpoint_url=self.config.endpoint_url,
            config=Config(
                connect_timeout=self.config.timeout_seconds,
                read_timeout=self.config.timeout_seconds,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )
        client.meta.events.register("before-call.secrets-manager.*", self._guard)
        return client

    def _guard(self, model: Any, **_: Any) -> None:
        if model.name in FORBIDDEN:
            raise SourceError(f"refusing {model.name}: payoutwatch reads secret metadata only", permanent=True)
        self.operations.append(model.name)

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        from botocore.exceptions import BotoCoreError, ClientError

        page = Page()
        try:
            client = self.client()
            kwargs: dict[str, Any] = {}
            if self.config.name_prefix:
                kwargs["Filters"] = [{"Key": "name", "Values": [self.config.name_prefix]}]
            for listing in client.get_paginator("list_secrets").paginate(**kwargs):
                for entry in listing.get("SecretList", []):
                    page.add("credentials", self._record(client, entry["ARN"]))
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Error")
            raise SourceError(f"AWS Secrets Manager: {code}", permanent=code in PERMANENT_CODES) from None
        except BotoCoreError as exc:
            raise SourceError(f"AWS Secrets Manager unreachable: {type(exc).__name__}") from None
        yield page

    def _record(self, client: Any, arn: str) -> dict[str, Any]:
        meta = client.describe_secret(SecretId=arn)
        versions = client.list_secret_version_ids(SecretId=arn).get("Versions", [])
        current = next((v for v in versions if "AWSCURRENT" in v.get("VersionStages", [])), None)
        tags = {t["Key"]: t["Value"] for t in meta.get("Tags", [])}
        name = meta["Name"]
        created = (current or {}).get("CreatedDate") or meta.get("CreatedDate")
        record: dict[str, Any] = {
            "credential_id": name,
            "created_at": _instant(created),
            "kind": self._kind(name, tags),
            "name": (meta.get("Description") or name)[:200],
            "source": self.name,
        }
        owner = tags.get("payoutwatch:owner") or self.config.owner
        if owner:
            record["owner"] = owner
        rotate_by = tags.get("payoutwatch:rotate-by") or meta.get("NextRotationDate")
        if rotate_by:
            record["rotate_by"] = _instant(rotate_by)
        return record

    def _kind(self, name: str, tags: dict[str, str]) -> str:
        if "payoutwatch:kind" in tags:
            return tags["payoutwatch:kind"]
        for pattern, kind in self.config.kinds.items():
            if fnmatchcase(name, pattern):
                return kind
        return CredentialKind.OTHER.value


def _instant(value: Any) -> str:
    """AWS gives datetimes (boto3) or epoch numbers (some emulators); tags hold dates or ISO text."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).isoformat()
    return midnight_if_date(str(value))


SOURCE_TYPES.register(AwsSecretsManagerSource, AwsSecretsManager)
