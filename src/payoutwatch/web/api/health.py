"""Liveness, readiness (the store, and the background loop when one runs) and the Prometheus scrape."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from payoutwatch.clock import iso
from payoutwatch.usecases.evaluation import last_completed_evaluation
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import Permission
from payoutwatch.web.deps import Credentials, State, require, token_person
from payoutwatch.web.metrics_export import render_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: State) -> JSONResponse:
    """Ready when the store answers and, beside a loop (``serve``), this replica's loop went round and the
    last evaluation completed by whichever replica leads, as recorded in the store, is recent: both within
    two evaluation intervals (or two ticks, when ticks are longer)."""
    try:
        with state.reads.connect() as conn:
            conn.execute(text("SELECT 1"))
            evaluated = last_completed_evaluation(conn)
    except Exception:
        return JSONResponse({"status": "store unreachable"}, status_code=503)
    if state.loop is None:
        return JSONResponse({"status": "ready"})
    service = state.settings.service
    limit = timedelta(seconds=2 * max(service.evaluate_interval_seconds, service.tick_seconds))
    now = state.now()
    if state.loop.at is None or now - state.loop.at > limit:
        return JSONResponse({"status": "background loop not running"}, status_code=503)
    last = iso(evaluated)
    if evaluated is None or now - evaluated > limit:
        body = {"status": "no recent evaluation", "last_evaluation": last, "leader": state.loop.leader}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "leader": state.loop.leader, "last_evaluation": last})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State, credentials: Credentials) -> Response:
    """The scrape. With ``web.metrics_auth`` a token of a role that may scrape (metrics, admin) is required;
    without it the scrape is public. Either way the credential series are included only for a token whose
    role may see credentials, and a token that is given must be valid (401 otherwise)."""
    who = token_person(state, credentials) if credentials is not None or state.settings.web.metrics_auth else None
    if state.settings.web.metrics_auth:
        assert who is not None
        require(who, Permission.SCRAPE_METRICS)
    with_credentials = who is not None and allowed(who.role, Permission.VIEW_CREDENTIALS)
    body = render_metrics(state.reads, state.settings, state.now, with_credentials=with_credentials)
    return Response(body, media_type="text/plain; version=0.0.4")
