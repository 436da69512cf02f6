"""One worker process of the concurrency test: runs one use case (the code behind ``payoutwatch ingest``,
``evaluate`` or ``deliver``) again and again against the configured store until a deadline, and writes
how many runs it made and every error it met as JSON.

    python -m tests.integration.store_worker ROLE CONFIG SECONDS OUT.json

Once started it writes ``OUT.json.ready`` and waits for ``OUT.json.go`` (written by the test when every
worker is ready), so the loops of all workers run at the same time.

Delivery runs the outbox pass ``deliver`` runs (``deliver_due``, a few rows at a time). A loop inside one
process instead of one ``payoutwatch`` process per run: on a loaded machine the
interpreter's start-up would leave the workers barely overlapping.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

from payoutwatch.config import load_settings
from payoutwatch.notify.outbox import deliver_due
from payoutwatch.store.engine import open_store
from payoutwatch.usecases.evaluation import evaluate
from payoutwatch.usecases.ingestion import ingest_text

PER_BATCH = 5  # credentials per ingest
INGEST_PAUSE = 0.3  # seconds between batches: enough rows to keep the deliverers busy, few enough to drain
DELIVER_LIMIT = 10  # rows per delivery pass, so a deliverer notices its deadline on a loaded machine


def now() -> datetime:
    return datetime.now(UTC)


def credential_batch(worker: str, n: int) -> str:
    at = now()
    rows = [
        {
            "credential_id": f"key-{worker}-{n}-{i}",
            "name": f"key {worker} {n} {i}",
            "kind": "other",
            "created_at": (at - timedelta(days=30)).isoformat(),
            "expires_at": (at + timedelta(days=2)).isoformat(),
        }
        for i in range(PER_BATCH)
    ]
    return json.dumps(rows)


def main(role: str, config: str, seconds: float, out: str) -> None:
    settings = load_settings(config)
    engine = open_store(settings.store.url.get_secret_value())
    Path(f"{out}.ready").touch()
    while not Path(f"{out}.go").exists():
        time.sleep(0.02)
    runs, errors = 0, []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if role.startswith("ingest"):
                ingest_text(engine, "credentials", credential_batch(role, runs), settings, now=now())
                time.sleep(INGEST_PAUSE)
            elif role == "evaluate":
                at = now()
                evaluate(engine, settings, at=at, now=at)
            else:
                deliver_due(engine, settings, now=now, limit=DELIVER_LIMIT)
        except Exception:
            errors.append(traceback.format_exc())
        runs += 1
    engine.dispose()
    Path(out).write_text(json.dumps({"role": role, "runs": runs, "errors": errors}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
