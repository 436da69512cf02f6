"""Rules are pure: figures in, findings out. Boundaries follow DESIGN §5 exactly."""

from datetime import datetime, timedelta
from typing import Any

from payoutwatch.config import (
    AutomationFailureSettings,
    CredentialExpirySettings,
    FallbackVolumeSettings,
    ReserveBreachSettings,
)
from payoutwatch.metrics.credentials import CredentialFigures, stage_for
from payoutwatch.metrics.fallback_activity import FallbackFigures
from payoutwatch.metrics.reserves import Projection
from payoutwatch.metrics.runs import RunFigures
from payoutwatch.rules import automation_failure, credential_expiry, fallback_volume, reserve_breach
from payoutwatch.vocabulary import RunStatus
from tests.conftest import utc

CYCLE = utc(2026, 3, 5, 11)
RULE = AutomationFailureSettings()


def a_run(
    run_id: str,
    started: datetime,
    *,
    minutes: float | None,
    exit_code: int | None = 0,
    scheduled: int | None = 100,
    processed: int | None = 100,
    at: datetime | None = None,
) -> RunFigures:
    finished = started + timedelta(minutes=minutes) if minutes is not None else None
    status = RunStatus.RUNNING if finished is None else (RunStatus.SUCCEEDED if exit_code == 0 else RunStatus.FAILED)
    end = finished or at or started
    return RunFigures(
        run_id=run_id,
        job="payouts",
        scheduled_for=CYCLE,
        status=status,
        started_at=started,
        finished_at=finished,
        exit_code=exit_code if finished else None,
        duration_s=(end - started).total_seconds(),
        studios_scheduled=scheduled,
        studios_processed=processed,
        success_count=None,
        error_count=None,
        retry_count=None,
        cad_processed_cents=None,
    )


def failing(runs: list[RunFigures], at: datetime) -> list[Any]:
    return automation_failure.findings("payouts", [CYCLE], {CYCLE: runs}, {CYCLE: "2026-03-05"}, at, RULE)


def test_missed_deadline_starts_exactly_at_the_grace() -> None:
    assert failing([], CYCLE + timedelta(minutes=15) - timedelta(seconds=1)) == []
    [finding] = failing([], CYCLE + timedelta(minutes=15))
    assert finding.key == "automation_failure:payouts:2026-03-05"
    assert "missed deadline" in finding.details["reasons"][0]


def test_a_run_started_exactly_at_the_deadline_is_not_missed() -> None:
    started = CYCLE + timedelta(minutes=15)
    assert (
        failing([a_run("r", started, minutes=None, at=started + timedelta(minutes=1))], started + timedelta(minutes=1))
        == []
    )


def test_thirty_minutes_exactly_is_not_slow_but_more_is() -> None:
    start = CYCLE
    assert failing([a_run("r", start, minutes=30)], start + timedelta(minutes=31)) == []
    assert len(failing([a_run("r", start, minutes=30.01)], start + timedelta(minutes=31))) == 1
    running = a_run("r", start, minutes=None, at=start + timedelta(minutes=30))
    assert failing([running], start + timedelta(minutes=30)) == []
    running = a_run("r", start, minutes=None, at=start + timedelta(minutes=30, seconds=1))
    assert len(failing([running], start + timedelta(minutes=30, seconds=1))) == 1


def test_processed_ratio_exactly_at_the_minimum_is_healthy() -> None:
    at = CYCLE + timedelta(hours=1)
    assert failing([a_run("r", CYCLE, minutes=10, processed=90)], at) == []
    assert len(failing([a_run("r", CYCLE, minutes=10, processed=89)], at)) == 1


def test_rerun_clears_a_failure_only_when_it_finishes_healthy() -> None:
    bad = a_run("r1", CYCLE, minutes=10, exit_code=1)
    rerun_running = a_run("r2", CYCLE + timedelta(hours=1), minutes=None, at=CYCLE + timedelta(hours=1, minutes=5))
    assert len(failing([bad, rerun_running], CYCLE + timedelta(hours=1, minutes=5))) == 1
    rerun_ok = a_run("r2", CYCLE + timedelta(hours=1), minutes=20)
    assert failing([bad, rerun_ok], CYCLE + timedelta(hours=2)) == []
    rerun_bad = a_run("r2", CYCLE + timedelta(hours=1), minutes=20, exit_code=3)
    [finding] = failing([bad, rerun_bad], CYCLE + timedelta(hours=2))
    assert len(finding.details["reasons"]) == 2


def test_a_slow_run_that_finished_keeps_failing() -> None:
    [finding] = failing([a_run("r", CYCLE, minutes=38)], CYCLE + timedelta(hours=5))
    assert "took 38.0 min" in finding.summary


def test_the_summary_leads_with_the_most_serious_reason() -> None:
    """A failed exit before a ratio (the 2026-11-05 demo cycle), a ratio before slowness, whatever the order
    the problems happened in; the figures of the run behind the worst reason ride along with their limits."""
    slow_then_failed = [
        a_run("r1", CYCLE, minutes=38, processed=57),
        a_run("r2", CYCLE + timedelta(hours=1), minutes=11, exit_code=1, processed=57),
    ]
    [finding] = failing(slow_then_failed, CYCLE + timedelta(hours=3))
    reasons = finding.details["reasons"]
    assert reasons[0] == "run r2 exited 1"
    assert finding.summary.endswith("needs attention: run r2 exited 1 (and 3 more reasons)")
    assert ["exited" in r for r in reasons] == [True, False, False, False]
    assert "processed 57 of 100" in reasons[1] and "processed 57 of 100" in reasons[2]  # r2's, then r1's
    assert "took 38.0 min" in reasons[3]
    figures = {k: finding.details[k] for k in ("run_id", "exit_code", "duration_s", "studios", "processed_ratio")}
    assert figures == {
        "run_id": "r2",
        "exit_code": 1,
        "duration_s": 660,
        "studios": "57 of 100",
        "processed_ratio": 0.57,
    }
    assert (finding.details["max_duration_minutes"], finding.details["min_processed_ratio"]) == (30, 0.9)
    [missed] = failing([], CYCLE + timedelta(hours=1))
    assert "run_id" not in missed.details and missed.details["missed_grace_minutes"] == 15


def test_fallback_reasons_put_money_before_the_count() -> None:
    [finding] = fallback(3, 900, 10_000)
    assert finding.details["reasons"][0].startswith("fallback is 9.00% of automated volume")
    assert finding.summary.startswith("Manual fallback payouts are above the limit: fallback is 9.00%")
    assert (finding.details["max_manual_payouts"], finding.details["max_fallback_ratio"]) == (1, 0.05)


def fallback(count: int, fallback_cents: int, automated: int) -> list[Any]:
    ratio = fallback_cents / automated if automated else None
    figures = FallbackFigures(
        window_days=30,
        since=CYCLE,
        manual_payout_count=count,
        fallback_cents=fallback_cents,
        automated_cents=automated,
        fallback_ratio=ratio,
    )
    return fallback_volume.findings(figures, FallbackVolumeSettings())


def test_fallback_fires_on_more_than_one_or_more_than_five_percent() -> None:
    assert fallback(1, 500, 10_000) == []  # one payout, exactly 5 %
    assert len(fallback(2, 1, 10_000)) == 1
    assert len(fallback(1, 501, 10_000)) == 1
    assert len(fallback(1, 1, 0)) == 1  # fallback with no automated volume counts as over
    assert fallback(0, 0, 0) == []


def cred(days_left: int, owner: str | None = None) -> CredentialFigures:
    rule = CredentialExpirySettings()
    return CredentialFigures(
        credential_id="c",
        kind="apple_pay_certificate",
        name="cert",
        owner=owner,
        created_at=utc(2024, 1, 1),
        due_at=utc(2026, 5, 1),
        days_left=days_left,
        age_days=1,
        stage=stage_for(days_left, rule),
    )


def test_credential_finding_carries_the_current_stage_and_owner() -> None:
    assert credential_expiry.findings([cred(31)], CredentialExpirySettings()) == []
    [f] = credential_expiry.findings([cred(10, owner="mobile")], CredentialExpirySettings())
    assert (f.key, f.stage, f.owner) == ("credential_expiry:c", "14d", "mobile")
    [f] = credential_expiry.findings([cred(-2)], CredentialExpirySettings())
    assert (f.stage, f.owner) == ("expired", "security")


def test_reserve_breach_on_balance_or_projection() -> None:
    def proj(balance: int, projected: int) -> Projection:
        return Projection("st", utc(2026, 3, 1), balance, 1000, -10.0, projected, utc(2026, 3, 5))

    findings = reserve_breach.findings([proj(999, 999), proj(1500, 999)], ReserveBreachSettings())
    assert [f.key for f in findings] == ["reserve_breach:st", "reserve_breach:st"]
    assert "below the threshold" in findings[0].summary and "projected" in findings[1].summary
