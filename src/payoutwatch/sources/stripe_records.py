"""Stripe objects -> records, shared by the API pull and the webhook.

Transfers (to connected accounts) and payouts (to bank accounts) both become ``transfers`` records
(``payout_id`` from the object's ``metadata.payout_id``); a payout that failed or was cancelled, or a
transfer reversed in full, is ``reversed``; a transfer reversed in part keeps ``reversed`` false (as
Stripe does) and carries ``amount_reversed_cents``. Only the base currency is recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

FAILED_PAYOUT = {"failed", "canceled"}


def unix_instant(created: Any) -> datetime:
    """A Stripe ``created`` (Unix seconds) as an instant; ``ValueError`` for anything that is not one."""
    if isinstance(created, bool) or not isinstance(created, int | str):
        raise ValueError(f"created {created!r} is not a Unix time")
    try:
        return datetime.fromtimestamp(int(created), UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"created {str(created)[:40]!r} is not a Unix time in range") from None


def _integer(value: Any, field: str) -> int:
    """A Stripe integer field (``amount``): an integer, never a string, a float or a boolean coerced into one."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} {str(value)[:40]!r} is not an integer")
    return value


def _when(created: Any) -> str:
    return unix_instant(created).isoformat()


def transfer_record(obj: Any) -> dict[str, Any]:
    amount = _integer(obj["amount"], "amount")
    amount_reversed = _integer(obj.get("amount_reversed") or 0, "amount_reversed")
    record: dict[str, Any] = {
        "transfer_id": obj["id"],
        "amount_cents": amount,
        "currency": str(obj["currency"]).upper(),
        "created_at": _when(obj["created"]),
        "reversed": bool(obj.get("reversed")) or amount_reversed >= amount > 0,
    }
    if amount_reversed:
        record["amount_reversed_cents"] = amount_reversed
    return _linked(record, obj)


def payout_record(obj: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "transfer_id": obj["id"],
        "amount_cents": _integer(obj["amount"], "amount"),
        "currency": str(obj["currency"]).upper(),
        "created_at": _when(obj["created"]),
        "reversed": obj.get("status") in FAILED_PAYOUT,
    }
    return _linked(record, obj)


def _linked(record: dict[str, Any], obj: Any) -> dict[str, Any]:
    destination = obj.get("destination")
    if isinstance(destination, str):
        record["destination"] = destination
    metadata = obj.get("metadata") or {}
    if metadata.get("payout_id"):
        record["payout_id"] = str(metadata["payout_id"])
    return record


def platform_snapshot(available: list[Any], currency: str, threshold_cents: int, as_of: datetime) -> dict[str, Any]:
    cents = sum(_integer(a["amount"], "amount") for a in available if str(a["currency"]).upper() == currency)
    return {
        "account_id": "platform",
        "as_of": as_of.isoformat(),
        "balance_cents": cents,
        "threshold_cents": threshold_cents,
    }


def balance_history(
    available_now: int, transactions: list[Any], *, now: datetime, days: int, threshold_cents: int
) -> list[dict[str, Any]]:
    """End-of-day available balances for the last ``days`` days, walked back from ``available_now``:
    the balance at an instant is today's minus the net of every transaction that became available
    after it (``available_on``)."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for back in range(days):
        instant = midnight - timedelta(days=back)
        later = sum(
            int(t["net"]) for t in transactions if instant.timestamp() < int(t["available_on"]) <= now.timestamp()
        )
        out.append(
            {
                "account_id": "platform",
                "as_of": instant.isoformat(),
                "balance_cents": available_now - later,
                "threshold_cents": threshold_cents,
            }
        )
    return out
