"""Liveness, readiness (the store, and the background loop when one runs) and the Prometheus scrape."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text

from payoutwatch.vocabulary import Permission
from payoutwatch.web.deps import Credentials, State, require, token_person
from payoutwatch.web.metrics_export import render_metrics

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: State) -> JSONResponse:
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSONResponse({"status": "store unreachable"}, status_code=503)
    if state.loop is not None:  # ready once the loop has gone round recently
        service = state.settings.service
        limit = timedelta(seconds=2 * max(service.evaluate_interval_seconds, service.tick_seconds))
        if state.loop.at is None or state.now() - state.loop.at > limit:
            return JSONResponse({"status": "background loop not running"}, status_code=503)
        return JSONResponse({"status": "ready", "leader": state.loop.leader})
    return JSONResponse({"status": "ready"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State, credentials: Credentials) -> Response:
    if not state.settings.web.public_metrics:
        require(token_person(state, credentials), Permission.VIEW)
    return Response(render_metrics(state.engine, state.settings, state.now), media_type="text/plain; version=0.0.4")
