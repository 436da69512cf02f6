"""Reports: the index, the weekly snapshot, the quarterly report with its charts, and the back-test form."""

from __future__ import annotations

import base64
from datetime import timedelta

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from payoutwatch.config import ConfigError
from payoutwatch.notify.silences import parse_duration
from payoutwatch.reports.charts import quarterly_charts
from payoutwatch.reports.quarterly import quarterly
from payoutwatch.reports.render import render
from payoutwatch.reports.weekly import weekly
from payoutwatch.timefmt import wall_clock
from payoutwatch.usecases.backtest import actual, against_current, compare, replay, steps, with_overrides
from payoutwatch.web import access
from payoutwatch.web.deps import BadInstant, PageAt, PageViewer, State, page_instant
from payoutwatch.web.middleware import csp_nonce
from payoutwatch.web.pages.render import message_page, render_page

router = APIRouter()

MAX_WEB_STEPS = 5000


@router.get("/reports", response_class=HTMLResponse)
def reports(state: State, request: Request, who: PageViewer) -> Response:
    now = state.now()
    local = now.astimezone(state.settings.tz)
    return render_page(
        state,
        request,
        "reports.html",
        who,
        quarter=f"{local.year}Q{(local.month - 1) // 3 + 1}",
        title="Reports",
        default_from=now - timedelta(days=30),
        default_to=now,
    )


@router.get("/reports/weekly", response_class=HTMLResponse)
def weekly_report(state: State, request: Request, who: PageViewer, at: PageAt) -> Response:
    with state.engine.connect() as conn:
        figures = weekly(conn, at.at, state.settings, with_credentials=access.sees_credentials(who.role))
    zone = state.settings.display_tz
    return HTMLResponse(render("weekly", figures, "html", zone=zone, nonce=csp_nonce(request), back="/reports"))


@router.get("/reports/quarterly", response_class=HTMLResponse)
def quarterly_report(state: State, request: Request, who: PageViewer, quarter: str) -> Response:
    try:
        with state.engine.connect() as conn:
            figures = quarterly(conn, quarter, state.settings, now=state.now())
    except ValueError as exc:
        return message_page(
            state, title="No quarterly report", message=str(exc), back=("/reports", "back"), status_code=422
        )
    charts = {
        n: "data:image/png;base64," + base64.b64encode(png).decode() for n, png in quarterly_charts(figures).items()
    }
    zone = state.settings.display_tz
    return HTMLResponse(
        render("quarterly", figures, "html", charts, zone=zone, nonce=csp_nonce(request), back="/reports")
    )


@router.get("/reports/backtest", response_class=HTMLResponse)
def backtest_page(
    state: State,
    request: Request,
    who: PageViewer,
    start: str | None = Query(None, alias="from"),
    to: str | None = Query(None),
    step: str = "1h",
    overrides: str = Query("", alias="set"),
) -> Response:
    """The back-test form; with a window, the replay under the overrides, compared with the same window
    under the current configuration and with what actually happened. A mistake is shown on the form."""
    now = state.now()
    form = {
        "start": start if start is not None else wall_clock(now - timedelta(days=30), state.settings.display_tz),
        "to": to if to is not None else wall_clock(now, state.settings.display_tz),
        "step": step,
        "overrides": overrides,
    }
    if start is None and to is None:
        return render_page(state, request, "backtest.html", who, form=form, error=None, title="Back-test")
    zone = state.settings.display_tz
    lines = [o.strip() for o in overrides.splitlines() if o.strip()]
    try:
        begin = page_instant(start or "", field="from", zone=zone)
        end = page_instant(to or "", field="to", zone=zone)
        every = parse_duration(step)
        if len(steps(begin, end, every)) > MAX_WEB_STEPS:
            raise ValueError(f"at most {MAX_WEB_STEPS} steps here; use a larger step or the CLI")
        tuned = with_overrides(state.settings, lines, named="override")
        replayed = replay(state.engine, tuned, start=begin, end=end, step=every)
        current = replay(state.engine, state.settings, start=begin, end=end, step=every) if lines else replayed
    except (BadInstant, ConfigError, ValueError) as exc:
        error = str(exc).replace("--step", "step").replace("--to", "to").replace("--from", "from")
        page = render_page(state, request, "backtest.html", who, form=form, error=error, title="Back-test")
        page.status_code = 422
        return page
    diff = access.visible_comparison(who.role, compare(replayed, actual(state.engine, start=begin, end=end)))
    rows, withheld = access.visible_json(who.role, [r.as_json() for r in replayed])
    changes, _ = access.visible_json(who.role, [c.as_json(zone) for c in against_current(current, replayed)])
    return render_page(
        state,
        request,
        "backtest.html",
        who,
        form=form,
        error=None,
        rows=rows,
        withheld=withheld,
        diff=diff,
        changes=changes,
        compared=bool(lines),
        start=begin,
        end=end,
        step=step,
        overrides=lines,
        title="Back-test",
    )
