"""``/webhooks/stripe``: no token; the Stripe signature is checked against the source's webhook secrets."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from payoutwatch.records import BatchRejected
from payoutwatch.sources.stripe_api import StripeSource
from payoutwatch.usecases.stripe_webhook import SignatureError, handle
from payoutwatch.web.deps import State

router = APIRouter(tags=["webhooks"])


@router.post("/webhooks/stripe")
async def stripe_webhook(state: State, request: Request, source: str | None = None) -> JSONResponse:
    names = [n for n, c in state.settings.sources.items() if isinstance(c, StripeSource) and c.webhook_secrets]
    name = source if source in names else (names[0] if names and source is None else None)
    if name is None:
        raise HTTPException(404, "no stripe source with webhook secrets is configured")
    signature = request.headers.get("stripe-signature")
    peer, now, refusals = request.client.host if request.client else None, state.now(), state.webhook_refusals
    over = refusals.exceeded(peer, now)
    try:
        outcome = handle(
            state.engine,
            state.settings,
            name,
            await request.body(),
            signature,
            now=now,
            peer=peer,
            audit_refusal=not over,
        )
    except SignatureError as exc:
        refusals.refused(peer, now)
        if over:  # already audited often enough this minute: answer without writing anything
            return JSONResponse(
                {"detail": "too many refused webhooks from this address; try again next minute"},
                status_code=429,
                headers={"Retry-After": "60"},
            )
        return JSONResponse({"detail": f"refused: {exc}"}, status_code=400)
    except BatchRejected as exc:
        return JSONResponse({"detail": [str(e) for e in exc.errors]}, status_code=422)
    return JSONResponse({"id": outcome.event_id, "applied": outcome.applied, "records": outcome.records})
