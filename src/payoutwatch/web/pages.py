"""Server-rendered pages (Jinja2): the overview, the four dashboards, alerts with ack / resolve /
silence forms (CSRF-protected), login. Every figure comes from ``metrics``; nothing is computed here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine, func, select

from payoutwatch.clock import iso, parse_instant
from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.reports.render import FIGURE_FILTERS
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.usecases.alert_queries import alert_json
from payoutwatch.usecases.tokens import Permission, allowed
from payoutwatch.web import svg
from payoutwatch.web.session import Person, csrf_ok, csrf_token, current_person, log_in

PAGES = {
    "payout_health": "Payout Health",
    "fallback_activity": "Fallback Activity",
    "reserves": "Reserves",
    "credentials": "Credentials",
}


def environment() -> Environment:
    env = Environment(loader=PackageLoader("payoutwatch.web", "templates"), autoescape=select_autoescape(["html"]))
    env.filters.update(FIGURE_FILTERS)
    env.filters["urlpart"] = lambda v: quote(str(v), safe="")
    return env


def router(settings: Settings, engine: Engine, now: Callable[[], datetime]) -> APIRouter:
    pages = APIRouter(include_in_schema=False)
    env = environment()

    def page(request: Request, template: str, who: Person, **context: Any) -> HTMLResponse:
        with engine.connect() as conn:
            firing: dict[str, int] = dict(
                conn.execute(
                    select(alerts.c.rule, func.count()).where(alerts.c.state == "firing").group_by(alerts.c.rule)
                ).all()
            )
        html = env.get_template(template).render(
            request=request,
            who=who,
            firing=firing,
            pages=PAGES,
            csrf=csrf_token(request),
            can_handle=allowed(who.role, Permission.HANDLE_ALERTS),
            can_see_credentials=allowed(who.role, Permission.VIEW_CREDENTIALS),
            **context,
        )
        return HTMLResponse(html)

    def gate(request: Request, permission: Permission = Permission.VIEW) -> Person | Response:
        who = current_person(request, engine, settings, now())
        if who is None:
            return RedirectResponse(f"/login?next={quote(str(request.url.path))}", status_code=303)
        if not allowed(who.role, permission):
            return HTMLResponse(env.get_template("forbidden.html").render(who=who, request=request), status_code=403)
        return who

    def as_of(value: str | None) -> tuple[datetime, bool]:
        if not value:
            return now(), False
        try:
            return parse_instant(_with_zone(value)), True
        except ValueError:
            return now(), False

    @pages.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/", error: str | None = None) -> HTMLResponse:
        return HTMLResponse(env.get_template("login.html").render(request=request, next=next, error=error))

    @pages.post("/login")
    def login(request: Request, token: str = Form(...), next: str = Form("/")) -> Response:
        who = log_in(request, engine, token, now())
        if who is None:
            return HTMLResponse(
                env.get_template("login.html").render(
                    request=request, next=next, error="That token is unknown or revoked."
                ),
                status_code=401,
            )
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        return RedirectResponse(target, status_code=303)

    @pages.post("/logout")
    def logout(request: Request, csrf: str = Form("")) -> Response:
        if csrf_ok(request, csrf):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @pages.get("/", response_class=HTMLResponse)
    def overview(request: Request, at: str | None = None) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        when, past = as_of(at)
        with engine.connect() as conn:
            boards = {
                name: compute(name, conn, when, settings)
                for name in PAGES
                if name != "credentials" or allowed(who.role, Permission.VIEW_CREDENTIALS)
            }
        return page(request, "overview.html", who, boards=boards, at=when, past=past)

    @pages.get("/dashboards/{name}", response_class=HTMLResponse)
    def dashboard(request: Request, name: str, at: str | None = None) -> Response:
        needed = Permission.VIEW_CREDENTIALS if name == "credentials" else Permission.VIEW
        who = gate(request, needed)
        if not isinstance(who, Person):
            return who
        if name not in PAGES:
            return HTMLResponse("no such dashboard", status_code=404)
        when, past = as_of(at)
        with engine.connect() as conn:
            figures = compute(name, conn, when, settings)
        charts = _charts(name, figures)
        return page(request, f"{name}.html", who, f=figures, at=when, past=past, charts=charts, title=PAGES[name])

    @pages.get("/alerts", response_class=HTMLResponse)
    def alert_list(
        request: Request, rule: str | None = None, owner: str | None = None, state: str = "firing"
    ) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        q = select(alerts).order_by(alerts.c.started_at.desc(), alerts.c.id.desc()).limit(500)
        if state in ("firing", "resolved"):
            q = q.where(alerts.c.state == state)
        if rule:
            q = q.where(alerts.c.rule == rule)
        if owner:
            q = q.where(alerts.c.owner == owner)
        with engine.connect() as conn:
            rows = [alert_json(r) for r in conn.execute(q)]
        return page(request, "alerts.html", who, rows=rows, rule=rule, owner=owner, state=state, title="Alerts")

    @pages.get("/alerts/{key}", response_class=HTMLResponse)
    def alert_detail(request: Request, key: str) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        with engine.connect() as conn:
            row = conn.execute(
                select(alerts).where(alerts.c.key == key).order_by(alerts.c.started_at.desc(), alerts.c.id.desc())
            ).first()
            if row is None:
                return HTMLResponse("no such alert", status_code=404)
            history = conn.execute(
                select(alert_history).where(alert_history.c.alert_id == row.id).order_by(alert_history.c.id)
            ).all()
            sent = conn.execute(
                select(notifications).where(notifications.c.alert_id == row.id).order_by(notifications.c.id)
            ).all()
        return page(request, "alert.html", who, a=alert_json(row), history=history, sent=sent, title=key)

    def person_action(request: Request, key: str, action: str, csrf: str, comment: str | None) -> Response:
        who = gate(request, Permission.HANDLE_ALERTS)
        if not isinstance(who, Person):
            return who
        if not csrf_ok(request, csrf):
            return HTMLResponse("the form expired; reload the page and try again", status_code=403)
        from payoutwatch.rules.engine import AlertNotFound
        from payoutwatch.usecases.alert_actions import AlertAction, act_on_alert

        try:
            act_on_alert(engine, settings, key, AlertAction(action), actor=who.name, now=now(), comment=comment or None)
        except AlertNotFound as exc:
            return HTMLResponse(str(exc), status_code=404)
        return RedirectResponse(f"/alerts/{quote(key, safe='')}", status_code=303)

    @pages.post("/alerts/{key}/ack")
    def ack(request: Request, key: str, csrf: str = Form(""), comment: str = Form("")) -> Response:
        return person_action(request, key, "ack", csrf, comment)

    @pages.post("/alerts/{key}/resolve")
    def resolve(request: Request, key: str, csrf: str = Form(""), comment: str = Form("")) -> Response:
        return person_action(request, key, "resolve", csrf, comment)

    @pages.post("/silences")
    def silence(
        request: Request,
        csrf: str = Form(""),
        comment: str = Form(...),
        key: str = Form(""),
        rule: str = Form(""),
        hours: float = Form(2.0),
    ) -> Response:
        who = gate(request, Permission.HANDLE_ALERTS)
        if not isinstance(who, Person):
            return who
        if not csrf_ok(request, csrf):
            return HTMLResponse("the form expired; reload the page and try again", status_code=403)
        from payoutwatch.notify.silences import Matcher, add_silence
        from payoutwatch.store.audit import audit

        when = now()
        try:
            with engine.begin() as conn:
                silence_id = add_silence(
                    conn,
                    Matcher(rule or None, key or None),
                    starts_at=when,
                    ends_at=when + timedelta(hours=max(0.1, min(hours, 24 * 90))),
                    author=who.name,
                    comment=comment,
                    now=when,
                )
                audit(conn, actor=who.name, action="silence_add", target=str(silence_id), now=when)
        except ValueError as exc:
            return HTMLResponse(str(exc), status_code=422)
        return RedirectResponse("/alerts", status_code=303)

    @pages.get("/reports", response_class=HTMLResponse)
    def reports(request: Request) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        local = now().astimezone(settings.tz)
        quarter = f"{local.year}Q{(local.month - 1) // 3 + 1}"
        return page(
            request,
            "reports.html",
            who,
            quarter=quarter,
            title="Reports",
            default_from=iso(now() - timedelta(days=30)),
            default_to=iso(now()),
        )

    @pages.get("/reports/weekly", response_class=HTMLResponse)
    def weekly_report(request: Request, at: str | None = None) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        from payoutwatch.reports.render import render
        from payoutwatch.reports.weekly import weekly

        with engine.connect() as conn:
            return HTMLResponse(render("weekly", weekly(conn, as_of(at)[0], settings), "html"))

    @pages.get("/reports/quarterly", response_class=HTMLResponse)
    def quarterly_report(request: Request, quarter: str) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        import base64

        from payoutwatch.reports.charts import quarterly_charts
        from payoutwatch.reports.quarterly import quarterly
        from payoutwatch.reports.render import render

        try:
            with engine.connect() as conn:
                figures = quarterly(conn, quarter, settings)
        except ValueError as exc:
            return HTMLResponse(str(exc), status_code=422)
        charts = {
            n: "data:image/png;base64," + base64.b64encode(png).decode() for n, png in quarterly_charts(figures).items()
        }
        return HTMLResponse(render("quarterly", figures, "html", charts))

    @pages.get("/reports/backtest", response_class=HTMLResponse)
    def backtest_page(
        request: Request,
        start: str = Query(alias="from"),
        to: str = Query(),
        step: str = "1h",
        overrides: str = Query("", alias="set"),
    ) -> Response:
        who = gate(request)
        if not isinstance(who, Person):
            return who
        from payoutwatch.config import ConfigError
        from payoutwatch.notify.silences import parse_duration
        from payoutwatch.usecases.backtest import actual, compare, replay, steps, with_overrides

        try:
            begin, end = parse_instant(_with_zone(start)), parse_instant(_with_zone(to))
            every = parse_duration(step)
            if len(steps(begin, end, every)) > MAX_WEB_STEPS:
                raise ValueError(f"at most {MAX_WEB_STEPS} steps here; use a larger step or the CLI")
            tuned = with_overrides(settings, [o.strip() for o in overrides.splitlines() if o.strip()])
            replayed = replay(engine, tuned, start=begin, end=end, step=every)
        except (ConfigError, ValueError) as exc:
            return HTMLResponse(f"<p>{escape(str(exc))}</p><p><a href='/reports'>back</a></p>", status_code=422)
        diff = compare(replayed, actual(engine, start=begin, end=end))
        return page(
            request,
            "backtest.html",
            who,
            rows=[r.as_json() for r in replayed],
            diff=diff,
            start=iso(begin),
            end=iso(end),
            step=step,
            overrides=overrides,
            title="Back-test",
        )

    return pages


MAX_WEB_STEPS = 5000


def _with_zone(text: str) -> str:
    """``datetime-local`` inputs carry no zone: the pages speak UTC."""
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _cycle_bars(
    cycles: list[dict[str, Any]], field: str, scale: float = 1.0, unit: str = "", highlight: int | None = None
) -> str:
    return svg.bars(
        [(c["scheduled_for"][5:10], (c[field] or 0) / scale) for c in cycles], unit=unit, highlight=highlight
    )


def _projection_chart(p: dict[str, Any]) -> str:
    start = datetime.fromisoformat(p["history"][0]["as_of"].replace("Z", "+00:00"))

    def days(text: str) -> float:
        return (datetime.fromisoformat(text.replace("Z", "+00:00")) - start).total_seconds() / 86400

    return svg.projection(
        [(days(h["as_of"]), h["balance_cents"] / 100) for h in p["history"]],
        (days(p["projected_at"]), p["projected_balance_cents"] / 100),
        p["threshold_cents"] / 100,
    )


def _charts(name: str, f: dict[str, Any]) -> dict[str, str]:
    if name == "payout_health":
        cycles = list(reversed(f["cycles"][:13]))
        return {
            "cad": _cycle_bars(cycles, "cad_processed_cents", 100, " CAD", highlight=len(cycles) - 1),
            "duration": _cycle_bars(cycles, "longest_run_s", 60, " min"),
            "retries": _cycle_bars(cycles, "retry_count"),
            "errors": _cycle_bars(cycles, "error_count"),
        }
    if name == "fallback_activity":
        buckets = f["detection_to_completion"]["histogram_hours"]
        return {"distribution": svg.bars([(b["bucket"], float(b["count"])) for b in buckets])}
    if name == "credentials":
        return {
            "timeline": svg.timeline(
                [(c["name"], c["days_left"], c["stage"]) for c in f["credentials"] if c["days_left"] is not None]
            )
        }
    if name == "reserves":
        near = f["near_threshold"][:20]
        charts = {"near": svg.bars([(n["account_id"], n["buffer_pct"]) for n in near], unit=" % buffer")}
        for p in f["projected_breaches"]:
            if p.get("history") and p["projected_at"]:
                charts[f"projection:{p['account_id']}"] = _projection_chart(p)
        return charts
    return {}
