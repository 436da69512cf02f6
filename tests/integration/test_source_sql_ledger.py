"""``sql_ledger`` against real SQLite and PostgreSQL ledgers: default names, a mapped schema,
incremental paging by cursor, refused pages, unreachable ledgers, read-only connections."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

from payoutwatch.config import Settings
from payoutwatch.metrics import compute
from payoutwatch.sources.sql_ledger import read_only_engine
from payoutwatch.usecases.syncing import source_states, sync_source
from tests.conftest import fresh_postgres_database, make_settings, utc

pytestmark = pytest.mark.integration
NOW = utc(2026, 3, 11)

DEFAULT_SCHEMA = """
CREATE TABLE scheduled_payouts (payout_id TEXT PRIMARY KEY, studio_id TEXT, scheduled_for TIMESTAMP,
  amount_cents BIGINT, currency TEXT, status TEXT, hold_reason TEXT, paid_at TIMESTAMP, run_id TEXT,
  transfer_id TEXT);
CREATE TABLE reserve_snapshots (account_id TEXT, as_of TIMESTAMP, balance_cents BIGINT, threshold_cents BIGINT);
CREATE TABLE manual_payouts (id TEXT PRIMARY KEY, studio_id TEXT, amount_cents BIGINT, currency TEXT,
  detected_at TIMESTAMP, completed_at TIMESTAMP, reason TEXT);
"""
DEFAULT_ROWS = """
INSERT INTO scheduled_payouts VALUES ('p1', 's1', '2026-03-05 11:00:00', 120000, 'CAD', 'paid', NULL,
  '2026-03-05 11:10:00', 'r1', 't1');
INSERT INTO scheduled_payouts VALUES ('p2', 's2', '2026-03-05 11:00:00', 5000, 'CAD', 'held', 'reserve_cap',
  NULL, NULL, NULL);
INSERT INTO reserve_snapshots VALUES ('s1', '2026-03-09 00:00:00', 90000, 80000);
INSERT INTO reserve_snapshots VALUES ('s1', '2026-03-10 00:00:00', 85000, 80000);
INSERT INTO manual_payouts VALUES ('m1', 's2', 5000, 'CAD', '2026-03-06 10:00:00', '2026-03-06 12:00:00',
  'bank_rejected');
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty ledger database (the product only ever reads it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield fresh_postgres_database(request.getfixturevalue("postgres_server"))


def run_sql(url: str, script: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in filter(str.strip, script.split(";")):
            conn.execute(text(statement))
    engine.dispose()


def settings_with(url: str, **source: Any) -> Settings:
    return make_settings(sources={"ledger": {"type": "sql_ledger", "url": url, **source}})


def no_sleep(_: float) -> None:
    pass


def test_default_views_populate_the_dashboards(ledger: str, store: Engine) -> None:
    run_sql(ledger, DEFAULT_SCHEMA + DEFAULT_ROWS)
    settings = settings_with(ledger)
    result = sync_source(store, settings, "ledger", now=lambda: NOW, sleep=no_sleep)
    assert result.ok, result.error
    assert result.counts == {"scheduled_payouts": 2, "reserve_snapshots": 2, "manual_payouts": 1}
    with store.connect() as conn:
        reserves = compute("reserves", conn, NOW, settings)
        fallback = compute("fallback_activity", conn, NOW, settings)
        [state] = source_states(conn)
    assert reserves["aggregate_balance_cents"] == 85000 and reserves["held_payouts"]["count"] == 1
    assert fallback["manual_payout_count"] == 1 and fallback["detection_to_completion"]["median_s"] == 7200
    assert state.state == "ok" and state.last_success_at == NOW and state.last_counts["reserve_snapshots"] == 2


MAPPED_SCHEMA = """
CREATE TABLE ledger_reserves (studio TEXT, snapshot_at TIMESTAMP, balance BIGINT, policy_min BIGINT,
  updated_at TIMESTAMP);
CREATE TABLE payouts_v (payout_id TEXT, studio_id TEXT, scheduled_for TIMESTAMP, amount_cents BIGINT,
  currency TEXT, status TEXT, updated_at TIMESTAMP);
CREATE TABLE manual_payouts (id TEXT, studio_id TEXT, amount_cents BIGINT, currency TEXT, detected_at TIMESTAMP,
  updated_at TIMESTAMP);
"""


def mapped(url: str, page_size: int = 2) -> Settings:
    return settings_with(
        url,
        relations={"reserve_snapshots": "ledger_reserves", "scheduled_payouts": "payouts_v"},
        columns={
            "reserve_snapshots": {
                "account_id": "studio",
                "as_of": "snapshot_at",
                "balance_cents": "balance",
                "threshold_cents": "policy_min",
            }
        },
        cursor_column="updated_at",
        page_size=page_size,
    )


def test_a_mapped_schema_is_read_incrementally_without_splitting_equal_cursors(ledger: str, store: Engine) -> None:
    rows = "".join(
        f"INSERT INTO ledger_reserves VALUES ('s{i}', '2026-03-10 00:00:00', {1000 + i}, 500, "
        f"'2026-03-10 0{1 if i < 3 else 2}:00:00');"
        for i in range(5)
    )  # three rows share the first cursor value, more than one page of 2
    run_sql(ledger, MAPPED_SCHEMA + rows)
    settings = mapped(ledger)
    first = sync_source(store, settings, "ledger", now=lambda: NOW, sleep=no_sleep)
    assert first.ok and first.counts == {"reserve_snapshots": 5}, first.error
    run_sql(
        ledger,
        "INSERT INTO ledger_reserves VALUES ('s9', '2026-03-10 00:00:00', 7, 500, '2026-03-10 03:00:00');"
        "INSERT INTO manual_payouts VALUES ('m1', 's1', 10, 'CAD', '2026-03-10 05:00:00', "
        "'2026-03-10 05:00:00')",
    )
    second = sync_source(store, settings, "ledger", now=lambda: NOW, sleep=no_sleep)
    assert second.ok and second.counts == {"reserve_snapshots": 1, "manual_payouts": 1}, second.error
    with store.connect() as conn:
        assert compute("reserves", conn, NOW, settings)["accounts"] == 6


def test_a_bad_page_is_refused_whole_and_the_cursor_stays(ledger: str, store: Engine) -> None:
    run_sql(
        ledger,
        MAPPED_SCHEMA + "INSERT INTO manual_payouts VALUES ('m1', 's1', 10, 'CAD', "
        "'2026-03-10 05:00:00', '2026-03-10 05:00:00');"
        "INSERT INTO manual_payouts VALUES ('m2', 's1', 10, 'USD', '2026-03-10 06:00:00', "
        "'2026-03-10 06:00:00')",
    )
    settings = mapped(ledger, page_size=10)
    result = sync_source(store, settings, "ledger", now=lambda: NOW, sleep=no_sleep)
    assert not result.ok
    assert "invalid manual_payouts from the source (record 2: currency: 'USD' is not the base currency CAD)" in str(
        result.error
    )
    with store.connect() as conn:
        assert compute("fallback_activity", conn, NOW, settings)["manual_payout_count"] == 0
        [state] = source_states(conn)
    assert state.state == "failing" and state.cursor is None and state.consecutive_failures == 1


def test_an_unreachable_ledger_is_retried_then_recorded_without_its_password(store: Engine) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = settings_with(f"postgresql://reader:s3cr3t-pw@127.0.0.1:{port}/ledger", retries=2, timeout_seconds=2)
    waits: list[float] = []
    result = sync_source(store, settings, "ledger", now=lambda: NOW, sleep=waits.append)
    assert not result.ok and waits == [1.0, 2.0]
    assert "cannot reach the ledger" in str(result.error) and "s3cr3t-pw" not in str(result.error)


def test_a_missing_relation_fails_at_once(ledger: str, store: Engine) -> None:
    run_sql(ledger, "CREATE TABLE unrelated (x INTEGER)")
    waits: list[float] = []
    result = sync_source(store, settings_with(ledger), "ledger", now=lambda: NOW, sleep=waits.append)
    assert "relation 'scheduled_payouts' (for scheduled_payouts) not found" in str(result.error) and waits == []


def test_the_ledger_connection_is_read_only(ledger: str) -> None:
    run_sql(ledger, DEFAULT_SCHEMA)
    engine = read_only_engine(ledger, 5)
    with pytest.raises(Exception, match="(?i)read.only|readonly"), engine.begin() as conn:
        conn.execute(text("DELETE FROM manual_payouts"))
    engine.dispose()
