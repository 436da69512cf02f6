"""Refused Stripe webhooks cannot grow the audit log: one row per cause per minute with a count, and an
address refused too often in a minute gets 429 without being audited at all."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from payoutwatch.store.tables import audit_log, transfers
from payoutwatch.usecases.stripe_webhook import sign
from payoutwatch.web.app import create_app
from payoutwatch.web.ratelimit import RefusalLimiter
from tests.conftest import make_settings, utc

START = utc(2026, 3, 5, 11, 30)
SECRET = "whsec_refusal_test_secret"
SETTINGS = make_settings(sources={"stripe": {"type": "stripe", "api_key": "rk_x", "webhook_secrets": [SECRET]}})


class SteppingClock:
    """A fixed clock that moves on by ``step`` each time it is read: many requests span a few minutes."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.at, self.step = start, step

    def __call__(self) -> datetime:
        self.at += self.step
        return self.at


def event(event_id: str, at: datetime) -> bytes:
    obj = {"id": f"tr_{event_id}", "amount": 100, "currency": "cad", "created": int(at.timestamp())}
    return json.dumps({"id": event_id, "type": "transfer.created", "data": {"object": obj}}).encode()


def refusals(store: Engine) -> list[tuple[str, datetime, int]]:
    with store.connect() as conn:
        rows = conn.execute(select(audit_log).where(audit_log.c.action == "stripe_webhook_refused")).all()
    return [(r.target, r.at, r.details["count"]) for r in rows]


def test_two_thousand_refused_webhooks_write_a_bounded_number_of_audit_rows(store: Engine) -> None:
    clock = SteppingClock(START, timedelta(milliseconds=60))  # 2,000 requests span about two minutes
    client = TestClient(create_app(SETTINGS, store, now=clock), client=("198.51.100.7", 5000))
    body = event("evt_forged", START)
    answers: Counter[int] = Counter()
    for i in range(2000):
        stamp = int(START.timestamp()) - (3600 if i % 2 else 0)  # a stale one every other time
        header = f"t={stamp},v1={sign(body, SECRET, stamp) if i % 2 else '00'}"
        answers[client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": header}).status_code] += 1
    rows = refusals(store)
    per_cause_minute = Counter((target, at.replace(second=0, microsecond=0)) for target, at, _ in rows)
    minutes = {minute for _, minute in per_cause_minute}
    assert set(answers) == {400, 429} and answers[400] + answers[429] == 2000
    assert {target for target, _, _ in rows} == {"stripe:bad_signature", "stripe:stale"}
    assert max(per_cause_minute.values()) <= 2  # one row per cause per minute (two only if writers race)
    assert len(rows) <= 2 * 2 * len(minutes) and len(minutes) <= 3
    assert sum(count for _, _, count in rows) == answers[400]  # every audited refusal is counted once
    assert answers[400] <= 30 * len(minutes)  # the address was throttled: at most 30 audited per minute


def test_refusals_from_another_address_are_still_audited_and_genuine_events_still_pass(store: Engine) -> None:
    app = create_app(SETTINGS, store, now=lambda: START)
    noisy = TestClient(app, client=("198.51.100.7", 5000))
    body = event("evt_ok", START)
    forged = {"Stripe-Signature": f"t={int(START.timestamp())},v1=00"}
    codes = [noisy.post("/webhooks/stripe", content=body, headers=forged).status_code for _ in range(40)]
    assert codes[:30] == [400] * 30 and set(codes[30:]) == {429}
    other = TestClient(app, client=("203.0.113.20", 5000)).post("/webhooks/stripe", content=body, headers=forged)
    assert other.status_code == 400
    stamp = int(START.timestamp())
    genuine = noisy.post(
        "/webhooks/stripe", content=body, headers={"Stripe-Signature": f"t={stamp},v1={sign(body, SECRET, stamp)}"}
    )
    assert genuine.status_code == 200 and genuine.json()["records"] == 1
    [(target, _, count)] = refusals(store)
    assert (target, count) == ("stripe:bad_signature", 31)  # 30 from the noisy address, 1 from the other
    with store.connect() as conn:
        [row] = conn.execute(select(audit_log).where(audit_log.c.action == "stripe_webhook_refused")).all()
        assert row.details["addresses"] == ["198.51.100.7", "203.0.113.20"]
        assert len(conn.execute(select(transfers)).all()) == 1


def test_the_limiter_forgets_last_minute_and_shares_one_count_beyond_its_table() -> None:
    limiter = RefusalLimiter(per_minute=2, max_addresses=2)
    for address in ("a", "a", "b"):
        limiter.refused(address, START)
    assert limiter.exceeded("a", START) and not limiter.exceeded("b", START)
    limiter.refused("c", START)  # the table is full: "c" and every later newcomer share one count
    limiter.refused("d", START)
    assert limiter.exceeded("e", START)
    assert not limiter.exceeded("a", START + timedelta(minutes=1))


def test_a_signed_event_with_a_malformed_object_is_refused_cleanly_and_writes_nothing(store: Engine) -> None:
    settings = make_settings(
        sources={
            "stripe": {
                "type": "stripe",
                "api_key": "rk_x",
                "webhook_secrets": [SECRET],
                "platform_reserve_threshold_cents": 100,
            }
        }
    )
    client = TestClient(create_app(settings, store, now=lambda: START))
    stamp = int(START.timestamp())
    good = {"id": "tr_1", "amount": 100, "currency": "cad", "created": stamp}
    bodies = [
        {"id": "evt_1", "type": "balance.available", "created": 10**30, "data": {"object": {"available": []}}},
        {"id": "evt_2", "type": "transfer.created", "data": {"object": {**good, "created": 10**30}}},
        {"id": "evt_3", "type": "transfer.created", "data": {"object": {**good, "created": "soon"}}},
        {"id": "evt_4", "type": "transfer.created", "data": {"object": {**good, "amount": None}}},
        {"id": "evt_5", "type": "payout.paid", "data": {"object": "not an object"}},
        {"id": "evt_6", "type": "payout.paid", "data": {"object": {"currency": "cad"}}},
    ]
    for payload in bodies:
        body = json.dumps(payload).encode()
        header = f"t={stamp},v1={sign(body, SECRET, stamp)}"
        answer = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": header})
        assert answer.status_code == 422, (payload, answer.text)
    with store.connect() as conn:
        assert conn.execute(select(transfers)).all() == []
