"""A cycle's reconciliation (the same JSON as ``payoutwatch report reconciliation --format json``) and
Finance's sign-off of it: every role that views reads it; signing needs ``Permission.SIGN_OFF`` (finance,
admin), and is refused (409, nothing written) before the cycle's run finished or once it was signed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from payoutwatch.metrics.reconciliation import cycle_named, reconciliation
from payoutwatch.usecases.alert_actions import MAX_COMMENT_CHARS, sign_off_cycle
from payoutwatch.vocabulary import Permission
from payoutwatch.web.deps import State, Viewer, needs
from payoutwatch.web.session import Person

router = APIRouter(tags=["reconciliation"])

SignOffer = Annotated[Person, Depends(needs(Permission.SIGN_OFF))]


class SignOff(BaseModel):
    comment: str | None = Field(None, max_length=MAX_COMMENT_CHARS)


def _cycle(state: State, day: str) -> datetime:
    try:
        return cycle_named(day, state.settings)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/api/v1/reconciliation/{day}")
def get_reconciliation(state: State, day: str, who: Viewer) -> dict[str, Any]:
    cycle = _cycle(state, day)
    with state.engine.connect() as conn:
        return reconciliation(conn, cycle, state.settings)


@router.post("/api/v1/reconciliation/{day}/sign-off", status_code=201)
def sign_off(state: State, day: str, who: SignOffer, body: SignOff | None = None) -> dict[str, Any]:
    cycle = _cycle(state, day)
    comment = body.comment if body is not None else None
    if comment is not None and "\x00" in comment:
        raise HTTPException(422, "the comment contains a NUL character")
    try:
        figures = sign_off_cycle(state.engine, state.settings, cycle, actor=who.name, now=state.now(), comment=comment)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"cycle": figures["cycle"], "by": who.name, "difference_cents": figures["difference_cents"]}
