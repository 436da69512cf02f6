"""``gcp_secret_manager`` against a local server acting as Google's OAuth token endpoint (the key
file's token_uri) and as the Secret Manager REST API; any ``:access`` request fails the test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine

from payoutwatch.metrics import compute
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc
from tests.integration.jsonserver import JsonServer

pytestmark = pytest.mark.integration
NOW = utc(2026, 11, 26, 12)
SECRETS = [
    {
        "name": "projects/pay-prod/secrets/stripe-webhook",
        "createTime": "2025-02-01T00:00:00Z",
        "labels": {"payoutwatch-kind": "webhook_signing_secret", "payoutwatch-owner": "payments-engineering"},
        "rotation": {"nextRotationTime": "2026-12-05T00:00:00Z", "rotationPeriod": "31536000s"},
    },
    {
        "name": "projects/pay-prod/secrets/psp-api-key",
        "createTime": "2026-10-01T00:00:00Z",
        "expireTime": "2026-11-30T00:00:00Z",
        "labels": {"payoutwatch-rotate-by": "2026-11-29"},
    },
]
VERSIONS = {
    "projects/pay-prod/secrets/stripe-webhook": [
        {
            "name": "projects/pay-prod/secrets/stripe-webhook/versions/2",
            "createTime": "2026-06-01T00:00:00Z",
            "state": "ENABLED",
        },
        {
            "name": "projects/pay-prod/secrets/stripe-webhook/versions/1",
            "createTime": "2025-02-01T00:00:00Z",
            "state": "ENABLED",
        },
    ]
}


def google(method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any, dict[str, str]]:
    url = urlparse(path)
    if url.path == "/token" and method == "POST":
        form = parse_qs(body.decode())
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        return 200, {"access_token": "ya29.local-test-token", "expires_in": 3600, "token_type": "Bearer"}, {}
    assert ":access" not in url.path, "payoutwatch must never read a secret's payload"
    if headers.get("Authorization") != "Bearer ya29.local-test-token":
        return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, {}
    if url.path == "/v1/projects/pay-prod/secrets":
        page = parse_qs(url.query).get("pageToken", ["0"])[0]
        start = int(page)
        rest = SECRETS[start : start + 1]
        nxt = {"nextPageToken": str(start + 1)} if start + 1 < len(SECRETS) else {}
        return 200, {"secrets": rest, **nxt}, {}
    if url.path.endswith("/versions"):
        return 200, {"versions": VERSIONS.get(url.path[len("/v1/") : -len("/versions")], [])}, {}
    return 404, {"error": {"code": 404}}, {}


def key_file(tmp: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    path = tmp / "sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "pay-prod",
                "private_key_id": "k1",
                "private_key": pem,
                "client_email": "payoutwatch@pay-prod.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


def test_secret_metadata_becomes_credentials(store: Engine, tmp_path: Path) -> None:
    server = JsonServer(google)
    try:
        settings = make_settings(
            sources={
                "gcp": {
                    "type": "gcp_secret_manager",
                    "project": "pay-prod",
                    "api_base": server.url,
                    "credentials_file": str(key_file(tmp_path, f"{server.url}/token")),
                    "owner": "security",
                }
            }
        )
        result = sync_source(store, settings, "gcp", now=lambda: NOW)
        assert result.ok and result.counts == {"credentials": 2}, result.error
        with store.connect() as conn:
            rows = {c["credential_id"]: c for c in compute("credentials", conn, NOW, settings)["credentials"]}
        hook = rows["gcp:pay-prod/stripe-webhook"]
        assert (hook["kind"], hook["owner"], hook["created_at"], hook["due_at"], hook["stage"]) == (
            "webhook_signing_secret",
            "payments-engineering",
            "2026-06-01T00:00:00Z",
            "2026-12-05T00:00:00Z",
            "14d",
        )
        key = rows["gcp:pay-prod/psp-api-key"]
        assert (key["owner"], key["due_at"], key["days_left"], key["stage"]) == (
            "security",
            "2026-11-30T00:00:00Z",
            3,
            "3d",
        )  # expireTime wins over the rotate-by label
        assert not any(":access" in p for _, p in server.requests)
    finally:
        server.close()


def test_an_unusable_key_file_fails_at_once(store: Engine, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{}")
    settings = make_settings(
        sources={"gcp": {"type": "gcp_secret_manager", "project": "p", "credentials_file": str(tmp_path / "bad.json")}}
    )
    waits: list[float] = []
    result = sync_source(store, settings, "gcp", now=lambda: NOW, sleep=waits.append)
    assert "GCP credentials unusable" in str(result.error) and waits == []
