"""Figures and reports: ``dashboard``, ``report weekly|quarterly|reserve-review|access-review|incident|
reconciliation`` and ``reconcile sign-off``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, NoReturn

import typer

from payoutwatch.cli.app import app
from payoutwatch.cli.invocation import Invocation, invocation
from payoutwatch.cli.progress import progress_bar
from payoutwatch.cli.render import Wide

report_app = typer.Typer(no_args_is_help=True, help="Reports for the review cadence.")
app.add_typer(report_app, name="report")
reconcile_app = typer.Typer(no_args_is_help=True, help="Finance's reconciliation sign-off.")
app.add_typer(reconcile_app, name="reconcile")


@app.command()
def dashboard(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="payout_health, fallback_activity, reserves or credentials")],
    at: Annotated[str | None, typer.Option(help="As of this instant (ISO 8601); default now.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    wide: Wide = False,
) -> None:
    """Show a dashboard's figures as of an instant."""
    from payoutwatch.cli.render import render_dashboard
    from payoutwatch.metrics import DASHBOARD_NAMES, compute

    inv = invocation(ctx, wide=wide)
    if name not in DASHBOARD_NAMES:
        inv.fail(f"unknown dashboard {name!r}; expected one of: {', '.join(DASHBOARD_NAMES)}", code=2)
    engine = inv.reader
    with engine.connect() as conn:
        figures = compute(name, conn, inv.instant(at), inv.settings)
    if json_output:
        inv.terminal.json(figures)
    else:
        render_dashboard(name, figures, inv.terminal.out, inv.settings.currency, inv.terminal.zone)


def _check_format(inv: Invocation, fmt: str, allowed: tuple[str, ...]) -> None:
    if fmt not in allowed:
        inv.fail(f"--format is {', '.join(allowed[:-1])} or {allowed[-1]}", code=2)


def _emit(inv: Invocation, text: str, out_file: str | None) -> None:
    """A rendered report to ``--out`` (saying where) or to standard output."""
    from payoutwatch.reports.files import write_report

    if out_file:
        try:
            write_report(text, out_file)
        except OSError as exc:
            _cannot_write(inv, out_file, exc)
        inv.terminal.say(f"wrote {out_file}")
    else:
        inv.terminal.write(text)


def _cannot_write(inv: Invocation, path: str, exc: OSError) -> NoReturn:
    """A report that cannot be written (missing folder, no permission, a folder in the way): one line, exit 2."""
    inv.fail(f"--out {path}: cannot write there: {exc.strerror or type(exc).__name__}", code=2)


@report_app.command("weekly")
def report_weekly(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option(help="As of this instant; default now.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json")] = "md",
    send: Annotated[bool, typer.Option("--send", help="Send to reports.weekly.channels.")] = False,
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The weekly stand-up snapshot: runs, open alerts, fallbacks, reserves, credentials due."""
    from payoutwatch.reports.render import FORMATS, render
    from payoutwatch.reports.scheduled import send_weekly
    from payoutwatch.reports.weekly import weekly

    inv = invocation(ctx)
    if fmt not in FORMATS:
        inv.fail(f"--format is one of {', '.join(FORMATS)}", code=2)
    engine, when = (inv.engine if send else inv.reader), inv.instant(at)
    if send:
        channels = inv.settings.reports.weekly.channels
        if not channels:
            inv.fail("reports.weekly.channels is empty: nowhere to send the report", code=2)
        errors = send_weekly(engine, inv.settings, at=when)
        for line in errors:
            inv.terminal.warn(line)
        if errors:
            raise typer.Exit(1)
        inv.terminal.say(f"sent to {', '.join(channels)}")
        return
    with engine.connect() as conn:
        _emit(inv, render("weekly", weekly(conn, when, inv.settings), fmt, zone=inv.settings.display_tz), out_file)


@report_app.command("quarterly")
def report_quarterly(
    ctx: typer.Context,
    quarter: Annotated[str, typer.Option(help="A calendar quarter in the schedule's timezone, e.g. 2026Q1.")],
    fmt: Annotated[str, typer.Option("--format", help="html, md or json")] = "html",
    out_dir: Annotated[
        str | None, typer.Option("--out", help="Write the report and its charts to this folder.")
    ] = None,
) -> None:
    """The fallback deep dive: per month and reason, CAD and ratio, timing, failures, quarter over quarter."""
    from payoutwatch.reports.files import quarterly_document, write_quarterly
    from payoutwatch.reports.quarterly import quarterly

    inv = invocation(ctx)
    _check_format(inv, fmt, ("html", "md", "json"))
    with progress_bar(inv.terminal.err, f"report quarterly {quarter}: figures, then charts", 2) as advance:
        try:
            with inv.reader.connect() as conn:
                figures = quarterly(conn, quarter, inv.settings, now=inv.now())
        except ValueError as exc:
            inv.fail(str(exc), code=2)
        advance(1)
        if out_dir:
            try:
                document = f"wrote {write_quarterly(figures, fmt, out_dir, zone=inv.settings.display_tz)}\n"
            except OSError as exc:
                _cannot_write(inv, out_dir, exc)
        else:
            document = quarterly_document(figures, fmt, zone=inv.settings.display_tz)
        advance(1)
    inv.terminal.write(document)  # the report, or where it was written


@report_app.command("reserve-review")
def report_reserve_review(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option(help="End of the period; default now.")] = None,
    days: Annotated[float, typer.Option(help="Length of the period in days.")] = 7,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
) -> None:
    """Finance's weekly list of reserve_breach episodes with their review marks."""
    from payoutwatch.reports.render import render
    from payoutwatch.reports.reserve_review import reserve_review

    inv = invocation(ctx)
    _check_format(inv, fmt, ("md", "json"))
    with inv.reader.connect() as conn:
        inv.terminal.write(
            render("reserve_review", reserve_review(conn, inv.instant(at), days), fmt, zone=inv.settings.display_tz)
        )


@report_app.command("access-review")
def report_access_review(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option(help="As of this instant; default now.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
) -> None:
    """Security's review: API tokens with role, age and last use; credentials' rotation schedule and owners."""
    from payoutwatch.reports.access_review import access_review
    from payoutwatch.reports.render import render

    inv = invocation(ctx)
    _check_format(inv, fmt, ("md", "json"))
    with inv.reader.connect() as conn:
        inv.terminal.write(
            render(
                "access_review", access_review(conn, inv.instant(at), inv.settings), fmt, zone=inv.settings.display_tz
            )
        )


@report_app.command("incident")
def report_incident(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="Start instant (ISO 8601).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End instant (ISO 8601); default now.")] = None,
    last: Annotated[
        str | None, typer.Option("--last", help="Instead of --from: this long before --to, e.g. 7d.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """A timeline for the retrospective: runs, alerts, notifications, people's actions, config changes."""
    from payoutwatch.reports.incident import incident
    from payoutwatch.reports.render import render

    inv = invocation(ctx)
    _check_format(inv, fmt, ("md", "json"))
    start, end = inv.window(from_, to, last)
    with inv.reader.connect() as conn:
        zone = inv.settings.display_tz if fmt == "md" else None  # JSON keeps ISO UTC
        figures = incident(conn, start, end, zone)
    _emit(inv, render("incident", figures, fmt, zone=inv.settings.display_tz), out_file)


@report_app.command("reconciliation")
def report_reconciliation(
    ctx: typer.Context,
    cycle: Annotated[str, typer.Option(help=CYCLE_HELP)],
    fmt: Annotated[str, typer.Option("--format", help="md, csv or json")] = "md",
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Ledger payouts against PSP transfers for one cycle: matched, missing, mismatched, reversed, orphans."""
    from payoutwatch.metrics.reconciliation import reconciliation
    from payoutwatch.reports.reconciliation import to_csv
    from payoutwatch.reports.render import render

    inv = invocation(ctx)
    _check_format(inv, fmt, ("md", "csv", "json"))
    when = _cycle(inv, cycle)
    with inv.reader.connect() as conn:
        figures = reconciliation(conn, when, inv.settings)
    _emit(
        inv,
        to_csv(figures) if fmt == "csv" else render("reconciliation", figures, fmt, zone=inv.settings.display_tz),
        out_file,
    )


@reconcile_app.command("sign-off")
def reconcile_sign_off(
    ctx: typer.Context,
    cycle: Annotated[str, typer.Option(help=CYCLE_HELP)],
    comment: Annotated[str | None, typer.Option(help="What was checked or accepted.")] = None,
) -> None:
    """Record that Finance reconciled the cycle (with the figures signed), audited."""
    from payoutwatch.usecases.alert_actions import sign_off_cycle

    inv = invocation(ctx)
    when, who = _cycle(inv, cycle), inv.actor()
    try:
        figures = sign_off_cycle(inv.engine, inv.settings, when, actor=who, now=inv.now(), comment=comment)
    except ValueError as exc:
        inv.fail(str(exc))
    cycle_shown = inv.terminal.when(when, minutes=True)
    inv.terminal.say(f"cycle {cycle_shown} signed off by {who}; difference {figures['difference_cents']} cents")


CYCLE_HELP = "The cycle's date in the schedule's timezone (e.g. 2026-03-05), or latest, or previous."


def _cycle(inv: Invocation, value: str) -> datetime:
    """``--cycle``: a date with a scheduled run, or ``latest`` / ``previous`` (the last two cycles up to now)."""
    from payoutwatch.metrics.reconciliation import cycle_on
    from payoutwatch.schedule import schedule_of

    if value in ("latest", "previous"):
        recent = schedule_of(inv.settings).latest_at_or_before(inv.now(), 2)
        wanted = 0 if value == "latest" else 1
        if len(recent) <= wanted:
            inv.fail(f"--cycle {value}: no {value} cycle yet (schedule.start is {inv.settings.schedule.start})", code=2)
        return recent[wanted]
    try:
        return cycle_on(date.fromisoformat(value), inv.settings)
    except ValueError as exc:
        inv.fail(f"--cycle {value!r}: {exc}", code=2)
