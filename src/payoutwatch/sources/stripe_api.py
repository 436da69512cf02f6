"""``stripe``: transfers, payouts and the platform balance through stripe-python, since a cursor.

Lists are walked with auto-pagination (``has_more`` / ``starting_after``) from the newest
``created`` already seen; payouts of the last ``watch_payouts_days`` are read again every sync,
because Stripe can turn a ``paid`` payout into ``failed`` days later. The key needs read access
to transfers, payouts and balance only (a restricted key).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, SecretStr

from payoutwatch.config import SOURCE_TYPES, Settings, SourceBase
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.stripe_records import balance_history, payout_record, platform_snapshot, transfer_record


class StripeSource(SourceBase):
    type: Literal["stripe"]
    api_key: SecretStr  # a restricted key with read access to transfers, payouts and balance
    api_base: str = "https://api.stripe.com"
    watch_payouts_days: float = Field(10, ge=0)  # re-read recent payouts: `paid` can turn `failed` later
    platform_reserve_threshold_cents: int | None = None  # record the CAD available balance as `platform`
    balance_history_days: int = Field(28, ge=0)  # daily platform balances rebuilt from balance transactions
    webhook_secrets: list[SecretStr] = Field(default_factory=list)  # whsec_…; several while rolling
    webhook_tolerance_seconds: int = Field(300, ge=0)
    # webhook events of these connected accounts (top-level `account`) are applied; others are ignored
    connected_accounts: list[str] = Field(default_factory=list)


class StripeApi:
    def __init__(self, name: str, config: StripeSource, settings: Settings) -> None:
        self.name = name
        self.config = config
        self.currency = settings.currency

    def secrets(self) -> list[str]:
        return [self.config.api_key.get_secret_value()] + [s.get_secret_value() for s in self.config.webhook_secrets]

    def client(self) -> Any:
        import stripe

        return stripe.StripeClient(
            self.config.api_key.get_secret_value(),
            base_addresses={"api": self.config.api_base},
            max_network_retries=0,  # the sync retries (from the last written page) with its own backoff
            http_client=stripe.HTTPXClient(timeout=self.config.timeout_seconds, allow_sync_methods=True),
        )

    def _platform(self, client: Any, at: datetime) -> list[dict[str, Any]]:
        """The CAD available balance now, and end-of-day balances rebuilt from balance transactions."""
        threshold = self.config.platform_reserve_threshold_cents
        assert threshold is not None
        now = at.astimezone(UTC).replace(microsecond=0)
        current = platform_snapshot(client.v1.balance.retrieve()["available"], self.currency, threshold, now)
        if not self.config.balance_history_days:
            return [current]
        since = int(now.timestamp()) - (self.config.balance_history_days + 14) * 86400  # funds settle later
        transactions = [
            t.to_dict()
            for t in client.v1.balance_transactions.list(
                params={"created": {"gte": since}, "currency": self.currency.lower(), "limit": 100}
            ).auto_paging_iter()
        ]
        history = balance_history(
            current["balance_cents"],
            transactions,
            now=now,
            days=self.config.balance_history_days,
            threshold_cents=threshold,
        )
        return [current, *history]

    def pages(self, cursor: dict[str, Any] | None, *, now: datetime) -> Iterator[Page]:
        import stripe

        cursor = dict(cursor or {})
        try:
            client = self.client()
            page = Page()
            newest_transfer = int(cursor.get("transfers_created", 0))
            for transfer in client.v1.transfers.list(
                params={"created": {"gt": newest_transfer}, "limit": 100}
            ).auto_paging_iter():
                newest_transfer = max(newest_transfer, int(transfer["created"]))
                if str(transfer["currency"]).upper() == self.currency:
                    page.add("transfers", transfer_record(transfer.to_dict()))
            watch_from = int(now.timestamp() - self.config.watch_payouts_days * 86400)
            since = min(int(cursor.get("payouts_created", watch_from)), watch_from)
            newest_payout = int(cursor.get("payouts_created", 0))
            for payout in client.v1.payouts.list(params={"created": {"gte": since}, "limit": 100}).auto_paging_iter():
                newest_payout = max(newest_payout, int(payout["created"]))
                if str(payout["currency"]).upper() == self.currency:
                    page.add("transfers", payout_record(payout.to_dict()))
            if self.config.platform_reserve_threshold_cents is not None:
                for snapshot in self._platform(client, now):
                    page.add("reserve_snapshots", snapshot)
        except stripe.AuthenticationError:
            raise SourceError("Stripe refused the API key (authentication error)", permanent=True) from None
        except stripe.PermissionError:
            raise SourceError(
                "the Stripe key lacks read access to transfers, payouts or balance", permanent=True
            ) from None
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise SourceError(f"Stripe unreachable or rate limited: {type(exc).__name__}") from None
        except stripe.StripeError as exc:
            raise SourceError(f"Stripe answered an error: {type(exc).__name__} (HTTP {exc.http_status})") from None
        page.cursor = {"transfers_created": newest_transfer, "payouts_created": newest_payout}
        yield page


SOURCE_TYPES.register(StripeSource, StripeApi)
