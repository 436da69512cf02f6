"""JSON Lines are stored as they are read: same refusals as a whole batch, memory flat for any size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from payoutwatch.config import Settings
from payoutwatch.records import BatchRejected
from payoutwatch.store.tables import reserve_accounts, reserve_snapshots
from payoutwatch.usecases.ingestion import MAX_LISTED, ingest_lines, ingest_text
from tests.conftest import utc
from tests.helpers import jsonl, snapshot

NOW = utc(2026, 6, 1)


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def lines(text: str) -> list[bytes]:
    return text.encode().split(b"\n")


def test_a_stream_stores_in_chunks_like_one_batch(store: Engine, settings: Settings) -> None:
    rows = [snapshot("st_1", utc(2026, 5, day), 1000 * day, 500) for day in range(1, 8)]
    result = ingest_lines(store, "reserve_snapshots", lines(jsonl(rows)), settings, now=NOW, chunk=2)
    assert (result.valid, result.stored) == (7, 7)
    assert count(store, reserve_snapshots) == 7
    with store.connect() as conn:
        latest = conn.execute(select(reserve_accounts.c.last_balance_cents)).scalar_one()
    assert latest == 7000  # the account's latest snapshot, kept current across chunks


def test_a_bad_line_after_written_chunks_writes_nothing(store: Engine, settings: Settings) -> None:
    rows = [snapshot("st_1", utc(2026, 5, day), 1000, 500) for day in range(1, 8)]
    text = jsonl(rows) + '{"account_id": "st_2", "as_of": 5}\n' + jsonl(rows[:1])
    with pytest.raises(BatchRejected) as refused:
        ingest_lines(store, "reserve_snapshots", lines(text), settings, now=NOW, chunk=2)
    assert [(e.line, e.field) for e in refused.value.errors][:1] == [(8, "as_of")]
    assert count(store, reserve_snapshots) == 0 and count(store, reserve_accounts) == 0


def test_a_stream_names_the_same_problems_as_a_whole_batch(sqlite_store: Engine, settings: Settings) -> None:
    text = (
        jsonl([snapshot("st_1", utc(2026, 5, 1), 1000, 500)])
        + '{"account_id": "st_1", "as_of": "2026-05-02T00:00:00Z", "balance_cents": 1.5, "threshold_cents": 1}\n'
        + "not json\n"
    )
    with pytest.raises(BatchRejected) as whole:
        ingest_text(sqlite_store, "reserve_snapshots", text, settings, now=NOW)
    with pytest.raises(BatchRejected) as streamed:
        ingest_lines(sqlite_store, "reserve_snapshots", lines(text), settings, now=NOW)
    assert [str(e) for e in streamed.value.errors] == [str(e) for e in whole.value.errors]


def test_a_long_refused_stream_lists_the_first_problems_and_counts_the_rest(
    sqlite_store: Engine, settings: Settings
) -> None:
    text = "not json\n" * (MAX_LISTED + 5)
    with pytest.raises(BatchRejected) as refused:
        ingest_lines(sqlite_store, "reserve_snapshots", lines(text), settings, now=NOW)
    assert len(refused.value.errors) == MAX_LISTED + 1
    assert str(refused.value.errors[-1]).endswith("5 more problem(s) not listed")


def _peak_rss_of_ingest(tmp_path: Path, name: str, records: int) -> int:
    """Peak resident memory (bytes) of a `payoutwatch ingest` process storing ``records`` snapshots."""
    data = tmp_path / f"{name}.jsonl"
    start = utc(2026, 1, 1)
    with data.open("w") as out:
        for i in range(records):  # 1,000 accounts, one snapshot a day each
            as_of = (start + timedelta(days=i // 1000)).isoformat()
            row = {"account_id": f"st_{i % 1000:05d}", "as_of": as_of, "balance_cents": i, "threshold_cents": 50}
            out.write(json.dumps(row) + "\n")
    config = tmp_path / f"{name}.yaml"
    config.write_text(f"store: {{url: 'sqlite:///{tmp_path / name}.db'}}\n")
    probe = (
        "import resource, subprocess, sys; "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    cli = str(Path(sys.executable).with_name("payoutwatch"))
    done = subprocess.run(
        [sys.executable, "-c", probe, cli, "--config", str(config), "ingest", "reserve_snapshots", str(data)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PAYOUTWATCH_USER": "test"},
    )
    return int(done.stdout.strip()) * 1024  # ru_maxrss is in KiB on Linux


def test_memory_stays_flat_while_a_large_file_streams(tmp_path: Path) -> None:
    small = _peak_rss_of_ingest(tmp_path, "small", 1_000)
    large_records = 200_000
    large = _peak_rss_of_ingest(tmp_path, "large", large_records)
    file_size = (tmp_path / "large.jsonl").stat().st_size
    # Reading the file whole would hold its bytes plus one parsed object per line (several times its size);
    # streaming holds one chunk of records and what is kept per chunk (the accounts' projection sums).
    assert large - small < file_size, (small, large, file_size)
