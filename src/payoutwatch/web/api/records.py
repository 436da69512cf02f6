"""Writing records: a batch of one kind (all or nothing), and a job's start / success / fail pings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from payoutwatch.records import RECORD_TYPES, BatchRejected, record_doc
from payoutwatch.usecases.ingestion import ingest_text
from payoutwatch.usecases.pings import UnknownEvent, ping_event, record_ping
from payoutwatch.web.deps import State, Writer

router = APIRouter(tags=["records"])


class PingIn(BaseModel):
    run_id: str | None = None
    exit_code: int | None = None
    figures: dict[str, Any] = Field(default_factory=dict)


@router.post("/api/v1/ingest/{kind}")
async def ingest(state: State, kind: str, request: Request, who: Writer) -> JSONResponse:
    if kind not in RECORD_TYPES:
        raise HTTPException(404, f"unknown record kind {kind!r}; expected one of {', '.join(RECORD_TYPES)}")
    body = await request.body()  # bytes: a line that is not UTF-8 is refused with its number
    try:
        result = ingest_text(state.engine, kind, body, state.settings, now=state.now(), actor=who.name)
    except BatchRejected as exc:
        return JSONResponse(
            {
                "detail": f"{len(exc.errors)} invalid record(s); nothing was written",
                "errors": [str(e) for e in exc.errors],
                "fields": record_doc(kind),
            },
            status_code=422,
        )
    return JSONResponse({"kind": kind, "stored": result.stored})


@router.post("/api/v1/ping/{job}/{event}")
def ping(state: State, job: str, event: str, who: Writer, body: PingIn | None = None) -> dict[str, str]:
    try:
        chosen = ping_event(event)
    except UnknownEvent as exc:
        raise HTTPException(404, str(exc)) from None
    payload = body or PingIn()
    try:
        run = record_ping(
            state.engine,
            state.settings,
            job,
            chosen,
            now=state.now(),
            run_id=payload.run_id,
            exit_code=payload.exit_code,
            figures=payload.figures,
        )
    except BatchRejected as exc:
        raise HTTPException(422, [str(e) for e in exc.errors]) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return {"job": job, "event": chosen.value, "run_id": run}
