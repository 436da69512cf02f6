"""``stripe``: transfers, payouts and the platform balance through stripe-python, since a cursor.

Lists are walked with auto-pagination (``has_more`` / ``starting_after``) from the newest
``created`` already seen; payouts of the last ``watch_payouts_days`` are read again every sync,
because Stripe can turn a ``paid`` payout into ``failed`` days later. The key needs read access
to transfers, payouts and balance only (a restricted key).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from payoutwatch.config import Settings, StripeSource
from payoutwatch.sources.base import Page, SourceError
from payoutwatch.sources.stripe_records import balance_history, payout_record, platform_snapshot, transfer_record


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

    def _platform(self, client: Any) -> list[dict[str, Any]]:
        """The CAD available balance now, and end-of-day balances rebuilt from balance transactions."""
        threshold = self.config.platform_reserve_threshold_cents
        assert threshold is not None
        now = datetime.now(UTC).replace(microsecond=0)
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

    def pages(self, cursor: dict[str, Any] | None) -> Iterator[Page]:
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
            watch_from = int(time.time() - self.config.watch_payouts_days * 86400)
            since = min(int(cursor.get("payouts_created", watch_from)), watch_from)
            newest_payout = int(cursor.get("payouts_created", 0))
            for payout in client.v1.payouts.list(params={"created": {"gte": since}, "limit": 100}).auto_paging_iter():
                newest_payout = max(newest_payout, int(payout["created"]))
                if str(payout["currency"]).upper() == self.currency:
                    page.add("transfers", payout_record(payout.to_dict()))
            if self.config.platform_reserve_threshold_cents is not None:
                for snapshot in self._platform(client):
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
