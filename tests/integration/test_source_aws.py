"""``aws_secrets_manager`` against moto's server mode: metadata in, secret values never asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.sources.aws_secrets_manager import AwsSecretsManager, AwsSecretsManagerSource
from payoutwatch.sources.base import SourceError
from payoutwatch.usecases.syncing import sync_source
from tests.conftest import make_settings, utc

pytestmark = pytest.mark.integration


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_DEFAULT_REGION", "ca-central-1"),
    ):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    httpx.post(f"{url}/moto-api/reset")  # moto keeps its state per process, not per server
    try:
        yield url
    finally:
        server.stop()


def aws(url: str) -> Any:
    import boto3

    return boto3.client("secretsmanager", region_name="ca-central-1", endpoint_url=url)


def seed(url: str) -> tuple[datetime, str]:
    """Three secrets; returns the instant to sync at and the key's rotate-by date.

    moto stamps versions with the real time, so the instant is taken here, when the secrets are made, not when
    the module is imported (in the whole suite that is many minutes earlier, and the secrets were then newer
    than the instant they were read at)."""
    at = datetime.now(UTC) + timedelta(minutes=5)
    rotate_by = (at + timedelta(days=6)).date().isoformat()
    client = aws(url)
    client.create_secret(
        Name="payouts/stripe-rk",
        SecretString="rk_live_SUPERSECRET",
        Description="Stripe payouts key",
        Tags=[
            {"Key": "payoutwatch:kind", "Value": "stripe_restricted_key"},
            {"Key": "payoutwatch:owner", "Value": "payments-engineering"},
            {"Key": "payoutwatch:rotate-by", "Value": rotate_by},
        ],
    )
    client.create_secret(Name="payouts/webhook", SecretString="whsec_SUPERSECRET")
    client.create_secret(Name="other-team/db", SecretString="x")
    return at, rotate_by


def settings_for(url: str, **extra: Any) -> Any:
    return make_settings(
        sources={
            "aws": {
                "type": "aws_secrets_manager",
                "region": "ca-central-1",
                "endpoint_url": url,
                "name_prefix": "payouts/",
                "kinds": {"payouts/webhook*": "webhook_signing_secret"},
                **extra,
            }
        }
    )


def test_secret_metadata_becomes_credentials_and_values_are_never_read(store: Engine, moto_url: str) -> None:
    at, rotate_by = seed(moto_url)
    settings = settings_for(moto_url, owner="security")
    result = sync_source(store, settings, "aws", now=lambda: at)
    assert result.ok and result.counts == {"credentials": 2}, result.error
    with store.connect() as conn:
        rows = {c["credential_id"]: c for c in compute("credentials", conn, at, settings)["credentials"]}
    rk = rows["payouts/stripe-rk"]
    assert (rk["kind"], rk["owner"], rk["due_at"], rk["stage"]) == (
        "stripe_restricted_key",
        "payments-engineering",
        f"{rotate_by}T00:00:00Z",
        "7d",
    )
    hook = rows["payouts/webhook"]
    assert (hook["kind"], hook["owner"]) == ("webhook_signing_secret", "security")
    assert "SUPERSECRET" not in str(rows)


def test_the_source_only_calls_metadata_operations_and_refuses_get_secret_value(moto_url: str) -> None:
    seed(moto_url)
    source = AwsSecretsManager(
        "aws",
        AwsSecretsManagerSource(type="aws_secrets_manager", region="ca-central-1", endpoint_url=moto_url),
        Settings(),
    )
    [page] = list(source.pages(None, now=utc(2026, 11, 26)))
    assert len(page.records["credentials"]) == 3
    assert set(source.operations) == {"ListSecrets", "DescribeSecret", "ListSecretVersionIds"}
    with pytest.raises(SourceError, match="refusing GetSecretValue"):
        source.client().get_secret_value(SecretId="payouts/stripe-rk")


def test_a_rotation_renews_the_version_in_force(store: Engine, moto_url: str) -> None:
    at, _ = seed(moto_url)
    settings = settings_for(moto_url)
    assert sync_source(store, settings, "aws", now=lambda: at).ok
    aws(moto_url).put_secret_value(SecretId="payouts/webhook", SecretString="whsec_NEW")
    assert sync_source(store, settings, "aws", now=lambda: at).ok
    from sqlalchemy import func, select

    from payoutwatch.store.tables import credentials

    with store.connect() as conn:
        versions = conn.execute(select(func.count()).where(credentials.c.credential_id == "payouts/webhook")).scalar()
    assert versions in (1, 2)  # moto stamps versions to the second: a same-second rotation shares created_at


def test_an_unreachable_endpoint_is_a_transient_failure(store: Engine) -> None:
    settings = settings_for("http://127.0.0.1:1", retries=1, timeout_seconds=1)
    waits: list[float] = []
    result = sync_source(store, settings, "aws", now=lambda: utc(2026, 11, 26), sleep=waits.append)
    assert not result.ok and "unreachable" in str(result.error) and waits == [1.0]
