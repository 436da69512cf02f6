"""``/api/v1/dashboards/{name}``: a dashboard's figures as of ``?at=`` (default now).

The answer is kept encoded per (figures' key, form) (``metrics/cache.py``): a repeated request costs the
token check, the records' version and a lookup. A client that accepts gzip gets a large answer gzipped
(the reserves' 1.4 MB of JSON at scale 1.0 is about a tenth of that), compressed once per key too.
"""

from __future__ import annotations

import gzip
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from payoutwatch.metrics import DASHBOARD_NAMES, dashboards
from payoutwatch.metrics.cache import CACHE
from payoutwatch.usecases.tokens import allowed
from payoutwatch.vocabulary import dashboard_named
from payoutwatch.web.deps import At, State, Viewer

router = APIRouter(tags=["dashboards"])
GZIP_FROM_BYTES = 1024  # smaller answers are sent as they are
GZIP_LEVEL = 6


def dashboard_name(name: str, who: Viewer) -> str:
    """The dashboard asked for: 404 for an unknown name, 403 for credentials to a role that may not see them."""
    if name not in DASHBOARD_NAMES:
        raise HTTPException(404, f"no dashboard {name!r}; expected one of {', '.join(DASHBOARD_NAMES)}")
    if not allowed(who.role, dashboard_named(name).permission):
        raise HTTPException(403, f"the {who.role.value} role may not view {name}")
    return name


@router.get("/api/v1/dashboards/{name}", response_class=JSONResponse, response_model=dict[str, Any])
def dashboard(name: Annotated[str, Depends(dashboard_name)], state: State, at: At, request: Request) -> Response:
    def body(form: str) -> bytes:
        encode = json_body if form == "json" else lambda _: gzip.compress(body("json"), GZIP_LEVEL)
        return CACHE.encoded(name, state.reads, at, state.settings, dashboards()[name], form=form, encode=encode)

    headers = {"Vary": "Accept-Encoding"}
    plain = body("json")
    if len(plain) < GZIP_FROM_BYTES or not accepts_gzip(request.headers.get("accept-encoding", "")):
        return Response(plain, media_type="application/json", headers=headers)
    return Response(body("gzip"), media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})


def json_body(content: Any) -> bytes:
    """``content`` as FastAPI's ``JSONResponse`` writes it."""
    return json.dumps(
        jsonable_encoder(content), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` header admits gzip (``gzip`` or ``*``, without ``q=0``)."""
    for part in accept_encoding.split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _is_zero(q[2:]))
    return False


def _is_zero(value: str) -> bool:
    try:
        return float(value) == 0
    except ValueError:
        return False
