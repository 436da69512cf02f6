"""A row is claimed before it is sent (DESIGN §10): a second deliverer never takes a row with a live claim,
a claim left by a deliverer killed mid-send expires and the row goes out again, and SQLite writers wait
for each other instead of failing with "database is locked"."""

from __future__ import annotations

import threading
from datetime import timedelta

import httpx
from sqlalchemy import Engine, select, update

from payoutwatch.notify.outbox import CLAIM_SECONDS, DeliveryReport, claim_next, deliver_due
from payoutwatch.store.tables import notifications
from payoutwatch.usecases.evaluation import evaluate
from tests import helpers
from tests.conftest import make_settings, utc

AT = utc(2026, 3, 5, 12)
SETTINGS = make_settings(
    channels={"pd": {"type": "pagerduty", "routing_key": "rk", "events_url": "http://pd.test/v2/enqueue"}},
    routes=[{"rule": "automation_failure", "channels": ["pd"]}],
)


def pd_client(sent: list[str]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.host)
        return httpx.Response(202, json={"status": "success"})

    return httpx.Client(transport=httpx.MockTransport(answer))


def test_a_claimed_row_is_not_taken_by_another_deliverer_until_its_claim_expires(store: Engine) -> None:
    helpers.failed_run(store, SETTINGS, AT)
    evaluate(store, SETTINGS, at=AT, now=AT)
    row = claim_next(store, now=AT, retry_now=False, skip=set(), claimant="killed-deliverer", report=DeliveryReport())
    assert row is not None  # ... and then its process was killed before it sent or recorded anything
    sent: list[str] = []
    during = deliver_due(store, SETTINGS, now=lambda: AT + timedelta(seconds=1), client=pd_client(sent))
    assert (during.sent, sent) == (0, [])  # the live claim keeps the row from a second sender
    after = AT + timedelta(seconds=CLAIM_SECONDS + 1)
    again = deliver_due(store, SETTINGS, now=lambda: after, client=pd_client(sent))
    assert (again.sent, sent) == (1, ["pd.test"])  # sent once the claim expired (PagerDuty dedups the key)
    with store.connect() as conn:
        stored = conn.execute(select(notifications)).one()
    assert (stored.state, stored.claimed_by, stored.claimed_until) == ("sent", None, None)


def test_a_claim_is_conditional_on_the_row_being_pending_and_unclaimed(store: Engine) -> None:
    helpers.failed_run(store, SETTINGS, AT)
    evaluate(store, SETTINGS, at=AT, now=AT)
    first = claim_next(store, now=AT, retry_now=False, skip=set(), claimant="a", report=DeliveryReport())
    assert first is not None
    with store.begin() as conn:  # the pick saw it unclaimed, but another deliverer claimed it meanwhile
        conn.execute(update(notifications).values(claimed_by="b", claimed_until=AT + timedelta(minutes=1)))
    assert claim_next(store, now=AT, retry_now=False, skip=set(), claimant="c", report=DeliveryReport()) is None


def test_sqlite_writers_wait_for_the_lock_instead_of_failing(sqlite_store: Engine) -> None:
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def long_writer() -> None:
        with sqlite_store.begin() as conn:
            conn.execute(update(notifications).values(attempts=1))
            holding.set()
            release.wait(10)

    def second_writer() -> None:
        try:
            with sqlite_store.begin() as conn:  # a read first, then a write: waits at BEGIN IMMEDIATE
                conn.execute(select(notifications)).all()
                conn.execute(update(notifications).values(attempts=2))
        except BaseException as exc:
            errors.append(exc)

    first = threading.Thread(target=long_writer)
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # waiting, not failed
    release.set()
    first.join(10)
    second.join(10)
    assert errors == [] and not second.is_alive()
