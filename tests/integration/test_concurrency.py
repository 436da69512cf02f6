"""Concurrent use of one store (DESIGN §10): two ingests, an evaluate and three delivers (each its own
process running that use case again and again, tests/integration/store_worker.py) and ``payoutwatch
serve`` at once for a bounded time, on SQLite and on PostgreSQL, against a local PagerDuty stand-in; then
one ``payoutwatch evaluate`` and ``deliver`` drain what is left: no lock error, no lost record, no
notification sent twice.

The figures of each run are printed (``pytest -s tests/integration/test_concurrency.py``) for the
README's "Guarantees" section.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from payoutwatch.store.engine import open_store
from payoutwatch.store.tables import alerts, credentials, notifications
from tests.conftest import fresh_postgres_database, wait_for
from tests.integration.servers import ChannelServer
from tests.integration.store_worker import PER_BATCH
from tests.web.test_serve import free_port

CLI = str(Path(sys.executable).with_name("payoutwatch"))
ROOT = Path(__file__).resolve().parents[2]
STARTUP = 120.0  # at most, for the worker processes to start (their loops then begin together)
SECONDS = 12.0  # how long everything runs at once
LOCK_WORDS = ("database is locked", "deadlock", "could not serialize", "lock timeout", "Traceback")


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, "--config", str(config), *args], text=True, capture_output=True, timeout=600)


def store_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_ingests_evaluate_delivers_and_serve_at_once(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = store_url(kind, tmp_path, request)
    open_store(url).dispose()  # migrated before anyone starts
    with ChannelServer() as pd:
        config = tmp_path / "payoutwatch.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "store": {"url": url},
                    "schedule": {"start": "2030-01-03"},  # no payout cycle due: only credentials alert
                    "channels": {
                        "pagerduty": {
                            "type": "pagerduty",
                            "routing_key": "R" * 32,
                            "events_url": f"{pd.url}/pagerduty/enqueue",
                        }
                    },
                    "routes": [{"rule": "credential_expiry", "channels": ["pagerduty"]}],
                    "service": {"tick_seconds": 0.2, "evaluate_interval_seconds": 0.5},
                }
            )
        )
        serve_log = tmp_path / "serve.log"
        with serve_log.open("w") as log:
            serve = subprocess.Popen(
                [CLI, "--config", str(config), "serve", "--port", str(free_port())], stdout=log, stderr=log
            )
        roles = ["ingest-a", "ingest-b", "evaluate", "deliver-0", "deliver-1", "deliver-2"]
        outputs = {role: tmp_path / f"{role}.json" for role in roles}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "tests.integration.store_worker", role, str(config), str(SECONDS), str(out)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for role, out in outputs.items()
        ]
        try:
            wait_for(lambda: all(Path(f"{out}.ready").exists() for out in outputs.values()), STARTUP)
            for out in outputs.values():
                Path(f"{out}.go").touch()
            crashed = [w.communicate(timeout=SECONDS + 600)[1] for w in workers]
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(60)
        # what is still due after everyone stopped: one more evaluation and delivery drain it
        drained = [cli(config, "evaluate"), cli(config, "deliver", "--retry-now")]

        assert [w.returncode for w in workers] == [0] * len(workers), crashed
        runs = {role: json.loads(out.read_text()) for role, out in outputs.items()}
        failures = [error for run in runs.values() for error in run["errors"]] + [c for c in crashed if c]
        failures += [f"drain exit {d.returncode}: {d.stderr[-2000:]}" for d in drained if d.returncode != 0]
        printed = [*failures, *(d.stderr for d in drained), serve_log.read_text()]
        lock_errors = [word for text in printed for word in LOCK_WORDS if word in text]

        ingested = sum(run["runs"] for role, run in runs.items() if role.startswith("ingest")) * PER_BATCH
        engine = open_store(url)
        try:
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(credentials)).scalar_one()
                alerted = conn.execute(select(func.count()).where(alerts.c.rule == "credential_expiry")).scalar_one()
                states = Counter(s for (s,) in conn.execute(select(notifications.c.state)))
                attempts = dict(conn.execute(select(notifications.c.alert_key, notifications.c.attempts)).all())
        finally:
            engine.dispose()
        sent = Counter((r["body"]["dedup_key"], r["body"]["event_action"]) for r in pd.pd.requests)
        # a row received more often than it was attempted was sent by two deliverers; a re-send after an
        # attempt whose answer was lost (a timeout on a loaded machine) is recorded as a failed attempt
        duplicates = sum(max(0, count - attempts.get(key, 0)) for (key, _), count in sent.items())
        resent = sum(count - 1 for count in sent.values())
        print(
            f"\n[{kind}] {SECONDS:.0f} s: runs "
            + ", ".join(f"{role} {run['runs']}" for role, run in runs.items())
            + f"; credentials ingested {ingested}, stored {stored}, alerts {alerted}; outbox {dict(states)};"
            f" pages received {sum(sent.values())}, sent twice {duplicates} (re-sent after a lost answer {resent});"
            f" lock errors {len(lock_errors)};"
            f" errors {len(failures)}"
        )
        assert failures == [] and lock_errors == [], failures[:3]
        assert ingested > 0 and stored == ingested == alerted  # nothing lost
        assert states == Counter({"sent": ingested})  # every alert's page went out ...
        assert duplicates == 0 and len(sent) == ingested  # ... and no row by two deliverers
        assert pd.pd.problems == []
