"""The JSON API, one router per area; every endpoint but health, ``/metrics`` (unless configured
otherwise) and the Stripe webhook (verified by its signature) needs a bearer token."""

from __future__ import annotations

from fastapi import APIRouter

from payoutwatch.web.api import alerts, dashboards, health, reconciliation, records, webhooks

router = APIRouter()
for _area in (health, dashboards, alerts, reconciliation, records, webhooks):
    router.include_router(_area.router)
