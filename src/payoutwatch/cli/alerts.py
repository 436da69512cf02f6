"""Alerts and their notifications: ``evaluate``, ``deliver``, ``alerts``, ``ack``, ``resolve``, ``review``,
``silence add|list|expire``, ``notifications`` and ``backtest``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from payoutwatch.cli.app import app
from payoutwatch.cli.invocation import Invocation, invocation
from payoutwatch.cli.progress import progress_bar
from payoutwatch.cli.render import Wide
from payoutwatch.clock import iso
from payoutwatch.vocabulary import Action, AlertAction, AlertState, NotificationState

if TYPE_CHECKING:
    from payoutwatch.notify.outbox import DeliveryReport

silence_app = typer.Typer(no_args_is_help=True, help="Silences: suppress delivery (never recording).")
app.add_typer(silence_app, name="silence")

ALERT_COLUMNS = (
    "key",
    "rule",
    "state",
    "stage",
    "severity",
    "owner",
    "started_at",
    "resolved_at",
    "acked_by",
    "summary",
)


@app.command()
def evaluate(
    ctx: typer.Context,
    at: Annotated[
        str | None,
        typer.Option(help="As of this instant (ISO 8601; default now), never earlier than one already evaluated."),
    ] = None,
    allow_future: Annotated[
        bool, typer.Option("--allow-future", help="Allow --at more than 5 minutes ahead (rehearsal stores, tests).")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print transitions as JSON.")] = False,
) -> None:
    """Evaluate every rule at AT, record transitions, then deliver due notifications."""
    from payoutwatch.usecases.evaluation import EvaluationRefused
    from payoutwatch.usecases.evaluation import deliver as deliver_notifications
    from payoutwatch.usecases.evaluation import evaluate as run_evaluation

    inv = invocation(ctx)
    when = inv.instant(at, within_records=False)
    try:
        transitions = run_evaluation(
            inv.engine, inv.settings, at=when, now=inv.now(), guarded=at is not None, allow_future=allow_future
        )
    except EvaluationRefused as exc:
        inv.fail(str(exc), code=2)
    report, raised = deliver_notifications(inv.engine, inv.settings, now=inv.now)
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
        inv.terminal.json(
            {
                "at": iso(when),
                "transitions": rows,
                "delivered": report.sent,
                NotificationState.FAILED.value: report.failed,
                "retrying": report.retrying,
            }
        )
        return
    if not rows:
        inv.terminal.say(f"{inv.terminal.when(when)}: no transitions")
    for r in rows:
        inv.terminal.say(
            f"{inv.terminal.when(r['at'])} {r['action']:<18} {r['key']}  {r['event'] or ''} {r['stage'] or ''}".rstrip()
        )
    _print_delivery(inv, report)


@app.command()
def deliver(
    ctx: typer.Context,
    retry_now: Annotated[bool, typer.Option("--retry-now", help="Ignore backoff: try every pending row now.")] = False,
) -> None:
    """Deliver due notifications from the outbox."""
    from payoutwatch.usecases.evaluation import deliver as deliver_notifications

    inv = invocation(ctx)
    report, _ = deliver_notifications(inv.engine, inv.settings, now=inv.now, retry_now=retry_now)
    _print_delivery(inv, report)
    if report.gave_up:
        inv.fail(f"{len(report.gave_up)} notification(s) failed for good: " + "; ".join(report.gave_up))


def _print_delivery(inv: Invocation, report: DeliveryReport) -> None:
    suppressed = f", {report.suppressed} suppressed by a silence" if report.suppressed else ""
    inv.terminal.say(
        f"notifications: {report.sent} sent, {report.retrying} retrying, {report.failed} failed{suppressed}"
    )
    for line in report.errors:
        inv.terminal.warn(f"  {line}")


@app.command()
def alerts(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    all_alerts: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    wide: Wide = False,
) -> None:
    """Open (or all) alerts, each with its summary (why it fires)."""
    from payoutwatch.usecases.alert_queries import AlertFilter, list_alerts

    inv = invocation(ctx, wide=wide)
    rows = list_alerts(inv.reader, which=AlertFilter.ALL if all_alerts else AlertFilter.FIRING)
    if json_output:
        inv.terminal.json({"alerts": rows})
    elif rows:
        inv.terminal.rows("alerts", [{k: r[k] for k in ALERT_COLUMNS} for r in rows])
    else:
        inv.terminal.say("no alerts" if all_alerts else "no open alerts")


@app.command()
def ack(ctx: typer.Context, key: str, comment: Annotated[str | None, typer.Option(help="Why.")] = None) -> None:
    """Acknowledge an alert (recorded with who and when; sends nothing; escalation goes on)."""
    _person_action(invocation(ctx), key, comment, AlertAction.ACK)


@app.command()
def resolve(ctx: typer.Context, key: str, comment: Annotated[str | None, typer.Option(help="Why.")] = None) -> None:
    """Resolve an alert by hand; it stays closed while the same finding persists."""
    _person_action(invocation(ctx), key, comment, AlertAction.RESOLVE)


def _person_action(inv: Invocation, key: str, comment: str | None, chosen: AlertAction) -> None:
    from payoutwatch.rules.engine import AlertNotFound
    from payoutwatch.usecases.alert_actions import act_on_alert
    from payoutwatch.usecases.evaluation import deliver as deliver_notifications

    who = inv.actor()
    try:
        act_on_alert(inv.engine, inv.settings, key, chosen, actor=who, now=inv.now(), comment=comment)
    except AlertNotFound as exc:
        inv.fail(str(exc))
    if chosen is AlertAction.RESOLVE:  # the resolve notification goes out at once
        report, _ = deliver_notifications(inv.engine, inv.settings, now=inv.now)
        _print_delivery(inv, report)
    done = Action.ACKNOWLEDGED if chosen is AlertAction.ACK else AlertState.RESOLVED
    inv.terminal.say(f"{done} {key} as {who}")


@app.command()
def review(
    ctx: typer.Context,
    key: str,
    note: Annotated[str | None, typer.Option(help="What was checked or decided.")] = None,
) -> None:
    """Mark the latest episode of an alert as reviewed (Finance's reserve review), audited."""
    from payoutwatch.usecases.alert_actions import review_alert

    inv = invocation(ctx)
    who = inv.actor()
    try:
        review_alert(inv.engine, key, actor=who, now=inv.now(), note=note)
    except LookupError as exc:
        inv.fail(str(exc))
    inv.terminal.say(f"reviewed {key} as {who}")


@silence_app.command("add")
def silence_add(
    ctx: typer.Context,
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
    """Add a silence: matching notifications are recorded but not delivered (at most 90 days)."""
    from payoutwatch.notify.silences import Matcher
    from payoutwatch.usecases.alert_actions import SilenceRejected, add_silence, silence_length

    inv = invocation(ctx)
    starts_at = inv.instant(start, "--start") if start is not None else None
    ends_at = inv.instant(end, "--end") if end is not None else None
    try:
        added = add_silence(
            inv.engine,
            Matcher(rule, key, owner),
            comment=comment,
            author=author or inv.actor(),
            now=inv.now(),
            starts_at=starts_at,
            ends_at=ends_at,
            length=silence_length(hours=hours, duration=duration),
        )
    except SilenceRejected as exc:
        inv.fail(str(exc), code=2)
    inv.terminal.say(
        f"silence {added.id} active {inv.terminal.when(added.starts_at)} → {inv.terminal.when(added.ends_at)}"
    )


@silence_app.command("list")
def silence_list(
    ctx: typer.Context,
    all_silences: Annotated[bool, typer.Option("--all", help="Include expired silences.")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    wide: Wide = False,
) -> None:
    """List silences."""
    from payoutwatch.usecases.alert_queries import list_silences

    inv = invocation(ctx, wide=wide)
    rows = list_silences(inv.reader, now=inv.now(), include_expired=all_silences)
    inv.terminal.listing("silences", rows, json_output, empty="no silences")


@silence_app.command("expire")
def silence_expire(ctx: typer.Context, silence_id: int) -> None:
    """End a silence now."""
    from payoutwatch.usecases.alert_actions import SilenceNotFound, expire_silence

    inv = invocation(ctx)
    try:
        expire_silence(inv.engine, silence_id, actor=inv.actor(), now=inv.now())
    except SilenceNotFound as exc:
        inv.fail(str(exc))
    inv.terminal.say(f"silence {silence_id} expired")


@app.command()
def notifications(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only rows that gave up.")] = False,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    limit: Annotated[int, typer.Option(help="Most recent N rows.")] = 50,
    wide: Wide = False,
) -> None:
    """Outbox rows: channel, event, state, attempts and last error."""
    from payoutwatch.usecases.alert_queries import list_notifications

    inv = invocation(ctx, wide=wide)
    rows = list_notifications(inv.reader, failed_only=failed, limit=limit)
    inv.terminal.listing("notifications", rows, json_output, empty="no notifications")


@app.command()
def backtest(
    ctx: typer.Context,
    from_: Annotated[str | None, typer.Option("--from", help="Start instant (ISO 8601).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End instant (ISO 8601); default now.")] = None,
    last: Annotated[
        str | None, typer.Option("--last", help="Instead of --from: this long before --to, e.g. 30d.")
    ] = None,
    step: Annotated[str, typer.Option(help="Evaluation step, e.g. 15m, 1h, 1d.")] = "1h",
    overrides: Annotated[list[str] | None, typer.Option("--set", help="rules.X.Y=V (repeatable).")] = None,
    output: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Replay every rule over history on scratch alert state; nothing is sent or changed."""
    from payoutwatch.config import ConfigError
    from payoutwatch.notify.silences import parse_duration
    from payoutwatch.usecases.backtest import actual, against_current, compare, replay, steps, with_overrides

    inv = invocation(ctx)
    if output not in ("table", "json"):
        inv.fail("--format is table or json", code=2)
    start, end = inv.window(from_, to, last)
    try:
        settings = with_overrides(inv.settings, overrides or [])
        every = parse_duration(step)
        with progress_bar(inv.terminal.err, "backtest", len(steps(start, end, every))) as advance:
            replayed = replay(inv.reader, settings, start=start, end=end, step=every, on_step=advance)
    except (ConfigError, ValueError) as exc:
        inv.fail(str(exc), code=2)
    if output == "json":
        inv.terminal.json([{k: v for k, v in r.as_json().items() if k != "stage"} for r in replayed])
        return
    if replayed:
        title = f"backtest {inv.terminal.when(start)} → {inv.terminal.when(end)} every {step}"
        inv.terminal.rows(title, [r.as_json() for r in replayed])
    else:
        inv.terminal.say("nothing would have fired")
    if overrides:
        with progress_bar(inv.terminal.err, "current configuration", len(steps(start, end, every))) as advance:
            current = replay(inv.reader, inv.settings, start=start, end=end, step=every, on_step=advance)
        changes = against_current(current, replayed)
        inv.terminal.say(
            f"against the current configuration over the same window: with {', '.join(overrides)}, "
            + (
                f"{len(changes)} alert{'s' if len(changes) != 1 else ''} would change:"
                if changes
                else "the same alerts fire at the same instants"
            )
        )
        for change in changes:
            inv.terminal.say(f"  {change.describe(inv.settings.display_tz)}")
    diff = compare(replayed, actual(inv.reader, start=start, end=end))
    inv.terminal.say(
        f"against what actually happened: {len(diff.both)} the same, {len(diff.only_backtest)} only in the "
        f"backtest, {len(diff.only_actual)} only in reality"
    )
    for key, event in diff.only_backtest:
        inv.terminal.say(f"  + {event:<9} {key}")
    for key, event in diff.only_actual:
        inv.terminal.say(f"  - {event:<9} {key}")
