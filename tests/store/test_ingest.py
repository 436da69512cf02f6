from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from payoutwatch.config import Settings
from payoutwatch.records import BatchRejected
from payoutwatch.store.tables import credentials, job_runs, reserve_accounts, reserve_snapshots
from payoutwatch.usecases.ingestion import ingest_text
from tests.conftest import utc
from tests.helpers import credential, jsonl, load, run, snapshot

NOW = utc(2026, 6, 1)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_ingest_is_an_idempotent_upsert(store: Engine, settings: Settings) -> None:
    rows = [run("r1", utc(2026, 3, 5, 11), exit_code=1), run("r2", utc(2026, 3, 19, 10))]
    load(store, settings, "job_runs", rows, NOW)
    load(store, settings, "job_runs", rows, NOW)
    load(store, settings, "job_runs", [run("r1", utc(2026, 3, 5, 11), exit_code=0)], NOW)
    assert count(store, job_runs) == 2
    with store.connect() as conn:
        assert conn.execute(select(job_runs.c.exit_code).where(job_runs.c.run_id == "r1")).scalar() == 0


def test_a_bad_batch_writes_nothing(store: Engine, settings: Settings) -> None:
    text = jsonl([run("r1", utc(2026, 3, 5, 11))]) + '{"run_id": "r2", "started_at": "2026-03-05"}\n'
    with pytest.raises(BatchRejected) as info:
        ingest_text(store, "job_runs", text, settings, now=NOW)
    assert [e.line for e in info.value.errors] == [2]
    assert count(store, job_runs) == 0


def test_a_run_without_scheduled_for_serves_the_nearest_cycle(store: Engine, settings: Settings) -> None:
    load(store, settings, "job_runs", [run("late", utc(2026, 3, 5, 14)), run("early", utc(2026, 3, 18, 23))], NOW)
    with store.connect() as conn:
        cycles = dict(conn.execute(select(job_runs.c.run_id, job_runs.c.cycle_at)).all())
    assert cycles == {"late": utc(2026, 3, 5, 11), "early": utc(2026, 3, 19, 10)}


def test_reserve_accounts_track_the_latest_snapshot_whatever_the_order(store: Engine, settings: Settings) -> None:
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 10), 500, 100)], NOW)
    load(
        store,
        settings,
        "reserve_snapshots",
        [snapshot("a", utc(2026, 3, 1), 900, 100), snapshot("a", utc(2026, 3, 11), 700, 120)],
        NOW,
    )
    load(store, settings, "reserve_snapshots", [snapshot("a", utc(2026, 3, 5), 1, 1)], NOW)
    with store.connect() as conn:
        acct = conn.execute(select(reserve_accounts)).one()
    assert (acct.first_as_of, acct.last_as_of, acct.last_balance_cents, acct.last_threshold_cents) == (
        utc(2026, 3, 1),
        utc(2026, 3, 11),
        700,
        120,
    )
    assert count(store, reserve_snapshots) == 4


def test_credentials_are_versioned_by_creation(store: Engine, settings: Settings) -> None:
    first = credential("k", utc(2026, 1, 1), expires_at=utc(2026, 4, 1))
    load(store, settings, "credentials", [first], NOW)
    load(store, settings, "credentials", [credential("k", utc(2026, 3, 25), expires_at=utc(2027, 4, 1))], NOW)
    load(store, settings, "credentials", [first], NOW)
    assert count(store, credentials) == 2


def test_large_batches_are_chunked(store: Engine, settings: Settings) -> None:
    rows = [snapshot(f"st_{i % 50}", utc(2026, 1, 1) + timedelta(days=i // 50), 1000 + i, 500) for i in range(5000)]
    load(store, settings, "reserve_snapshots", rows, NOW)
    assert count(store, reserve_snapshots) == 5000
    assert count(store, reserve_accounts) == 50


def test_new_replaced_mixed_and_repeated_keys_store_the_last_record_for_each_key(
    store: Engine, settings: Settings
) -> None:
    """New keys take PostgreSQL's plain COPY, a batch with a stored key the staging upsert: same rows."""
    day = [utc(2026, 3, d) for d in range(1, 6)]
    batches = [
        [snapshot("a", day[0], 1, 10), snapshot("b", day[0], 2, 10)],  # new keys
        [snapshot("a", day[0], 3, 11), snapshot("b", day[0], 4, 11)],  # every key replaced
        [snapshot("a", day[1], 5, 12), snapshot("b", day[0], 6, 12), snapshot("c", day[2], 7, 12)],  # mixed
        [snapshot("c", day[3], 8, 13), snapshot("c", day[3], 9, 14), snapshot("d", day[4], 1, 1)],  # repeated key
        [snapshot("a", day[1], 2, 2), snapshot("a", day[1], 5, 12)],  # a stored key, repeated in the batch
    ]
    expected: dict[tuple[str, object], tuple[int, int]] = {}
    for batch in batches:
        load(store, settings, "reserve_snapshots", batch, NOW)
        for row in batch:
            expected[(row["account_id"], row["as_of"])] = (row["balance_cents"], row["threshold_cents"])
        with store.connect() as conn:
            s = reserve_snapshots.c
            stored = {(r.account_id, r.as_of): (r.balance_cents, r.threshold_cents) for r in conn.execute(select(s))}
            latest = {
                r.account_id: (r.last_as_of, r.last_balance_cents) for r in conn.execute(select(reserve_accounts))
            }
        assert stored == expected
        newest = {account: max(at for a, at in expected if a == account) for account, _ in expected}
        assert latest == {account: (at, expected[(account, at)][0]) for account, at in newest.items()}
    with pytest.raises(BatchRejected):  # a refused batch writes nothing
        ingest_text(store, "reserve_snapshots", jsonl([snapshot("e", day[0], 1, 1)]) + "{}\n", settings, now=NOW)
    assert count(store, reserve_snapshots) == len(expected)
