"""``/api/v1/dashboards/{name}``: a dashboard's figures as of ``?at=`` (default now)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from payoutwatch.metrics import DASHBOARD_NAMES, compute
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import dashboard_named
from payoutwatch.web.deps import At, State, Viewer

router = APIRouter(tags=["dashboards"])


def dashboard_name(name: str, who: Viewer) -> str:
    """The dashboard asked for: 404 for an unknown name, 403 for credentials to a role that may not see them."""
    if name not in DASHBOARD_NAMES:
        raise HTTPException(404, f"no dashboard {name!r}; expected one of {', '.join(DASHBOARD_NAMES)}")
    if not allowed(who.role, dashboard_named(name).permission):
        raise HTTPException(403, f"the {who.role.value} role may not view {name}")
    return name


@router.get("/api/v1/dashboards/{name}")
def dashboard(name: Annotated[str, Depends(dashboard_name)], state: State, at: At) -> dict[str, Any]:
    with state.engine.connect() as conn:
        return compute(name, conn, at, state.settings)
