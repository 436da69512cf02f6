"""``automation_failure``: a cycle whose most recent problem is not followed by a healthy finish.

Problems: the missed deadline (no run started by ``scheduled_for + missed_grace``), a run still
running after ``max_duration``, a run that finished failed, slow, or with too few studios
processed. A healthy finish: exit 0, within ``max_duration``, processed ratio ≥ the minimum.
Only the two most recent cycles scheduled ≤ at are considered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sqlalchemy import Connection

from payoutwatch.clock import iso
from payoutwatch.config import AutomationFailureSettings, Settings
from payoutwatch.metrics.runs import RunFigures, runs_of_cycles
from payoutwatch.rules.registry import PrometheusAlert, RuleBase, register
from payoutwatch.schedule import schedule_of
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import Finding, RuleId, RunStatus


@dataclass(frozen=True)
class Problem:
    at: datetime
    reason: str
    run_id: str | None = None


def cycle_problems(
    cycle: datetime, runs: list[RunFigures], at: datetime, rule: AutomationFailureSettings, zone: tzinfo = UTC
) -> tuple[list[Problem], datetime | None]:
    """Every problem of the cycle known at ``at``, and the latest healthy finish (if any); reasons name
    instants in ``zone`` (the display zone)."""
    max_duration = timedelta(minutes=rule.max_duration_minutes)
    deadline = cycle + timedelta(minutes=rule.missed_grace_minutes)
    problems: list[Problem] = []
    if at >= deadline and not any(r.started_at <= deadline for r in runs):
        problems.append(Problem(deadline, f"no run started by {local(deadline, zone)} (missed deadline)"))
    healthy: datetime | None = None
    for run in runs:
        took = timedelta(seconds=run.duration_s)
        if run.status is RunStatus.RUNNING:
            if took > max_duration:
                problems.append(
                    Problem(
                        run.started_at + max_duration,
                        f"run {run.run_id} still running after {_minutes(took)} "
                        f"(limit {rule.max_duration_minutes:g} min)",
                        run.run_id,
                    )
                )
            continue
        assert run.finished_at is not None
        reasons = []
        if run.status is RunStatus.FAILED:
            reasons.append(f"run {run.run_id} exited {run.exit_code if run.exit_code is not None else 'unknown'}")
        if took > max_duration:
            reasons.append(f"run {run.run_id} took {_minutes(took)} (limit {rule.max_duration_minutes:g} min)")
        ratio = run.processed_ratio
        if ratio is not None and ratio < rule.min_processed_ratio:
            reasons.append(
                f"run {run.run_id} processed {run.studios_processed} of {run.studios_scheduled} studios "
                f"({ratio:.0%} < {rule.min_processed_ratio:.0%})"
            )
        if reasons:
            problems.extend(Problem(run.finished_at, reason, run.run_id) for reason in reasons)
        elif healthy is None or run.finished_at > healthy:
            healthy = run.finished_at
    return problems, healthy


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.1f} min"


def findings(
    job: str,
    cycles: list[datetime],
    runs_by_cycle: dict[datetime, list[RunFigures]],
    local_date: dict[datetime, str],
    at: datetime,
    rule: AutomationFailureSettings,
    zone: tzinfo = UTC,
) -> list[Finding]:
    out = []
    for cycle in cycles:
        runs = runs_by_cycle.get(cycle, [])
        problems, healthy = cycle_problems(cycle, runs, at, rule, zone)
        if not problems:
            continue
        latest_problem = max(p.at for p in problems)
        if healthy is not None and healthy >= latest_problem:
            continue
        reasons = [p.reason for p in sorted(problems, key=lambda p: p.at)]
        last = runs[-1] if runs else None
        out.append(
            Finding(
                rule=RuleId.AUTOMATION_FAILURE,
                key=f"{RuleId.AUTOMATION_FAILURE}:{job}:{local_date[cycle]}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Payout run for the {local_date[cycle]} cycle ({job}) needs attention: {reasons[-1]}",
                details={
                    "job": job,
                    "cycle": iso(cycle),
                    "reasons": reasons,
                    "runs": [r.run_id for r in runs],
                    "last_run": last.as_json() if last else None,
                },
            )
        )
    return out


class AutomationFailure(RuleBase):
    id = RuleId.AUTOMATION_FAILURE
    settings_model = AutomationFailureSettings
    fact_labels: Mapping[str, str] = {"cycle": "Cycle", "job": "Job"}

    def findings_at(self, conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        schedule = schedule_of(settings)
        cycles = schedule.latest_at_or_before(at, 2)
        runs = runs_of_cycles(conn, settings.schedule.job, cycles, at)
        local = {c: schedule.local_date(c).isoformat() for c in cycles}
        return findings(
            settings.schedule.job, cycles, runs, local, at, settings.rules.automation_failure, settings.display_tz
        )

    def prometheus_alerts(self, settings: Settings) -> list[PrometheusAlert]:
        rule = settings.rules.automation_failure
        return [
            PrometheusAlert(
                "PayoutAutomationFailure",
                f'payoutwatch_alerts_firing{{rule="{self.id}"}} > 0 '
                f"or payoutwatch_last_run_duration_seconds > {int(rule.max_duration_minutes * 60)} "
                f"or payoutwatch_last_run_processed_ratio < {rule.min_processed_ratio}",
                rule.severity,
                rule.owner,
                "The payout run failed, is slow, missed its slot or processed too few studios",
            )
        ]


RULE = register(AutomationFailure())
