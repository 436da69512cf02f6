"""Build a configured source by its type (modules imported on first use)."""

from __future__ import annotations

from payoutwatch.config import (
    AirflowSource,
    AwsSecretsManagerSource,
    CertificatesSource,
    ChronosSource,
    GcpSecretManagerSource,
    Settings,
    SidekiqSource,
    SqlLedgerSource,
    StripeSource,
    VaultKvSource,
)
from payoutwatch.sources.base import Source


def build_source(name: str, settings: Settings) -> Source:
    config = settings.sources[name]
    if isinstance(config, SqlLedgerSource):
        from payoutwatch.sources.sql_ledger import SqlLedger

        return SqlLedger(name, config, settings)
    if isinstance(config, CertificatesSource):
        from payoutwatch.sources.certificates import Certificates

        return Certificates(name, config)
    if isinstance(config, AwsSecretsManagerSource):
        from payoutwatch.sources.aws_secrets_manager import AwsSecretsManager

        return AwsSecretsManager(name, config)
    if isinstance(config, VaultKvSource):
        from payoutwatch.sources.vault_kv import VaultKv

        return VaultKv(name, config)
    if isinstance(config, ChronosSource):
        from payoutwatch.sources.chronos import Chronos

        return Chronos(name, config, settings)
    if isinstance(config, StripeSource):
        from payoutwatch.sources.stripe_api import StripeApi

        return StripeApi(name, config, settings)
    if isinstance(config, AirflowSource):
        from payoutwatch.sources.airflow import Airflow

        return Airflow(name, config, settings)
    if isinstance(config, GcpSecretManagerSource):
        from payoutwatch.sources.gcp_secret_manager import GcpSecretManager

        return GcpSecretManager(name, config)
    if isinstance(config, SidekiqSource):
        from payoutwatch.sources.sidekiq import Sidekiq

        return Sidekiq(name, config, settings)
    raise TypeError(f"unknown source type {type(config).__name__}")
