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
from enum import IntEnum
from typing import Any

from sqlalchemy import Connection

from payoutwatch.clock import iso
from payoutwatch.config import AutomationFailureSettings, Settings
from payoutwatch.metrics.common import as_number
from payoutwatch.metrics.runs import RunFigures, runs_of_cycles
from payoutwatch.rules.registry import Limit, PrometheusAlert, RuleBase, register
from payoutwatch.schedule import schedule_of
from payoutwatch.timefmt import local
from payoutwatch.vocabulary import Finding, RuleId, RunStatus


class ProblemKind(IntEnum):
    """The kinds of problem, most serious first: the summary leads with the most serious one.

    A failed exit comes first (payouts may be half done), then a missed deadline (nothing ran), then
    too few studios processed (studios unpaid), then a run still running past the limit, then a slow
    but finished run.
    """

    EXITED = 1
    MISSED = 2
    TOO_FEW = 3
    STILL_RUNNING = 4
    SLOW = 5


@dataclass(frozen=True)
class Problem:
    at: datetime
    reason: str
    run_id: str | None = None
    kind: ProblemKind = ProblemKind.EXITED


def most_serious_first(problems: list[Problem]) -> list[Problem]:
    """By seriousness, then the latest first among problems of one kind."""
    return sorted(problems, key=lambda p: (p.kind, -p.at.timestamp()))


def cycle_problems(
    cycle: datetime, runs: list[RunFigures], at: datetime, rule: AutomationFailureSettings, zone: tzinfo = UTC
) -> tuple[list[Problem], datetime | None]:
    """Every problem of the cycle known at ``at``, and the latest healthy finish (if any); reasons name
    instants in ``zone`` (the display zone)."""
    max_duration = timedelta(minutes=rule.max_duration_minutes)
    deadline = cycle + timedelta(minutes=rule.missed_grace_minutes)
    problems: list[Problem] = []
    if at >= deadline and not any(r.started_at <= deadline for r in runs):
        problems.append(
            Problem(deadline, f"no run started by {local(deadline, zone)} (missed deadline)", kind=ProblemKind.MISSED)
        )
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
                        ProblemKind.STILL_RUNNING,
                    )
                )
            continue
        assert run.finished_at is not None
        reasons: list[tuple[ProblemKind, str]] = []
        if run.status is RunStatus.FAILED:
            exit_code = run.exit_code if run.exit_code is not None else "unknown"
            reasons.append((ProblemKind.EXITED, f"run {run.run_id} exited {exit_code}"))
        if took > max_duration:
            reasons.append(
                (ProblemKind.SLOW, f"run {run.run_id} took {_minutes(took)} (limit {rule.max_duration_minutes:g} min)")
            )
        ratio = run.processed_ratio
        if ratio is not None and ratio < rule.min_processed_ratio:
            reasons.append(
                (
                    ProblemKind.TOO_FEW,
                    f"run {run.run_id} processed {run.studios_processed} of {run.studios_scheduled} studios "
                    f"({ratio:.0%} < {rule.min_processed_ratio:.0%})",
                )
            )
        if reasons:
            problems.extend(Problem(run.finished_at, reason, run.run_id, kind) for kind, reason in reasons)
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
        ranked = most_serious_first(problems)
        reasons = [p.reason for p in ranked]
        last = runs[-1] if runs else None
        worst_run = next((r for r in runs if r.run_id == ranked[0].run_id), last)
        others = len(reasons) - 1
        more = f" (and {others} more reason{'s' if others > 1 else ''})" if others else ""
        out.append(
            Finding(
                rule=RuleId.AUTOMATION_FAILURE,
                key=f"{RuleId.AUTOMATION_FAILURE}:{job}:{local_date[cycle]}",
                severity=rule.severity,
                owner=rule.owner,
                summary=f"Payout run for the {local_date[cycle]} cycle ({job}) needs attention: {reasons[0]}{more}",
                details={
                    "job": job,
                    "cycle": iso(cycle),
                    "reasons": reasons,
                    "runs": [r.run_id for r in runs],
                    "last_run": last.as_json() if last else None,
                    **run_figures(worst_run, rule),
                },
            )
        )
    return out


def run_figures(run: RunFigures | None, rule: AutomationFailureSettings) -> dict[str, Any]:
    """The figures behind the alert: the run its most serious problem concerns, with the limits."""
    limits = {
        "max_duration_minutes": rule.max_duration_minutes,
        "min_processed_ratio": rule.min_processed_ratio,
        "missed_grace_minutes": rule.missed_grace_minutes,
    }
    if run is None:
        return limits
    studios = (
        f"{run.studios_processed} of {run.studios_scheduled}"
        if run.studios_processed is not None and run.studios_scheduled is not None
        else None
    )
    return {
        "run_id": run.run_id,
        "run_status": run.status.value,
        "exit_code": run.exit_code,
        "duration_s": as_number(run.duration_s),
        "studios": studios,
        "processed_ratio": run.processed_ratio,
        **limits,
    }


class AutomationFailure(RuleBase):
    id = RuleId.AUTOMATION_FAILURE
    settings_model = AutomationFailureSettings
    fact_labels: Mapping[str, str] = {
        "cycle": "Cycle",
        "job": "Job",
        "exit_code": "Exit code",
        "duration_s": "Duration",
        "studios": "Studios processed",
        "processed_ratio": "Processed ratio",
    }
    fact_limits: Mapping[str, Limit] = {
        "duration_s": Limit("limit", "max_duration_minutes"),
        "processed_ratio": Limit("minimum", "min_processed_ratio"),
    }

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
