"""What every signed webhook (Stripe, Slack, PagerDuty) shares: the refusal, the HMAC check, and the
aggregated audit of refusals.

A refusal is audited as one row per sender, cause and minute (``<kind>_webhook_refused``, actor
``webhook:<name>``, target ``<name>:<cause>``) whose ``count`` grows, so unauthenticated senders cannot
grow the log by request; the web app also stops auditing an address refused too often this minute.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import Engine

from payoutwatch.store.audit import audit_counted


class SignatureError(Exception):
    """The request is not a genuine, fresh delivery; the message says which check failed, ``cause`` names
    it in one word (refusals are audited aggregated per cause)."""

    def __init__(self, message: str, *, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def hmac_hex(secret: str, signed: bytes) -> str:
    """HMAC-SHA256 of ``signed`` under ``secret``, in lower-case hex (what Stripe, Slack and PagerDuty send)."""
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_by_any(signed: bytes, secrets: list[str], signatures: list[str]) -> bool:
    """Whether any of ``signatures`` (several while the sender rolls its secret) is the HMAC of ``signed``
    under any of ``secrets`` (several while payoutwatch rolls), compared in constant time."""
    expected = [hmac_hex(secret, signed) for secret in secrets]
    return any(hmac.compare_digest(e, s) for e in expected for s in signatures)


def record_refusal(
    engine: Engine, kind: str, name: str, refusal: SignatureError, *, now: datetime, peer: str | None, size: int
) -> None:
    """Audit a refused ``kind`` delivery (``stripe``, ``slack``, ``pagerduty``) to source or channel ``name``,
    aggregated per cause and minute; the row records the cause and the size, never the signature or body."""
    with engine.begin() as conn:
        audit_counted(
            conn,
            actor=f"webhook:{name}",
            action=f"{kind}_webhook_refused",
            target=f"{name}:{refusal.cause}",
            now=now,
            details={"reason": str(refusal), "bytes": size},
            address=peer,
        )
