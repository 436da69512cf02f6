"""The ``payoutwatch`` command: one thin function per command (DESIGN §7)."""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console

from payoutwatch.clock import SystemClock, iso
from payoutwatch.config import ConfigError, Settings, load_settings, redacted

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="payoutwatch: one trustworthy view of automated studio payouts.",
)
silence_app = typer.Typer(no_args_is_help=True, help="Silences: suppress delivery (never recording).")
config_app = typer.Typer(no_args_is_help=True, help="Validate or show the configuration.")
app.add_typer(silence_app, name="silence")
app.add_typer(config_app, name="config")

out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)
clock = SystemClock()


@dataclass
class State:
    config: str | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                fail(str(exc), code=2)
        return self._settings

    def engine(self) -> Any:
        from payoutwatch.config import config_path
        from payoutwatch.store.config_versions import record_config
        from payoutwatch.store.engine import open_store

        url = self.settings.store.url
        try:
            engine = open_store(url)
            record_config(
                engine, self.settings, origin=str(config_path(self.config) or "embedded default"), now=clock.now()
            )
            return engine
        except Exception as exc:  # a store that cannot be opened is an operator problem, not a bug
            fail(f"cannot open the store {url.split('@')[-1]}: {type(exc).__name__}: {exc}", code=2)


state = State()


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def actor() -> str:
    return os.environ.get("PAYOUTWATCH_USER") or getpass.getuser()


def instant(value: str | None, option_name: str = "--at") -> datetime:
    from payoutwatch.usecases.instants import InstantError, instant_or_now

    try:
        return instant_or_now(value, option_name=option_name, now=clock.now())
    except InstantError as exc:
        fail(str(exc), code=2)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def _show(title: str, rows: list[dict[str, Any]], json_output: bool, *, empty: str) -> None:
    """A listing as ``{title: rows}`` JSON, or a table, or a line saying there is nothing."""
    if json_output:
        print_json({title: rows})
    elif rows:
        from payoutwatch.terminal import render_rows

        render_rows(title, rows, out)
    else:
        out.print(empty)


@app.callback()
def main_options(
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", help="YAML config file (default ./payoutwatch.yaml or $PAYOUTWATCH_CONFIG)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    state.config = config
    state._settings = None


@app.command()
def ingest(
    kind: Annotated[
        str,
        typer.Argument(help="job_runs, scheduled_payouts, reserve_snapshots, manual_payouts, transfers or credentials"),
    ],
    file: Annotated[str, typer.Argument(help="JSON Lines or a JSON array; '-' reads stdin")],
) -> None:
    """Store records (an idempotent upsert); a batch with any bad record is refused whole."""
    from payoutwatch.records import RECORD_TYPES, BatchRejected, unknown_kind_message
    from payoutwatch.usecases.ingestion import ingest_text

    if kind not in RECORD_TYPES:
        fail(unknown_kind_message(kind), code=2)
    try:
        text = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()  # decoded per line
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", code=2)
    try:
        result = ingest_text(state.engine(), kind, text, state.settings, now=clock.now(), actor=actor())
    except BatchRejected as exc:
        for problem in exc.errors:
            err.print(f"{file}: {problem}", highlight=False, markup=False)
        fail(f"{len(exc.errors)} problem(s) in {kind} batch; nothing was written")
    out.print(f"stored {result.stored} {kind} record(s)")


@app.command()
def evaluate(
    at: Annotated[str | None, typer.Option(help="Evaluate as of this instant (ISO 8601); default now.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print transitions as JSON.")] = False,
) -> None:
    """Evaluate every rule at AT, record transitions, then deliver due notifications."""
    from payoutwatch.usecases.evaluation import deliver as deliver_notifications
    from payoutwatch.usecases.evaluation import evaluate as run_evaluation

    engine = state.engine()
    when = instant(at)
    transitions = run_evaluation(engine, state.settings, at=when, now=clock.now())
    report, raised = deliver_notifications(engine, state.settings, now=clock.now)
    rows = [
        {
            "key": t.key,
            "rule": t.rule,
            "action": t.action.value,
            "event": t.event.value if t.event else None,
            "stage": t.stage,
            "at": iso(t.at),
            "summary": t.summary,
        }
        for t in transitions + raised
    ]
    if json_output:
        print_json(
            {
                "at": iso(when),
                "transitions": rows,
                "delivered": report.sent,
                "failed": report.failed,
                "retrying": report.retrying,
            }
        )
        return
    if not rows:
        out.print(f"{iso(when)}: no transitions")
    for r in rows:
        out.print(
            f"{r['at']} {r['action']:<18} {r['key']}  {r['event'] or ''} {r['stage'] or ''}".rstrip(),
            highlight=False,
        )
    _print_delivery(report)


def _print_delivery(report: Any) -> None:
    out.print(
        f"notifications: {report.sent} sent, {report.retrying} retrying, {report.failed} failed",
        highlight=False,
    )
    for line in report.errors:
        err.print(f"  {line}", highlight=False, markup=False)


@app.command()
def deliver(
    retry_now: Annotated[bool, typer.Option("--retry-now", help="Ignore backoff: try every pending row now.")] = False,
) -> None:
    """Deliver due notifications from the outbox."""
    from payoutwatch.usecases.evaluation import deliver as deliver_notifications

    report, _ = deliver_notifications(state.engine(), state.settings, now=clock.now, retry_now=retry_now)
    _print_delivery(report)


@app.command()
def dashboard(
    name: Annotated[str, typer.Argument(help="payout_health, fallback_activity, reserves or credentials")],
    at: Annotated[str | None, typer.Option(help="As of this instant (ISO 8601); default now.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """Show a dashboard's figures as of an instant."""
    from payoutwatch.metrics import DASHBOARD_NAMES, compute
    from payoutwatch.terminal import render_dashboard

    if name not in DASHBOARD_NAMES:
        fail(f"unknown dashboard {name!r}; expected one of: {', '.join(DASHBOARD_NAMES)}", code=2)
    engine = state.engine()
    with engine.connect() as conn:
        figures = compute(name, conn, instant(at), state.settings)
    if json_output:
        print_json(figures)
    else:
        render_dashboard(name, figures, out, state.settings.currency)


@app.command()
def alerts(
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    all_alerts: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
) -> None:
    """Open (or all) alerts."""
    from sqlalchemy import select

    from payoutwatch.store.tables import alerts as alerts_table
    from payoutwatch.usecases.alert_queries import alert_json

    q = select(alerts_table).order_by(alerts_table.c.started_at.desc(), alerts_table.c.id.desc())
    if not all_alerts:
        q = q.where(alerts_table.c.state == "firing")
    with state.engine().connect() as conn:
        rows = [alert_json(r) for r in conn.execute(q)]
    if json_output:
        print_json({"alerts": rows})
        return
    if not rows:
        out.print("no alerts" if all_alerts else "no open alerts")
        return
    from payoutwatch.terminal import render_rows

    render_rows(
        "alerts",
        [
            {
                k: r[k]
                for k in (
                    "key",
                    "state",
                    "stage",
                    "severity",
                    "owner",
                    "started_at",
                    "resolved_at",
                    "acked_by",
                )
            }
            for r in rows
        ],
        out,
    )


def _person_action(key: str, comment: str | None, action: str) -> None:
    from payoutwatch.rules.engine import AlertNotFound
    from payoutwatch.usecases.alert_actions import act_on_alert
    from payoutwatch.vocabulary import AlertAction

    engine, who = state.engine(), actor()
    try:
        act_on_alert(engine, state.settings, key, AlertAction(action), actor=who, now=clock.now(), comment=comment)
    except AlertNotFound as exc:
        fail(str(exc))
    if action == "resolve":
        from payoutwatch.usecases.evaluation import deliver as deliver_notifications

        report, _ = deliver_notifications(engine, state.settings, now=clock.now)
        _print_delivery(report)
    out.print(f"{'acknowledged' if action == 'ack' else 'resolved'} {key} as {who}", highlight=False)


@app.command()
def ack(key: str, comment: Annotated[str | None, typer.Option(help="Why.")] = None) -> None:
    """Acknowledge an alert (recorded with who and when; sends nothing; escalation goes on)."""
    _person_action(key, comment, "ack")


@app.command()
def resolve(key: str, comment: Annotated[str | None, typer.Option(help="Why.")] = None) -> None:
    """Resolve an alert by hand; it stays closed while the same finding persists."""
    _person_action(key, comment, "resolve")


@silence_app.command("add")
def silence_add(
    comment: Annotated[str, typer.Option(help="Why (required).")],
    rule: Annotated[str | None, typer.Option(help="Rule id (glob).")] = None,
    key: Annotated[str | None, typer.Option(help="Alert key (glob).")] = None,
    owner: Annotated[str | None, typer.Option(help="Owning team (glob).")] = None,
    start: Annotated[str | None, typer.Option(help="Start instant; default now.")] = None,
    end: Annotated[str | None, typer.Option(help="End instant; default start + --hours.")] = None,
    hours: Annotated[float, typer.Option(help="Length in hours when neither --end nor --duration is given.")] = 2.0,
    duration: Annotated[str | None, typer.Option(help="Length such as 90m, 4h or 2d (instead of --end).")] = None,
    author: Annotated[str | None, typer.Option(help="Who; default $PAYOUTWATCH_USER or the login name.")] = None,
) -> None:
    """Add a silence: matching notifications are recorded but not delivered."""
    from payoutwatch.notify.silences import Matcher
    from payoutwatch.usecases.alert_actions import SilenceRejected, add_silence, silence_length

    try:
        added = add_silence(
            state.engine(),
            Matcher(rule, key, owner),
            comment=comment,
            author=author or actor(),
            now=clock.now(),
            starts_at=instant(start, "--start") if start else None,
            ends_at=instant(end, "--end") if end else None,
            length=silence_length(hours=hours, duration=duration),
        )
    except SilenceRejected as exc:
        fail(str(exc), code=2)
    out.print(f"silence {added.id} active {iso(added.starts_at)} → {iso(added.ends_at)}", highlight=False)


@silence_app.command("list")
def silence_list(
    all_silences: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List silences."""
    from payoutwatch.notify.silences import list_silences
    from payoutwatch.usecases.alert_queries import silence_json

    with state.engine().connect() as conn:
        rows = [silence_json(r) for r in list_silences(conn, now=clock.now(), include_expired=all_silences)]
    _show("silences", rows, json_output, empty="no silences")


@silence_app.command("expire")
def silence_expire(silence_id: int) -> None:
    """End a silence now."""
    from payoutwatch.notify.silences import expire_silence
    from payoutwatch.store.audit import audit

    now = clock.now()
    with state.engine().begin() as conn:
        if not expire_silence(conn, silence_id, now=now):
            fail(f"no active silence {silence_id}")
        audit(conn, actor=actor(), action="silence_expire", target=str(silence_id), now=now)
    out.print(f"silence {silence_id} expired")


@app.command()
def notifications(
    failed: Annotated[bool, typer.Option("--failed", help="Only rows that gave up.")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(help="Most recent N rows.")] = 50,
) -> None:
    """Outbox rows: channel, event, state, attempts and last error."""
    from payoutwatch.notify.outbox import list_notifications
    from payoutwatch.usecases.alert_queries import notification_json

    with state.engine().connect() as conn:
        rows = [notification_json(r) for r in list_notifications(conn, failed_only=failed, limit=limit)]
    _show("notifications", rows, json_output, empty="no notifications")


@app.command()
def ping(
    job: Annotated[str, typer.Argument(help="The job's name (job_runs.job), e.g. payouts.")],
    args: Annotated[list[str] | None, typer.Argument(help="start | success | fail, or -- COMMAND ARGS...")] = None,
    run_id: Annotated[str | None, typer.Option(help="The run this ping belongs to.")] = None,
    exit_code: Annotated[int | None, typer.Option(help="With success/fail: the job's exit code.")] = None,
    figures: Annotated[str | None, typer.Option(help='JSON such as {"studios_processed": 120}.')] = None,
) -> None:
    """Report a job's start/success/fail, or run a command and report it (its exit code passes through)."""
    from payoutwatch.usecases.pings import PingEvent

    words = args or []
    if len(words) == 1 and words[0] in {e.value for e in PingEvent}:
        try:
            reported = json.loads(figures) if figures else None
        except json.JSONDecodeError as exc:
            fail(f"--figures is not JSON: {exc.msg}", code=2)
        run = _ping(job, PingEvent(words[0]), run_id=run_id, exit_code=exit_code, figures=reported)
        if run is None:
            raise typer.Exit(1)
        out.print(f"{words[0]} recorded for {job} run {run}", highlight=False)
        return
    if not words:
        fail("give start, success or fail, or a command after --", code=2)
    raise typer.Exit(_run_monitored(job, words, run_id))


def _ping(job: str, event: Any, **kwargs: Any) -> str | None:
    """Record a ping; a failure to record is reported, never raised (monitoring must not stop the job)."""
    from payoutwatch.records import BatchRejected
    from payoutwatch.usecases.pings import record_ping

    try:
        return record_ping(state.engine(), state.settings, job, event, now=clock.now(), **kwargs)
    except (BatchRejected, ValueError) as exc:
        detail = "; ".join(str(e) for e in exc.errors) if isinstance(exc, BatchRejected) else str(exc)
        err.print(f"payoutwatch: ping not recorded: {detail}", highlight=False, markup=False)
    except (typer.Exit, Exception) as exc:  # store down, config broken: the job still runs
        err.print(f"payoutwatch: ping not recorded ({type(exc).__name__})", highlight=False, markup=False)
    return None


def _run_monitored(job: str, command: list[str], run_id: str | None) -> int:
    from payoutwatch.usecases.pings import run_monitored

    def ping(event: Any, *, run_id: str | None, exit_code: int | None = None, figures: Any = None) -> str | None:
        return _ping(job, event, run_id=run_id, exit_code=exit_code, figures=figures)

    def warn(message: str) -> None:
        err.print(message, highlight=False, markup=False)

    return run_monitored(command, run_id=run_id, ping=ping, warn=warn)


report_app = typer.Typer(no_args_is_help=True, help="Reports for the review cadence.")
app.add_typer(report_app, name="report")


def _write(text: str, out_file: str | None) -> None:
    if out_file:
        Path(out_file).write_text(text)
        out.print(f"wrote {out_file}")
    else:
        sys.stdout.write(text)


@report_app.command("weekly")
def report_weekly(
    at: Annotated[str | None, typer.Option(help="As of this instant; default now.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, html or json")] = "md",
    send: Annotated[bool, typer.Option("--send", help="Send to reports.weekly.channels.")] = False,
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """The weekly stand-up snapshot: runs, open alerts, fallbacks, reserves, credentials due."""
    from payoutwatch.reports.render import FORMATS, render
    from payoutwatch.reports.scheduled import send_weekly
    from payoutwatch.reports.weekly import weekly

    if fmt not in FORMATS:
        fail(f"--format is one of {', '.join(FORMATS)}", code=2)
    engine, when = state.engine(), instant(at)
    if send:
        if not state.settings.reports.weekly.channels:
            fail("reports.weekly.channels is empty: nowhere to send the report", code=2)
        errors = send_weekly(engine, state.settings, at=when)
        for line in errors:
            err.print(line, highlight=False, markup=False)
        if errors:
            raise typer.Exit(1)
        out.print(f"sent to {', '.join(state.settings.reports.weekly.channels)}")
        return
    with engine.connect() as conn:
        _write(render("weekly", weekly(conn, when, state.settings), fmt), out_file)


def _cycle(value: str) -> datetime:
    from datetime import date

    from payoutwatch.reports.reconciliation import cycle_on

    try:
        return cycle_on(date.fromisoformat(value), state.settings)
    except ValueError as exc:
        fail(f"--cycle {value!r}: {exc}", code=2)


@report_app.command("quarterly")
def report_quarterly(
    quarter: Annotated[str, typer.Option(help="A calendar quarter in the schedule's timezone, e.g. 2026Q1.")],
    fmt: Annotated[str, typer.Option("--format", help="html, md or json")] = "html",
    out_dir: Annotated[
        str | None, typer.Option("--out", help="Write the report and its charts to this folder.")
    ] = None,
) -> None:
    """The fallback deep dive: per month and reason, CAD and ratio, timing, failures, quarter over quarter."""
    import base64

    from payoutwatch.reports.charts import quarterly_charts
    from payoutwatch.reports.quarterly import quarterly
    from payoutwatch.reports.render import render

    if fmt not in ("html", "md", "json"):
        fail("--format is html, md or json", code=2)
    try:
        with state.engine().connect() as conn:
            figures = quarterly(conn, quarter, state.settings)
    except ValueError as exc:
        fail(str(exc), code=2)
    charts = quarterly_charts(figures) if fmt != "json" else {}
    if out_dir:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for name, png in charts.items():
            (folder / name).write_bytes(png)
        where = {name: name for name in charts}
        _write(render("quarterly", figures, fmt, where), str(folder / f"quarterly-{figures['quarter']}.{fmt}"))
        return
    embedded = {name: "data:image/png;base64," + base64.b64encode(png).decode() for name, png in charts.items()}
    _write(render("quarterly", figures, fmt, embedded if fmt == "html" else {}), None)


@report_app.command("reserve-review")
def report_reserve_review(
    at: Annotated[str | None, typer.Option(help="End of the period; default now.")] = None,
    days: Annotated[float, typer.Option(help="Length of the period in days.")] = 7,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
) -> None:
    """Finance's weekly list of reserve_breach episodes with their review marks."""
    from payoutwatch.reports.render import render
    from payoutwatch.reports.reserve_review import reserve_review

    if fmt not in ("md", "json"):
        fail("--format is md or json", code=2)
    with state.engine().connect() as conn:
        _write(render("reserve_review", reserve_review(conn, instant(at), days), fmt), None)


@app.command()
def review(key: str, note: Annotated[str | None, typer.Option(help="What was checked or decided.")] = None) -> None:
    """Mark the latest episode of an alert as reviewed (Finance's reserve review), audited."""
    from payoutwatch.usecases.alert_actions import review_alert

    who = actor()
    try:
        review_alert(state.engine(), key, actor=who, now=clock.now(), note=note)
    except LookupError as exc:
        fail(str(exc))
    out.print(f"reviewed {key} as {who}", highlight=False)


@report_app.command("access-review")
def report_access_review(
    at: Annotated[str | None, typer.Option(help="As of this instant; default now.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
) -> None:
    """Security's review: API tokens with role, age and last use; credentials' rotation schedule and owners."""
    from payoutwatch.reports.access_review import access_review
    from payoutwatch.reports.render import render

    if fmt not in ("md", "json"):
        fail("--format is md or json", code=2)
    with state.engine().connect() as conn:
        _write(render("access_review", access_review(conn, instant(at), state.settings), fmt), None)


@report_app.command("incident")
def report_incident(
    from_: Annotated[str, typer.Option("--from", help="Start instant (ISO 8601).")],
    to: Annotated[str, typer.Option("--to", help="End instant (ISO 8601).")],
    fmt: Annotated[str, typer.Option("--format", help="md or json")] = "md",
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """A timeline for the retrospective: runs, alerts, notifications, people's actions, config changes."""
    from payoutwatch.reports.incident import incident
    from payoutwatch.reports.render import render

    if fmt not in ("md", "json"):
        fail("--format is md or json", code=2)
    with state.engine().connect() as conn:
        _write(render("incident", incident(conn, instant(from_), instant(to)), fmt), out_file)


@report_app.command("reconciliation")
def report_reconciliation(
    cycle: Annotated[str, typer.Option(help="The cycle's date in the schedule's timezone, e.g. 2026-03-05.")],
    fmt: Annotated[str, typer.Option("--format", help="md, csv or json")] = "md",
    out_file: Annotated[str | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Ledger payouts against PSP transfers for one cycle: matched, missing, mismatched, reversed, orphans."""
    from payoutwatch.reports.reconciliation import reconciliation, to_csv
    from payoutwatch.reports.render import render

    if fmt not in ("md", "csv", "json"):
        fail("--format is md, csv or json", code=2)
    when = _cycle(cycle)
    with state.engine().connect() as conn:
        figures = reconciliation(conn, when, state.settings)
    _write(to_csv(figures) if fmt == "csv" else render("reconciliation", figures, fmt), out_file)


reconcile_app = typer.Typer(no_args_is_help=True, help="Finance's reconciliation sign-off.")
app.add_typer(reconcile_app, name="reconcile")


@reconcile_app.command("sign-off")
def reconcile_sign_off(
    cycle: Annotated[str, typer.Option(help="The cycle's date in the schedule's timezone.")],
    comment: Annotated[str | None, typer.Option(help="What was checked or accepted.")] = None,
) -> None:
    """Record that Finance reconciled the cycle (with the figures signed), audited."""
    from payoutwatch.usecases.alert_actions import sign_off_cycle

    when, who = _cycle(cycle), actor()
    try:
        figures = sign_off_cycle(state.engine(), state.settings, when, actor=who, now=clock.now(), comment=comment)
    except ValueError as exc:
        fail(str(exc))
    out.print(f"cycle {iso(when)} signed off by {who}; difference {figures['difference_cents']} cents", highlight=False)


token_app = typer.Typer(no_args_is_help=True, help="API tokens: shown once, stored hashed, revocable.")
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Option(help="Who or what uses it, e.g. airflow-pinger.")],
    role: Annotated[str, typer.Option(help="viewer, ops, finance, engineering, security, admin or ingest")],
) -> None:
    """Create a token; it is printed alone on the last line, once."""
    from payoutwatch.store.audit import audit
    from payoutwatch.usecases.tokens import create_token
    from payoutwatch.vocabulary import Role

    try:
        chosen = Role(role)
    except ValueError:
        fail(f"--role {role!r}: expected one of {', '.join(r.value for r in Role)}", code=2)
    now, who = clock.now(), actor()
    with state.engine().begin() as conn:
        token_id, token = create_token(conn, name=name, role=chosen, actor=who, now=now)
        audit(
            conn,
            actor=who,
            action="token_create",
            target=str(token_id),
            now=now,
            details={"name": name, "role": chosen.value},
        )
    out.print(f"token {token_id} for {name} ({chosen.value}); store it now, it is not shown again:", highlight=False)
    sys.stdout.write(token + "\n")


@token_app.command("list")
def token_list(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Tokens with role, age, last use and whether revoked (never the token)."""
    from payoutwatch.usecases.tokens import list_tokens

    now = clock.now()
    with state.engine().connect() as conn:
        rows = [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "created_at": iso(t.created_at),
                "created_by": t.created_by,
                "age_days": (now - t.created_at).days,
                "last_used_at": iso(t.last_used_at),
                "revoked_at": iso(t.revoked_at),
            }
            for t in list_tokens(conn)
        ]
    _show("tokens", rows, json_output, empty="no tokens")


@token_app.command("revoke")
def token_revoke(token_id: int) -> None:
    """Revoke a token at once."""
    from payoutwatch.store.audit import audit
    from payoutwatch.usecases.tokens import revoke_token

    now = clock.now()
    with state.engine().begin() as conn:
        if not revoke_token(conn, token_id, now=now):
            fail(f"no active token {token_id}")
        audit(conn, actor=actor(), action="token_revoke", target=str(token_id), now=now)
    out.print(f"token {token_id} revoked")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """The API and the background loop (sync, evaluate, deliver, scheduled reports) until interrupted."""
    import threading

    import uvicorn

    from payoutwatch.service import Heartbeat, run_loop
    from payoutwatch.web.app import create_app
    from payoutwatch.web.proxy import uvicorn_proxy_options

    engine, settings = state.engine(), state.settings
    heartbeat, stop = Heartbeat(), threading.Event()
    loop = threading.Thread(
        target=run_loop,
        args=(engine, settings),
        name="payoutwatch-loop",
        daemon=True,
        kwargs={"clock": clock.now, "stop": stop, "heartbeat": heartbeat},
    )
    loop.start()

    stopped: list[bool] = []

    def stop_loop() -> None:
        stop.set()
        loop.join(60)
        if not loop.is_alive() and not stopped:
            stopped.append(True)
            err.print("payoutwatch: background loop stopped", highlight=False)

    try:
        app_ = create_app(settings, engine, now=clock.now, heartbeat=heartbeat, on_shutdown=stop_loop)
        uvicorn.run(app_, host=host, port=port, log_level="info", **uvicorn_proxy_options(settings.web))
    finally:
        stop_loop()


@app.command()
def export(what: Annotated[str, typer.Argument(help="grafana or prometheus-rules")]) -> None:
    """Print a Grafana dashboard (JSON) or Prometheus alerting rules (YAML) over /metrics."""
    import yaml

    from payoutwatch.usecases.exports import grafana_dashboard, prometheus_rules

    if what == "grafana":
        print_json(grafana_dashboard(state.settings))
    elif what == "prometheus-rules":
        sys.stdout.write(yaml.safe_dump(prometheus_rules(state.settings), sort_keys=False))
    else:
        fail("export grafana or export prometheus-rules", code=2)


@app.command()
def backtest(
    from_: Annotated[str, typer.Option("--from", help="Start instant (ISO 8601).")],
    to: Annotated[str, typer.Option("--to", help="End instant (ISO 8601).")],
    step: Annotated[str, typer.Option(help="Evaluation step, e.g. 15m, 1h, 1d.")] = "1h",
    overrides: Annotated[list[str] | None, typer.Option("--set", help="rules.X.Y=V (repeatable).")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Replay every rule over history on scratch alert state; nothing is sent or changed."""
    from payoutwatch.config import ConfigError
    from payoutwatch.notify.silences import parse_duration
    from payoutwatch.usecases.backtest import actual, compare, replay, with_overrides

    if output not in ("table", "json"):
        fail("--format is table or json", code=2)
    try:
        settings = with_overrides(state.settings, overrides or [])
        start, end, every = instant(from_), instant(to), parse_duration(step)
        engine = state.engine()
        replayed = replay(engine, settings, start=start, end=end, step=every)
    except (ConfigError, ValueError) as exc:
        fail(str(exc), code=2)
    if output == "json":
        print_json([{k: v for k, v in r.as_json().items() if k != "stage"} for r in replayed])
        return
    from payoutwatch.terminal import render_rows

    if replayed:
        render_rows(f"backtest {iso(start)} → {iso(end)} every {step}", [r.as_json() for r in replayed], out)
    else:
        out.print("nothing would have fired")
    diff = compare(replayed, actual(engine, start=start, end=end))
    out.print(
        f"against what actually happened: {len(diff.both)} the same, {len(diff.only_backtest)} only in the "
        f"backtest, {len(diff.only_actual)} only in reality",
        highlight=False,
    )
    for key, event in diff.only_backtest:
        out.print(f"  + {event:<9} {key}", highlight=False)
    for key, event in diff.only_actual:
        out.print(f"  - {event:<9} {key}", highlight=False)


@app.command()
def sync(name: Annotated[str | None, typer.Argument(help="One configured source; default all.")] = None) -> None:
    """Pull configured sources once; exit 1 if any failed (the error is stored and shown)."""
    from payoutwatch.usecases.syncing import sync_all

    settings = state.settings
    if name is not None and name not in settings.sources:
        fail(f"no source named {name!r} under `sources` (configured: {', '.join(settings.sources) or 'none'})", 2)
    if not settings.sources:
        out.print("no sources configured (see `sources` in payoutwatch.example.yaml)")
        return
    results = sync_all(state.engine(), settings, now=clock.now, only=name)
    for r in results:
        counts = ", ".join(f"{n} {kind}" for kind, n in r.counts.items()) or "no records"
        if r.ok:
            out.print(f"{r.source}: ok, {counts} in {r.duration_s:.2f} s", highlight=False)
        else:
            err.print(f"{r.source}: FAILED after {r.duration_s:.2f} s: {r.error}", highlight=False, markup=False)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@app.command()
def sources(json_output: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Each source's sync state: last success, last error, counts, duration."""
    from payoutwatch.usecases.syncing import source_states

    settings = state.settings
    with state.engine().connect() as conn:
        known = {s.source: s for s in source_states(conn)}
    rows = []
    for name, config in settings.sources.items():
        s = known.get(name)
        rows.append(
            {
                "source": name,
                "type": config.type,
                "state": s.state if s else "never_synced",
                "last_success_at": iso(s.last_success_at) if s else None,
                "last_attempt_at": iso(s.last_attempt_at) if s else None,
                "last_error": s.last_error if s else None,
                "consecutive_failures": s.consecutive_failures if s else 0,
                "last_counts": s.last_counts if s else None,
                "last_duration_s": s.last_duration_s if s else None,
                "interval_minutes": config.interval_minutes,
                "max_staleness_minutes": config.staleness_minutes,
            }
        )
    _show("sources", rows, json_output, empty="no sources configured")


@config_app.command("check")
def config_check() -> None:
    """Validate the configuration (exit 2 with every problem named)."""
    settings = state.settings
    out.print(
        f"configuration is valid: {len(settings.channels)} channel(s), {len(settings.routes)} route(s), "
        f"store {settings.store.url.split('@')[-1]}",
        highlight=False,
    )


@config_app.command("show")
def config_show() -> None:
    """Print the effective configuration with secrets redacted."""
    import yaml

    sys.stdout.write(yaml.safe_dump(redacted(state.settings), sort_keys=False))


@app.command()
def demo(
    studios: Annotated[int, typer.Option(help="How many studios the sample platform has.")] = 300,
    serve_after: Annotated[bool, typer.Option("--serve", help="Then serve it at --host:--port.")] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --serve: port to listen on.")] = 8000,
) -> None:
    """Build a realistic sample platform in the store, evaluate it and show the dashboards."""
    from payoutwatch.demo import run_demo
    from payoutwatch.usecases.tokens import create_token
    from payoutwatch.vocabulary import Role

    engine = state.engine()
    run_demo(engine, state.settings, now=clock.now(), studios=studios, console=out)
    if serve_after:
        with engine.begin() as conn:
            _, token = create_token(conn, name="demo-admin", role=Role.ADMIN, actor="demo", now=clock.now())
        out.print(
            f"\n[bold]Open http://{host}:{port}/ and log in with this token:[/bold]\n{token}\n"
            "(or make your own: payoutwatch token create --name you --role viewer)",
            highlight=False,
        )
        serve(host=host, port=port)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
