"""Read-only commands (DESIGN §7) write nothing to the store and work on a read-only one: a SQLite file
whose file and folder are read-only, and a PostgreSQL role that may only SELECT. A store error never
prints the configuration."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, func, select, text
from typer.testing import CliRunner

from payoutwatch.cli import app
from payoutwatch.store.tables import config_versions
from tests.conftest import fresh_postgres_database

runner = CliRunner()

NOW = datetime.now(UTC).replace(microsecond=0)
READ_ONLY_COMMANDS = [
    ["alerts"],
    ["alerts", "--all", "--json"],
    ["dashboard", "payout_health"],
    ["dashboard", "fallback_activity", "--json"],
    ["dashboard", "reserves"],
    ["dashboard", "credentials"],
    ["report", "weekly"],
    ["report", "incident", "--from", (NOW - timedelta(days=2)).isoformat(), "--to", NOW.isoformat()],
    ["report", "access-review"],
    ["config", "show"],
    ["sources"],
    ["notifications"],
    ["silence", "list"],
]


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--config", str(config), *args])
    return result.exit_code, result.output


def populate(config: Path, tmp_path: Path) -> None:
    """Manual payouts enough to fire fallback_volume, evaluated (alerts, outbox rows, a config version)."""
    payouts = tmp_path / "manual.jsonl"
    payouts.write_text(
        "\n".join(
            json.dumps(
                {
                    "id": f"m{i}",
                    "studio_id": f"studio-{i}",
                    "amount_cents": 1000 + i,
                    "currency": "CAD",
                    "detected_at": (NOW - timedelta(hours=i + 1)).isoformat(),
                    "reason": "stripe timeout",
                }
            )
            for i in range(3)
        )
    )
    for command in (["ingest", "manual_payouts", str(payouts)], ["evaluate"]):
        code, output = cli(config, *command)
        assert code == 0, output


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "store"
    folder.mkdir()
    yield folder
    folder.chmod(0o755)
    for file in folder.iterdir():
        file.chmod(0o644)


@pytest.mark.parametrize("unprivileged", [False, True], ids=["as-is", "folder-not-writable"])
def test_read_only_commands_work_on_a_read_only_sqlite_file_and_change_nothing(
    tmp_path: Path, read_only_folder: Path, unprivileged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = read_only_folder / "pw.db"
    config = tmp_path / "payoutwatch.yaml"
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{db}"}}))
    populate(config, tmp_path)
    with sqlite3.connect(db) as conn:  # the writers' WAL into the file, so any later write would show
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = digest(db)
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)  # 0444
    read_only_folder.chmod(0o555)  # no -wal / -shm can be created by anyone but root
    if unprivileged:  # what a user who is not root sees (root is allowed to write whatever the mode says)
        real_access = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if mode & os.W_OK else real_access(path, mode))
    # a changed configuration: a command that records configuration versions would write one now
    config.write_text(yaml.safe_dump({"store": {"url": f"sqlite:///{db}"}, "channels": {"ops-room": {"type": "log"}}}))
    for command in READ_ONLY_COMMANDS:
        code, output = cli(config, *command)
        assert code == 0, (command, output)
        assert "Traceback" not in output
    code, output = cli(config, "alerts")
    assert "fallback_volume" in output
    assert digest(db) == before  # not one byte of the store changed
    wal = read_only_folder / "pw.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM config_versions").fetchone() == (1,)


def test_read_only_commands_work_with_a_select_only_postgresql_role(tmp_path: Path, postgres_server: str) -> None:
    url = fresh_postgres_database(postgres_server)
    writer = tmp_path / "writer.yaml"
    writer.write_text(yaml.safe_dump({"store": {"url": url}, "channels": {"ops-room": {"type": "log"}}}))
    populate(writer, tmp_path)
    role = f"pw_reader_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        conn.execute(text(f"CREATE ROLE \"{role}\" LOGIN PASSWORD 'reader-pass-7731'"))
        conn.execute(text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
        conn.execute(text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        versions = conn.execute(select(func.count()).select_from(config_versions)).scalar()
    scheme, rest = url.split("://", 1)
    host_and_db = rest.split("@", 1)[1]
    reader = tmp_path / "reader.yaml"
    reader.write_text(
        yaml.safe_dump(
            {
                "store": {"url": f"{scheme}://{role}:reader-pass-7731@{host_and_db}"},
                "channels": {"ops-room": {"type": "log"}},
            }
        )
    )
    try:
        for command in READ_ONLY_COMMANDS:
            code, output = cli(reader, *command)
            assert code == 0, (command, output)
        # a command that writes is refused cleanly: the driver's reason, not the configuration it recorded
        code, output = cli(reader, "evaluate")
        assert code == 2
        assert "cannot write to the store" in output and "permission denied" in output
        assert "ops-room" not in output and "reader-pass-7731" not in output and "Traceback" not in output
        with admin.connect() as conn:
            assert conn.execute(select(func.count()).select_from(config_versions)).scalar() == versions
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()
