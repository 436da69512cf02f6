"""What an evaluation writes for a finding that is still firing: nothing when it is unchanged.

The engine compares a finding with its firing alert by a digest of the details stored beside them
(revision 0016); alerts written before it have no digest and are compared by their decoded details.
"""

from __future__ import annotations

import gc
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from payoutwatch.config import Settings
from payoutwatch.notify.outbox import enqueue
from payoutwatch.rules.engine import apply_findings, details_digest
from payoutwatch.rules.registry import rule_named
from payoutwatch.store.tables import alert_history, alerts, notifications
from payoutwatch.usecases import evaluation
from payoutwatch.vocabulary import Action, Event, Finding, RuleId, Transition
from tests.conftest import make_settings, utc

T0 = utc(2026, 11, 1)
RULE = RuleId.CREDENTIAL_EXPIRY
SETTINGS = make_settings(
    channels={"sec": {"type": "slack", "webhook_url": "http://slack.test/sec"}},
    routes=[{"rule": "credential_expiry", "channels": ["sec"]}],
)


def stages(settings: Settings) -> list[str]:
    rule = rule_named(RULE)
    assert rule is not None
    return [stage.name for stage in rule.stages(settings)]


def finding(*, stage: str, days_left: int = 10, summary: str = "Credential c1 is due") -> Finding:
    details: dict[str, Any] = {"credential_id": "c1", "days_left": days_left, "reasons": [f"{days_left} days left"]}
    return Finding(
        rule=RULE, key=f"{RULE}:c1", severity="SEV-3", owner="sec", summary=summary, stage=stage, details=details
    )


def evaluate_with(store: Engine, found: Finding, at: datetime) -> list[Transition]:
    """What ``usecases.evaluation.evaluate`` does with the findings: record transitions, enqueue them."""
    with store.begin() as conn:
        transitions = apply_findings(conn, [found], rules={RULE}, at=at, now=at, settings=SETTINGS)
        enqueue(conn, transitions, SETTINGS, now=at)
    return transitions


def the_alert(conn: Connection) -> Any:
    return conn.execute(select(alerts).where(alerts.c.key == f"{RULE}:c1")).one()


def counts(conn: Connection) -> tuple[int, int]:
    history = conn.execute(select(func.count()).select_from(alert_history)).scalar_one()
    sent = conn.execute(select(func.count()).select_from(notifications)).scalar_one()
    return history, sent


def test_an_unchanged_finding_is_neither_rewritten_nor_notified_again(store: Engine) -> None:
    first = stages(SETTINGS)[0]
    fired = evaluate_with(store, finding(stage=first), T0)
    assert [t.action for t in fired] == [Action.FIRED]
    with store.connect() as conn:
        before, written = counts(conn), the_alert(conn)
    assert before == (1, 1)
    assert written.details_digest == details_digest(finding(stage=first).details)

    assert evaluate_with(store, finding(stage=first), T0 + timedelta(hours=1)) == []
    with store.connect() as conn:
        assert counts(conn) == before
        assert the_alert(conn)._mapping == written._mapping  # not a column written, updated_at included


def test_changed_details_or_summary_are_rewritten_without_a_notification(store: Engine) -> None:
    first = stages(SETTINGS)[0]
    evaluate_with(store, finding(stage=first), T0)
    at = T0 + timedelta(hours=1)
    assert evaluate_with(store, finding(stage=first, days_left=9), at) == []
    with store.connect() as conn:
        alert = the_alert(conn)
        assert alert.details["days_left"] == 9
        assert alert.details_digest == details_digest(finding(stage=first, days_left=9).details)
        assert alert.updated_at == at
        assert counts(conn) == (1, 1)

    later = at + timedelta(hours=1)
    assert evaluate_with(store, finding(stage=first, days_left=9, summary="Credential c1 is due soon"), later) == []
    with store.connect() as conn:
        alert = the_alert(conn)
        assert (alert.summary, alert.updated_at) == ("Credential c1 is due soon", later)
        assert counts(conn) == (1, 1)


def test_a_more_urgent_stage_is_rewritten_and_notified(store: Engine) -> None:
    first, second = stages(SETTINGS)[:2]
    evaluate_with(store, finding(stage=first), T0)
    at = T0 + timedelta(hours=1)
    moved = evaluate_with(store, finding(stage=second, days_left=3), at)
    assert [(t.action, t.event, t.stage) for t in moved] == [(Action.STAGE_CHANGED, Event.REMINDER, second)]
    with store.connect() as conn:
        alert = the_alert(conn)
        assert (alert.stage, alert.updated_at, alert.details["days_left"]) == (second, at, 3)
        assert alert.details_digest == details_digest(finding(stage=second, days_left=3).details)
        assert counts(conn) == (2, 2)


def test_an_alert_written_before_digests_is_compared_by_its_details(store: Engine) -> None:
    first = stages(SETTINGS)[0]
    evaluate_with(store, finding(stage=first), T0)
    with store.begin() as conn:
        conn.execute(update(alerts).values(details_digest=None))
        written = the_alert(conn)

    assert evaluate_with(store, finding(stage=first), T0 + timedelta(hours=1)) == []
    with store.connect() as conn:
        alert = the_alert(conn)
        assert alert.details_digest == details_digest(finding(stage=first).details)  # only the digest is written
        assert {**alert._mapping, "details_digest": None} == dict(written._mapping)
        assert counts(conn) == (1, 1)

    with store.begin() as conn:
        conn.execute(update(alerts).values(details_digest=None))
    at = T0 + timedelta(hours=2)
    assert evaluate_with(store, finding(stage=first, days_left=8), at) == []
    with store.connect() as conn:
        alert = the_alert(conn)
        assert (alert.details["days_left"], alert.updated_at) == (8, at)
        assert alert.details_digest == details_digest(finding(stage=first, days_left=8).details)


def test_the_digest_tells_apart_what_json_writes_differently() -> None:
    base: dict[str, Any] = {"a": 1, "b": [1.5, "x"], "c": None}
    assert details_digest(base) == details_digest({"a": 1, "b": [1.5, "x"], "c": None})
    different = [
        {**base, "a": 2},
        {**base, "b": [1.5, "y"]},
        {**base, "c": float("inf")},
        {**base, "c": float("nan")},
        {**base, "c": "Infinity"},
        {**base, "c": False},
        {**base, "d": None},
        {"a": 1, "b": [1.5, "x"]},
    ]
    digests = {details_digest(d) for d in [base, *different]}
    assert len(digests) == len(different) + 1


def test_an_evaluation_pauses_the_collector_and_restores_it(store: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []

    def findings_at(conn: Connection, at: datetime, settings: Settings) -> list[Finding]:
        seen.append(gc.isenabled())
        return [finding(stage=stages(settings)[0])]

    monkeypatch.setattr(evaluation, "findings_at", findings_at)
    assert gc.isenabled()
    assert [t.action for t in evaluation.evaluate(store, SETTINGS, at=T0, now=T0)] == [Action.FIRED]
    assert gc.isenabled()
    with pytest.raises(evaluation.EvaluationRefused):
        evaluation.evaluate(store, SETTINGS, at=T0 - timedelta(hours=1), now=T0, guarded=True)
    assert gc.isenabled()
    gc.disable()
    try:
        evaluation.evaluate(store, SETTINGS, at=T0, now=T0)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
    assert seen == [False, False]
