"""Property tests: ingest is idempotent; a figure at `at` ignores what was only known after it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from payoutwatch.metrics import DASHBOARD_NAMES, compute
from payoutwatch.store.tables import RECORD_TABLES, metadata
from tests.conftest import make_settings, utc
from tests.helpers import load, manual, payout, run, snapshot

SETTINGS = make_settings()
BASE = utc(2026, 3, 1)
AT = utc(2026, 4, 1)
NOW = utc(2026, 6, 1)
minutes = st.integers(min_value=0, max_value=60 * 24 * 60)  # within 60 days of BASE
CYCLES = [utc(2026, 3, 5, 11), utc(2026, 3, 19, 10), utc(2026, 4, 2, 10), utc(2026, 4, 16, 10)]


@st.composite
def runs(draw: Any) -> dict[str, Any]:
    start = BASE + timedelta(minutes=draw(minutes))
    fields: dict[str, Any] = {"scheduled_for": draw(st.sampled_from(CYCLES))}
    if draw(st.booleans()):
        fields.update(
            finished_at=start + timedelta(minutes=draw(st.integers(0, 90))), exit_code=draw(st.sampled_from([0, 0, 1]))
        )
    if draw(st.booleans()):
        fields.update(
            studios_scheduled=10,
            studios_processed=draw(st.integers(0, 10)),
            cad_processed_cents=draw(st.integers(0, 10**9)),
            retry_count=draw(st.integers(0, 5)),
        )
    return run(f"r{draw(st.integers(0, 30))}", start, **fields)


@st.composite
def manuals(draw: Any) -> dict[str, Any]:
    detected = BASE + timedelta(minutes=draw(minutes))
    done = detected + timedelta(minutes=draw(st.integers(1, 3000))) if draw(st.booleans()) else None
    return manual(f"m{draw(st.integers(0, 30))}", detected, draw(st.integers(1, 10**7)), completed_at=done)


@st.composite
def snapshots(draw: Any) -> dict[str, Any]:
    return snapshot(
        draw(st.sampled_from(["a", "b", "platform"])),
        BASE + timedelta(hours=draw(st.integers(0, 1400))),
        draw(st.integers(-(10**6), 10**7)),
        draw(st.integers(0, 10**6)),
    )


@st.composite
def payouts(draw: Any) -> dict[str, Any]:
    cycle = draw(st.sampled_from(CYCLES))
    status = draw(st.sampled_from(["paid", "scheduled", "held", "failed"]))
    fields: dict[str, Any] = {}
    if status == "paid":
        fields["paid_at"] = cycle + timedelta(minutes=draw(st.integers(0, 60 * 24 * 10)))
    if status == "held":
        fields["hold_reason"] = draw(st.sampled_from(["reserve_cap", "kyc"]))
    return payout(
        f"p{draw(st.integers(0, 40))}",
        f"s{draw(st.integers(0, 5))}",
        cycle,
        draw(st.integers(1, 10**6)),
        status,
        **fields,
    )


def reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def snapshot_of_store(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    with engine.connect() as conn:
        out = {}
        for kind, table in RECORD_TABLES.items():
            cols = [c for c in table.c if c.name != "ingested_at"]
            out[kind] = sorted(tuple(r) for r in conn.execute(select(*cols)))
        return out


def all_figures(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {name: compute(name, conn, AT, SETTINGS) for name in DASHBOARD_NAMES}


BATCH = st.fixed_dictionaries(
    {
        "job_runs": st.lists(runs(), max_size=6),
        "manual_payouts": st.lists(manuals(), max_size=6),
        "reserve_snapshots": st.lists(snapshots(), max_size=8),
        "scheduled_payouts": st.lists(payouts(), max_size=8),
    }
)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=BATCH)
def test_ingesting_a_batch_twice_equals_once(sqlite_store: Engine, batch: dict[str, list[dict[str, Any]]]) -> None:
    reset(sqlite_store)
    for kind, rows in batch.items():
        load(sqlite_store, SETTINGS, kind, rows, NOW)
    once = snapshot_of_store(sqlite_store)
    for kind, rows in batch.items():
        load(sqlite_store, SETTINGS, kind, rows, NOW)
    assert snapshot_of_store(sqlite_store) == once


def known_after(rows: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """Shift every record's knowable instant past AT (and rename it, so it is a new record)."""
    shifted = []
    for row in rows:
        row = dict(row)
        if kind == "job_runs":
            row["run_id"] += "_late"
            row["started_at"] = AT + timedelta(seconds=1)
            if "finished_at" in row:
                row["finished_at"] = row["started_at"] + timedelta(minutes=5)
        elif kind == "manual_payouts":
            row["id"] += "_late"
            row["detected_at"] = AT + timedelta(minutes=1)
            row["completed_at"] = None
        elif kind == "reserve_snapshots":
            row["as_of"] = AT + timedelta(hours=1) + (row["as_of"] - BASE)
        else:
            continue
        shifted.append(row)
    return shifted


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=BATCH, later=BATCH)
def test_figures_at_an_instant_ignore_records_known_only_later(
    sqlite_store: Engine, batch: dict[str, list[dict[str, Any]]], later: dict[str, list[dict[str, Any]]]
) -> None:
    reset(sqlite_store)
    for kind, rows in batch.items():
        load(sqlite_store, SETTINGS, kind, rows, NOW)
    before = all_figures(sqlite_store)
    for kind, rows in later.items():
        load(sqlite_store, SETTINGS, kind, known_after(rows, kind), NOW)
    assert all_figures(sqlite_store) == before
