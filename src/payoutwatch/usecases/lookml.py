"""``payoutwatch export lookml``: LookML views and explores over the store's tables, for Looker on the
PostgreSQL store (docs/looker.md).

The dashboards' figures (DESIGN §4) are defined here once as measures, with the same rules as the pages:
runs count for the schedule's job once started; a run's missing CAD and studio counts come from its
cycle's scheduled payouts (DESIGN §3); the fallback window is ``(now − window_days, now]``; reserves and
credentials use each account's latest snapshot and each credential's version in force. ``now`` is
``CURRENT_TIMESTAMP`` and durations are ``INTERVAL 'N seconds'``: the only two instant-dependent
tokens, so the same SQL can be checked at a fixed instant (tests/usecases/test_lookml.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payoutwatch.config import Settings
from payoutwatch.vocabulary import AlertState, PayoutStatus

NOW = "CURRENT_TIMESTAMP"
PLATFORM = "platform"
RESERVE_CAP = "reserve_cap"


def interval(seconds: float) -> str:
    return f"INTERVAL '{round(seconds)} seconds'"


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class View:
    name: str
    table: str
    label: str
    fields: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (kind, name, body)

    def dimension(self, name: str, sql: str, type_: str = "string", **extra: Any) -> View:
        self.fields.append(("dimension", name, {"type": type_, "sql": sql, **extra}))
        return self

    def time(self, name: str, sql: str) -> View:
        body = {"type": "time", "timeframes": ["raw", "time", "date", "week", "month", "quarter", "year"]}
        self.fields.append(("dimension_group", name, {**body, "sql": sql}))
        return self

    def flag(self, name: str, sql: str, description: str) -> View:
        return self.dimension(name, sql, "yesno", description=description)

    def measure(self, name: str, type_: str, description: str, sql: str | None = None, **filters: str) -> View:
        body: dict[str, Any] = {"type": type_, "description": description}
        if sql is not None:
            body["sql"] = sql
        if filters:
            body["filters"] = filters
        self.fields.append(("measure", name, body))
        return self


def _runs_view(settings: Settings) -> View:
    job = quoted(settings.schedule.job)
    window = interval(settings.rules.fallback_volume.window_days * 86400)
    paid = f"p.status = '{PayoutStatus.PAID.value}' AND p.paid_at <= {NOW} AND p.scheduled_for = ${{TABLE}}.cycle_at"
    later = (
        "SELECT 1 FROM job_runs later WHERE later.job = ${TABLE}.job AND later.cycle_at = ${TABLE}.cycle_at"
        f" AND later.started_at <= {NOW} AND (later.started_at > ${{TABLE}}.started_at"
        " OR (later.started_at = ${TABLE}.started_at AND later.run_id > ${TABLE}.run_id))"
    )
    own = f"{paid} AND p.run_id = ${{TABLE}}.run_id"
    unattributed = f"{paid} AND p.run_id IS NULL AND NOT EXISTS ({later})"

    def derived(column: str, aggregate: str) -> str:
        """The reported figure, else the cycle's paid payouts of this run (and, for the cycle's latest
        run, those paid without a run id), as ``metrics.runs`` derives it."""
        return (
            f"COALESCE(${{TABLE}}.{column}, (SELECT {aggregate} FROM scheduled_payouts p WHERE {own})"
            f" + (SELECT {aggregate} FROM scheduled_payouts p WHERE {unattributed}))"
        )

    not_counted = f"('{PayoutStatus.HELD.value}', '{PayoutStatus.CANCELLED.value}')"
    scheduled = (  # the cycle's studios with a payout neither held nor cancelled
        "COALESCE(${TABLE}.studios_scheduled, (SELECT COUNT(DISTINCT p.studio_id) FROM scheduled_payouts p"
        f" WHERE p.scheduled_for = ${{TABLE}}.cycle_at AND p.status NOT IN {not_counted}))"
    )
    latest_start = f"SELECT MAX(r.started_at) FROM job_runs r WHERE r.job = {job} AND r.started_at <= {NOW}"
    latest_cycle = f"SELECT MAX(r.cycle_at) FROM job_runs r WHERE r.job = {job} AND r.started_at <= {NOW}"
    last_id = f"SELECT MAX(r.run_id) FROM job_runs r WHERE r.job = {job} AND r.started_at = ({latest_start})"
    view = (
        View("job_runs", "job_runs", "Runs")
        .dimension("run_id", "${TABLE}.run_id", primary_key="yes")
        .dimension("job", "${TABLE}.job")
        .time("cycle", "${TABLE}.cycle_at")
        .time("started", "${TABLE}.started_at")
        .time("finished", "${TABLE}.finished_at")
        .dimension(
            "status",
            f"CASE WHEN ${{TABLE}}.finished_at IS NULL OR ${{TABLE}}.finished_at > {NOW} THEN 'running'"
            " WHEN ${TABLE}.exit_code = 0 THEN 'succeeded' ELSE 'failed' END",
        )
        .dimension("exit_code", "${TABLE}.exit_code", "number")
        .dimension("studios_scheduled", scheduled, "number")
        .dimension("studios_processed", derived("studios_processed", "COUNT(DISTINCT p.studio_id)"), "number")
        .dimension("success_count", "${TABLE}.success_count", "number")
        .dimension("error_count", "${TABLE}.error_count", "number")
        .dimension("retry_count", "${TABLE}.retry_count", "number")
        .dimension("cad_processed_cents", derived("cad_processed_cents", "COALESCE(SUM(p.amount_cents), 0)"), "number")
        .dimension("source", "${TABLE}.source")
        .flag(
            "counted",
            f"${{TABLE}}.job = {job} AND ${{TABLE}}.started_at <= {NOW}",
            "A run of the schedule's job started by now: the runs the dashboards count",
        )
        .flag(
            "in_fallback_window",
            f"${{TABLE}}.started_at > {NOW} - {window} AND ${{TABLE}}.started_at <= {NOW}",
            "Started in the fallback window (now − rules.fallback_volume.window_days, now]",
        )
        .flag("is_last_run", f"${{TABLE}}.run_id = ({last_id})", "The latest run started by now (Payout Health)")
        .flag("in_current_cycle", f"${{TABLE}}.cycle_at = ({latest_cycle})", "The latest cycle with a run")
    )
    counted = {"counted": "yes"}
    return (
        view.measure("runs", "count", "Runs (per cycle: Payout Health 'runs')", **counted)
        .measure("cad_processed", "sum", "CAD processed, cents", "${cad_processed_cents}", **counted)
        .measure("retries", "sum", "Retries (per cycle: 'retry_count')", "${retry_count}", **counted)
        .measure("errors", "sum", "Errors (per cycle: 'error_count')", "${error_count}", **counted)
        .measure(
            "automated_cents",
            "sum",
            "Fallback Activity 'automated_cents': CAD processed by runs started in the window",
            "${cad_processed_cents}",
            **counted,
            in_fallback_window="yes",
        )
        .measure(
            "current_cycle_cad_cents",
            "sum",
            "Payout Health 'current_cycle_cad_cents'",
            "${cad_processed_cents}",
            **counted,
            in_current_cycle="yes",
        )
        .measure(
            "last_run_studios_processed",
            "sum",
            "Payout Health last run 'studios_processed'",
            "${studios_processed}",
            is_last_run="yes",
        )
        .measure(
            "last_run_studios_scheduled",
            "sum",
            "Payout Health last run 'studios_scheduled'",
            "${studios_scheduled}",
            is_last_run="yes",
        )
    )


def _manual_view(settings: Settings) -> View:
    window = interval(settings.rules.fallback_volume.window_days * 86400)
    in_window = {"in_window": "yes"}
    return (
        View("manual_payouts", "manual_payouts", "Manual payouts")
        .dimension("id", "${TABLE}.id", primary_key="yes")
        .dimension("studio_id", "${TABLE}.studio_id")
        .dimension("amount_cents", "${TABLE}.amount_cents", "number")
        .dimension("reason", "${TABLE}.reason")
        .dimension("run_id", "${TABLE}.run_id")
        .time("detected", "${TABLE}.detected_at")
        .time("completed", "${TABLE}.completed_at")
        .flag(
            "in_window",
            f"${{TABLE}}.detected_at > {NOW} - {window} AND ${{TABLE}}.detected_at <= {NOW}",
            "Detected in the fallback window (now − rules.fallback_volume.window_days, now]",
        )
        .flag(
            "is_completed",
            f"${{TABLE}}.completed_at IS NOT NULL AND ${{TABLE}}.completed_at <= {NOW}",
            "Completed by now",
        )
        .measure("manual_payout_count", "count", "Fallback Activity 'manual_payout_count'", **in_window)
        .measure("fallback_cents", "sum", "Fallback Activity 'fallback_cents'", "${amount_cents}", **in_window)
        .measure("open_count", "count", "Fallback Activity 'open_count': not completed", **in_window, is_completed="no")
    )


def _payouts_view() -> View:
    return (
        View("scheduled_payouts", "scheduled_payouts", "Scheduled payouts")
        .dimension("payout_id", "${TABLE}.payout_id", primary_key="yes")
        .dimension("studio_id", "${TABLE}.studio_id")
        .dimension("status", "${TABLE}.status")
        .dimension("hold_reason", "${TABLE}.hold_reason")
        .dimension("amount_cents", "${TABLE}.amount_cents", "number")
        .dimension("run_id", "${TABLE}.run_id")
        .time("cycle", "${TABLE}.scheduled_for")
        .time("paid", "${TABLE}.paid_at")
        .flag(
            "held_by_reserve_caps",
            f"${{TABLE}}.status = '{PayoutStatus.HELD.value}' AND ${{TABLE}}.hold_reason = '{RESERVE_CAP}'",
            "Held by reserve caps (Reserves 'held_payouts')",
        )
        .measure("payouts", "count", "Scheduled payouts")
        .measure("amount", "sum", "Amount, cents", "${amount_cents}")
        .measure("held_count", "count", "Reserves held_payouts 'count'", held_by_reserve_caps="yes")
        .measure(
            "held_amount_cents",
            "sum",
            "Reserves held_payouts 'amount_cents'",
            "${amount_cents}",
            held_by_reserve_caps="yes",
        )
    )


def _reserves_view(settings: Settings) -> View:
    warning = settings.rules.reserve_breach.buffer_warning
    latest = (
        "${TABLE}.as_of = (SELECT MAX(s.as_of) FROM reserve_snapshots s"
        f" WHERE s.account_id = ${{TABLE}}.account_id AND s.as_of <= {NOW})"
    )
    studio_latest = {"is_latest": "yes", "is_studio": "yes"}
    return (
        View("reserve_snapshots", "reserve_snapshots", "Reserve snapshots")
        .dimension("account_id", "${TABLE}.account_id")
        .time("as_of", "${TABLE}.as_of")
        .dimension("balance_cents", "${TABLE}.balance_cents", "number")
        .dimension("threshold_cents", "${TABLE}.threshold_cents", "number")
        .flag("is_latest", latest, "The account's latest snapshot by now")
        .flag("is_studio", f"${{TABLE}}.account_id <> '{PLATFORM}'", "A studio account (not the platform reserve)")
        .flag(
            "near_threshold",
            f"${{TABLE}}.threshold_cents > 0 AND (${{TABLE}}.balance_cents - ${{TABLE}}.threshold_cents)"
            f" < {warning} * ${{TABLE}}.threshold_cents",
            "Buffer (balance − threshold) / threshold below rules.reserve_breach.buffer_warning",
        )
        .measure("reserve_balance", "sum", "Reserves 'aggregate_balance_cents'", "${balance_cents}", **studio_latest)
        .measure(
            "reserve_threshold", "sum", "Reserves 'aggregate_threshold_cents'", "${threshold_cents}", **studio_latest
        )
        .measure("studio_accounts", "count", "Reserves 'accounts'", **studio_latest)
        .measure(
            "near_threshold_count", "count", "Reserves 'near_threshold' studios", **studio_latest, near_threshold="yes"
        )
    )


def _credentials_view(settings: Settings) -> View:
    ages = " ".join(
        f"WHEN {quoted(kind)} THEN ${{TABLE}}.created_at + {interval(days * 86400)}"
        for kind, days in sorted(settings.credentials.max_age_days.items())
    )
    due = f"COALESCE(${{TABLE}}.expires_at, ${{TABLE}}.rotate_by, CASE ${{TABLE}}.kind {ages} END)"
    reminder = max(settings.rules.credential_expiry.reminder_days)
    in_force = (
        "${TABLE}.created_at = (SELECT MAX(v.created_at) FROM credentials v"
        f" WHERE v.credential_id = ${{TABLE}}.credential_id AND v.created_at <= {NOW})"
    )
    current = {"in_force": "yes"}
    return (
        View("credentials", "credentials", "Credentials")
        .dimension("credential_id", "${TABLE}.credential_id")
        .dimension("kind", "${TABLE}.kind")
        .dimension("name", "${TABLE}.name")
        .dimension("owner", "${TABLE}.owner")
        .time("created", "${TABLE}.created_at")
        .time("due", due)
        .flag("in_force", in_force, "The version in force now (latest created by now)")
        .flag("overdue", f"{due} < {NOW}", "Past its due date (stage 'expired')")
        .flag(
            "due_soon",
            f"{due} < {NOW} + {interval((reminder + 1) * 86400)}",
            f"At most {reminder} whole days left (any stage but 'ok')",
        )
        .measure("credential_count", "count", "Credentials in force (the Credentials page's rows)", **current)
        .measure("expired_count", "count", "Credentials in stage 'expired'", **current, overdue="yes")
        .measure("due_soon_count", "count", "Credentials in a stage other than 'ok'", **current, due_soon="yes")
    )


def _alerts_views() -> list[View]:
    alerts = (
        View("alerts", "alerts", "Alerts")
        .dimension("id", "${TABLE}.id", "number", primary_key="yes")
        .dimension("key", "${TABLE}.key")
        .dimension("rule", "${TABLE}.rule")
        .dimension("state", "${TABLE}.state")
        .dimension("stage", "${TABLE}.stage")
        .dimension("severity", "${TABLE}.severity")
        .dimension("owner", "${TABLE}.owner")
        .dimension("summary", "${TABLE}.summary")
        .dimension("acked_by", "${TABLE}.acked_by")
        .dimension("resolved_by", "${TABLE}.resolved_by")
        .time("started", "${TABLE}.started_at")
        .time("resolved_at", "${TABLE}.resolved_at")
        .flag("is_firing", f"${{TABLE}}.state = '{AlertState.FIRING.value}'", "Firing now")
        .measure("alert_count", "count", "Alerts (firing episodes)")
        .measure("firing_count", "count", "Alerts firing now", is_firing="yes")
    )
    history = (
        View("alert_history", "alert_history", "Alert history")
        .dimension("id", "${TABLE}.id", "number", primary_key="yes")
        .dimension("alert_id", "${TABLE}.alert_id", "number")
        .dimension("action", "${TABLE}.action")
        .dimension("event", "${TABLE}.event")
        .dimension("stage", "${TABLE}.stage")
        .dimension("actor", "${TABLE}.actor")
        .dimension("comment", "${TABLE}.comment")
        .time("at", "${TABLE}.at")
        .measure("transition_count", "count", "Transitions")
    )
    return [alerts, history]


def views(settings: Settings) -> list[View]:
    return [
        _runs_view(settings),
        _payouts_view(),
        _manual_view(settings),
        _reserves_view(settings),
        _credentials_view(settings),
        *_alerts_views(),
    ]


EXPLORES = [
    (
        "job_runs",
        "Runs and cycles",
        [("scheduled_payouts", "one_to_many", "${job_runs.run_id} = ${scheduled_payouts.run_id}")],
    ),
    (
        "scheduled_payouts",
        "Scheduled payouts",
        [("job_runs", "many_to_one", "${scheduled_payouts.run_id} = ${job_runs.run_id}")],
    ),
    (
        "manual_payouts",
        "Manual payouts",
        [("job_runs", "many_to_one", "${manual_payouts.run_id} = ${job_runs.run_id}")],
    ),
    ("reserve_snapshots", "Reserves", []),
    ("credentials", "Credentials", []),
    (
        "alerts",
        "Alerts and their history",
        [("alert_history", "one_to_many", "${alerts.id} = ${alert_history.alert_id}")],
    ),
]


def _value(key: str, value: Any) -> str:
    if key == "sql" or key == "sql_on":
        return f"{value} ;;"
    if key == "filters":
        return "[" + ", ".join(f'{name}: "{wanted}"' for name, wanted in value.items()) + "]"
    if isinstance(value, list):
        return "[" + ", ".join(value) + "]"
    if key in ("description", "label"):
        return '"' + str(value).replace('"', '\\"') + '"'
    return str(value)


def _block(kind: str, name: str, body: dict[str, Any], indent: str) -> list[str]:
    lines = [f"{indent}{kind}: {name} {{"]
    lines += [f"{indent}  {key}: {_value(key, value)}" for key, value in body.items()]
    return [*lines, f"{indent}}}"]


def lookml(settings: Settings, connection: str = "payoutwatch") -> str:
    """A model file: the connection, every view and the explores (save as ``payoutwatch.model.lkml``)."""
    lines = [
        "# Generated by `payoutwatch export lookml`: the dashboards' figures (DESIGN §4) as measures.",
        f'connection: "{connection}"',
        "",
    ]
    for view in views(settings):
        lines += [f"view: {view.name} {{", f"  sql_table_name: {view.table} ;;", f'  label: "{view.label}"']
        for kind, name, body in view.fields:
            lines += _block(kind, name, body, "  ")
        lines += ["}", ""]
    for name, label, joins in EXPLORES:
        lines += [f"explore: {name} {{", f'  label: "{label}"']
        for other, relationship, on in joins:
            lines += _block("join", other, {"type": "left_outer", "relationship": relationship, "sql_on": on}, "  ")
        lines += ["}", ""]
    return "\n".join(lines)
