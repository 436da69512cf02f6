"""Signed webhooks (no token; each sender's signature is checked against the configured secrets):

- ``/webhooks/stripe``: Stripe events into the records (``usecases.stripe_webhook``);
- ``/webhooks/slack``: Slack button presses on alert messages (``usecases.slack_actions``, ``web.slack_clicks``);
- ``/webhooks/pagerduty``: PagerDuty v3 incident acknowledged / resolved (``usecases.pagerduty_webhook``).

A refused delivery is audited aggregated per cause and minute; an address refused too often this minute
gets 429 and is not audited until the minute turns (``web.ratelimit``, docs/security.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, TypeVar

import httpx
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from payoutwatch.config import Settings
from payoutwatch.notify.channels.pagerduty import PagerDutyChannel
from payoutwatch.notify.channels.slack import SlackChannel
from payoutwatch.records import BatchRejected
from payoutwatch.sources.stripe_api import StripeSource
from payoutwatch.usecases import pagerduty_webhook, slack_actions
from payoutwatch.usecases.stripe_webhook import handle as stripe_webhook_handle
from payoutwatch.usecases.webhook_signatures import SignatureError, record_refusal
from payoutwatch.web.deps import State
from payoutwatch.web.slack_clicks import answer_click
from payoutwatch.web.state import WebState

router = APIRouter(tags=["webhooks"])

Outcome = TypeVar("Outcome", covariant=True)


def _pick(names: list[str], asked: str | None, what: str) -> str:
    """``asked`` if it is one of ``names``; with nothing asked, the first of them; 404 otherwise."""
    name = asked if asked in names else (names[0] if names and asked is None else None)
    if name is None:
        raise HTTPException(404, f"no {what} is configured")
    return name


def _refused(state: WebState, peer: str | None, now: datetime, over: bool, exc: SignatureError) -> JSONResponse:
    """Count a refusal against ``peer``: 400 naming the check that failed, or 429 when the address was already
    over its refusals this minute (and so was not audited)."""
    state.webhook_refusals.refused(peer, now)
    if over:
        return JSONResponse(
            {"detail": "too many refused webhooks from this address; try again next minute"},
            status_code=429,
            headers={"Retry-After": "60"},
        )
    return JSONResponse({"detail": f"refused: {exc}"}, status_code=400)


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


class Handler(Protocol[Outcome]):
    """``stripe_webhook.handle`` and ``pagerduty_webhook.handle``: verify (auditing a refusal unless told not
    to, raising ``SignatureError``) and apply one delivery."""

    def __call__(
        self,
        engine: Engine,
        settings: Settings,
        name: str,
        payload: bytes,
        header: str | None,
        /,
        *,
        now: datetime,
        peer: str | None,
        audit_refusal: bool,
    ) -> Outcome: ...


async def _delivered(
    state: WebState, request: Request, handle: Handler[Outcome], name: str, header: str
) -> Outcome | JSONResponse:
    """Run ``handle`` on the request's body and ``header``; a refusal is answered by ``_refused`` (and only
    audited while the address is under its refusal limit)."""
    peer, now = _peer(request), state.now()
    over = state.webhook_refusals.exceeded(peer, now)
    body = await request.body()
    try:
        return await run_in_threadpool(
            handle,
            state.engine,
            state.settings,
            name,
            body,
            request.headers.get(header),
            now=now,
            peer=peer,
            audit_refusal=not over,
        )
    except SignatureError as exc:
        return _refused(state, peer, now, over, exc)


@router.post("/webhooks/stripe")
async def stripe_webhook(state: State, request: Request, source: str | None = None) -> JSONResponse:
    names = [n for n, c in state.settings.sources.items() if isinstance(c, StripeSource) and c.webhook_secrets]
    name = _pick(names, source, "stripe source with webhook secrets")
    try:
        outcome = await _delivered(state, request, stripe_webhook_handle, name, "stripe-signature")
    except BatchRejected as exc:
        return JSONResponse({"detail": [str(e) for e in exc.errors]}, status_code=422)
    if isinstance(outcome, JSONResponse):
        return outcome
    return JSONResponse({"id": outcome.event_id, "applied": outcome.applied, "records": outcome.records})


@router.post("/webhooks/slack")
async def slack_webhook(state: State, request: Request, channel: str | None = None) -> Response:
    """A button pressed under an alert message (the Slack app's interactivity request URL; ``?channel=``
    names the payoutwatch channel when several Slack channels have signing secrets)."""
    channels = state.settings.channels
    names = [n for n, c in channels.items() if isinstance(c, SlackChannel) and c.interactive]
    name = _pick(names, channel, "slack channel with a bot token and signing secrets")
    config = channels[name]
    assert isinstance(config, SlackChannel)
    body, peer, now = await request.body(), _peer(request), state.now()
    over = state.webhook_refusals.exceeded(peer, now)
    try:
        slack_actions.verify(
            body,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            [s.get_secret_value() for s in config.signing_secrets],
            now=now,
        )
    except SignatureError as exc:
        if not over:
            record_refusal(state.engine, "slack", name, exc, now=now, peer=peer, size=len(body))
        return _refused(state, peer, now, over, exc)
    try:
        click = slack_actions.parse_click(body)
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    if click is not None:
        with httpx.Client() as client:
            await run_in_threadpool(answer_click, state, config, click, client)
    return Response(status_code=200)


@router.post("/webhooks/pagerduty")
async def pagerduty_webhook_endpoint(state: State, request: Request, channel: str | None = None) -> JSONResponse:
    """A PagerDuty v3 webhook subscription's delivery (``?channel=`` names the pagerduty channel when several
    have webhook secrets)."""
    names = [n for n, c in state.settings.channels.items() if isinstance(c, PagerDutyChannel) and c.webhook_secrets]
    name = _pick(names, channel, "pagerduty channel with webhook secrets")
    outcome = await _delivered(state, request, pagerduty_webhook.handle, name, "x-pagerduty-signature")
    if isinstance(outcome, JSONResponse):
        return outcome
    return JSONResponse(
        {"id": outcome.event_id, "event_type": outcome.event_type, "key": outcome.key, "outcome": outcome.outcome}
    )
