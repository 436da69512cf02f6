"""Stripe webhooks (mounted at ``/webhooks/stripe`` by the web app): verify, then apply once.

Verification follows Stripe's scheme: the ``Stripe-Signature`` header carries ``t=<unix>`` and one or
more ``v1=<hex>``; the expected signature is HMAC-SHA256 of ``"<t>.<raw body>"`` with the endpoint
secret, compared in constant time with every ``v1`` (several during a secret roll) under every
configured secret; a timestamp older than the tolerance is refused (future ones pass, as Stripe's
own library does). A refused event is recorded in the audit log and never ingested. An accepted
event is applied once: its id is stored with the records it wrote, in the same transaction.

An event about a connected account (Connect webhooks carry a top-level ``account``) describes that
account's balance, payouts and transfers, not the platform's: it is acknowledged but not applied unless
the account is listed in the source's ``connected_accounts`` (and even then its balance is never taken
for the platform's reserve).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from payoutwatch.config import Settings
from payoutwatch.records import BatchRejected, RecordError
from payoutwatch.sources.stripe_api import StripeSource
from payoutwatch.sources.stripe_records import payout_record, platform_snapshot, transfer_record, unix_instant
from payoutwatch.store.tables import webhook_events
from payoutwatch.usecases.ingestion import store_records
from payoutwatch.usecases.webhook_signatures import SignatureError, hmac_hex, record_refusal, signed_by_any

HANDLED = {
    "payout.paid",
    "payout.failed",
    "payout.canceled",
    "payout.updated",
    "transfer.created",
    "transfer.updated",  # a partial reversal: amount_reversed grows, reversed stays false
    "transfer.reversed",
    "balance.available",
}


@dataclass(frozen=True)
class WebhookOutcome:
    event_id: str
    type: str
    applied: bool  # False: a redelivery already applied, or a type payoutwatch does not use
    records: int


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``v1`` signature Stripe sends for ``payload`` at ``timestamp``."""
    return hmac_hex(secret, f"{timestamp}.".encode() + payload)


def verify(payload: bytes, header: str | None, secrets: list[str], *, tolerance: int, now: datetime) -> dict[str, Any]:
    if not secrets:
        raise SignatureError("no webhook signing secret is configured for this source", cause="no_secret")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8", cause="not_utf8") from None
    parts = [item.split("=", 1) for item in (header or "").split(",") if "=" in item]
    stamps = [v for k, v in parts if k.strip() == "t"]
    signatures = [v.strip() for k, v in parts if k.strip() == "v1"]
    if not stamps or not signatures:
        raise SignatureError(
            "the Stripe-Signature header has no timestamp or no v1 signature", cause="malformed_header"
        )
    try:
        timestamp = int(stamps[0])
    except ValueError:
        raise SignatureError("the Stripe-Signature timestamp is not a number", cause="malformed_header") from None
    if not signed_by_any(f"{timestamp}.".encode() + payload, secrets, signatures):
        raise SignatureError("no v1 signature matches the signing secret", cause="bad_signature")
    if timestamp < now.timestamp() - tolerance:
        raise SignatureError(f"the timestamp is older than the {tolerance} s tolerance", cause="stale")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, an integer of thousands of digits, nesting too deep
        raise SignatureError("the body is not JSON that can be read", cause="not_json") from None
    if not isinstance(event, dict) or not _event_text(event.get("id"), 255) or not _event_text(event.get("type"), 100):
        raise SignatureError("the body is not a Stripe event (an id and a type as short strings)", cause="not_an_event")
    return event


def _event_text(value: Any, limit: int) -> bool:
    """An event's ``id`` or ``type``: a string of 1 … ``limit`` printable characters (it is stored as is)."""
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def records_of(event: dict[str, Any], config: StripeSource, currency: str) -> dict[str, list[dict[str, Any]]]:
    account = event.get("account")
    if account and account not in config.connected_accounts:
        return {}  # a connected account's own money, not the platform's
    obj = (event.get("data") or {}).get("object") or {}
    kind = event["type"]
    if kind.startswith("transfer.") and str(obj.get("currency", "")).upper() == currency:
        return {"transfers": [transfer_record(obj)]}
    if kind.startswith("payout.") and str(obj.get("currency", "")).upper() == currency:
        return {"transfers": [payout_record(obj)]}
    if kind == "balance.available" and not account and config.platform_reserve_threshold_cents is not None:
        as_of = unix_instant(event.get("created", 0))
        return {
            "reserve_snapshots": [
                platform_snapshot(obj.get("available") or [], currency, config.platform_reserve_threshold_cents, as_of)
            ]
        }
    return {}


def handle(
    engine: Engine,
    settings: Settings,
    source: str,
    payload: bytes,
    header: str | None,
    *,
    now: datetime,
    peer: str | None = None,
    audit_refusal: bool = True,
) -> WebhookOutcome:
    """Verify and apply one delivery; raises SignatureError or records.BatchRejected.

    A refusal is audited aggregated (``record_refusal``) unless ``audit_refusal`` is false (the web app
    turns it off for an address that is already over its refusal rate)."""
    config = settings.sources[source]
    if not isinstance(config, StripeSource):
        raise ValueError(f"source {source!r} is not a stripe source")
    try:
        event = verify(
            payload,
            header,
            [s.get_secret_value() for s in config.webhook_secrets],
            tolerance=config.webhook_tolerance_seconds,
            now=now,
        )
    except SignatureError as exc:
        if audit_refusal:
            record_refusal(engine, "stripe", source, exc, now=now, peer=peer, size=len(payload))
        raise
    event_id, kind = str(event["id"]), str(event["type"])
    with engine.begin() as conn:
        if conn.execute(select(webhook_events.c.event_id).where(webhook_events.c.event_id == event_id)).first():
            return WebhookOutcome(event_id, kind, applied=False, records=0)
        count = 0
        for record_kind, rows in (_records(event, config, settings.currency) if kind in HANDLED else {}).items():
            count += store_records(conn, settings, record_kind, list(enumerate(rows, 1)), now=now, unit="event").valid
        conn.execute(
            insert(webhook_events).values(event_id=event_id, source=source, type=kind, received_at=now, records=count)
        )
    return WebhookOutcome(event_id, kind, applied=count > 0, records=count)


def _records(event: dict[str, Any], config: StripeSource, currency: str) -> dict[str, list[dict[str, Any]]]:
    """``records_of``, with a signed but malformed event (wrong types, missing fields, a ``created`` out of
    range) refused as a rejected batch instead of failing the request."""
    try:
        return records_of(event, config, currency)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        reason = str(exc)[:200].encode("utf-8", "backslashreplace").decode()  # a lone surrogate is shown escaped
        problem = f"not a well-formed {event['type'][:60]} event ({type(exc).__name__}: {reason})"
        raise BatchRejected("event", [RecordError(1, "data.object", problem, unit="event")]) from None
